#!/usr/bin/python3
"""Draws every learning-rate schedule from the CSV written by examples/schedules.cpp (descent's own
Scheduler output, not a re-implementation), one small panel per schedule:

    build/release/examples/schedules --csv schedules.csv
    /usr/bin/python3 tools/plot_schedules.py schedules.csv docs/images/schedules.png
"""
import csv
import sys
from collections import OrderedDict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src, dst):
    curves = OrderedDict()
    with open(src, newline="") as f:
        for row in csv.DictReader(f):
            c = curves.setdefault(row["schedule"], ([], [], []))
            c[0].append(int(row["step"]))
            c[1].append(float(row["lr"]))
            c[2].append(float(row["momentum"]))
    cols = 4
    rows = (len(curves) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.6 * rows), squeeze=False)
    for ax, (name, (t, lr, momentum)) in zip(axes.flat, curves.items()):
        ax.plot(t, lr, color="tab:blue", lw=1.6)
        ax.set_title(name, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if name.startswith(("CyclicLR", "OneCycleLR")):
            twin = ax.twinx()
            twin.plot(t, momentum, color="tab:orange", lw=1.0, ls="--")
            twin.tick_params(labelsize=7, colors="tab:orange")
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    fig.suptitle("descent's schedules: lr (blue) against step, from lr 0.1; momentum (orange, dashed) where cycled",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
