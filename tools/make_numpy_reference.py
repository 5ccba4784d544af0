#!/usr/bin/python3
"""Reference trajectories of optimizers torch.optim 1.13 lacks, for tests/test_modern_optimizers.cpp.

Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Program 1 and the
authors' PyTorch code) and Schedule-Free AdamW / SGD (Defazio et al. 2024, "The Road Less
Scheduled", Algorithm 1, with the semantics of the authors' reference package schedulefree:
AdamWScheduleFree and SGDScheduleFree, the non-"Reference" classes). Each is written here in
numpy from the paper's pseudocode, independently of descent's C++ (which updates y in place, as
the reference package does):

  * Lion:       c = b1*m + (1-b1)*g;  p <- p*(1 - lr*wd) - lr*sign(c);  m <- b2*m + (1-b2)*g
  * Schedule-free: the three sequences are kept explicitly, as in the paper's Algorithm 1:
        y_t     = (1-beta)*z_t + beta*x_t                 (the gradient is taken here)
        z_{t+1} = z_t - lr_t * u_t                        (u_t: the base optimizer's direction)
        x_{t+1} = (1-c_{t+1})*x_t + c_{t+1}*z_{t+1}
    with, per the reference package, lr_t = lr * warmup_t (* sqrt(1 - beta2^t) for AdamW: the
    bias correction of the second moment folded into lr_t), lr_max = max(lr_max, lr_t),
    weight_t = t^r * lr_max^weight_lr_power, c_{t+1} = weight_t / sum of the weights (0 while
    that sum is 0), and the weight decay taken at y:
        AdamW:  v <- b2*v + (1-b2)*g^2;  u = g/(sqrt(v)+eps) + wd*y
        SGD:    u = g + wd*y
    eval() gives x; train() gives y = (1-beta)*z + beta*x. The package keeps y (train mode) or x
    (eval mode) in the parameters and z in the state, so a beta changed mid-run (set_momentum)
    leaves the parameters alone: in train mode y stays and the implied x moves,
    x = (y - (1-beta')*z) / beta'; that is what a 'set_momentum' event does here.

Regenerate the data with this one command, from the repository root (the output directory is found
from the script's own path; only numpy is needed, the system one is in /usr/bin/python3):

    /usr/bin/python3 tools/make_numpy_reference.py

It rewrites tests/data/numpy_reference/ (every *.txt in it) and is deterministic: running it twice
on the same machine gives byte-identical files.

What each case is
-----------------
n = 19 parameters (odd: descent's kernels run SIMD packets plus a scalar tail), STEPS steps (more
for some cases), in float64 and in float32. The gradient depends on the parameters, like a real
one (the scheme of tools/make_torch_reference.py):

    g(p) = s * A (p - c) + noise_t          (s = +1, or -1 for maximize cases)

with A symmetric positive definite (a random rotation of log-spaced eigenvalues plus a diagonal of
mixed magnitudes, all times `curvature`, 1 unless the case says otherwise), a target c and
per-coordinate noise scales spread over several decades, drawn in float64 from
numpy.random.default_rng(seed). The float32 case of a configuration uses the same problem rounded
to float32 and evaluates g in float32 at its own float32 iterate. Every step's gradient is STORED,
so the C++ side replays exactly the same gradients (it never recomputes g).

Arithmetic and scalar types
---------------------------
Arrays are updated in the case's dtype (float32 cases in float32, as the reference code computes
for float32 parameters). Scalars derived from the options (the decay factor 1 - lr*wd, 1 - beta,
the warmup factor, sqrt(1 - beta2^t), lr_max, the weights, weight_sum, c) are Python floats
(double), rounded to the dtype when they multiply an array; descent computes them in double too.
numpy does not contract a*b + c into a fused multiply-add, and descent's kernels are compiled
without contraction, so Lion (whose sign() would turn a rounding difference into a step of 2*lr)
agrees bitwise. sign(0) = 0 as numpy's and torch's sign; NaN never occurs here.

File format (one file per case, whitespace separated, '#' lines are comments)
--------------------------------------------------------------------------
    descent-numpy-reference 1
    case <name>                      file name without .txt
    descent <class>                  Lion, ScheduleFreeAdamW or ScheduleFreeSGD
    reference <text>                 where the semantics come from, for humans
    numpy_version <version>
    dtype float64|float32
    seed <int>
    n <int>
    steps <int>
    option <name> <value> explicit|default   every option, descent's field names and order
                                     (Lion's and AdamW's betas split into beta1, beta2);
                                     'default' ones are the reference's defaults
    initial <n values>               parameters before the first step (y_1 = x_1 = z_1)
    then, in order of time:
    set_lr <t> <value>               before step t: the lr becomes value (set_lr)
    set_momentum <t> <value>         before step t: beta1 / momentum becomes value (set_momentum)
    eval <t> <n values>              after step t (t = 0: before the first): eval() was called;
                                     the parameters then hold these values (x)
    train <t> <n values>             after the eval at t: train() was called; the parameters hold y
    grad <t> <n values>              gradient handed to step t (evaluated at the parameters before it)
    params <t> <n values>            parameters after step t (y for schedule-free)
    x <t> <n values>                 schedule-free only: the average x after step t (what eval()
                                     would give then)
    end

Floats are written with %.17g (float64) or %.9g (float32), which round-trip exactly. The index file
index.txt lists one case per line: <descent class> <dtype> <file name>.
"""

import math
import os
import sys
import zlib

import numpy as np

N = 19
STEPS = 100
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests", "data", "numpy_reference")
FORMAT_VERSION = 1

DTYPES = [("float64", np.float64, "%.17g"), ("float32", np.float32, "%.9g")]

# The reference defaults, in descent's field names and order.
DEFAULTS = {
    # google/automl lion_pytorch.py: lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0 (maximize is descent's)
    "Lion": [("lr", 1e-4), ("beta1", 0.9), ("beta2", 0.99), ("weight_decay", 0.0), ("maximize", False)],
    # schedulefree.AdamWScheduleFree: lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    # warmup_steps=0, r=0.0, weight_lr_power=2.0
    "ScheduleFreeAdamW": [("lr", 0.0025), ("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8), ("weight_decay", 0.0),
                          ("warmup_steps", 0), ("r", 0.0), ("weight_lr_power", 2.0)],
    # schedulefree.SGDScheduleFree: lr=1.0, momentum=0.9, weight_decay=0, warmup_steps=0, r=0.0,
    # weight_lr_power=2
    "ScheduleFreeSGD": [("lr", 1.0), ("momentum", 0.9), ("weight_decay", 0.0), ("warmup_steps", 0), ("r", 0.0),
                        ("weight_lr_power", 2.0)],
}
REFERENCE = {
    "Lion": "Chen et al. 2023, Program 1 (google/automl lion_pytorch.py); sign(0) = 0",
    "ScheduleFreeAdamW": "Defazio et al. 2024, Algorithm 1; schedulefree.AdamWScheduleFree semantics",
    "ScheduleFreeSGD": "Defazio et al. 2024, Algorithm 1 with SGD; schedulefree.SGDScheduleFree semantics",
}


def case_list():
    """(name, class, explicit options, extras) for every configuration. extras: 'events' maps a
    step t to the actions around it, 'steps', 'curvature'."""
    cases = []

    def add(name, cls, events=None, steps=STEPS, curvature=1.0, **opts):
        cases.append((name, cls, opts, {"events": events or {}, "steps": steps, "curvature": curvature}))

    # Lion. Its steps are +-lr per coefficient, so lr is small next to the distances (up to ~5).
    add("lion_defaults", "Lion")
    add("lion_lr0.02", "Lion", lr=0.02)
    add("lion_lr0.02_wd0.5", "Lion", lr=0.02, weight_decay=0.5)
    add("lion_lr0.02_max", "Lion", lr=0.02, maximize=True)
    add("lion_lr0.02_b0.5_0.9", "Lion", lr=0.02, beta1=0.5, beta2=0.9)
    add("lion_lr0.02_wd0.5_max_b0_0", "Lion", lr=0.02, beta1=0.0, beta2=0.0, weight_decay=0.5, maximize=True)
    add("lion_lr0.02_wd0.2_schedule", "Lion", lr=0.02, weight_decay=0.2, steps=150,
        events={40: [("set_lr", 0.005)], 60: [("set_momentum", 0.5)], 90: [("set_lr", 0.03)]})

    # Schedule-free AdamW.
    add("sfadamw_defaults", "ScheduleFreeAdamW")
    add("sfadamw_lr0.05", "ScheduleFreeAdamW", lr=0.05)
    add("sfadamw_lr0.05_wd0.1", "ScheduleFreeAdamW", lr=0.05, weight_decay=0.1)
    add("sfadamw_lr0.05_warmup20", "ScheduleFreeAdamW", lr=0.05, warmup_steps=20)
    add("sfadamw_lr0.05_r1", "ScheduleFreeAdamW", lr=0.05, r=1.0)
    add("sfadamw_lr0.05_warmup10_power1", "ScheduleFreeAdamW", lr=0.05, warmup_steps=10, weight_lr_power=1.0)
    add("sfadamw_lr0.05_warmup10_power0", "ScheduleFreeAdamW", lr=0.05, warmup_steps=10, weight_lr_power=0.0)
    # beta1 < 1/3: eval's weight 1 - 1/beta1 < -2 and train's 1 - beta1 > 0.5 (torch.lerp's other form)
    add("sfadamw_lr0.05_b0.3_0.99_eps1e-3", "ScheduleFreeAdamW", lr=0.05, beta1=0.3, beta2=0.99, eps=1e-3,
        events={0: [("eval",), ("train",)], 30: [("eval",), ("train",)], 100: [("eval",)]})
    add("sfadamw_lr0.05_evaltrain", "ScheduleFreeAdamW", lr=0.05,
        events={0: [("eval",), ("train",)], 1: [("eval",), ("train",)], 10: [("eval",), ("train",)],
                25: [("eval",), ("eval",), ("train",), ("train",)], 50: [("eval",), ("train",)],
                99: [("eval",), ("train",)], 100: [("eval",)]})
    add("sfadamw_lr0.05_wd0.05_warmup15_r0.5_power1.5_schedule", "ScheduleFreeAdamW", lr=0.05, weight_decay=0.05,
        warmup_steps=15, r=0.5, weight_lr_power=1.5, steps=150,
        events={30: [("set_lr", 0.01)], 45: [("set_momentum", 0.8)], 50: [("eval",), ("train",)],
                70: [("set_lr", 0.1)], 80: [("eval",), ("train",)], 150: [("eval",)]})
    add("sfadamw_lr0_then_0.05", "ScheduleFreeAdamW", lr=0.0, events={5: [("set_lr", 0.05)]})

    # Schedule-free SGD. The reference's default lr = 1.0 on a problem with 10x less curvature.
    add("sfsgd_defaults", "ScheduleFreeSGD", curvature=0.1)
    add("sfsgd_lr0.2", "ScheduleFreeSGD", lr=0.2)
    add("sfsgd_lr0.2_wd0.05", "ScheduleFreeSGD", lr=0.2, weight_decay=0.05)
    add("sfsgd_lr0.2_warmup20", "ScheduleFreeSGD", lr=0.2, warmup_steps=20)
    add("sfsgd_lr0.2_r2", "ScheduleFreeSGD", lr=0.2, r=2.0)
    add("sfsgd_lr0.2_warmup10_power1", "ScheduleFreeSGD", lr=0.2, warmup_steps=10, weight_lr_power=1.0)
    add("sfsgd_lr0.2_warmup10_power0", "ScheduleFreeSGD", lr=0.2, warmup_steps=10, weight_lr_power=0.0)
    add("sfsgd_lr0.1_m0.3", "ScheduleFreeSGD", lr=0.1, momentum=0.3,
        events={0: [("eval",), ("train",)], 30: [("eval",), ("train",)], 100: [("eval",)]})
    add("sfsgd_lr0.2_evaltrain", "ScheduleFreeSGD", lr=0.2,
        events={0: [("eval",), ("train",)], 1: [("eval",), ("train",)], 10: [("eval",), ("train",)],
                25: [("eval",), ("eval",), ("train",), ("train",)], 50: [("eval",), ("train",)],
                99: [("eval",), ("train",)], 100: [("eval",)]})
    add("sfsgd_lr0.2_wd0.05_warmup15_r0.5_power1.5_schedule", "ScheduleFreeSGD", lr=0.2, weight_decay=0.05,
        warmup_steps=15, r=0.5, weight_lr_power=1.5, steps=150,
        events={30: [("set_lr", 0.05)], 45: [("set_momentum", 0.8)], 50: [("eval",), ("train",)],
                70: [("set_lr", 0.3)], 80: [("eval",), ("train",)], 150: [("eval",)]})
    return cases


def make_problem(seed, steps, curvature):
    """A, c, p0 and the noise sequence, in float64, from a generator seeded with `seed`."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((N, N)))
    eig = np.logspace(math.log10(0.05), math.log10(2.0), N)
    a = (q * eig) @ q.T
    a = 0.5 * (a + a.T) + np.diag(10.0 ** rng.uniform(-2.0, 0.5, N))
    a = curvature * a
    c = rng.standard_normal(N) * 10.0 ** rng.uniform(-2.0, 1.0, N)
    p0 = c + rng.standard_normal(N) * 10.0 ** rng.uniform(-1.5, 0.7, N)
    noise_scale = 10.0 ** rng.uniform(-3.0, 0.0, N)
    noise = rng.standard_normal((steps, N)) * noise_scale
    return a, c, p0, noise


class Lion:
    """Program 1 of the paper: the interpolation's sign is the update; m tracks with beta2."""

    def __init__(self, o, dt, p0):
        self.o, self.dt = dict(o), dt
        self.m = np.zeros(N, dtype=dt)
        self.p = p0.copy()

    def params(self):
        return self.p

    def step(self, g):
        o, dt = self.o, self.dt
        if o["maximize"]:
            g = -g
        p = self.p
        if o["weight_decay"] != 0.0:
            p = p * dt(1.0 - o["lr"] * o["weight_decay"])
        c = dt(o["beta1"]) * self.m + dt(1.0 - o["beta1"]) * g
        p = p - dt(o["lr"]) * np.sign(c).astype(dt)
        self.m = dt(o["beta2"]) * self.m + dt(1.0 - o["beta2"]) * g
        self.p = p

    def set_momentum(self, beta1):
        self.o["beta1"] = beta1


class ScheduleFree:
    """Algorithm 1 of the paper with x, z (and v) kept explicitly; the base step is AdamW's
    normalized gradient or SGD's gradient, plus the weight decay at y."""

    def __init__(self, cls, o, dt, p0):
        self.adam = cls == "ScheduleFreeAdamW"
        self.o, self.dt = dict(o), dt
        self.beta_key = "beta1" if self.adam else "momentum"
        self.x = p0.copy()
        self.z = p0.copy()
        self.v = np.zeros(N, dtype=dt)
        self.y = p0.copy()  # y_1 = x_1 = z_1
        self.t = 0
        self.lr_max = -1.0
        self.weight_sum = 0.0
        self.eval_mode = False

    def params(self):
        return self.x if self.eval_mode else self.y

    def _make_y(self):
        beta = self.o[self.beta_key]
        dt = self.dt
        self.y = dt(1.0 - beta) * self.z + dt(beta) * self.x

    def step(self, g):
        assert not self.eval_mode
        o, dt = self.o, self.dt
        self.t += 1
        t = self.t
        warmup = t / o["warmup_steps"] if t <= o["warmup_steps"] else 1.0
        lr_t = o["lr"] * warmup
        if self.adam:
            lr_t = lr_t * math.sqrt(1.0 - o["beta2"] ** t)
        self.lr_max = max(self.lr_max, lr_t)
        weight = float(t) ** o["r"] * self.lr_max ** o["weight_lr_power"]
        self.weight_sum = self.weight_sum + weight
        c = weight / self.weight_sum if self.weight_sum != 0.0 else 0.0
        if self.adam:
            self.v = dt(o["beta2"]) * self.v + dt(1.0 - o["beta2"]) * (g * g)
            u = g / (np.sqrt(self.v) + dt(o["eps"]))
        else:
            u = g
        if o["weight_decay"] != 0.0:
            u = u + dt(o["weight_decay"]) * self.y
        self.z = self.z - dt(lr_t) * u
        self.x = dt(1.0 - c) * self.x + dt(c) * self.z
        self._make_y()

    def eval(self):
        self.eval_mode = True

    def train(self):
        if self.eval_mode:
            self.eval_mode = False
            self._make_y()  # from x and z, with the current beta

    def set_momentum(self, beta):
        # the parameters keep what they hold (y in train mode): the implied x moves
        assert not self.eval_mode
        if self.t > 0:
            dt = self.dt
            self.x = (self.y - dt(1.0 - beta) * self.z) / dt(beta)
        self.o[self.beta_key] = beta


def all_options(cls, opts):
    rows = []
    for key, default in DEFAULTS[cls]:
        if key in opts:
            rows.append((key, opts[key], True))
        else:
            rows.append((key, default, False))
    unknown = set(opts) - {k for k, _ in DEFAULTS[cls]}
    if unknown:
        raise ValueError("%s: unknown options %s" % (cls, sorted(unknown)))
    return rows


def format_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return "%d" % v
    return repr(float(v))


def run_case(name, cls, opts, extras, dtype_name, dt, fmt, seed):
    steps, events = extras["steps"], extras["events"]
    a64, c64, p064, noise64 = make_problem(seed, steps, extras["curvature"])
    a, c, noise = a64.astype(dt), c64.astype(dt), noise64.astype(dt)
    sign = dt(-1.0 if opts.get("maximize", False) else 1.0)
    options = {k: v for k, v, _ in all_options(cls, opts)}
    p0 = p064.astype(dt)
    opt = Lion(options, dt, p0) if cls == "Lion" else ScheduleFree(cls, options, dt, p0)

    def row(v):
        assert v.dtype == dt
        return " ".join(fmt % float(x) for x in v.tolist())

    lines = []
    lines.append("descent-numpy-reference %d" % FORMAT_VERSION)
    lines.append("# generated by tools/make_numpy_reference.py; see its docstring for the format")
    lines.append("case %s" % name)
    lines.append("descent %s" % cls)
    lines.append("reference %s" % REFERENCE[cls])
    lines.append("numpy_version %s" % np.__version__)
    lines.append("dtype %s" % dtype_name)
    lines.append("seed %d" % seed)
    if extras["curvature"] != 1.0:
        lines.append("# the problem's matrix A is scaled by %g" % extras["curvature"])
    lines.append("n %d" % N)
    lines.append("steps %d" % steps)
    for key, value, explicit in all_options(cls, opts):
        lines.append("option %s %s %s" % (key, format_value(value), "explicit" if explicit else "default"))
    lines.append("initial " + row(opt.params()))

    def mode_events(t):
        for event in events.get(t, []):
            if event[0] == "eval":
                opt.eval()
                lines.append("eval %d %s" % (t, row(opt.params())))
            elif event[0] == "train":
                opt.train()
                lines.append("train %d %s" % (t, row(opt.params())))

    mode_events(0)
    largest = 0.0
    for t in range(1, steps + 1):
        for event in events.get(t - 1, []):  # option changes take effect before step t
            if event[0] == "set_lr":
                opt.o["lr"] = event[1]
                lines.append("set_lr %d %r" % (t, float(event[1])))
            elif event[0] == "set_momentum":
                opt.set_momentum(event[1])
                lines.append("set_momentum %d %r" % (t, float(event[1])))
        p = opt.params()
        g = sign * (a @ (p - c)) + noise[t - 1]
        assert g.dtype == dt
        opt.step(g)
        lines.append("grad %d %s" % (t, row(g)))
        lines.append("params %d %s" % (t, row(opt.params())))
        if cls != "Lion":
            lines.append("x %d %s" % (t, row(opt.x)))
        if not np.isfinite(opt.params()).all():
            raise RuntimeError("%s: non-finite parameters at step %d" % (name, t))
        largest = max(largest, float(np.abs(opt.params()).max()))
        mode_events(t)
    lines.append("end")
    if largest > 1e3:
        raise RuntimeError("%s: trajectory left the sane range (max |p| = %g)" % (name, largest))
    moved = float(np.abs(opt.params().astype(np.float64) - p064).max())
    return "\n".join(lines) + "\n", moved


def main():
    if not np.__version__.startswith("1."):
        sys.exit("expected numpy 1.x, found %s (run with /usr/bin/python3)" % np.__version__)
    out_dir = os.path.normpath(OUT_DIR)
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.endswith(".txt"):
            os.remove(os.path.join(out_dir, old))

    index = []
    total = 0
    for name, cls, opts, extras in case_list():
        seed = zlib.crc32(name.encode()) & 0x7FFFFFFF  # the same problem for float64 and float32
        for dtype_name, dt, fmt in DTYPES:
            case = "%s_%s" % (name, "f64" if dt == np.float64 else "f32")
            text, moved = run_case(case, cls, opts, extras, dtype_name, dt, fmt, seed)
            file_name = case + ".txt"
            with open(os.path.join(out_dir, file_name), "w", newline="\n") as f:
                f.write(text)
            index.append("%s %s %s" % (cls, dtype_name, file_name))
            total += len(text)
            if moved < 5e-3:
                raise RuntimeError("%s: parameters barely moved (%g)" % (case, moved))
    with open(os.path.join(out_dir, "index.txt"), "w", newline="\n") as f:
        f.write("\n".join(index) + "\n")
    print("%d cases, %.2f MB in %s" % (len(index), total / 1e6, out_dir))


if __name__ == "__main__":
    main()
