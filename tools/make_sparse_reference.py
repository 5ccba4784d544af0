#!/usr/bin/python3
"""Reference trajectories of torch.optim 1.13 with sparse gradients, for tests/test_sparse.cpp.

Regenerate the data with this one command, from the repository root (the output directory is found
from the script's own path). It needs Debian's python3-torch 1.13, which lives in /usr/bin/python3,
not in whatever `python3` is first on PATH:

    /usr/bin/python3 tools/make_sparse_reference.py

It rewrites tests/data/sparse/ (every *.txt in it) and is deterministic: running it twice on the
same machine gives byte-identical files.

What each case is
-----------------
n = 53 parameters, STEPS steps, in float64 (with torch's default dtype set to float64) and in
float32. At every step a seeded generator picks which coordinates the gradient has (from none to
about a third of them, a different set each step), and the gradient there depends on the
parameters, like a real one:

    g_i = s * d_i (p_i - c_i) + noise_t,i        (s = +1, or -1 for maximize cases)

with per-coordinate curvatures d_i, a target c and noise scales over three decades. Step EMPTY_STEP
has no nonzeros at all (it still counts as a step: lr_decay and the bias corrections see it). On
some steps the gradient is uncoalesced: the value of some coordinates is split into two or three
entries with that index, and the entries are shuffled, so that torch's coalesce (which sums them)
is exercised. The gradient is handed to torch as `torch.sparse_coo_tensor(indices, values, (n,))`,
exactly as written in the file.

Every step's gradient is computed by torch from torch's current parameters and STORED, so that the
C++ side replays exactly the same gradients. The replay sums repeated indices (into an
Eigen::SparseVector with coeffRef(i) += v, in file order), which is torch's coalesce for Adagrad and
SparseAdam; torch's SGD adds the entries one by one instead, which differs by rounding only.

File format (one file per case, whitespace separated, '#' lines are comments)
--------------------------------------------------------------------------
    descent-sparse-reference 1
    case <name>                      file name without .txt
    torch <class>                    torch.optim class: SGD, Adagrad, SparseAdam
    descent <class>                  descent class it maps to: SGD, Adagrad, SparseAdam
    torch_call <python expression>   the exact constructor call, for humans
    torch_version <version>
    dtype float64|float32
    seed <int>
    n <int>
    steps <int>
    option <name> <value> explicit|default   one line per option, descent's field names (torch's
                                     betas split into beta1 and beta2); 'explicit' options were
                                     passed to torch, 'default' ones were left at torch's default
    initial <n values>               parameters before the first step
    then for t = 1..steps:
    grad <t> <k> <k indices> <k values>   the k stored entries of step t's gradient, in storage
                                     order (uncoalesced: an index may repeat; k may be 0)
    params <t> <n values>            parameters after step t
    end

Floats are written with %.17g (float64) or %.9g (float32), which round-trip exactly. The index file
index.txt lists one case per line: <descent class> <dtype> <file name>.
"""

import os
import sys
import zlib

import torch

N = 53
STEPS = 120
EMPTY_STEP = 37
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data", "sparse")
FORMAT_VERSION = 1

DTYPES = [("float64", torch.float64, "%.17g"), ("float32", torch.float32, "%.9g")]

# torch's defaults (1.13), in descent's field names.
TORCH_DEFAULTS = {
    "SGD": {"lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False,
            "maximize": False},
    "Adagrad": {"lr": 1e-2, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0,
                "eps": 1e-10, "maximize": False},
    "SparseAdam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "maximize": False},
}
OPTION_ORDER = {
    "SGD": ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"],
    "Adagrad": ["lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"],
    "SparseAdam": ["lr", "beta1", "beta2", "eps", "maximize"],
}


def case_list():
    """(name, class, explicit options) for every configuration."""
    cases = []

    def add(name, cls, **opts):
        cases.append((name, cls, opts))

    add("sgd", "SGD", lr=0.1)
    add("sgd_max", "SGD", lr=0.1, maximize=True)
    add("adagrad", "Adagrad", lr=0.1)
    add("adagrad_lrd", "Adagrad", lr=0.1, lr_decay=0.02)
    add("adagrad_acc", "Adagrad", lr=0.1, initial_accumulator_value=0.1)
    add("adagrad_max", "Adagrad", lr=0.1, maximize=True)
    add("adagrad_lrd_acc_eps_max", "Adagrad", lr=0.1, lr_decay=0.01, initial_accumulator_value=0.5, eps=1e-3,
        maximize=True)
    add("adagrad_defaults", "Adagrad")
    add("sparse_adam", "SparseAdam", lr=0.05)
    add("sparse_adam_defaults", "SparseAdam")
    add("sparse_adam_betas_eps", "SparseAdam", lr=0.05, beta1=0.5, beta2=0.99, eps=1e-3)
    add("sparse_adam_max", "SparseAdam", lr=0.05, maximize=True)
    add("sparse_adam_b0_max", "SparseAdam", lr=0.02, beta1=0.0, beta2=0.9, maximize=True)
    return cases


def torch_kwargs(cls, opts):
    kw = {k: v for k, v in opts.items() if k not in ("beta1", "beta2")}
    if "beta1" in opts or "beta2" in opts:
        d = TORCH_DEFAULTS[cls]
        kw["betas"] = (opts.get("beta1", d["beta1"]), opts.get("beta2", d["beta2"]))
    if cls == "SGD" and "lr" not in kw:
        raise ValueError("SGD needs an explicit lr")
    if cls in ("SGD", "Adagrad"):
        kw["foreach"] = False
    return kw


def format_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(float(v))


def make_problem(seed):
    gen = torch.Generator().manual_seed(seed)
    f64 = torch.float64

    def uniform(lo, hi, size):
        return lo + (hi - lo) * torch.rand(size, generator=gen, dtype=f64)

    d = 10.0 ** uniform(-1.0, 0.3, N)
    c = torch.randn(N, generator=gen, dtype=f64) * 10.0 ** uniform(-1.0, 0.5, N)
    p0 = c + torch.randn(N, generator=gen, dtype=f64) * 10.0 ** uniform(-1.0, 0.5, N)
    noise = torch.randn(STEPS, N, generator=gen, dtype=f64) * 10.0 ** uniform(-3.0, 0.0, N)
    # The pattern of every step: which coordinates, and how the uncoalesced ones are split.
    patterns = []
    for t in range(1, STEPS + 1):
        if t == EMPTY_STEP:
            patterns.append(([], []))
            continue
        k = int(torch.randint(1, N // 3 + 1, (1,), generator=gen))
        chosen = sorted(torch.randperm(N, generator=gen)[:k].tolist())
        split = []  # (coordinate, number of entries)
        if t % 4 == 0 or t == 1:
            for i in chosen:
                r = float(torch.rand(1, generator=gen))
                split.append((i, 3 if r < 0.15 else 2 if r < 0.5 else 1))
        else:
            split = [(i, 1) for i in chosen]
        fractions = torch.rand(len(split), 3, generator=gen, dtype=f64)
        order = torch.randperm(sum(m for _, m in split), generator=gen).tolist() if t % 4 == 0 or t == 1 else None
        patterns.append((split, (fractions, order)))
    return d, c, p0, noise, patterns


def sparse_gradient(g_dense, split, extra, dtype):
    """The stored entries (indices, values) of the gradient whose coalesced value is g_dense at the
    coordinates of `split`: a coordinate split into m entries gets m values that sum to roughly its
    value (the last takes the remainder, in the dtype)."""
    if not split:
        return [], torch.zeros(0, dtype=dtype)
    fractions, order = extra
    indices, values = [], []
    for j, (i, m) in enumerate(split):
        gi = g_dense[i]
        if m == 1:
            indices.append(i)
            values.append(gi)
            continue
        parts = []
        rest = gi
        for q in range(m - 1):
            part = (gi * (0.2 + 0.6 * float(fractions[j, q]))).to(dtype)
            parts.append(part)
            rest = rest - part
        parts.append(rest)
        for part in parts:
            indices.append(i)
            values.append(part)
    if order is not None:
        indices = [indices[o] for o in order]
        values = [values[o] for o in order]
    return indices, torch.stack(values).to(dtype)


def run_case(name, cls, opts, dtype_name, dtype, fmt, seed):
    d64, c64, p064, noise64, patterns = make_problem(seed)
    d, c, noise = d64.to(dtype), c64.to(dtype), noise64.to(dtype)
    sign = -1.0 if opts.get("maximize", False) else 1.0
    kwargs = torch_kwargs(cls, opts)

    saved_default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    param = p064.to(dtype).clone().requires_grad_(True)
    opt = getattr(torch.optim, cls)([param], **kwargs)

    def row(t):
        return " ".join(fmt % float(x) for x in t.detach().tolist())

    lines = []
    lines.append("descent-sparse-reference %d" % FORMAT_VERSION)
    lines.append("# generated by tools/make_sparse_reference.py; see its docstring for the format")
    lines.append("case %s" % name)
    lines.append("torch %s" % cls)
    lines.append("descent %s" % cls)
    call = ", ".join("%s=%s" % (k, repr(v)) for k, v in kwargs.items())
    lines.append("torch_call torch.optim.%s([p]%s)" % (cls, (", " + call) if call else ""))
    lines.append("# run with torch.set_default_dtype(torch.%s)" % dtype_name)
    lines.append("torch_version %s" % torch.__version__)
    lines.append("dtype %s" % dtype_name)
    lines.append("seed %d" % seed)
    lines.append("n %d" % N)
    lines.append("steps %d" % STEPS)
    defaults = TORCH_DEFAULTS[cls]
    for key in OPTION_ORDER[cls]:
        explicit = key in opts
        lines.append("option %s %s %s" % (key, format_value(opts[key] if explicit else defaults[key]),
                                          "explicit" if explicit else "default"))
    lines.append("initial " + row(param))

    repeated_steps = 0
    for t in range(1, STEPS + 1):
        split, extra = patterns[t - 1]
        with torch.no_grad():
            g_dense = sign * (d * (param - c)) + noise[t - 1]
        indices, values = sparse_gradient(g_dense, split, extra, dtype)
        assert values.dtype == dtype
        if len(set(indices)) != len(indices):
            repeated_steps += 1
        grad = torch.sparse_coo_tensor(torch.tensor([indices], dtype=torch.int64).reshape(1, len(indices)),
                                       values, (N,))
        param.grad = grad
        opt.step()
        lines.append(" ".join(["grad", str(t), str(len(indices))] + [str(i) for i in indices] +
                              [fmt % float(v) for v in values.tolist()]))
        lines.append("params %d %s" % (t, row(param)))
        if not bool(torch.isfinite(param).all()):
            raise RuntimeError("%s: non-finite parameters at step %d" % (name, t))
    lines.append("end")
    torch.set_default_dtype(saved_default_dtype)
    if repeated_steps < 10:
        raise RuntimeError("%s: only %d steps with repeated indices" % (name, repeated_steps))
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
    for name, cls, opts in case_list():
        seed = zlib.crc32(name.encode()) & 0x7FFFFFFF  # the same problem for float64 and float32
        for dtype_name, dtype, fmt in DTYPES:
            case = "%s_%s" % (name, "f64" if dtype == torch.float64 else "f32")
            text, moved = run_case(case, cls, opts, dtype_name, dtype, fmt, seed)
            with open(os.path.join(out_dir, case + ".txt"), "w", newline="\n") as f:
                f.write(text)
            index.append("%s %s %s" % (cls, dtype_name, case + ".txt"))
            total += len(text)
            if moved < 1e-2:
                raise RuntimeError("%s: parameters barely moved (%g)" % (case, moved))
    with open(os.path.join(out_dir, "index.txt"), "w", newline="\n") as f:
        f.write("\n".join(index) + "\n")
    print("%d cases, %.2f MB in %s" % (len(index), total / 1e6, out_dir))


if __name__ == "__main__":
    main()
