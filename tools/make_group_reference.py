#!/usr/bin/python3
"""Reference trajectories of torch.optim 1.13 with several parameter groups, for descent::Grouped
(tests/test_grouped.cpp).

Regenerate the data with this one command, from the repository root (the output file is found from
the script's own path). It needs Debian's python3-torch 1.13, which lives in /usr/bin/python3, not
in whatever `python3` is first on PATH:

    /usr/bin/python3 tools/make_group_reference.py

It rewrites tests/data/group_reference.txt and is deterministic: running it twice gives
byte-identical output.

What is in it
-------------
One flat parameter vector of N = 27 coefficients described by a descent::Layout of five blocks,
each one torch tensor:

    W1  3x4  offset  0      b1  3  offset 12      E  2x2  offset 15 (frozen: in no group)
    W2  2x3  offset 19      b2  2  offset 25

A descent Block is a rows x cols matrix stored COLUMN-major in the flat vector; torch tensors are
row-major. Each 2-D block is a torch tensor of shape (rows, cols) whose column-major coefficients
(t.T.flatten()) are the block's segment of the flat vector; vectors are 1-D tensors. The script
checks that this mapping round-trips.

For every optimizer (SGD with momentum / dampening / nesterov / weight decay, Adam, Adam AMSGrad,
AdamW with torch's default weight decay in one group and explicit ones in others, Adagrad with
lr_decay, RMSprop centered with momentum) a torch optimizer is built with one param group per
descent Group (foreach=False, the single-tensor path) and run for STEPS steps, in float64 and in
float32. Options are given in the groups' dicts, so those a group does not give are torch's
defaults; the one exception is Adagrad's initial_accumulator_value, which torch 1.13 takes from
its constructor argument only (a group's own value is ignored when the sums are created), so it is
passed to the constructor, which gives it to every group. The frozen tensor E gets a gradient but is in no group: torch never
touches it. Mid-run changes of a group's lr and momentum (SGD/RMSprop momentum, Adam/AdamW beta1)
are made through optimizer.param_groups between steps and recorded as events: SGD's bias group
goes from momentum 0 to 0.9 (torch starts its buffer then, as a copy of the gradient), back to 0
(the buffer is kept, unused) and to 0.5 (the old buffer is resumed); RMSprop's momentum group goes
0.5 -> 0 -> 0.7 the same way (torch 1.13 raises a KeyError if momentum is given to an RMSprop
group that had none at its first step, so that case is not here).

The gradient is a deterministic function of the flat parameters,

    g(x) = A (x - c) + noise_t

with A symmetric positive definite (a random rotation of log-spaced eigenvalues plus a diagonal of
mixed magnitudes), drawn in float64 from a torch.Generator seeded from the case name; the float32
case uses the same problem rounded to float32 and evaluates g in float32 from torch's own float32
parameters. Every step's gradient is STORED, so that the C++ side replays exactly the same
gradients (it never recomputes g). The problem's construction, torch's defaults, descent's option
order and the mapping of options to torch's keywords are tools/make_torch_reference.py's.

File format (whitespace separated; '#' lines are comments)
----------------------------------------------------------
    descent-group-reference 1
    torch_version <version>
    n <N>                                  size of the flat vector
    steps <STEPS>                          steps per case
    block <name> <offset> <rows> <cols> grouped|frozen     the layout, in order of offsets
    then per case:
    case <name> <float64|float32> <torch class> <descent class> <group count>
      torch_call <python expression>       the constructor call, for humans
      group <g> <block names...>           the blocks (torch tensors) of group g, in order
      option <g> <name> <value> explicit|default
                                           every option of group g in descent's field order and
                                           names (torch's betas split into beta1, beta2);
                                           'explicit' ones were given to torch (in the group's
                                           dict, or to the constructor for every group), 'default'
                                           ones are torch's defaults for a group that omits them
      initial <N values>                   flat parameters before the first step
      event <t> set_lr <g|all> <value>     before step t: group g's (or every group's) lr is set
      event <t> set_momentum <g|all> <value>   before step t: momentum (beta1 for Adam/AdamW)
      grad <t> <N values>                  flat gradient handed to step t (at the parameters before it)
      params <t> <N values>                flat parameters after step t (E included, unchanged)
    end

Floats are written with %.17g (float64) or %.9g (float32), which round-trip exactly; option and
event values (Python floats) with repr. Descent classes: SGD, Adam, AdamW, Adagrad, RMSProp.
"""

import os
import sys
import zlib

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_torch_reference as ref  # noqa: E402  (the problem, torch's defaults, descent's option order)

STEPS = 40
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data", "group_reference.txt")
DTYPES = ref.DTYPES

# (name, rows, cols, frozen); cols = 1 with a 1-D tensor for vectors.
LAYOUT = [("W1", 3, 4, False), ("b1", 3, 1, False), ("E", 2, 2, True), ("W2", 2, 3, False), ("b2", 2, 1, False)]
OFFSETS = {}
_at = 0
for _name, _r, _c, _f in LAYOUT:
    OFFSETS[_name] = _at
    _at += _r * _c
N = _at
VECTORS = {"b1", "b2"}  # 1-D tensors

TORCH_CLASS = ref.TORCH_CLASS


def case_list():
    """(name, descent class, [(block names, explicit options)], [(t, kind, group or 'all', value)],
    constructor keyword arguments besides foreach=False, which every group inherits)."""
    return [
        ("sgd", "SGD",
         [(["W1"], dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
          (["W2"], dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.02)),
          (["b1", "b2"], dict(lr=0.1, dampening=0.2))],  # momentum 0 at first: no buffer
         [(8, "set_momentum", 2, 0.9),    # starts the buffer: a copy of the gradient (no dampening)
          (15, "set_lr", 1, 0.02),
          (20, "set_momentum", 2, 0.0),   # the buffer is kept, unused
          (27, "set_momentum", 2, 0.5),   # and resumed
          (33, "set_lr", 0, 0.03)], {}),
        ("adam", "Adam",
         [(["W1", "W2"], dict(lr=0.03, weight_decay=0.05)),
          (["b1", "b2"], dict(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-6))],
         [(12, "set_momentum", 0, 0.8),   # beta1: also the bias correction 1 - beta1^t from then on
          (20, "set_lr", 1, 0.005),
          (25, "set_momentum", 1, 0.95)], {}),
        ("adam_amsgrad", "Adam",
         [(["W1", "W2"], dict(lr=0.03, amsgrad=True, weight_decay=0.05)),
          (["b1", "b2"], dict(lr=0.02, beta1=0.9, beta2=0.9, amsgrad=True))],
         [(10, "set_momentum", 0, 0.5),
          (30, "set_lr", "all", 0.01)], {}),
        ("adamw", "AdamW",
         [(["W1"], dict(lr=0.03)),  # torch's default weight_decay 1e-2
          (["W2"], dict(lr=0.03, weight_decay=0.1, amsgrad=True)),
          (["b1", "b2"], dict(lr=0.02, weight_decay=0.0))],
         [(10, "set_momentum", 0, 0.85),
          (18, "set_lr", 2, 0.01),
          (25, "set_momentum", "all", 0.8)], {}),
        # torch 1.13's Adagrad fills its sums with the CONSTRUCTOR's initial_accumulator_value and ignores
        # a group's own (its __init__ reads the argument, not param_group[...]); so it is given to the
        # constructor here, and every group has it, in torch's param_groups and in its state alike.
        ("adagrad", "Adagrad",
         [(["W1", "W2"], dict(lr=0.1, lr_decay=0.01, weight_decay=0.01)),
          (["b1", "b2"], dict(lr=0.05, eps=1e-8))],
         [(15, "set_lr", 0, 0.05),
          (25, "set_lr", "all", 0.04)], dict(initial_accumulator_value=0.1)),
        ("rmsprop", "RMSProp",
         [(["W1", "W2"], dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01)),
          (["b1", "b2"], dict(lr=0.02, alpha=0.9))],
         [(10, "set_momentum", 0, 0.0),   # the buffer is kept, unused
          (18, "set_momentum", 0, 0.7),   # and resumed
          (25, "set_lr", 1, 0.01)], {}),
    ]


def colmajor(t):
    """The values of a 1-D or 2-D tensor in column-major order."""
    return t.T.flatten() if t.dim() == 2 else t.flatten()


def tensor_of(flat, name, rows, cols):
    """The torch tensor of block `name` from the flat (column-major) vector: (rows, cols) or (rows,)."""
    seg = flat[OFFSETS[name]:OFFSETS[name] + rows * cols]
    if name in VECTORS:
        return seg.clone()
    return seg.reshape(cols, rows).T.contiguous().clone()


def flat_of(tensors, dtype):
    out = torch.cat([colmajor(tensors[name].detach()) for name, _, _, _ in LAYOUT])
    assert out.dtype == dtype and out.numel() == N
    return out


def make_problem(seed):
    """A, c, p0 and the noise, in float64: make_torch_reference's problem in N coordinates over
    STEPS steps, with this file's own magnitudes."""
    return ref.make_problem(seed, n=N, steps=STEPS, curvature=(-2.0, 0.3), target=(-1.0, 0.5), start=(-1.0, 0.5),
                            noise_decades=(-3.0, -0.5), noise_scales_first=False)


def torch_group(descent_cls, names, opts, tensors):
    """The param-group dict given to torch for one group: its options as torch's keywords (foreach
    goes to the constructor)."""
    kwargs = ref.torch_kwargs(descent_cls, opts)
    del kwargs["foreach"]
    return {"params": [tensors[n] for n in names], **kwargs}


def group_options(descent_cls, opts, common):
    """[(name, value, explicit?)] of one group in descent's field order: the group's own options,
    else the constructor's (`common`, every group's), else torch's defaults."""
    unknown = (set(opts) | set(common)) - set(ref.OPTION_ORDER[descent_cls])
    if unknown:
        raise ValueError("unknown options %s" % sorted(unknown))
    return ref.all_options(descent_cls, {**common, **opts})


def apply_event(opt, descent_cls, kind, g, value):
    groups = opt.param_groups if g == "all" else [opt.param_groups[g]]
    for group in groups:
        if kind == "set_lr":
            group["lr"] = value
        elif descent_cls in ("Adam", "AdamW"):
            group["betas"] = (value, group["betas"][1])
        else:
            assert descent_cls in ("SGD", "RMSProp")
            group["momentum"] = value


def run_case(name, descent_cls, groups, events, common, dtype_name, dtype, fmt, seed):
    a64, c64, p064, noise64 = make_problem(seed)
    a, c, noise = a64.to(dtype), c64.to(dtype), noise64.to(dtype)
    x0 = p064.to(dtype)
    tensors = {n: tensor_of(x0, n, r, cc).requires_grad_(True) for n, r, cc, _ in LAYOUT}
    assert torch.equal(flat_of(tensors, dtype), x0), "the column-major mapping does not round-trip"
    frozen = [n for n, _, _, f in LAYOUT if f]
    in_groups = [n for names, _ in groups for n in names]
    assert sorted(in_groups + frozen) == sorted(n for n, _, _, _ in LAYOUT) and len(set(in_groups)) == len(in_groups)

    torch_groups = [torch_group(descent_cls, names, opts, tensors) for names, opts in groups]
    opt = getattr(torch.optim, TORCH_CLASS[descent_cls])(torch_groups, foreach=False, **common)
    for group, (names, opts) in zip(opt.param_groups, groups):
        assert group["foreach"] is False
        for key, value, _ in group_options(descent_cls, opts, common):  # what the file says is what torch uses
            actual = group["betas"][0 if key == "beta1" else 1] if key in ("beta1", "beta2") else group[key]
            assert actual == value and isinstance(actual, bool) == isinstance(value, bool), (name, key, actual, value)
        if descent_cls == "Adagrad":  # and its state starts from the group's value (see case_list)
            for prm in group["params"]:
                assert bool((opt.state[prm]["sum"] == group["initial_accumulator_value"]).all())

    def row(t):
        return " ".join(fmt % float(v) for v in t.tolist())

    lines = ["case %s_%s %s %s %s %d" % (name, "f64" if dtype == torch.float64 else "f32", dtype_name,
                                         TORCH_CLASS[descent_cls], descent_cls, len(groups))]
    shown = []
    for names, opts in groups:
        d = torch_group(descent_cls, names, opts, tensors)
        items = ["'params': [%s]" % ", ".join(names)] + ["%r: %r" % (k, v) for k, v in d.items() if k != "params"]
        shown.append("{" + ", ".join(items) + "}")
    extra = "".join(", %s=%r" % (k, v) for k, v in common.items())
    lines.append("  torch_call torch.optim.%s([%s], foreach=False%s)" % (TORCH_CLASS[descent_cls], ", ".join(shown), extra))
    for g, (names, opts) in enumerate(groups):
        lines.append("  group %d %s" % (g, " ".join(names)))
    for g, (names, opts) in enumerate(groups):
        for key, value, explicit in group_options(descent_cls, opts, common):
            lines.append("  option %d %s %s %s" % (g, key, ref.format_value(value), "explicit" if explicit else "default"))
    lines.append("  initial " + row(x0))

    by_step = {}
    for t, kind, g, value in events:
        by_step.setdefault(t, []).append((kind, g, value))
    largest = 0.0
    for t in range(1, STEPS + 1):
        for kind, g, value in by_step.get(t, []):
            apply_event(opt, descent_cls, kind, g, value)
            lines.append("  event %d %s %s %s" % (t, kind, g, repr(float(value))))
        with torch.no_grad():
            x = flat_of(tensors, dtype)
            grad = a @ (x - c) + noise[t - 1]
        assert grad.dtype == dtype
        for n, r, cc, _ in LAYOUT:
            tensors[n].grad = tensor_of(grad, n, r, cc)
        opt.step()
        after = flat_of(tensors, dtype)
        lines.append("  grad %d %s" % (t, row(grad)))
        lines.append("  params %d %s" % (t, row(after)))
        if not bool(torch.isfinite(after).all()):
            raise RuntimeError("%s: non-finite parameters at step %d" % (name, t))
        largest = max(largest, float(after.abs().max()))
        for n in frozen:
            o = OFFSETS[n]
            size = tensors[n].numel()
            assert torch.equal(after[o:o + size], x0[o:o + size]), "torch moved the frozen block"
    lines.append("end")
    if largest > 1e3:
        raise RuntimeError("%s: trajectory left the sane range (max |p| = %g)" % (name, largest))
    for names, _ in groups:
        for n in names:
            o = OFFSETS[n]
            moved = float((after[o:o + tensors[n].numel()].to(torch.float64) - p064[o:o + tensors[n].numel()]).abs().max())
            if moved < 1e-3:
                raise RuntimeError("%s: block %s barely moved (%g)" % (name, n, moved))
    return lines


def main():
    torch.set_num_threads(1)
    if not torch.__version__.startswith("1.13"):
        sys.exit("expected torch 1.13, found %s (run with /usr/bin/python3)" % torch.__version__)
    lines = ["descent-group-reference 1",
             "# written by tools/make_group_reference.py, which documents the format",
             "torch_version %s" % torch.__version__,
             "n %d" % N,
             "steps %d" % STEPS]
    for n, r, c, f in LAYOUT:
        lines.append("block %s %d %d %d %s" % (n, OFFSETS[n], r, c, "frozen" if f else "grouped"))
    count = 0
    for name, descent_cls, groups, events, common in case_list():
        seed = zlib.crc32(name.encode()) & 0x7FFFFFFF  # the same problem in float64 and float32
        for dtype_name, dtype, fmt in DTYPES:
            lines += run_case(name, descent_cls, groups, events, common, dtype_name, dtype, fmt, seed)
            count += 1
    out = os.path.normpath(OUT)
    with open(out, "w", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print("%d cases, %d lines in %s" % (count, len(lines), out))


if __name__ == "__main__":
    main()
