#!/usr/bin/python3
"""Reference learning rates of torch.optim.lr_scheduler (PyTorch 1.13) for descent's schedulers
(tests/test_schedules.cpp replays them with descent::Scheduler and descent::ReduceLROnPlateau).

Regenerate the data with this one command, from the repository root (the output file is found
from the script's own path). It needs Debian's python3-torch 1.13, which lives in /usr/bin/python3,
not in whatever `python3` is first on PATH:

    /usr/bin/python3 tools/make_schedule_reference.py

It rewrites tests/data/schedule_reference.txt and is deterministic: running it twice gives
byte-identical output (no randomness; the plateau metrics are formulas, stored in the file).
torch.set_default_dtype(torch.float64); the schedules compute in Python floats (double).

What is in it
-------------
Every scheduler of torch 1.13 but ChainedScheduler, with its meaningful option combinations:
StepLR, MultiStepLR (a repeated milestone, unsorted milestones, milestone 0), ConstantLR, LinearLR (end_factor
< 1 and 0), ExponentialLR (decaying and growing), PolynomialLR (power 1, 2, 0.5), CosineAnnealingLR
(past T_max: periodic, T_max 1), CosineAnnealingWarmRestarts (T_mult 1, 2, 3, eta_min), CyclicLR
(triangular, triangular2, exp_range; step_size_down given, 0 and not; momentum cycled on SGD and
RMSprop, not cycled on Adam), OneCycleLR (cos/linear, two/three phases, momentum cycled or not, on
SGD's momentum and on Adam's betas[0], fractional phase ends), LambdaLR and MultiplicativeLR (the
functions below), SequentialLR of 2 and 3 children (LambdaLR, MultiplicativeLR,
CosineAnnealingWarmRestarts among them; no CyclicLR/OneCycleLR child, whose torch constructors
overwrite the groups' lr and initial_lr), and ReduceLROnPlateau (min/max x rel/abs, patience,
cooldown, min_lr reached, eps stopping the reduction of one group only). And "Composed" cases: a
scheduler and a ReduceLROnPlateau on the same optimizer, both stepped every epoch (torch's
chainable forms keep the plateau's reductions: the two multiply). Each case is run on one
parameter group and on two groups with different initial lrs (two tensors, one per param_group).
The runs go past every milestone, restart, T_max and total_iters; OneCycleLR runs its
total_steps - 1 steps (the last torch computes without extrapolating; descent's held value at
total_steps and the throw after it are tested in C++ without a reference).

The optimizer's step() is called (on parameters without gradients: a no-op) before each
scheduler step, as torch expects; it has no influence on the numbers.

File format (whitespace separated; '#' lines are comments)
----------------------------------------------------------
    descent-schedule-reference 1
    torch_version <version>
    case <name> <schedule> <optimizer> <groups> <steps> <momentum: 0|1>
      group <g> <lr> <momentum>             the optimizer's group g before the scheduler: lr, and
                                             momentum (SGD, RMSprop), beta1 (Adam) or 0 (Adagrad,
                                             GradientDescent = torch SGD without momentum)
      option <field> <value>                 an option of the schedule given explicitly
      default <field> <value>                an option left at its default (torch's value, which
                                             descent's default must equal)
      child <i> <schedule>                   SequentialLR, Composed: child i; the option/default
                                             lines that follow, up to the next child, are its own
      metric <t> <value>                     ReduceLROnPlateau: the metric passed to step t
      lr <t> <lr of group 0> ...             every group's lr after construction (t = 0) and after
                                             step t = 1 .. steps (torch's get_last_lr(); for
                                             ReduceLROnPlateau the groups' lr)
      momentum <t> <group 0> ...             when the momentum flag is 1: every group's momentum
                                             (SGD, RMSprop) or betas[0] (Adam) at the same times
    end

<schedule> is descent's name (StepLR, ..., ReduceLROnPlateau), or Composed: its children are
stepped in their order at every step on the same optimizer (a ReduceLROnPlateau child with the
step's metric), as in torch's loop `sched.step(); plateau.step(metric)`. <field> is descent's field name
(which is torch's argument name). <optimizer> is SGD, Adam, RMSProp, Adagrad or GradientDescent.
Values: reals with repr (options) or %.17g (lr, momentum, metric), both round-trip exactly;
integers as integers; booleans true/false; enumerations by descent's enumerator name (mode
Triangular/Triangular2/ExpRange, anneal_strategy Cos/Linear, plateau mode Min/Max, threshold_mode
Rel/Abs); an empty std::optional as none; lists of integers comma-separated (milestones 5,12,12,30);
lr_lambda by the name of one of these functions of the integer step t (C++ writes the same ones):
    exp095      0.95 ** t
    inv01       1 / (1 + 0.1 * t)
    piecewise   1.0 if t < 10, 0.5 if t < 20, else 0.25
    const095    0.95                                   (for MultiplicativeLR)
    every10     0.5 if t % 10 == 0 else 1.0            (for MultiplicativeLR)
"""

import math
import os
import warnings

import torch
from torch.optim import lr_scheduler as S

torch.set_default_dtype(torch.float64)
warnings.simplefilter("ignore")  # the deprecation warning of SequentialLR's step(0) and the like

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "schedule_reference.txt")

REQUIRED = object()

LAMBDAS = {
    "exp095": lambda t: 0.95 ** t,
    "inv01": lambda t: 1.0 / (1.0 + 0.1 * t),
    "piecewise": lambda t: 1.0 if t < 10 else (0.5 if t < 20 else 0.25),
    "const095": lambda t: 0.95,
    "every10": lambda t: 0.5 if t % 10 == 0 else 1.0,
}


class Enum(str):
    """An enumerator: written by its descent name, passed to torch as its torch string."""

    def __new__(cls, descent_name, torch_value):
        s = super().__new__(cls, descent_name)
        s.torch_value = torch_value
        return s


TRIANGULAR, TRIANGULAR2, EXP_RANGE = Enum("Triangular", "triangular"), Enum("Triangular2", "triangular2"), \
    Enum("ExpRange", "exp_range")
COS, LINEAR = Enum("Cos", "cos"), Enum("Linear", "linear")
MIN, MAX = Enum("Min", "min"), Enum("Max", "max")
REL, ABS = Enum("Rel", "rel"), Enum("Abs", "abs")


class Lambda(str):
    pass


# descent's fields of each schedule, in declaration order, with torch 1.13's defaults.
SPECS = {
    "StepLR": [("step_size", REQUIRED), ("gamma", 0.1)],
    "MultiStepLR": [("milestones", REQUIRED), ("gamma", 0.1)],
    "ConstantLR": [("factor", 1.0 / 3), ("total_iters", 5)],
    "LinearLR": [("start_factor", 1.0 / 3), ("end_factor", 1.0), ("total_iters", 5)],
    "ExponentialLR": [("gamma", REQUIRED)],
    "PolynomialLR": [("total_iters", 5), ("power", 1.0)],
    "CosineAnnealingLR": [("T_max", REQUIRED), ("eta_min", 0.0)],
    "CosineAnnealingWarmRestarts": [("T_0", REQUIRED), ("T_mult", 1), ("eta_min", 0.0)],
    "CyclicLR": [("base_lr", REQUIRED), ("max_lr", REQUIRED), ("step_size_up", 2000), ("step_size_down", None),
                 ("mode", TRIANGULAR), ("gamma", 1.0), ("cycle_momentum", True), ("base_momentum", 0.8),
                 ("max_momentum", 0.9)],
    "OneCycleLR": [("max_lr", REQUIRED), ("total_steps", REQUIRED), ("pct_start", 0.3), ("anneal_strategy", COS),
                   ("cycle_momentum", True), ("base_momentum", 0.85), ("max_momentum", 0.95),
                   ("div_factor", 25.0), ("final_div_factor", 1e4), ("three_phase", False)],
    "LambdaLR": [("lr_lambda", REQUIRED)],
    "MultiplicativeLR": [("lr_lambda", REQUIRED)],
    "SequentialLR": [("milestones", REQUIRED)],
    "Composed": [],
    "ReduceLROnPlateau": [("mode", MIN), ("factor", 0.1), ("patience", 10), ("threshold", 1e-4),
                          ("threshold_mode", REL), ("cooldown", 0), ("min_lr", 0.0), ("eps", 1e-8)],
}

TORCH_CLASS = {
    "StepLR": S.StepLR, "MultiStepLR": S.MultiStepLR, "ConstantLR": S.ConstantLR, "LinearLR": S.LinearLR,
    "ExponentialLR": S.ExponentialLR, "PolynomialLR": S.PolynomialLR, "CosineAnnealingLR": S.CosineAnnealingLR,
    "CosineAnnealingWarmRestarts": S.CosineAnnealingWarmRestarts, "CyclicLR": S.CyclicLR,
    "OneCycleLR": S.OneCycleLR, "LambdaLR": S.LambdaLR, "MultiplicativeLR": S.MultiplicativeLR,
    "ReduceLROnPlateau": S.ReduceLROnPlateau,
}


def fmt(x):
    return "%.17g" % float(x)


def value_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    if isinstance(v, (Enum, Lambda)):
        return str(v)
    if isinstance(v, int):
        return "%d" % v
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, tuple)):
        return ",".join("%d" % m for m in v)
    raise TypeError(v)


def torch_value(v):
    if isinstance(v, Enum):
        return v.torch_value
    if isinstance(v, Lambda):
        return LAMBDAS[str(v)]
    return v


def resolved(schedule, given):
    """The full option list of a schedule: (field, value, given?) in descent's order."""
    fields = dict(SPECS[schedule])
    for k in given:
        if k not in fields:
            raise KeyError("%s has no option %s" % (schedule, k))
    out = []
    for name, default in SPECS[schedule]:
        if name in given:
            out.append((name, given[name], True))
        elif default is REQUIRED:
            raise KeyError("%s.%s is required" % (schedule, name))
        else:
            out.append((name, default, False))
    return out


def option_lines(schedule, given, indent):
    return ["%s%s %s %s" % (indent, "option" if explicit else "default", name, value_text(v))
            for name, v, explicit in resolved(schedule, given)]


def make_torch(schedule, given, opt):
    kwargs = {name: torch_value(v) for name, v, _ in resolved(schedule, given)}
    if schedule == "SequentialLR":
        raise ValueError("built by make_sequential")
    return TORCH_CLASS[schedule](opt, **kwargs)


# ---------------------------------------------------------------------------------------------
# Optimizers: one or two param_groups.

GROUPS = {1: [(0.1, 0.9)], 2: [(0.1, 0.9), (0.004, 0.6)]}  # (lr, momentum or beta1)


def make_optimizer(kind, groups):
    """torch optimizer with the given [(lr, momentum)] groups, and the 'group' lines."""
    params = [torch.nn.Parameter(torch.zeros(3 if g == 0 else 2)) for g in range(len(groups))]
    specs = []
    lines = []
    for g, (p, (lr, m)) in enumerate(zip(params, groups)):
        if kind == "SGD":
            specs.append({"params": [p], "lr": lr, "momentum": m})
        elif kind == "GradientDescent":
            specs.append({"params": [p], "lr": lr})
            m = 0.0
        elif kind == "Adam":
            specs.append({"params": [p], "lr": lr, "betas": (m, 0.999)})
        elif kind == "RMSProp":
            specs.append({"params": [p], "lr": lr, "momentum": m})
        elif kind == "Adagrad":
            specs.append({"params": [p], "lr": lr})
            m = 0.0
        else:
            raise ValueError(kind)
        lines.append("  group %d %s %s" % (g, fmt(lr), fmt(m)))
    if kind in ("SGD", "GradientDescent"):
        opt = torch.optim.SGD(specs, lr=0.001)
    elif kind == "Adam":
        opt = torch.optim.Adam(specs, foreach=False)
    elif kind == "RMSProp":
        opt = torch.optim.RMSprop(specs, foreach=False)
    else:
        opt = torch.optim.Adagrad(specs, foreach=False)
    return opt, lines


def momenta(opt):
    return [g["betas"][0] if "betas" in g else g.get("momentum", 0.0) for g in opt.param_groups]


def lrs(opt):
    return [g["lr"] for g in opt.param_groups]


# ---------------------------------------------------------------------------------------------
# Cases.

CASES = []  # (name, schedule, optimizer, given options / children, steps, track momentum, extra)


def case(name, schedule, given, steps, optimizer="SGD", momentum=False, children=None, metrics=None,
         groups=None):
    CASES.append(dict(name=name, schedule=schedule, given=given, steps=steps, optimizer=optimizer,
                      momentum=momentum, children=children, metrics=metrics, groups=groups))


def plateau_metrics(n, mode):
    """A deterministic metric: phases of clear improvement, exact stagnation, getting worse, tiny
    relative improvements (below rel threshold 1e-4) and small absolute ones (0.03: above a rel
    threshold, below an abs one of 0.05). Max mode: the mirror image 3 - v (improving = growing)."""
    phases = [("improve", 4), ("flat", 6), ("small", 3), ("worse", 5), ("tiny", 7), ("improve", 2),
              ("flat", 4), ("small", 4), ("tiny", 9), ("improve", 1), ("worse", 4), ("flat", 20)]
    out, v = [], 2.0
    for kind, length in phases:
        for _ in range(length):
            if kind == "improve":
                v *= 0.8
            elif kind == "small":
                v -= 0.03
            elif kind == "worse":
                v *= 1.04
            elif kind == "tiny":
                v *= 1.0 - 2e-5
            out.append(v)
    out = out[:n]
    assert len(out) == n
    return [3.0 - x for x in out] if mode == "max" else out


def all_cases():
    L = Lambda
    # StepLR
    case("step_s7_g05", "StepLR", {"step_size": 7, "gamma": 0.5}, 45)
    case("step_s3_default_gamma", "StepLR", {"step_size": 3}, 40, optimizer="Adam")
    case("step_s1_g09", "StepLR", {"step_size": 1, "gamma": 0.9}, 40, optimizer="RMSProp")
    # MultiStepLR
    case("multistep_repeated", "MultiStepLR", {"milestones": [5, 12, 12, 30], "gamma": 0.5}, 45)
    case("multistep_default_gamma", "MultiStepLR", {"milestones": [10, 20]}, 40, optimizer="Adagrad")
    case("multistep_unsorted", "MultiStepLR", {"milestones": [25, 8, 17, 8], "gamma": 0.7}, 40)
    case("multistep_zero", "MultiStepLR", {"milestones": [0, 4, 4], "gamma": 0.5}, 40)  # 0: at construction
    # ConstantLR
    case("constant_defaults", "ConstantLR", {}, 40)
    case("constant_f05_t12", "ConstantLR", {"factor": 0.5, "total_iters": 12}, 40, optimizer="Adam")
    case("constant_f1", "ConstantLR", {"factor": 1.0, "total_iters": 3}, 40)
    # LinearLR
    case("linear_defaults", "LinearLR", {}, 40)
    case("linear_warmup_10", "LinearLR", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 10}, 40,
         optimizer="GradientDescent")
    case("linear_decay_end01", "LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 20}, 40)
    case("linear_end0", "LinearLR", {"start_factor": 0.5, "end_factor": 0.0, "total_iters": 15}, 40,
         optimizer="Adam")
    # ExponentialLR
    case("exponential_g09", "ExponentialLR", {"gamma": 0.9}, 45)
    case("exponential_g105", "ExponentialLR", {"gamma": 1.05}, 40, optimizer="Adagrad")
    # PolynomialLR
    case("polynomial_defaults", "PolynomialLR", {}, 40)
    case("polynomial_t20_p1", "PolynomialLR", {"total_iters": 20, "power": 1.0}, 40, optimizer="Adam")
    case("polynomial_t20_p2", "PolynomialLR", {"total_iters": 20, "power": 2.0}, 40)
    case("polynomial_t30_p05", "PolynomialLR", {"total_iters": 30, "power": 0.5}, 40)
    # CosineAnnealingLR (periodic past T_max)
    case("cosine_t10", "CosineAnnealingLR", {"T_max": 10}, 50)
    case("cosine_t15_etamin", "CosineAnnealingLR", {"T_max": 15, "eta_min": 0.001}, 50, optimizer="Adam")
    case("cosine_t1", "CosineAnnealingLR", {"T_max": 1, "eta_min": 0.0005}, 40)
    # CosineAnnealingWarmRestarts
    case("warm_t5_m1", "CosineAnnealingWarmRestarts", {"T_0": 5}, 40)
    case("warm_t7_m1_etamin", "CosineAnnealingWarmRestarts", {"T_0": 7, "T_mult": 1, "eta_min": 0.002}, 40,
         optimizer="RMSProp")
    case("warm_t3_m2_etamin", "CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.001}, 50)
    case("warm_t1_m2", "CosineAnnealingWarmRestarts", {"T_0": 1, "T_mult": 2}, 40, optimizer="Adam")
    case("warm_t2_m3_etamin", "CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 3, "eta_min": 0.0005}, 60)
    # CyclicLR (lr and momentum ignore the optimizer's: they start at base_lr and max_momentum)
    cyc = {"base_lr": 0.01, "max_lr": 0.1}
    case("cyclic_tri_up5", "CyclicLR", dict(cyc, step_size_up=5), 45, momentum=True)
    case("cyclic_tri_up4_down7", "CyclicLR", dict(cyc, step_size_up=4, step_size_down=7), 45, momentum=True)
    case("cyclic_tri2_up3", "CyclicLR", dict(cyc, step_size_up=3, mode=TRIANGULAR2), 45, momentum=True)
    case("cyclic_tri2_up3_down5", "CyclicLR", dict(cyc, step_size_up=3, step_size_down=5, mode=TRIANGULAR2),
         45, momentum=True)
    case("cyclic_exp_g097_up5", "CyclicLR", dict(cyc, step_size_up=5, mode=EXP_RANGE, gamma=0.97), 45,
         momentum=True)
    case("cyclic_exp_g09_up3_down6", "CyclicLR",
         dict(cyc, step_size_up=3, step_size_down=6, mode=EXP_RANGE, gamma=0.9), 45, momentum=True)
    case("cyclic_tri_up6_down0", "CyclicLR", dict(cyc, step_size_up=6, step_size_down=0), 40, momentum=True)
    case("cyclic_tri_custom_momentum", "CyclicLR",
         dict(base_lr=0.002, max_lr=0.05, step_size_up=6, step_size_down=2, base_momentum=0.85,
              max_momentum=0.95), 40, momentum=True)
    case("cyclic_exp_nomomentum", "CyclicLR",
         dict(cyc, step_size_up=4, mode=EXP_RANGE, gamma=0.95, cycle_momentum=False), 40, momentum=True)
    case("cyclic_tri2_adam_nomomentum", "CyclicLR",
         dict(cyc, step_size_up=4, step_size_down=3, mode=TRIANGULAR2, cycle_momentum=False), 40,
         optimizer="Adam", momentum=True)
    case("cyclic_tri_rmsprop", "CyclicLR", dict(cyc, step_size_up=5, step_size_down=3), 40,
         optimizer="RMSProp", momentum=True)
    # OneCycleLR: phase ends pct_start*total_steps - 1 are fractional here (13.5, 15.17, 12)
    case("onecycle_cos", "OneCycleLR", {"max_lr": 0.1, "total_steps": 45}, 44, momentum=True)
    case("onecycle_linear", "OneCycleLR", {"max_lr": 0.1, "total_steps": 45, "anneal_strategy": LINEAR}, 44,
         momentum=True)
    case("onecycle_cos_three", "OneCycleLR", {"max_lr": 0.1, "total_steps": 45, "three_phase": True}, 44,
         momentum=True)
    case("onecycle_linear_three", "OneCycleLR",
         {"max_lr": 0.1, "total_steps": 41, "pct_start": 0.37, "anneal_strategy": LINEAR, "three_phase": True},
         40, momentum=True)
    case("onecycle_cos_nomomentum", "OneCycleLR", {"max_lr": 0.2, "total_steps": 50, "cycle_momentum": False},
         49, momentum=True)
    case("onecycle_custom", "OneCycleLR",
         {"max_lr": 0.05, "total_steps": 52, "pct_start": 0.25, "base_momentum": 0.8, "max_momentum": 0.9,
          "div_factor": 10.0, "final_div_factor": 100.0}, 51, momentum=True)
    case("onecycle_cos_adam", "OneCycleLR", {"max_lr": 0.01, "total_steps": 45}, 44, optimizer="Adam",
         momentum=True)
    case("onecycle_linear_three_adam", "OneCycleLR",
         {"max_lr": 0.01, "total_steps": 41, "pct_start": 0.37, "anneal_strategy": LINEAR, "three_phase": True},
         40, optimizer="Adam", momentum=True)
    case("onecycle_cos_adam_nomomentum", "OneCycleLR",
         {"max_lr": 0.01, "total_steps": 45, "cycle_momentum": False}, 44, optimizer="Adam", momentum=True)
    case("onecycle_cos_rmsprop", "OneCycleLR", {"max_lr": 0.02, "total_steps": 42, "pct_start": 0.4}, 41,
         optimizer="RMSProp", momentum=True)
    # LambdaLR, MultiplicativeLR
    case("lambda_exp095", "LambdaLR", {"lr_lambda": L("exp095")}, 40)
    case("lambda_inv01", "LambdaLR", {"lr_lambda": L("inv01")}, 40, optimizer="Adam")
    case("lambda_piecewise", "LambdaLR", {"lr_lambda": L("piecewise")}, 40)
    case("multiplicative_const095", "MultiplicativeLR", {"lr_lambda": L("const095")}, 40)
    case("multiplicative_inv01", "MultiplicativeLR", {"lr_lambda": L("inv01")}, 40, optimizer="Adagrad")
    case("multiplicative_every10", "MultiplicativeLR", {"lr_lambda": L("every10")}, 45)
    # SequentialLR
    seq = "SequentialLR"
    case("seq_linear_cosine", seq, {"milestones": [5]}, 40,
         children=[("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
                   ("CosineAnnealingLR", {"T_max": 20, "eta_min": 1e-4})])
    case("seq_constant_exponential", seq, {"milestones": [4]}, 40, optimizer="Adam",
         children=[("ConstantLR", {"factor": 0.5, "total_iters": 3}), ("ExponentialLR", {"gamma": 0.9})])
    case("seq_constant_exponential_m1", seq, {"milestones": [1]}, 40,
         children=[("ConstantLR", {"factor": 0.5, "total_iters": 3}), ("ExponentialLR", {"gamma": 0.9})])
    case("seq_lambda_multiplicative_step", seq, {"milestones": [10, 25]}, 45,
         children=[("LambdaLR", {"lr_lambda": L("exp095")}), ("MultiplicativeLR", {"lr_lambda": L("inv01")}),
                   ("StepLR", {"step_size": 4, "gamma": 0.5})])
    case("seq_linear_warm_multistep", seq, {"milestones": [6, 30]}, 50,
         children=[("LinearLR", {"start_factor": 0.2, "total_iters": 6}),
                   ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2, "eta_min": 0.001}),
                   ("MultiStepLR", {"milestones": [3, 3, 8], "gamma": 0.5})])
    case("seq_multiplicative_lambda", seq, {"milestones": [12]}, 40,
         children=[("MultiplicativeLR", {"lr_lambda": L("every10")}), ("LambdaLR", {"lr_lambda": L("inv01")})])
    case("seq_exponential_multiplicative_polynomial", seq, {"milestones": [8, 20]}, 45, optimizer="RMSProp",
         children=[("ExponentialLR", {"gamma": 0.8}), ("MultiplicativeLR", {"lr_lambda": L("const095")}),
                   ("PolynomialLR", {"total_iters": 10, "power": 2.0})])
    case("seq_warm_linear", seq, {"milestones": [17]}, 40,
         children=[("CosineAnnealingWarmRestarts", {"T_0": 5}),
                   ("LinearLR", {"start_factor": 1.0, "end_factor": 0.1, "total_iters": 10})])
    case("seq_step_constant_cosine", seq, {"milestones": [9, 14]}, 45,
         children=[("StepLR", {"step_size": 3, "gamma": 0.5}), ("ConstantLR", {"factor": 0.25, "total_iters": 8}),
                   ("CosineAnnealingLR", {"T_max": 6})])
    # ReduceLROnPlateau
    P = "ReduceLROnPlateau"
    case("plateau_min_rel", P, {"mode": MIN, "factor": 0.5, "patience": 3, "threshold_mode": REL, "cooldown": 2,
                                "min_lr": 0.01}, 64, metrics="min")
    case("plateau_min_abs", P, {"mode": MIN, "factor": 0.3, "patience": 2, "threshold": 0.05,
                                "threshold_mode": ABS}, 64, metrics="min")
    case("plateau_max_rel", P, {"mode": MAX, "factor": 0.2, "patience": 4, "threshold": 1e-3, "cooldown": 3},
         64, metrics="max", optimizer="Adam")
    case("plateau_max_abs", P, {"mode": MAX, "factor": 0.5, "patience": 1, "threshold": 0.02,
                                "threshold_mode": ABS, "cooldown": 1, "min_lr": 1e-4}, 64, metrics="max")
    case("plateau_defaults", P, {}, 64, metrics="min")
    case("plateau_eps_default", P, {"factor": 0.1, "patience": 1}, 64, metrics="min",
         groups={1: [(1e-7, 0.9)], 2: [(0.1, 0.9), (1e-7, 0.6)]})
    # a scheduler and ReduceLROnPlateau on one optimizer: torch's chainable forms keep the reductions
    case("composed_step_plateau", "Composed", {}, 40, metrics="min",
         children=[("StepLR", {"step_size": 6, "gamma": 0.5}),
                   (P, {"factor": 0.5, "patience": 2, "threshold": 0.05, "threshold_mode": ABS})])
    case("composed_exponential_plateau", "Composed", {}, 40, metrics="max", optimizer="Adam",
         children=[("ExponentialLR", {"gamma": 0.95}), (P, {"mode": MAX, "factor": 0.2, "patience": 3})])
    case("plateau_eps_1e-4", P, {"factor": 0.5, "patience": 0, "eps": 1e-4}, 64, metrics="max",
         groups={1: [(1e-3, 0.9)], 2: [(0.5, 0.9), (1e-3, 0.6)]})


def make_sequential(children, given, opt):
    scheds = [make_torch(name, opts, opt) for name, opts in children]
    return S.SequentialLR(opt, scheds, milestones=list(given["milestones"]))


def run(c, ngroups, lines):
    groups = (c["groups"] or GROUPS)[ngroups]
    opt, group_lines = make_optimizer(c["optimizer"], groups)
    name = "%s_%dg" % (c["name"], ngroups)
    lines.append("case %s %s %s %d %d %d" % (name, c["schedule"], c["optimizer"], ngroups, c["steps"],
                                             1 if c["momentum"] else 0))
    lines.extend(group_lines)
    lines.extend(option_lines(c["schedule"], c["given"], "  "))
    if c["children"]:
        for i, (child, opts) in enumerate(c["children"]):
            lines.append("  child %d %s" % (i, child))
            lines.extend(option_lines(child, opts, "    "))
    if c["schedule"] == "SequentialLR":
        sched = make_sequential(c["children"], c["given"], opt)
    elif c["schedule"] == "Composed":
        scheds = [make_torch(child, opts, opt) for child, opts in c["children"]]
    else:
        sched = make_torch(c["schedule"], c["given"], opt)
    metrics = plateau_metrics(c["steps"], c["metrics"]) if c["metrics"] else None
    if metrics:
        for t, m in enumerate(metrics, start=1):
            lines.append("  metric %d %s" % (t, fmt(m)))

    def record(t):
        current = lrs(opt)
        if c["schedule"] not in ("ReduceLROnPlateau", "Composed") and t > 0:
            assert sched.get_last_lr() == current, (name, t)
        lines.append("  lr %d %s" % (t, " ".join(fmt(v) for v in current)))
        if c["momentum"]:
            lines.append("  momentum %d %s" % (t, " ".join(fmt(v) for v in momenta(opt))))

    record(0)
    for t in range(1, c["steps"] + 1):
        opt.step()
        if c["schedule"] == "Composed":
            for one in scheds:
                if isinstance(one, S.ReduceLROnPlateau):
                    one.step(metrics[t - 1])
                else:
                    one.step()
        elif metrics:
            sched.step(metrics[t - 1])
        else:
            sched.step()
        record(t)
    lines.append("end")


def main():
    all_cases()
    names = [c["name"] for c in CASES]
    assert len(set(names)) == len(names)
    lines = ["descent-schedule-reference 1", "torch_version %s" % torch.__version__,
             "# written by tools/make_schedule_reference.py, which documents the format"]
    for c in CASES:
        for ngroups in (1, 2):
            run(c, ngroups, lines)
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %s (%d cases, %d lines)" % (os.path.normpath(OUT), 2 * len(CASES), len(lines)))


if __name__ == "__main__":
    main()
