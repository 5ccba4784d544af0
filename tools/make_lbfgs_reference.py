#!/usr/bin/python3
"""Reference runs of torch.optim.LBFGS 1.13 for descent's tests (tests/test_lbfgs.cpp).

Regenerate, from the repository root, with Debian's python3-torch 1.13 (in /usr/bin/python3):

    /usr/bin/python3 tools/make_lbfgs_reference.py

It rewrites tests/data/lbfgs_reference/ (every *.txt in it) and is deterministic.

L-BFGS calls the objective itself, at points it chooses (the line search's trials among them), so a
case records every call torch made: the point, the loss and the gradient it got. The C++ replay
hands the recorded loss and gradient back at the k-th call of its objective, and checks that
descent asked at the same point; the parameters after each torch step(closure) are checked too.
Replaying recorded values, not recomputing the objective, keeps the comparison to the optimizer's
own arithmetic (the objective's summation order in torch and in Eigen differ in the last bit).

Problems (n = 19, odd for descent's SIMD tails), both from make_torch_reference.py's generator:
  rosen   sum_i 10 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2 + 0.5 (x - c)' D (x - c) with a small diagonal D,
          from a start p0 around -0.5: non-convex, so the line search brackets and zooms
  quad    0.5 (x - c)' A (x - c), A of make_torch_reference.make_problem (condition ~ 1e3)
Every case runs STEPS calls of step(closure), in float64 (torch's default dtype set to float64)
and float32 (the problem rounded to float32).

Format (whitespace separated, '#' lines are comments)
    descent-lbfgs-reference 1
    case <name>, torch_call <python>, torch_version, dtype float64|float32, n, steps
    option <name> <value> explicit|default      descent's LBFGSOptions field names; line_search
                                                is None or StrongWolfe; max_eval 0 means torch's None
    initial <n values>
    eval <k> <loss> <n values>                  the k-th call (from 1): the point it was made at
    egrad <k> <n values>                        the gradient it returned
    params <t> <func_evals> <n_iter> <n values> after step t: torch's state counters and parameters
    end
"""

import os
import sys
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_torch_reference as ref  # noqa: E402

N = ref.N
STEPS = 100
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data", "lbfgs_reference")
DTYPES = [("float64", torch.float64, "%.17g"), ("float32", torch.float32, "%.9g")]
DEFAULTS = {"lr": 1.0, "max_iter": 20, "max_eval": 0, "tolerance_grad": 1e-7, "tolerance_change": 1e-9,
            "history_size": 100, "line_search": "None"}
ORDER = ["lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size", "line_search"]


def cases():
    sw = {"line_search": "StrongWolfe"}
    out = []
    for problem in ("rosen", "quad"):
        out += [
            ("%s_defaults" % problem, problem, {}),
            ("%s_wolfe" % problem, problem, dict(sw)),
            ("%s_wolfe_hist3_iter5" % problem, problem, dict(sw, history_size=3, max_iter=5)),
            ("%s_wolfe_hist1" % problem, problem, dict(sw, history_size=1)),
            ("%s_wolfe_eval7_lr05" % problem, problem, dict(sw, max_eval=7, lr=0.5)),
            ("%s_wolfe_tols" % problem, problem, dict(sw, tolerance_grad=1e-4, tolerance_change=1e-6)),
            ("%s_fixed_lr03_iter4_hist5" % problem, problem, {"lr": 0.3, "max_iter": 4, "history_size": 5}),
            ("%s_fixed_iter1" % problem, problem, {"lr": 0.2, "max_iter": 1}),
            ("%s_fixed_eval3" % problem, problem, {"lr": 0.5, "max_eval": 3, "history_size": 7}),
        ]
    # unit fixed steps diverge on the non-convex problem (in float32 after 75 evaluations)
    return [c for c in out if c[0] != "rosen_defaults"]


def objective(problem, seed, dtype):
    a64, c64, p064, _ = ref.make_problem(seed)
    if problem == "quad":
        a, c = a64.to(dtype), c64.to(dtype)
        p0 = p064.to(dtype)

        def f(p):
            r = p - c
            return 0.5 * r.dot(a @ r)
    else:
        c = (0.3 * c64 / (1.0 + c64.abs())).to(dtype)
        dd = torch.linspace(0.01, 0.1, N, dtype=torch.float64).to(dtype)
        p0 = (-0.5 + 0.4 * torch.tanh(p064)).to(dtype)

        def f(p):
            r = p - c
            return (10.0 * (p[1:] - p[:-1] ** 2) ** 2 + (1.0 - p[:-1]) ** 2).sum() + 0.5 * (dd * r * r).sum()
    return f, p0


def fmt_value(v):
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def run(name, problem, opts, dtype_name, dtype, fmt, seed):
    torch.set_default_dtype(torch.float64 if dtype == torch.float64 else torch.float32)
    f, p0 = objective(problem, seed, dtype)
    p = p0.clone().requires_grad_(True)
    kw = {}
    for k, v in opts.items():
        if k == "line_search":
            kw["line_search_fn"] = "strong_wolfe" if v == "StrongWolfe" else None
        elif k == "max_eval":
            kw["max_eval"] = v
        else:
            kw[k] = v
    opt = torch.optim.LBFGS([p], **kw)

    def row(t):
        return " ".join(fmt % float(x) for x in t.detach().reshape(-1).tolist())

    lines = ["descent-lbfgs-reference 1", "# generated by tools/make_lbfgs_reference.py; see its docstring",
             "case %s" % name,
             "torch_call torch.optim.LBFGS([p], %s)" % ", ".join("%s=%r" % kv for kv in kw.items()),
             "torch_version %s" % torch.__version__, "dtype %s" % dtype_name, "n %d" % N, "steps %d" % STEPS]
    for k in ORDER:
        v = opts.get(k, DEFAULTS[k])
        lines.append("option %s %s %s" % (k, fmt_value(v), "explicit" if k in opts else "default"))
    lines.append("initial " + row(p))
    calls = [0]

    def closure():
        opt.zero_grad()
        loss = f(p)
        loss.backward()
        calls[0] += 1
        k = calls[0]
        if not (torch.isfinite(loss) and torch.isfinite(p.grad).all()):
            raise RuntimeError("%s: non-finite evaluation %d" % (name, k))
        lines.append("eval %d %s %s" % (k, fmt % float(loss), row(p)))
        lines.append("egrad %d %s" % (k, row(p.grad)))
        return loss

    for t in range(1, STEPS + 1):
        opt.step(closure)
        st = opt.state[p]
        lines.append("params %d %d %d %s" % (t, st["func_evals"], st["n_iter"], row(p)))
    lines.append("end")
    torch.set_default_dtype(torch.float64)
    moved = float((p.detach().double() - p0.double()).abs().max())
    return "\n".join(lines) + "\n", moved, calls[0], int(opt.state[p]["n_iter"])


def main():
    if not torch.__version__.startswith("1.13"):
        sys.exit("expected torch 1.13, found %s (run with /usr/bin/python3)" % torch.__version__)
    torch.set_num_threads(1)
    out_dir = os.path.normpath(OUT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".txt"):
            os.remove(os.path.join(out_dir, old))
    index, total = [], 0
    for name, problem, opts in cases():
        seed = zlib.crc32(name.encode()) & 0x7FFFFFFF
        for dtype_name, dtype, fmt in DTYPES:
            case = "%s_%s" % (name, "f64" if dtype == torch.float64 else "f32")
            text, moved, calls, iters = run(case, problem, opts, dtype_name, dtype, fmt, seed)
            with open(os.path.join(out_dir, case + ".txt"), "w", newline="\n") as out:
                out.write(text)
            index.append("%s %s.txt" % (dtype_name, case))
            total += len(text)
            print("%-40s %5d evaluations %5d iterations, moved %.3g" % (case, calls, iters, moved))
            if moved < 1e-2:
                raise RuntimeError("%s: parameters barely moved" % case)
    with open(os.path.join(out_dir, "index.txt"), "w", newline="\n") as out:
        out.write("\n".join(index) + "\n")
    print("%d cases, %.2f MB in %s" % (len(index), total / 1e6, out_dir))


if __name__ == "__main__":
    main()
