#!/usr/bin/python3
"""Reference numbers of torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (PyTorch 1.13) for
descent's tests (tests/test_clipping.cpp).

Regenerate the data with this one command, from the repository root (the output file is found
from the script's own path). It needs Debian's python3-torch 1.13, which lives in /usr/bin/python3,
not in whatever `python3` is first on PATH:

    /usr/bin/python3 tools/make_clip_reference.py

It rewrites tests/data/clip_reference.txt and is deterministic: running it twice gives
byte-identical output. Double references are computed with torch.set_default_dtype(torch.float64)
and float64 tensors; float32 references from float32 tensors holding the same values rounded to
float32 (torch then computes the norms, the coefficient and the products in float32).

What is in it
-------------
For each dtype (float64, float32) and norm type (1, 2, 3, 0.5, inf), clip_grad_norm_ cases:
one tensor and several tensors (an MLP's W1, b1, W2, b2) with max_norm below and above the norm,
a zero gradient (max_norm 1, 1e-7 and 0), max_norm 0 and inf on a non-zero gradient, values whose
magnitudes span 1e-30..1e30 (in float32 the 2- and 3-norms overflow to inf, as torch computes them
in float32), tensors of very different scales, a 1x1 tensor, and gradients holding an inf or a NaN
(error_if_nonfinite=False: torch's own numbers). clip_grad_value_ cases on ordinary values, on the
1e-30..1e30 span, with clip_value 0 and inf, and with inf/NaN coefficients. And short training
trajectories, torch.optim.SGD / Adam (foreach=False) with clip_grad_norm_ over several tensors
before every step, which tests/test_clipping.cpp replays with descent::Clipped.

File format (whitespace separated; '#' lines are comments)
----------------------------------------------------------
    descent-clip-reference 1
    torch_version <version>
    norm <name> <dtype> <norm_type> <max_norm> <k>     one clip_grad_norm_ call on k tensors
      tensor <rows> <cols> <rows*cols values>          k lines: the gradients before clipping
      total <value>                                    what clip_grad_norm_ returned
      clipped <rows*cols values>                       k lines: the gradients after it
    end
    value <name> <dtype> <clip_value> <k>              one clip_grad_value_ call on k tensors
      tensor ... (k lines), clipped ... (k lines)
    end
    trajectory <name> <dtype> <SGD|Adam> <norm_type> <max_norm> <k> <steps>
      option <name> <value>                            the optimizer's arguments (descent's names)
      tensor <rows> <cols> <values>                    k lines: the initial parameters
      grad <t> <n values>                              the flat gradient of step t, before clipping
      total <t> <value>                                clip_grad_norm_'s return value at step t
      params <t> <n values>                            the flat parameters after step t
    end

A tensor's values, and the flat vectors (the tensors one after the other, as descent::Layout
places them), are in column-major order: a rows x cols tensor t is written as t.T.flatten().
Vectors are rows x 1. Numbers are written with %.17g (float64) or %.9g (float32), which round-trip
exactly; inf and nan as inf, -inf, nan.
"""

import math
import os

import torch
from torch.nn.utils import clip_grad_norm_, clip_grad_value_

torch.set_default_dtype(torch.float64)

INF = math.inf
NORM_TYPES = [1.0, 2.0, 3.0, 0.5, INF]
DTYPES = [("float64", torch.float64), ("float32", torch.float32)]
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "clip_reference.txt")


def fmt(x, dtype):
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return ("%.17g" if dtype == torch.float64 else "%.9g") % x


def colmajor(t):
    """The values of a 1-D or 2-D tensor in column-major order."""
    return (t.T if t.dim() == 2 else t).flatten().tolist()


def shape(t):
    return (t.shape[0], t.shape[1]) if t.dim() == 2 else (t.shape[0], 1)


def tensor_line(tag, t, dtype):
    r, c = shape(t)
    return "%s %d %d %s" % (tag, r, c, " ".join(fmt(v, dtype) for v in colmajor(t)))


def values_line(tag, t, dtype):
    return "%s %s" % (tag, " ".join(fmt(v, dtype) for v in colmajor(t)))


def params_of(tensors, dtype):
    """nn.Parameters whose .grad are the given gradients (in dtype)."""
    params = []
    for g in tensors:
        p = torch.nn.Parameter(torch.zeros(g.shape, dtype=dtype))
        p.grad = g.detach().clone().to(dtype)
        params.append(p)
    return params


def gen(seed):
    return torch.Generator().manual_seed(seed)


def randn(g, *shape_, scale=1.0):
    return torch.randn(*shape_, generator=g, dtype=torch.float64) * scale


def span_values(g, *shape_):
    """Magnitudes 10^u with u uniform in [-30, 30], random signs."""
    u = torch.rand(*shape_, generator=g, dtype=torch.float64) * 60.0 - 30.0
    s = torch.where(torch.rand(*shape_, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
    return s * torch.pow(10.0, u)


def mlp_grads(g, scale=1.0):
    # W1 (h x d), b1 (h), W2 (k x h), b2 (k) with h = 5, d = 3, k = 2
    return [randn(g, 5, 3, scale=scale), randn(g, 5, scale=0.1 * scale), randn(g, 2, 5, scale=scale),
            randn(g, 2, scale=0.1 * scale)]


def norm_f64(tensors, p):
    """The total norm in float64, to place max_norm above or below it."""
    flat = torch.cat([t.flatten() for t in tensors]).to(torch.float64)
    return float(flat.abs().max()) if p == INF else float(torch.norm(flat, p))


def norm_case(lines, name, dtype_name, dtype, p, max_norm, tensors):
    params = params_of(tensors, dtype)
    lines.append("norm %s %s %s %s %d" % (name, dtype_name, fmt(p, torch.float64), fmt(max_norm, torch.float64),
                                          len(params)))
    for q in params:
        lines.append("  " + tensor_line("tensor", q.grad, dtype))
    total = clip_grad_norm_(params, max_norm, norm_type=p, error_if_nonfinite=False)
    assert total.dtype == dtype
    lines.append("  total " + fmt(total.item(), dtype))
    for q in params:
        lines.append("  " + values_line("clipped", q.grad, dtype))
    lines.append("end")


def value_case(lines, name, dtype_name, dtype, clip_value, tensors):
    params = params_of(tensors, dtype)
    lines.append("value %s %s %s %d" % (name, dtype_name, fmt(clip_value, torch.float64), len(params)))
    for q in params:
        lines.append("  " + tensor_line("tensor", q.grad, dtype))
    clip_grad_value_(params, clip_value)
    for q in params:
        lines.append("  " + values_line("clipped", q.grad, dtype))
    lines.append("end")


def norm_cases(lines):
    for dtype_name, dtype in DTYPES:
        for p in NORM_TYPES:
            tag = "p" + ("inf" if p == INF else ("%g" % p).replace(".", "_"))
            g = gen(1000 + int(10 * p) if p != INF else 1999)
            one = [randn(g, 3, 4, scale=2.0)]
            mlp = mlp_grads(g)
            for label, tensors in (("one", one), ("mlp", mlp)):
                n = norm_f64(tensors, p)
                norm_case(lines, "%s_%s_below_%s" % (label, tag, dtype_name), dtype_name, dtype, p, 0.37 * n, tensors)
                norm_case(lines, "%s_%s_above_%s" % (label, tag, dtype_name), dtype_name, dtype, p, 3.1 * n, tensors)
            zeros = [torch.zeros(5, 3), torch.zeros(5), torch.zeros(2, 5), torch.zeros(2)]
            for max_norm, label in ((1.0, "1"), (1e-7, "1e-7"), (0.0, "0")):
                norm_case(lines, "zero_%s_max%s_%s" % (tag, label, dtype_name), dtype_name, dtype, p, max_norm, zeros)
            norm_case(lines, "max0_%s_%s" % (tag, dtype_name), dtype_name, dtype, p, 0.0, mlp)
            norm_case(lines, "maxinf_%s_%s" % (tag, dtype_name), dtype_name, dtype, p, INF, mlp)
            span_one = [span_values(g, 6, 4)]
            span_many = [span_values(g, 4, 3), span_values(g, 4), span_values(g, 3, 4), span_values(g, 3)]
            for label, tensors in (("span_one", span_one), ("span_mlp", span_many)):
                norm_case(lines, "%s_%s_max1_%s" % (label, tag, dtype_name), dtype_name, dtype, p, 1.0, tensors)
                norm_case(lines, "%s_%s_max1e35_%s" % (label, tag, dtype_name), dtype_name, dtype, p, 1e35, tensors)
            scales = [randn(g, 4, 2, scale=1e-3), randn(g, 7, scale=1.0), randn(g, 3, 3, scale=1e3)]
            norm_case(lines, "scales_%s_%s" % (tag, dtype_name), dtype_name, dtype, p, 10.0, scales)
            norm_case(lines, "scalar_%s_%s" % (tag, dtype_name), dtype_name, dtype, p, 0.25,
                      [torch.tensor([[-3.0]])])
            with_inf = randn(g, 6)
            with_inf[2] = INF
            with_nan = randn(g, 6)
            with_nan[4] = math.nan
            norm_case(lines, "inf_%s_%s" % (tag, dtype_name), dtype_name, dtype, p, 1.0, [with_inf, randn(g, 3)])
            norm_case(lines, "nan_%s_%s" % (tag, dtype_name), dtype_name, dtype, p, 1.0, [with_nan, randn(g, 3)])


def value_cases(lines):
    for dtype_name, dtype in DTYPES:
        g = gen(7)
        mlp = mlp_grads(g, scale=2.0)
        value_case(lines, "mlp_0.5_%s" % dtype_name, dtype_name, dtype, 0.5, mlp)
        value_case(lines, "mlp_0.1_%s" % dtype_name, dtype_name, dtype, 0.1, mlp)
        value_case(lines, "mlp_0_%s" % dtype_name, dtype_name, dtype, 0.0, mlp)
        value_case(lines, "mlp_inf_%s" % dtype_name, dtype_name, dtype, INF, mlp)
        value_case(lines, "span_1e10_%s" % dtype_name, dtype_name, dtype, 1e10, [span_values(g, 6, 4)])
        value_case(lines, "span_1e-20_%s" % dtype_name, dtype_name, dtype, 1e-20, [span_values(g, 6, 4)])
        special = randn(g, 8)
        special[1] = INF
        special[3] = -INF
        special[5] = math.nan
        value_case(lines, "nonfinite_1_%s" % dtype_name, dtype_name, dtype, 1.0, [special])


def trajectory(lines, name, dtype_name, dtype, optimizer, p, max_norm, steps, seed):
    g = gen(seed)
    shapes = [(3, 2), (3,), (2, 3), (2,)]
    sizes = [math.prod(s) for s in shapes]
    n = sum(sizes)
    q, _ = torch.linalg.qr(randn(g, n, n))
    eig = torch.logspace(-1, 1, n, dtype=torch.float64)
    A = (q * eig) @ q.T
    c = randn(g, n)
    noise = randn(g, steps, n, scale=0.05)
    x0 = [randn(g, *s, scale=3.0) for s in shapes]
    A, c, noise = A.to(dtype), c.to(dtype), noise.to(dtype)
    params = [torch.nn.Parameter(t.to(dtype)) for t in x0]
    if optimizer == "SGD":
        options = {"lr": 0.05, "momentum": 0.9}
        opt = torch.optim.SGD(params, lr=0.05, momentum=0.9, foreach=False)
    else:
        options = {"lr": 0.05}
        opt = torch.optim.Adam(params, lr=0.05, foreach=False)
    lines.append("trajectory %s %s %s %s %s %d %d" % (name, dtype_name, optimizer, fmt(p, torch.float64),
                                                     fmt(max_norm, torch.float64), len(params), steps))
    for k, v in options.items():
        lines.append("  option %s %s" % (k, fmt(v, torch.float64)))
    for t in params:
        lines.append("  " + tensor_line("tensor", t.detach(), dtype))

    def flat(ts):
        return torch.cat([torch.tensor(colmajor(t.detach()), dtype=dtype) for t in ts])

    for t in range(1, steps + 1):
        x = flat(params)
        grad = A @ (x - c) + noise[t - 1]
        lines.append("  grad %d %s" % (t, " ".join(fmt(v, dtype) for v in grad.tolist())))
        at = 0
        for prm, s, size in zip(params, shapes, sizes):
            seg = grad[at:at + size]
            prm.grad = (seg.reshape(s[1], s[0]).T if len(s) == 2 else seg).contiguous().clone()
            at += size
        total = clip_grad_norm_(params, max_norm, norm_type=p)
        lines.append("  total %d %s" % (t, fmt(total.item(), dtype)))
        opt.step()
        lines.append("  params %d %s" % (t, " ".join(fmt(v, dtype) for v in flat(params).tolist())))
    lines.append("end")


def trajectories(lines):
    for dtype_name, dtype in DTYPES:
        trajectory(lines, "sgd_p2_%s" % dtype_name, dtype_name, dtype, "SGD", 2.0, 8.0, 30, 31)
        trajectory(lines, "adam_pinf_%s" % dtype_name, dtype_name, dtype, "Adam", INF, 15.0, 30, 32)
        trajectory(lines, "sgd_p1_%s" % dtype_name, dtype_name, dtype, "SGD", 1.0, 40.0, 30, 33)


def main():
    lines = ["descent-clip-reference 1", "torch_version %s" % torch.__version__,
             "# written by tools/make_clip_reference.py, which documents the format"]
    norm_cases(lines)
    value_cases(lines)
    trajectories(lines)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d lines)" % (os.path.normpath(OUT), len(lines)))


if __name__ == "__main__":
    main()
