#!/usr/bin/python3
"""Resumes descent's checkpoints in torch 1.13: the Python half of the interoperability test.

    /usr/bin/python3 tests/checkpoint_interop.py DIR

DIR is what `descent_checkpoint_interop DIR` (tests/checkpoint_interop.cpp) wrote: manifest.json (the
problem, K, N and every case's optimizer and options) and, per case, <case>.ckpt (descent's
parameters and optimizer state after K steps) and <case>.final.ckpt (descent's parameters after N
steps). For every case this script

  1. reads <case>.ckpt with tools/inspect_checkpoint.py's read_checkpoint (checksum verified), checks
     that the saved options are the manifest's, builds the torch.optim optimizer from the saved
     options, and loads the saved state into it through load_state_dict (mapping below);
  2. continues N - K steps in torch (float64, the same gradient computed by torch) and compares with
     descent's parameters after N steps: "resumed";
  3. runs torch uninterrupted from x0 for N steps and compares with the same: "from x0"; and compares
     torch's parameters and state after K steps with the checkpoint's, field by field: "state at K".

An error is max_i |torch_i - descent_i| / max_i |descent_i|; every one must be <= 1e-12. Also printed:
the resumed error relative to the distance the parameters moved after K (a harsher scale).

Exit status: 0 all within tolerance, 1 a mismatch or a bad file, 77 (ctest's skip) without torch.

The mapping, descent -> torch 1.13 (optimizer state_dict()["state"][0])
---------------------------------------------------------------------------
Options: descent's field names are torch's except betas = (beta1, beta2) and Rprop's (below);
foreach=False (the single-tensor path, the one descent reproduces), capturable/differentiable/fused
at their defaults.

  Adam, AdamW   step = tensor(float(steps)); exp_avg, exp_avg_sq, and max_exp_avg_sq when amsgrad.
  SGD           momentum_buffer when has_momentum_buffer; otherwise no key, and both torch and descent
                start the buffer as a copy of the next gradient. torch keeps no step count: descent's
                `steps` does not enter SGD's formula and is dropped.
  Adagrad       step = tensor(float(steps)); sum. torch puts initial_accumulator_value into the state
                at construction (sum = full(initial_accumulator_value)); descent's saved sum started
                from the same value, so loading it is exact. (A descent Adagrad saved before its first
                step has an empty sum: its state is created at the first step. torch's constructed
                state is then the equivalent one and is kept.)
  RMSProp       step = steps (a Python int in torch 1.13's RMSprop); square_avg; grad_avg when
                centered; momentum_buffer when has_momentum_buffer. torch creates the buffer only at
                a first step taken with momentum > 0 and raises KeyError if momentum becomes > 0
                later; descent then starts a zero buffer. So with momentum > 0, steps > 0 and no saved
                buffer, a zero buffer is loaded: exactly what descent would do next.
  GradientDescent  torch SGD with momentum 0, no state.
  NAdam         step = tensor(float(steps)); mu_product = tensor(mu_product) (descent: a double in the
                metadata; torch: a 0-d tensor of the default dtype, float64 here); exp_avg, exp_avg_sq.
  RAdam         step = tensor(float(steps)); exp_avg, exp_avg_sq.
  Adamax        step = tensor(float(steps)); exp_avg, exp_inf.
  Adadelta      step = steps (a Python int in torch 1.13's Adadelta, which never reads it);
                square_avg, acc_delta.
  ASGD          step = tensor(float(steps)); eta = tensor(eta), mu = tensor(mu) (descent: doubles in
                the metadata; torch: 0-d tensors of the default dtype, float64 here); ax. torch's
                first step creates eta = lr and mu = 1, which a descent ASGD saved before its first
                step also starts from: its state is left empty.
  Rprop         step = steps (a Python int); prev, step_size. Options: etas = (eta_minus, eta_plus),
                step_sizes = (step_size_min, step_size_max).
  LBFGS         func_evals, n_iter (Python ints); once n_iter > 0: d, prev_flat_grad, t and prev_loss
                (Python floats), H_diag = tensor(H_diag), old_dirs and old_stps (lists of tensors: the
                rows of descent's [count, n] arrays, oldest first), ro (a list of 0-d tensors). torch's
                `al` is scratch that every step overwrites before reading: torch creates it. Options:
                max_eval 0 = torch's None (max_iter * 5 // 4, which torch's constructor puts in the group), line_search None / StrongWolfe = line_search_fn None /
                'strong_wolfe'; torch's LBFGS has no foreach. A step is one step(closure), the
                closure returning the loss above as a Python float.

Before the first step (steps == 0) descent's arrays are empty: torch's state is left empty (but
Adagrad's, above) and torch creates at its first step what descent creates at its own (zeros;
Rprop's step_size = lr; ASGD's eta = lr, mu = 1). The cases *_before_first_step and
rmsprop_momentum_at_k of the table exercise these corners; for the last one "from x0" cannot run
(torch raises the KeyError) and is reported as such. Grouped (several parameter groups) is not mapped
here.

What does not agree bitwise, and why the errors are rounding and not 0: torch's vectorized CPU
kernels use fused multiply-adds (e.g. Tensor.add(other, alpha=a), the form of every torch.optim
update, is fmadd(other, a, self) on AVX2) and evaluate cos with SLEEF (within 1 ulp of the C
library's, which the C++ side uses); descent evaluates its formulas without contraction. The
optimizer formulas are otherwise the same operations in the same order.
"""

import importlib.util
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOLERANCE = 1e-12

try:
    import numpy as np
    import torch
except ImportError as e:
    print("checkpoint_interop.py: skipped: %s (torch 1.13 and numpy live in Debian's /usr/bin/python3)" % e)
    sys.exit(77)


def load_reader():
    path = os.path.join(HERE, os.pardir, "tools", "inspect_checkpoint.py")
    spec = importlib.util.spec_from_file_location("inspect_checkpoint", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reader = load_reader()
number = reader.number


def torch_optimizer(meta, tensors, entry, param):
    """The torch.optim optimizer over [param] holding the options and the state of the descent
    optimizer saved as entry `entry` (its metadata `meta`, the checkpoint's `tensors`)."""
    kind = meta["kind"]
    steps = meta.get("steps", 0)  # LBFGS counts iterations and evaluations instead

    def array(field):
        return torch.from_numpy(tensors["%s.%s" % (entry, field)].copy()).to(param.dtype)

    def opts(*keys):
        return {k: (meta[k] if isinstance(meta[k], bool) else number(meta[k])) for k in keys}

    state = {}
    if kind in ("Adam", "AdamW"):
        cls = torch.optim.Adam if kind == "Adam" else torch.optim.AdamW
        kwargs = dict(opts("lr", "eps", "weight_decay", "amsgrad", "maximize"),
                      betas=(number(meta["beta1"]), number(meta["beta2"])))
        if steps > 0:
            state = {"step": torch.tensor(float(steps)), "exp_avg": array("exp_avg"), "exp_avg_sq": array("exp_avg_sq")}
            if meta["amsgrad"]:
                state["max_exp_avg_sq"] = array("max_exp_avg_sq")
    elif kind == "SGD":
        cls = torch.optim.SGD
        kwargs = opts("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")
        if meta["has_momentum_buffer"]:
            state = {"momentum_buffer": array("momentum_buffer")}
    elif kind == "GradientDescent":
        cls = torch.optim.SGD
        kwargs = dict(opts("lr", "weight_decay", "maximize"), momentum=0.0)
    elif kind == "Adagrad":
        cls = torch.optim.Adagrad
        kwargs = opts("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")
        if steps > 0:
            state = {"step": torch.tensor(float(steps)), "sum": array("sum")}
    elif kind == "RMSProp":
        cls = torch.optim.RMSprop
        kwargs = opts("lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
        if steps > 0:
            state = {"step": int(steps), "square_avg": array("square_avg")}
            if meta["centered"]:
                state["grad_avg"] = array("grad_avg")
            if meta["has_momentum_buffer"]:
                state["momentum_buffer"] = array("momentum_buffer")
            elif kwargs["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(param)
    elif kind == "NAdam":
        cls = torch.optim.NAdam
        kwargs = dict(opts("lr", "eps", "weight_decay", "momentum_decay"),
                      betas=(number(meta["beta1"]), number(meta["beta2"])))
        if steps > 0:
            state = {"step": torch.tensor(float(steps)), "mu_product": torch.tensor(number(meta["mu_product"])),
                     "exp_avg": array("exp_avg"), "exp_avg_sq": array("exp_avg_sq")}
    elif kind == "RAdam":
        cls = torch.optim.RAdam
        kwargs = dict(opts("lr", "eps", "weight_decay"), betas=(number(meta["beta1"]), number(meta["beta2"])))
        if steps > 0:
            state = {"step": torch.tensor(float(steps)), "exp_avg": array("exp_avg"), "exp_avg_sq": array("exp_avg_sq")}
    elif kind == "Adamax":
        cls = torch.optim.Adamax
        kwargs = dict(opts("lr", "eps", "weight_decay", "maximize"),
                      betas=(number(meta["beta1"]), number(meta["beta2"])))
        if steps > 0:
            state = {"step": torch.tensor(float(steps)), "exp_avg": array("exp_avg"), "exp_inf": array("exp_inf")}
    elif kind == "Adadelta":
        cls = torch.optim.Adadelta
        kwargs = opts("lr", "rho", "eps", "weight_decay", "maximize")
        if steps > 0:
            state = {"step": int(steps), "square_avg": array("square_avg"), "acc_delta": array("acc_delta")}
    elif kind == "ASGD":
        cls = torch.optim.ASGD
        kwargs = opts("lr", "lambd", "alpha", "t0", "weight_decay", "maximize")
        if steps > 0:
            state = {"step": torch.tensor(float(steps)), "eta": torch.tensor(number(meta["eta"])),
                     "mu": torch.tensor(number(meta["mu"])), "ax": array("ax")}
    elif kind == "Rprop":
        cls = torch.optim.Rprop
        kwargs = dict(opts("lr", "maximize"), etas=(number(meta["eta_minus"]), number(meta["eta_plus"])),
                      step_sizes=(number(meta["step_size_min"]), number(meta["step_size_max"])))
        if steps > 0:
            state = {"step": int(steps), "prev": array("prev"), "step_size": array("step_size")}
    elif kind == "LBFGS":
        cls = torch.optim.LBFGS
        kwargs = dict(opts("lr", "tolerance_grad", "tolerance_change"), max_iter=int(meta["max_iter"]),
                      max_eval=int(meta["max_eval"]) or int(meta["max_iter"]) * 5 // 4, history_size=int(meta["history_size"]),
                      line_search_fn={"None": None, "StrongWolfe": "strong_wolfe"}[meta["line_search"]])
        state = {"func_evals": int(meta["func_evals"]), "n_iter": int(meta["n_iter"])}
        if meta["n_iter"] > 0:
            ro = tensors["%s.ro" % entry]
            state.update(d=array("d"), t=number(meta["t"]), prev_flat_grad=array("prev_flat_grad"),
                         prev_loss=number(meta["prev_loss"]), H_diag=torch.tensor(number(meta["H_diag"])),
                         old_dirs=[row for row in array("old_dirs")], old_stps=[row for row in array("old_stps")],
                         ro=[torch.tensor(float(v)) for v in ro])
        elif meta["func_evals"] == 0:
            state = {}
    else:
        raise ValueError("entry '%s': no torch mapping for a descent %s" % (entry, kind))
    opt = cls([param], **kwargs) if kind == "LBFGS" else cls([param], foreach=False, **kwargs)
    saved = opt.state_dict()
    if state or steps > 0:
        saved["state"] = {0: state}
    opt.load_state_dict(saved)
    return opt, cls, kwargs


class Problem:
    def __init__(self, manifest):
        self.a = torch.tensor(manifest["a"], dtype=torch.float64)
        self.b = torch.tensor(manifest["b"], dtype=torch.float64)
        self.c = float(manifest["c"])
        self.x0 = torch.tensor(manifest["x0"], dtype=torch.float64)

    def gradient(self, x):
        """g_i = a_i (x_i - b_i) + c cos(x_i), in the order of the C++ side."""
        return self.a * (x - self.b) + self.c * torch.cos(x)

    def loss(self, x):
        """sum_i 0.5 a_i (x_i - b_i)^2 + c sin(x_i), summed left to right as the C++ side sums it."""
        f = 0.0
        for a, b, v in zip(self.a.tolist(), self.b.tolist(), x.detach().tolist()):
            f += 0.5 * a * (v - b) * (v - b) + self.c * math.sin(v)
        return f


def run(opt, param, problem, steps):
    if isinstance(opt, torch.optim.LBFGS):
        def closure():
            with torch.no_grad():
                param.grad = problem.gradient(param)
            return problem.loss(param)
        for _ in range(steps):
            opt.step(closure)
        return
    for _ in range(steps):
        with torch.no_grad():
            param.grad = problem.gradient(param)
        opt.step()


def error(x, reference):
    """max |x - reference| / max |reference| (and 0 for two zero arrays)."""
    x, reference = np.asarray(x, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if x.shape != reference.shape:
        return math.inf
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    diff = float(np.abs(x - reference).max()) if reference.size else 0.0
    return diff / scale if scale > 0 else (0.0 if diff == 0 else math.inf)


# descent's state arrays -> torch's state keys (the same names)
STATE_FIELDS = {
    "Adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "AdamW": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "SGD": ["momentum_buffer"],
    "Adagrad": ["sum"],
    "RMSProp": ["square_avg", "grad_avg", "momentum_buffer"],
    "GradientDescent": [],
    "NAdam": ["exp_avg", "exp_avg_sq"],
    "RAdam": ["exp_avg", "exp_avg_sq"],
    "Adamax": ["exp_avg", "exp_inf"],
    "Adadelta": ["square_avg", "acc_delta"],
    "ASGD": ["ax"],
    "Rprop": ["prev", "step_size"],
    "LBFGS": ["d", "prev_flat_grad", "old_dirs", "old_stps", "ro"],
}

# descent's per-optimizer numbers in the metadata -> torch's 0-d state tensors (the same names)
STATE_SCALARS = {
    "NAdam": ["mu_product"],
    "ASGD": ["eta", "mu"],
    "LBFGS": ["t", "prev_loss", "H_diag"],
}

# descent's counters -> torch's (compared exactly)
STATE_COUNTERS = {
    "LBFGS": ["n_iter", "func_evals"],
}


def check_case(case, manifest, folder, problem):
    """{what: error} of one case (a word instead of a number where torch cannot run it); raises on a
    bad file or a mismatch of options."""
    k, n_total = case["k"], manifest["N"]
    entries, tensors = reader.read_checkpoint(os.path.join(folder, case["checkpoint"]))
    final_entries, final_tensors = reader.read_checkpoint(os.path.join(folder, case["final"]))
    meta = entries["optimizer"]
    if meta["kind"] != case["optimizer"]:
        raise ValueError("the checkpoint holds a %s, the manifest says %s" % (meta["kind"], case["optimizer"]))
    expected = dict(case["options"])
    if "momentum_at_k" in case:
        expected["momentum"] = case["momentum_at_k"]
    for key, value in expected.items():
        if key == "decoupled_weight_decay":  # implied by the kind (AdamW)
            continue
        if meta[key] != value and not (isinstance(value, float) and number(meta[key]) == value):
            raise ValueError("option %s is %r in the checkpoint, %r in the manifest" % (key, meta[key], value))
    if meta.get("steps", k if meta["kind"] == "LBFGS" else None) != k:  # LBFGS counts iterations instead
        raise ValueError("the checkpoint was saved after %r steps, the manifest says %d" % (meta.get("steps"), k))
    for e in (entries["params"], final_entries["params"]):
        if e["kind"] != "Eigen" or e["scalar"] != "float64":
            raise ValueError("'params' is not an Eigen float64 array")
    descent_final = final_tensors["params"]
    errors = {}

    # 1, 2: resumed in torch from descent's checkpoint
    param = torch.from_numpy(tensors["params"].copy()).requires_grad_(True)
    opt, cls, kwargs = torch_optimizer(meta, tensors, "optimizer", param)
    group = opt.param_groups[0]
    for key, value in kwargs.items():
        if group[key] != value:
            raise ValueError("torch's group has %s = %r after load_state_dict, expected %r" % (key, group[key], value))
    run(opt, param, problem, n_total - k)
    resumed = param.detach().numpy().copy()
    errors["resumed"] = error(resumed, descent_final)
    moved = float(np.abs(descent_final - tensors["params"]).max())
    errors["resumed / moved"] = float(np.abs(resumed - descent_final).max()) / moved if moved > 0 else math.inf

    # 3: torch from x0 with the manifest's options; its state at K against the checkpoint's
    initial = dict(kwargs)
    if "momentum_at_k" in case:
        initial["momentum"] = case["options"]["momentum"]
    param = problem.x0.clone().requires_grad_(True)
    full = cls([param], **initial) if meta["kind"] == "LBFGS" else cls([param], foreach=False, **initial)
    run(full, param, problem, k)
    state_error = error(param.detach().numpy(), tensors["params"])
    torch_state = full.state_dict()["state"].get(0, {})
    for field in STATE_FIELDS[meta["kind"]]:
        key = "optimizer." + field
        if key in tensors and tensors[key].size > 0:  # descent's arrays are empty before the first step
            value = torch_state[field]
            if isinstance(value, list):  # L-BFGS's history: a list of tensors, oldest first
                value = torch.stack([torch.as_tensor(v) for v in value]) if value else torch.zeros(0)
            state_error = max(state_error, error(value.numpy(), tensors[key]))
    if k > 0:
        for field in STATE_SCALARS.get(meta["kind"], []):
            state_error = max(state_error, error([float(torch_state[field])], [number(meta[field])]))
    if k > 0 and "step" in torch_state and float(torch_state["step"]) != float(meta["steps"]):
        raise ValueError("torch's step is %s after %d steps" % (torch_state["step"], k))
    for field in STATE_COUNTERS.get(meta["kind"], []):
        if k > 0 and int(torch_state[field]) != int(meta[field]):
            raise ValueError("torch's %s is %s after %d steps, descent's %s" % (field, torch_state[field], k, meta[field]))
    errors["state at K"] = state_error
    if "momentum_at_k" in case:
        # what torch 1.13 cannot do by itself: its RMSprop made no momentum buffer in the first K
        # steps (momentum 0) and looks it up once momentum > 0 (KeyError); descent starts a zero one
        for g in full.param_groups:
            g["momentum"] = case["momentum_at_k"]
        try:
            run(full, param, problem, n_total - k)
        except KeyError as e:
            errors["from x0"] = "KeyError"
            errors["note"] = ("from x0: torch 1.13's RMSprop raises KeyError %s when its momentum becomes > 0 after "
                              "steps without (descent starts a zero buffer; the resumed run loads one)" % e)
        else:
            errors["from x0"] = error(param.detach().numpy(), descent_final)
    else:
        run(full, param, problem, n_total - k)
        errors["from x0"] = error(param.detach().numpy(), descent_final)
    return errors


def show(v):
    return "%11s" % v if isinstance(v, str) else "%11.3g" % v


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s DIR   (DIR written by descent_checkpoint_interop)\n" % argv[0])
        return 2
    folder = argv[1]
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    try:
        with open(os.path.join(folder, "manifest.json")) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        sys.stderr.write("checkpoint_interop.py: cannot read %s/manifest.json: %s\n" % (folder, e))
        return 1
    if not torch.__version__.startswith("1.13"):
        print("note: the mapping is torch 1.13's state layout; this is torch %s" % torch.__version__)
    problem = Problem(manifest)
    print("torch %s, N = %d, n = %d; error = max|torch - descent| / max|descent|, tolerance %g"
          % (torch.__version__, manifest["N"], manifest["n"], TOLERANCE))
    print("%-28s %-8s %2s %11s %11s %11s   %s" % ("case", "kind", "K", "resumed", "from x0", "state at K",
                                                "resumed / moved"))
    failures, notes = [], []
    for case in manifest["cases"]:
        try:
            errors = check_case(case, manifest, folder, problem)
        except (reader.CheckpointError, ValueError, KeyError, RuntimeError) as e:
            failures.append(case["name"])
            print("%-28s FAILED: %s: %s" % (case["name"], type(e).__name__, e))
            continue
        bad = [w for w in ("resumed", "from x0", "state at K")
               if not isinstance(errors[w], str) and not errors[w] <= TOLERANCE]
        print("%-28s %-8s %2d %s %s %s   %.3g%s" % (case["name"], case["optimizer"], case["k"], show(errors["resumed"]),
                                                 show(errors["from x0"]), show(errors["state at K"]),
                                                 errors["resumed / moved"],
                                                 "   FAILED: " + ", ".join(bad) if bad else ""))
        if "note" in errors:
            notes.append("%s: %s" % (case["name"], errors["note"]))
        if bad:
            failures.append(case["name"])
    for note in notes:
        print(note)
    if failures:
        print("%d of %d cases failed: %s" % (len(failures), len(manifest["cases"]), ", ".join(failures)))
        return 1
    print("all %d cases within %g" % (len(manifest["cases"]), TOLERANCE))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
