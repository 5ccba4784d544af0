#!/usr/bin/python3
"""Plots bench/thread_scaling's results: GB/s against n, on 1 and 2 threads, for the triad (the
bandwidth ceiling) and the threaded steps, and prints the markdown table of docs/performance.md.

  build/release/bench/thread_scaling --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \\
      --benchmark_out=build/bench-results/thread_scaling.json
  /usr/bin/python3 tools/plot_thread_scaling.py build/bench-results/thread_scaling.json docs/images/thread_scaling.png

Statistic: the median aggregate of real time (the work is spread over threads), else the smallest
real time among the individual runs. Standard library and matplotlib only.
"""

import json
import re
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    with open(path) as f:
        data = json.load(f)
    # (name, threads, n) -> (real time in seconds, bytes per second)
    best = {}
    for b in data["benchmarks"]:
        m = re.match(r"^(\w+)/threads:(\d+)(?:/n:(\d+))?/real_time(?:_(\w+))?$", b["name"])
        if not m:
            continue
        name, threads, n, aggregate = m.group(1), int(m.group(2)), int(m.group(3) or 0), m.group(4)
        if aggregate not in (None, "median"):
            continue
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        t = b["real_time"] * scale
        key = (name, threads, n)
        rank = 0 if aggregate == "median" else 1
        if key not in best or (rank, t) < best[key][0]:
            best[key] = ((rank, t), b.get("bytes_per_second", 0.0))
    return {k: (v[0][1], v[1]) for k, v in best.items()}


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    rows = load(sys.argv[1])
    series = defaultdict(dict)
    for (name, threads, n), (t, bps) in rows.items():
        if n:
            series[(name, threads)][n] = bps / 1e9

    fig, ax = plt.subplots(figsize=(7, 4.2))
    colors = {"triad": "black", "triad_in_place": "tab:green", "Adam": "tab:blue", "SGD_momentum": "tab:orange"}
    for (name, threads), points in sorted(series.items()):
        ns = sorted(points)
        ax.plot(ns, [points[n] for n in ns], marker="o", color=colors.get(name, "gray"),
                linestyle="-" if threads == 1 else "--", label=f"{name}, {threads} thread{'s' if threads > 1 else ''}")
    ax.set_xscale("log")
    ax.set_xlabel("floats per array (n)")
    ax.set_ylabel("GB/s (each array counted once)")
    ax.set_title("Threaded steps against the triad on the same threads")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)

    print("| row | n | 1 thread | 2 threads | speedup |")
    print("|---|---|---|---|---|")
    names = sorted({k[0] for k in rows}, key=lambda s: (s.startswith("logistic"), s))
    for name in names:
        for n in sorted({k[2] for k in rows if k[0] == name}):
            one, two = rows.get((name, 1, n)), rows.get((name, 2, n))
            if not one or not two:
                continue
            size = f"{n:.0e}" if n else "-"
            if n:
                cells = f"{one[0] * 1e3:.3f} ms ({one[1] / 1e9:.1f} GB/s) | {two[0] * 1e3:.3f} ms ({two[1] / 1e9:.1f} GB/s)"
            else:
                cells = f"{one[0] * 1e6:.1f} µs | {two[0] * 1e6:.1f} µs"
            speedup = f"{one[0] / two[0]:.2f}x" if name != "pool_run" else "(fixed cost)"
            print(f"| {name} | {size} | {cells} | {speedup} |")


if __name__ == "__main__":
    main()
