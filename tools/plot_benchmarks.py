#!/usr/bin/python3
"""Plots descent's benchmark results and prints a markdown summary.

Reads the Google Benchmark JSON files that tools/benchmarks writes (any of them may be missing):

  <results>/step_throughput.json   descent/..., hand/..., eigen_naive/... and (with libtorch) torch/...
  <results>/convergence.json       convergence/<problem>/<optimizer>, with their counters
  <results>/driver_overhead.json   minimize and train against hand-written loops

and writes into <out>:

  benchmark_throughput_float.png   GB/s of minimal traffic against n, one panel per optimizer:
  benchmark_throughput_double.png  descent, the hand-fused loop, libtorch, the naive Eigen Adam
  benchmark_convergence.png        per problem: time and iterations (epochs) to the target loss,
                                   and the final gap f - f*, per optimizer at its chosen lr

It prints a markdown table of descent/hand (and torch/descent) time ratios at n = 1e3, 1e5, 1e7
for float, ready to paste into docs/performance.md, and saves it as <results>/summary.md.

Statistic: for each benchmark the "min" aggregate of CPU time when the run had repetitions (the
steadiest figure on a shared machine, as in docs/performance.md), else the median aggregate, else
the smallest CPU time among the individual runs. GB/s = arrays x sizeof(T) x n / that time.

Standard library and matplotlib only; run with /usr/bin/python3 (Debian's python3-matplotlib).
"""

import argparse
import json
import math
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

# The variants of bench/step_throughput.cpp in its order, with the minimal number of arrays of n
# scalars one step reads plus writes (the bytes_per_second convention of docs/performance.md).
VARIANTS = {
    "GD": 3,
    "SGD_momentum": 5,
    "SGD_nesterov": 5,
    "Adam": 7,
    "Adam_amsgrad": 9,
    "AdamW": 7,
    "Adagrad": 5,
    "RMSProp": 5,
    "RMSProp_centered": 7,
    "RMSProp_momentum": 7,
    "RMSProp_centered_momentum": 9,
    "ASGD": 5,
    "Rprop": 7,
    "Adamax": 7,
    "Adadelta": 7,
    "NAdam": 7,
    "RAdam": 7,
}
SIZEOF = {"float": 4, "double": 8}
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}

# kind -> (label, style)
SERIES = {
    "descent": ("descent", dict(color="#1f77b4", marker="o", linestyle="-", linewidth=1.8, markersize=4, zorder=4)),
    "hand": ("hand-fused loop", dict(color="#333333", marker="s", linestyle="--", linewidth=1.2, markersize=3.5,
                                     zorder=3)),
    "torch": ("libtorch (1 thread)", dict(color="#d62728", marker="^", linestyle=":", linewidth=1.5, markersize=4,
                                         zorder=2)),
    "eigen_naive": ("Eigen, unfused", dict(color="#ff7f0e", marker="x", linestyle="-.", linewidth=1.0,
                                           markersize=4, zorder=1)),
}


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)  # Google Benchmark writes NaN for missing counters: json accepts it


def pick(rows):
    """One representative row per run_name (see the module docstring for the statistic)."""
    by_name = defaultdict(list)
    for r in rows:
        if r.get("error_occurred"):
            continue
        by_name[r["run_name"]].append(r)
    chosen = {}
    for name, rs in by_name.items():
        aggs = {r.get("aggregate_name"): r for r in rs if r.get("run_type") == "aggregate"}
        if "min" in aggs:
            chosen[name] = (aggs["min"], "min")
        elif "median" in aggs:
            chosen[name] = (aggs["median"], "median")
        else:
            its = [r for r in rs if r.get("run_type") == "iteration"]
            if its:
                chosen[name] = (min(its, key=lambda r: r["cpu_time"]), "single" if len(its) == 1 else "min")
    return chosen


def repetitions(rows):
    return max((int(r.get("repetitions", 1)) for r in rows), default=1)


def context_line(ctx, extra=""):
    parts = []
    if ctx.get("date"):
        parts.append(ctx["date"][:16].replace("T", " "))
    if ctx.get("num_cpus"):
        parts.append(f"{ctx['num_cpus']} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz")
    if ctx.get("load_avg"):
        parts.append("load avg " + ", ".join(f"{x:.2f}" for x in ctx["load_avg"]))
    if ctx.get("torch_version"):
        parts.append(f"libtorch {ctx['torch_version']}, {ctx.get('torch_threads', '?')} thread "
                     f"(default here: {ctx.get('torch_default_threads', '?')})")
    if extra:
        parts.append(extra)
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------------
# Throughput


def throughput_table(data):
    """{(kind, variant, type): {n: (seconds, GB/s)}} and a description of the statistic."""
    chosen = pick(data["benchmarks"])
    table = defaultdict(dict)
    stats = set()
    for name, (row, stat) in chosen.items():
        parts = name.split("/")
        if len(parts) != 4 or parts[0] not in SERIES or parts[2] not in SIZEOF:
            continue
        kind, variant, typ, n = parts[0], parts[1], parts[2], int(parts[3])
        seconds = row["cpu_time"] * UNIT_SECONDS[row["time_unit"]]
        arrays = VARIANTS.get(variant)
        if arrays is None:  # an unknown variant: recover its traffic from an individual run
            if row.get("run_type") != "iteration":
                continue
            arrays = round(row["bytes_per_second"] * seconds / (SIZEOF[typ] * n))
        table[(kind, variant, typ)][n] = (seconds, arrays * SIZEOF[typ] * n / seconds / 1e9)
        stats.add(stat)
    reps = repetitions(data["benchmarks"])
    if stats == {"single"}:
        stat = "one run each, no repetitions"
    elif "min" in stats:
        stat = f"minimum CPU time over {reps} repetitions"
    else:
        stat = f"median CPU time over {reps} repetitions"
    return table, stat


def plot_throughput(data, typ, path):
    table, stat = throughput_table(data)
    variants = [v for v in VARIANTS if ("descent", v, typ) in table]
    variants += sorted({v for (k, v, t) in table if t == typ and k == "descent" and v not in VARIANTS})
    if not variants:
        return False
    cols = 4
    rows = math.ceil((len(variants) + 1) / cols)  # one spare panel for the legend
    height = 2.7 * rows + 0.8  # panels, plus 0.8 in for the title lines
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, height), sharex=True, sharey=True, squeeze=False)
    present = set()
    for ax, variant in zip(axes.flat, variants):
        for kind, (label, style) in SERIES.items():
            series = table.get((kind, variant, typ))
            if not series:
                continue
            ns = sorted(series)
            ax.plot(ns, [series[n][1] for n in ns], label=label, **style)
            present.add(kind)
        ax.set_title(variant.replace("_", " "), fontsize=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", axis="y", alpha=0.12)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.tick_params(labelsize=8)
    for ax in axes.flat[len(variants):]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("GB/s (minimal traffic)", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("parameters n", fontsize=8)
        ax.xaxis.set_tick_params(labelbottom=True)
    # Panels hidden in the last row: show x labels on the row above them instead.
    for i in range(len(variants), rows * cols):
        above = axes.flat[i - cols] if i - cols >= 0 else None
        if above is not None and i - cols < len(variants):
            above.xaxis.set_tick_params(labelbottom=True)
            above.set_xlabel("parameters n", fontsize=8)
    legend_ax = axes.flat[len(variants)]
    handles = [Line2D([], [], label=SERIES[k][0], **SERIES[k][1]) for k in SERIES if k in present]
    legend_ax.legend(handles=handles, loc="upper left", fontsize=9, frameon=False,
                     title="GB/s: every array read or written,\nonce, x sizeof(T) x n / step time",
                     title_fontproperties={"size": 7.5}, alignment="left")
    fig.suptitle(f"One optimizer step on n {typ}s: effective bandwidth, {stat}", fontsize=12,
                 y=1 - 0.12 / height, va="top")
    fig.text(0.5, 1 - 0.45 / height, context_line(data.get("context", {})), ha="center", va="top", fontsize=8,
             color="#555555")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.75 / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def fmt_ratio(a, b):
    if a is None or b is None:
        return "—"
    return f"{a / b:.2f}"


def ratio_table(data, typ="float", sizes=(1_000, 100_000, 10_000_000)):
    table, stat = throughput_table(data)
    has_torch = any(k == "torch" and t == typ for (k, _, t) in table)
    labels = [f"1e{int(round(math.log10(n)))}" for n in sizes]
    head = [typ] + [f"descent / hand, {l}" if i == 0 else l for i, l in enumerate(labels)]
    if has_torch:
        head += [f"torch / descent, {l}" if i == 0 else l for i, l in enumerate(labels)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]

    def t(kind, variant, n):
        v = table.get((kind, variant, typ), {}).get(n)
        return v[0] if v else None

    for variant in VARIANTS:
        if ("descent", variant, typ) not in table:
            continue
        cells = [variant] + [fmt_ratio(t("descent", variant, n), t("hand", variant, n)) for n in sizes]
        if has_torch:
            cells += [fmt_ratio(t("torch", variant, n), t("descent", variant, n)) for n in sizes]
        lines.append("| " + " | ".join(cells) + " |")
    note = (f"Ratios of step times ({stat}); descent / hand above 1 means descent is slower than the "
            f"hand-fused loop, torch / descent above 1 means libtorch is slower than descent.")
    return "\n".join(lines), note


# ------------------------------------------------------------------------------------------------
# Convergence

OPTIMIZER_ORDER = ["GradientDescent", "SGD_momentum", "SGD_nesterov", "Adam", "AMSGrad", "AdamW", "Adagrad",
                   "RMSProp", "RMSProp_centered", "NAdam", "RAdam", "Adamax", "Adadelta", "ASGD", "Rprop"]
GAP_FLOOR = 1e-16


def convergence_table(data):
    """{problem: {optimizer: counters}}, problems in file order; time as the median over repetitions."""
    by_name = defaultdict(list)
    for r in data["benchmarks"]:
        if r.get("error_occurred"):
            continue
        by_name[r["run_name"]].append(r)
    problems = {}
    for name, rs in by_name.items():
        parts = name.split("/")
        if len(parts) < 3 or parts[0] != "convergence":
            continue
        problem, optimizer = parts[1], parts[2]
        aggs = {r.get("aggregate_name"): r for r in rs if r.get("run_type") == "aggregate"}
        its = [r for r in rs if r.get("run_type") == "iteration"]
        row = aggs.get("median") or (sorted(its, key=lambda r: _num(r.get("seconds_to_target")))[len(its) // 2]
                                     if its else None)
        if row is None:
            continue
        epochs = "epochs_to_target" in row
        problems.setdefault(problem, {})[optimizer] = {
            "to_target": _num(row.get("epochs_to_target" if epochs else "iterations_to_target")),
            "unit": "epochs" if epochs else "iterations",
            "seconds": _num(row.get("seconds_to_target")),
            "gap": _num(row.get("final_gap")),
            "lr": _num(row.get("lr")),
        }
    return problems


def _num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _fmt_lr(lr):
    if not math.isfinite(lr):
        return "?"
    return f"{lr:g}"


def _fmt_time(s):
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def plot_convergence(data, path):
    problems = convergence_table(data)
    if not problems:
        return False
    reps = repetitions(data["benchmarks"])
    nrows = len(problems)
    # 0.2 in per bar keeps the labels (fontsize 7.5) apart however many optimizers there are.
    bars = max(len(opts) for opts in problems.values())
    height = (0.55 + 0.2 * bars) * nrows + 0.9
    fig, axes = plt.subplots(nrows, 3, figsize=(13, height), squeeze=False)
    reached_color, missed_color = "#2a7ab9", "#bbbbbb"
    for row_axes, (problem, opts) in zip(axes, problems.items()):
        names = [o for o in OPTIMIZER_ORDER if o in opts] + sorted(o for o in opts if o not in OPTIMIZER_ORDER)
        ys = list(range(len(names)))[::-1]
        unit = next(iter(opts.values()))["unit"]
        labels = [f"{o}  (lr {_fmt_lr(opts[o]['lr'])})" for o in names]
        reached = [opts[o]["to_target"] >= 0 for o in names]
        panels = (
            ("time to target", [opts[o]["seconds"] if r else math.nan for o, r in zip(names, reached)], _fmt_time),
            (f"{unit} to target", [opts[o]["to_target"] if r else math.nan for o, r in zip(names, reached)],
             lambda v: f"{v:.0f}"),
            ("final gap f − f*", [max(opts[o]["gap"], GAP_FLOOR) if math.isfinite(opts[o]["gap"]) else math.nan
                                  for o in names], lambda v: f"≤{GAP_FLOOR:.0e}" if v <= GAP_FLOOR else f"{v:.2g}"),
        )
        for col, (ax, (title, values, fmt)) in enumerate(zip(row_axes, panels)):
            finite = [v for v in values if math.isfinite(v) and v > 0]
            ax.set_xscale("log")
            if finite:
                lo, hi = min(finite), max(finite)
                ax.set_xlim(lo / 3, hi * (8 if col < 2 else 30))
                left = lo / 3
                if col == 0:
                    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _fmt_time(v)))
                elif col == 1:
                    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            else:
                ax.set_xlim(1e-1, 1e1)
                left = 1e-1
                ax.set_xticks([])
                ax.minorticks_off()
            for y, v, r in zip(ys, values, reached):
                if math.isfinite(v) and v > 0:
                    color = reached_color if (r or col < 2) else missed_color
                    ax.barh(y, v - left, left=left, height=0.7, color=color)
                    ax.text(v * 1.08, y, fmt(v), va="center", fontsize=7)
                elif col < 2:
                    ax.text(left * 1.15, y, "not reached", va="center", fontsize=7, color="#888888",
                            style="italic")
                else:
                    ax.text(left * 1.15, y, "non-finite", va="center", fontsize=7, color="#aa0000")
            ax.set_yticks(ys)
            ax.set_yticklabels(labels if col == 0 else [], fontsize=7.5)
            ax.set_ylim(-0.6, len(names) - 0.4)
            ax.tick_params(axis="x", labelsize=7)
            ax.grid(True, axis="x", alpha=0.3)
            ax.set_title(f"{problem}: {title}" if col == 0 else title, fontsize=9, loc="left")
    fig.suptitle("Convergence: time and steps to the target loss, and the final gap, per optimizer at its best lr"
                 " (bench/convergence.cpp)", fontsize=11, y=1 - 0.12 / height, va="top")
    stat = "median of " + str(reps) + " repetitions" if reps > 1 else "one run"
    fig.text(0.5, 1 - 0.42 / height,
             context_line(data.get("context", {}), f"time: {stat}; grey gap: target never reached"),
             ha="center", va="top", fontsize=7.5, color="#555555")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.7 / height))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# ------------------------------------------------------------------------------------------------
# Driver overhead


def driver_lines(data):
    chosen = pick(data["benchmarks"])

    def t(name):
        for key, (row, _) in chosen.items():
            if key.split("/")[0] == name:
                return row["cpu_time"] * UNIT_SECONDS[row["time_unit"]]
        return None

    lines = []
    for what, driver, hand in (("minimize (Rosenbrock, 1e5 GD steps)", "BM_rosenbrock_minimize",
                                "BM_rosenbrock_hand_loop"),
                               ("train (logistic 100k x 100, batch 256)", "BM_logistic_train", "BM_logistic_hand_loop")):
        d, h = t(driver), t(hand)
        if d and h:
            lines.append(f"- {what}: driver {_fmt_time(d)}, hand loop {_fmt_time(h)}, ratio {d / h:.2f}")
    return lines


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", default=os.path.join(root, "build", "bench-results"),
                        help="directory of the JSON files (default: build/bench-results)")
    parser.add_argument("--out", default=os.path.join(root, "docs", "images"),
                        help="directory for the PNGs (default: docs/images)")
    args = parser.parse_args()

    os.makedirs(args.out, exist_ok=True)
    written, summary = [], []

    step = load(os.path.join(args.results, "step_throughput.json"))
    if step:
        for typ in ("float", "double"):
            path = os.path.join(args.out, f"benchmark_throughput_{typ}.png")
            if plot_throughput(step, typ, path):
                written.append(path)
        table, note = ratio_table(step, "float")
        summary += ["### descent / hand (and torch / descent), float", "", table, "", note, ""]
    else:
        print(f"plot_benchmarks: no {args.results}/step_throughput.json, skipping throughput", file=sys.stderr)

    conv = load(os.path.join(args.results, "convergence.json"))
    if conv:
        path = os.path.join(args.out, "benchmark_convergence.png")
        if plot_convergence(conv, path):
            written.append(path)
    else:
        print(f"plot_benchmarks: no {args.results}/convergence.json, skipping convergence", file=sys.stderr)

    drv = load(os.path.join(args.results, "driver_overhead.json"))
    if drv:
        lines = driver_lines(drv)
        if lines:
            summary += ["### Driver overhead", ""] + lines + [""]

    if summary:
        text = "\n".join(summary)
        print(text)
        os.makedirs(args.results, exist_ok=True)
        with open(os.path.join(args.results, "summary.md"), "w") as f:
            f.write(text)
        written.append(os.path.join(args.results, "summary.md"))
    for path in written:
        rel = os.path.relpath(path)
        print(f"wrote {path if rel.startswith('..') else rel}")
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())
