#!/usr/bin/python3
"""Reference trajectories of torch.optim 1.13 for descent's tests (tests/test_torch_reference.cpp).

Regenerate the data with this one command, from the repository root (the output directory is found
from the script's own path). It needs Debian's python3-torch 1.13, which lives in /usr/bin/python3,
not in whatever `python3` is first on PATH:

    /usr/bin/python3 tools/make_torch_reference.py

It rewrites tests/data/torch_reference/ (every *.txt in it) and is deterministic: running it twice
on the same machine gives byte-identical files.

What each case is
-----------------
n = 19 parameters (odd on purpose: descent's kernels run SIMD packets plus a scalar tail), STEPS
steps, in float64 and in float32. The gradient depends on the parameters, like a real one:

    g(p) = s * A (p - c) + noise_t          (s = +1, or -1 for maximize cases)

with A symmetric positive definite (a random rotation of log-spaced eigenvalues plus a diagonal of
mixed magnitudes), a target c and per-coordinate noise scales spread over several decades. For
maximize cases the objective is the concave mirror image (s = -1), so that ascending it converges
instead of blowing up. The problem (A, c, p0, the noise sequence) is drawn in float64 from a seeded
torch.Generator; the float32 case of the same configuration uses the same problem rounded to
float32, and evaluates g in float32 from torch's own float32 parameters.

Every step's gradient is computed by torch from torch's current parameters and STORED, so that the
C++ side replays exactly the same gradients (it never recomputes g). Optimizers always run on the
single-tensor path (foreach=False passed explicitly).

File format (one file per case, whitespace separated, '#' lines are comments)
--------------------------------------------------------------------------
    descent-torch-reference 1
    case <name>                      file name without .txt
    torch <class>                    torch.optim class: SGD, Adam, AdamW, Adagrad, RMSprop, NAdam, RAdam,
                                     Adamax, Adadelta, ASGD, Rprop
    descent <class>                  descent class it maps to: GradientDescent, SGD, Adam, AdamW,
                                     Adagrad, RMSProp, NAdam, RAdam, Adamax, Adadelta, ASGD, Rprop (AdamW files are also replayed by
                                     descent::Adam with decoupled_weight_decay = true)
    torch_call <python expression>   the exact constructor call, for humans
    torch_version <version>
    dtype float64|float32
    seed <int>
    n <int>
    steps <int>
    option <name> <value> explicit|default   one line per option, descent's field names (torch's
                                     betas is split into beta1 and beta2, Rprop's etas and
                                     step_sizes into eta_minus/eta_plus and step_size_min/max);
                                     'explicit' options were
                                     passed to torch, 'default' ones were left at torch's default
    initial <n values>               parameters before the first step
    then for t = 1..steps:
    grad <t> <n values>              gradient handed to step t (evaluated at the parameters before it)
    params <t> <n values>            parameters after step t
    end

Floats are written with %.17g (float64) or %.9g (float32), which round-trip exactly. The index file
index.txt lists one case per line: <descent class> <dtype> <file name>.
"""

import math
import os
import sys
import zlib

import torch

N = 19
STEPS = 100
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data", "torch_reference")
FORMAT_VERSION = 1

DTYPES = [("float64", torch.float64, "%.17g"), ("float32", torch.float32, "%.9g")]

# torch's defaults, per torch class, in descent's field names (torch 1.13).
TORCH_DEFAULTS = {
    "SGD": {"momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False, "maximize": False},
    "Adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "amsgrad": False,
             "maximize": False},
    "AdamW": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 1e-2, "amsgrad": False,
              "maximize": False},
    "Adagrad": {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0,
                "eps": 1e-10, "maximize": False},
    "RMSprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                "centered": False, "maximize": False},
    "ASGD": {"lr": 1e-2, "lambd": 1e-4, "alpha": 0.75, "t0": 1e6, "weight_decay": 0.0, "maximize": False},
    "Rprop": {"lr": 1e-2, "eta_minus": 0.5, "eta_plus": 1.2, "step_size_min": 1e-6, "step_size_max": 50.0,
              "maximize": False},
    "NAdam": {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "momentum_decay": 4e-3},
    "RAdam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
    "Adamax": {"lr": 2e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0, "maximize": False},
    "Adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0, "maximize": False},
}
# Option order in the files: the order of descent's option structs.
OPTION_ORDER = {
    "GradientDescent": ["lr", "weight_decay", "maximize"],
    "SGD": ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"],
    "Adam": ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"],
    "AdamW": ["lr", "beta1", "beta2", "eps", "weight_decay", "amsgrad", "maximize"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"],
    "RMSProp": ["lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize"],
    "NAdam": ["lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay"],
    "RAdam": ["lr", "beta1", "beta2", "eps", "weight_decay"],
    "Adamax": ["lr", "beta1", "beta2", "eps", "weight_decay", "maximize"],
    "Adadelta": ["lr", "rho", "eps", "weight_decay", "maximize"],
    "ASGD": ["lr", "lambd", "alpha", "t0", "weight_decay", "maximize"],
    "Rprop": ["lr", "eta_minus", "eta_plus", "step_size_min", "step_size_max", "maximize"],
}
TORCH_CLASS = {"GradientDescent": "SGD", "SGD": "SGD", "Adam": "Adam", "AdamW": "AdamW", "Adagrad": "Adagrad",
               "RMSProp": "RMSprop", "NAdam": "NAdam", "RAdam": "RAdam",
               "Adamax": "Adamax", "Adadelta": "Adadelta", "ASGD": "ASGD", "Rprop": "Rprop"}
# Options descent splits out of one torch pair: (descent fields) -> torch keyword.
TORCH_PAIRS = {"Rprop": ((("eta_minus", "eta_plus"), "etas"), (("step_size_min", "step_size_max"), "step_sizes"))}
# torch classes with per-parameter 0-d state tensors of the *default* dtype (float32 unless set):
# NAdam's mu_product, ASGD's eta and mu. descent keeps them in double, so these cases run with
# torch's default dtype set to the case's dtype (float64 for the float64 cases); see
# docs/optimizers.md. Value: what those tensors are, for the comment line in each file.
DEFAULT_DTYPE_FOLLOWS_CASE = {"NAdam": "mu_product is a 0-d tensor", "ASGD": "eta and mu are 0-d tensors"}


def case_list():
    """(name, descent class, explicit options) for every configuration."""
    cases = []

    def add(name, descent_cls, **opts):
        cases.append((name, descent_cls, opts))

    def tag(flag, text):
        return "_" + text if flag else ""

    # GradientDescent = torch SGD with momentum 0.
    for wd in (0.0, 0.05):
        for mx in (False, True):
            add("gd" + tag(wd, "wd") + tag(mx, "max"), "GradientDescent", lr=0.1, weight_decay=wd, maximize=mx)

    # SGD: momentum x dampening x nesterov (only with dampening 0 and momentum > 0) x weight decay x maximize.
    for mom in (0.0, 0.9):
        for damp, nest in ((0.0, False), (0.3, False), (0.0, True)):
            if nest and mom == 0.0:
                continue  # torch: nesterov needs momentum > 0
            for wd in (0.0, 0.05):
                for mx in (False, True):
                    name = "sgd_m%g_d%g" % (mom, damp) + tag(nest, "nesterov") + tag(wd, "wd") + tag(mx, "max")
                    add(name, "SGD", lr=0.05, momentum=mom, dampening=damp, weight_decay=wd, nesterov=nest,
                        maximize=mx)

    # Adam (L2 weight decay): amsgrad x weight decay x maximize.
    for ams in (False, True):
        for wd in (0.0, 0.05):
            for mx in (False, True):
                add("adam" + tag(ams, "amsgrad") + tag(wd, "wd") + tag(mx, "max"), "Adam", lr=0.03, amsgrad=ams,
                    weight_decay=wd, maximize=mx)

    # AdamW (decoupled weight decay): amsgrad x maximize with weight decay 0.1, and torch's default decay.
    for ams in (False, True):
        for mx in (False, True):
            add("adamw_wd0.1" + tag(ams, "amsgrad") + tag(mx, "max"), "AdamW", lr=0.03, weight_decay=0.1,
                amsgrad=ams, maximize=mx)
    add("adamw_default_wd", "AdamW", lr=0.03)

    # Adagrad: lr_decay x initial_accumulator_value x weight decay x maximize.
    for lrd in (0.0, 0.01):
        for acc in (0.0, 0.1):
            for wd in (0.0, 0.05):
                for mx in (False, True):
                    name = "adagrad_lrd%g_acc%g" % (lrd, acc) + tag(wd, "wd") + tag(mx, "max")
                    add(name, "Adagrad", lr=0.1, lr_decay=lrd, initial_accumulator_value=acc, weight_decay=wd,
                        maximize=mx)

    # RMSprop: centered x momentum x weight decay x maximize, plus alpha = 0.9 (plain, and centered with momentum).
    for cen in (False, True):
        for mom in (0.0, 0.5):
            for wd in (0.0, 0.05):
                for mx in (False, True):
                    name = "rmsprop" + tag(cen, "centered") + "_m%g" % mom + tag(wd, "wd") + tag(mx, "max")
                    add(name, "RMSProp", lr=0.02, centered=cen, momentum=mom, weight_decay=wd, maximize=mx)
    add("rmsprop_alpha0.9", "RMSProp", lr=0.02, alpha=0.9)
    add("rmsprop_alpha0.9_centered_m0.5_wd", "RMSProp", lr=0.02, alpha=0.9, centered=True, momentum=0.5,
        weight_decay=0.05)

    # NAdam (no maximize in torch 1.13): weight decay x momentum_decay (0: mu_t stays beta1/2; torch's
    # default; 0.1: a schedule that moves within the 100 steps), plus beta1 = 0.5 and beta2 = 0.99.
    for wd in (0.0, 0.05):
        for md in (0.0, 4e-3, 0.1):
            add("nadam_md%g" % md + tag(wd, "wd"), "NAdam", lr=0.03, weight_decay=wd, momentum_decay=md)
    add("nadam_b0.5_0.99", "NAdam", lr=0.03, beta1=0.5, beta2=0.99)
    add("nadam_b0.5_0.99_wd", "NAdam", lr=0.03, beta1=0.5, beta2=0.99, weight_decay=0.05, momentum_decay=0.1)

    # RAdam (no maximize in torch 1.13): weight decay x beta2 (0.999: unrectified for the first 5
    # steps, then rectified; 0.99: rectified from step 6 with a different rho_inf; 0.6: rho_inf = 4,
    # never rectified), plus beta1 = 0.5 and a large eps.
    for wd in (0.0, 0.05):
        for b2 in (0.999, 0.99, 0.6):
            name = "radam" + ("" if b2 == 0.999 else "_b2_%g" % b2) + tag(wd, "wd")
            extra = {} if b2 == 0.999 else {"beta2": b2}
            add(name, "RAdam", lr=0.03, weight_decay=wd, **extra)
    add("radam_b1_0.5_eps1e-3", "RAdam", lr=0.03, beta1=0.5, eps=1e-3)

    # Adamax: weight decay x maximize, plus eps = 0.1 (where eps inside the max matters: |g| + eps vs
    # beta2*u) and torch's default lr.
    for wd in (0.0, 0.05):
        for mx in (False, True):
            add("adamax" + tag(wd, "wd") + tag(mx, "max"), "Adamax", lr=0.03, weight_decay=wd, maximize=mx)
    add("adamax_eps0.1", "Adamax", lr=0.03, eps=0.1)
    add("adamax_eps0.1_wd_max", "Adamax", lr=0.03, eps=0.1, weight_decay=0.05, maximize=True)
    add("adamax_default_lr", "Adamax")

    # Adadelta: weight decay x maximize at torch's default lr 1.0, plus lr 0.5 (lr scales the delta
    # but not the accumulated one), rho 0.5 and eps 1e-3.
    for wd in (0.0, 0.05):
        for mx in (False, True):
            add("adadelta" + tag(wd, "wd") + tag(mx, "max"), "Adadelta", weight_decay=wd, maximize=mx)
    add("adadelta_lr0.5", "Adadelta", lr=0.5)
    add("adadelta_rho0.5", "Adadelta", rho=0.5)
    add("adadelta_eps1e-3_wd_max", "Adadelta", eps=1e-3, weight_decay=0.05, maximize=True)
    add("adadelta_lr0.5_rho0.5_eps1e-3", "Adadelta", lr=0.5, rho=0.5, eps=1e-3)

    # ASGD: t0 (1e6: never averages; 20: ax = p up to step 22, then the running mean of the
    # iterates from step 22 on; 0: the running mean of the iterates from step 2 on)
    # x lambd x alpha x weight decay x maximize.
    for t0 in (1e6, 20.0, 0.0):
        for lambd, alpha in ((1e-4, 0.75), (0.05, 0.75), (0.05, 0.0), (0.0, 0.75)):
            for wd in (0.0, 0.05):
                for mx in (False, True):
                    if (lambd, alpha) != (1e-4, 0.75) and (wd or mx):
                        continue  # the decay variants once, without weight decay and maximize
                    name = "asgd_t0%g_l%g_a%g" % (t0, lambd, alpha) + tag(wd, "wd") + tag(mx, "max")
                    add(name, "ASGD", lr=0.05, lambd=lambd, alpha=alpha, t0=t0, weight_decay=wd, maximize=mx)
    add("asgd_defaults_lr0.05", "ASGD", lr=0.05)

    # Rprop: etas x step-size bounds (the defaults, and tight bounds that clamp) x maximize.
    for etas in ((0.5, 1.2), (0.3, 1.5)):
        for bounds in ((1e-6, 50.0), (1e-3, 0.05)):
            for mx in (False, True):
                name = "rprop_e%g-%g_s%g-%g" % (etas + bounds) + tag(mx, "max")
                add(name, "Rprop", lr=0.01, eta_minus=etas[0], eta_plus=etas[1], step_size_min=bounds[0],
                    step_size_max=bounds[1], maximize=mx)
    add("rprop_defaults", "Rprop")
    return cases


def make_problem(seed, n=N, steps=STEPS, curvature=(-2.0, 0.5), target=(-2.0, 1.0), start=(-1.5, 0.7),
                 noise_decades=(-3.0, 0.0), noise_scales_first=True):
    """A, c, p0 and the noise sequence, in float64, from a generator seeded with `seed`: n coordinates
    and `steps` noise vectors. The pairs are log10 ranges of per-coordinate magnitudes: the diagonal
    added to A, c, p0's offset from c, the noise. tools/make_group_reference.py passes its own, and
    noise_scales_first=False: it draws the noise before its scales, an order its data depend on."""
    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64

    def uniform(lo, hi, size):
        return lo + (hi - lo) * torch.rand(size, generator=gen, dtype=f64)

    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=f64))
    eig = torch.logspace(math.log10(0.05), math.log10(2.0), n, dtype=f64)
    a = (q * eig) @ q.T
    a = 0.5 * (a + a.T) + torch.diag(10.0 ** uniform(*curvature, n))  # mixed per-coordinate curvature
    c = torch.randn(n, generator=gen, dtype=f64) * 10.0 ** uniform(*target, n)
    p0 = c + torch.randn(n, generator=gen, dtype=f64) * 10.0 ** uniform(*start, n)
    if noise_scales_first:
        noise_scale = 10.0 ** uniform(*noise_decades, n)
        noise = torch.randn(steps, n, generator=gen, dtype=f64) * noise_scale
    else:
        noise = torch.randn(steps, n, generator=gen, dtype=f64) * 10.0 ** uniform(*noise_decades, n)
    return a, c, p0, noise


def torch_kwargs(descent_cls, opts):
    """The keyword arguments of the torch constructor (only the explicit options, plus foreach=False)."""
    kw = {}
    opts = dict(opts)
    for fields, keyword in TORCH_PAIRS.get(descent_cls, ()):  # Rprop's etas and step_sizes
        if any(f in opts for f in fields):
            defaults = TORCH_DEFAULTS[TORCH_CLASS[descent_cls]]
            kw[keyword] = tuple(opts.pop(f, defaults[f]) for f in fields)
    for key, value in opts.items():
        if key in ("beta1", "beta2"):
            continue  # torch takes them as one tuple, betas (below)
        kw[key] = value
    if "beta1" in opts or "beta2" in opts:
        defaults = TORCH_DEFAULTS[TORCH_CLASS[descent_cls]]
        kw["betas"] = (opts.get("beta1", defaults["beta1"]), opts.get("beta2", defaults["beta2"]))
    if descent_cls == "GradientDescent":
        kw["momentum"] = 0.0
    kw["foreach"] = False
    return kw


def all_options(descent_cls, opts):
    """[(name, value, explicit?)] in descent's field order."""
    torch_cls = TORCH_CLASS[descent_cls]
    defaults = TORCH_DEFAULTS[torch_cls]
    rows = []
    for key in OPTION_ORDER[descent_cls]:
        if key in opts:
            rows.append((key, opts[key], True))
        elif key in defaults:
            rows.append((key, defaults[key], False))
        else:
            raise ValueError("%s: option %s has no torch default and was not given" % (descent_cls, key))
    if descent_cls == "GradientDescent":
        # torch SGD with momentum 0 (passed explicitly); dampening and nesterov stay at their defaults.
        assert defaults["dampening"] == 0.0 and not defaults["nesterov"]
    return rows


def format_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(float(v))


def run_case(name, descent_cls, opts, dtype_name, dtype, fmt, seed):
    a64, c64, p064, noise64 = make_problem(seed)
    a, c, noise = a64.to(dtype), c64.to(dtype), noise64.to(dtype)
    sign = -1.0 if opts.get("maximize", False) else 1.0
    torch_cls = TORCH_CLASS[descent_cls]
    kwargs = torch_kwargs(descent_cls, opts)

    param = p064.to(dtype).clone().requires_grad_(True)
    saved_default_dtype = torch.get_default_dtype()
    if torch_cls in DEFAULT_DTYPE_FOLLOWS_CASE:
        torch.set_default_dtype(dtype)
    opt = getattr(torch.optim, torch_cls)([param], **kwargs)
    assert opt.defaults["foreach"] is False

    def row(t):
        return " ".join(fmt % float(x) for x in t.detach().tolist())

    lines = []
    lines.append("descent-torch-reference %d" % FORMAT_VERSION)
    lines.append("# generated by tools/make_torch_reference.py; see its docstring for the format")
    lines.append("case %s" % name)
    lines.append("torch %s" % torch_cls)
    lines.append("descent %s" % descent_cls)
    call = ", ".join("%s=%s" % (k, repr(v)) for k, v in kwargs.items())
    lines.append("torch_call torch.optim.%s([p], %s)" % (torch_cls, call))
    if torch_cls in DEFAULT_DTYPE_FOLLOWS_CASE:
        lines.append("# run with torch.set_default_dtype(torch.%s): %s of the default dtype"
                     % (dtype_name, DEFAULT_DTYPE_FOLLOWS_CASE[torch_cls]))
    lines.append("torch_version %s" % torch.__version__)
    lines.append("dtype %s" % dtype_name)
    lines.append("seed %d" % seed)
    lines.append("n %d" % N)
    lines.append("steps %d" % STEPS)
    for key, value, explicit in all_options(descent_cls, opts):
        lines.append("option %s %s %s" % (key, format_value(value), "explicit" if explicit else "default"))
    lines.append("initial " + row(param))

    largest = 0.0
    for t in range(1, STEPS + 1):
        with torch.no_grad():
            g = sign * (a @ (param - c)) + noise[t - 1]
        assert g.dtype == dtype
        param.grad = g.clone()
        opt.step()
        lines.append("grad %d %s" % (t, row(g)))
        lines.append("params %d %s" % (t, row(param)))
        if not bool(torch.isfinite(param).all()):
            raise RuntimeError("%s: non-finite parameters at step %d" % (name, t))
        largest = max(largest, float(param.detach().abs().max()))
    lines.append("end")
    torch.set_default_dtype(saved_default_dtype)
    if largest > 1e3:
        raise RuntimeError("%s: trajectory left the sane range (max |p| = %g)" % (name, largest))
    moved = float((param.detach().to(torch.float64) - p064).abs().max())
    return "\n".join(lines) + "\n", moved


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    if not torch.__version__.startswith("1.13"):
        sys.exit("expected torch 1.13, found %s (run with /usr/bin/python3)" % torch.__version__)
    out_dir = os.path.normpath(OUT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".txt"):
            os.remove(os.path.join(out_dir, old))

    index = []
    total = 0
    for name, descent_cls, opts in case_list():
        seed = zlib.crc32(name.encode()) & 0x7FFFFFFF  # the same problem for float64 and float32
        for dtype_name, dtype, fmt in DTYPES:
            case = "%s_%s" % (name, "f64" if dtype == torch.float64 else "f32")
            text, moved = run_case(case, descent_cls, opts, dtype_name, dtype, fmt, seed)
            file_name = case + ".txt"
            with open(os.path.join(out_dir, file_name), "w", newline="\n") as f:
                f.write(text)
            index.append("%s %s %s" % (descent_cls, dtype_name, file_name))
            total += len(text)
            if moved < 1e-2:
                raise RuntimeError("%s: parameters barely moved (%g)" % (case, moved))
    with open(os.path.join(out_dir, "index.txt"), "w", newline="\n") as f:
        f.write("\n".join(index) + "\n")
    print("%d cases, %.2f MB in %s" % (len(index), total / 1e6, out_dir))


if __name__ == "__main__":
    main()
