#!/usr/bin/python3
"""Plots the loss curves written by examples/compare_optimizers (--csv) into one PNG.

Usage: plot_convergence.py CSV PNG [--title TITLE]

The CSV has one row per recorded point, with the columns
    optimizer,lr,iteration,seconds,loss          (required)
    epoch,f_star,target                          (optional)
The PNG has two panels side by side, the loss against epochs (or iterations, without an epoch
column) and against wall time, one line per optimizer. With an f_star column the loss is shown as
loss - f* on a log scale, and the target (if given) as a dashed line.

Needs only the standard library and matplotlib (Debian: python3-matplotlib, for /usr/bin/python3).
Exit status: 0 on success, 1 for a bad CSV or an unwritable PNG, 2 for a usage error, 3 when
matplotlib cannot be imported (the program's table has the same numbers).
"""

import argparse
import csv
import itertools
import sys

REQUIRED = ("optimizer", "lr", "iteration", "seconds", "loss")
DEFAULT_TITLE = "L2-regularized logistic regression on breast cancer (each optimizer at its best learning rate)"


class BadCsv(Exception):
    pass


def read_curves(path):
    """Returns ({optimizer: {"lr": str, column: [floats]}} in file order, f_star or None, target or None)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED if c not in columns]
            if missing:
                raise BadCsv(f"{path}: missing column(s) {', '.join(missing)} (header: {','.join(columns)})")
            numeric = [c for c in ("iteration", "seconds", "loss", "epoch", "f_star", "target") if c in columns]
            curves, f_star, target = {}, None, None
            for line, row in enumerate(reader, start=2):
                try:
                    values = {c: float(row[c]) for c in numeric}
                except (TypeError, ValueError):
                    raise BadCsv(f"{path}:{line}: a field of {', '.join(numeric)} is missing or not a number") from None
                curve = curves.setdefault(row["optimizer"], {"lr": row["lr"], **{c: [] for c in numeric}})
                for c in numeric:
                    curve[c].append(values[c])
                f_star = values.get("f_star", f_star)
                target = values.get("target", target)
    except OSError as e:
        raise BadCsv(f"{path}: {e.strerror}") from None
    if not curves:
        raise BadCsv(f"{path}: no data rows")
    return curves, f_star, target


def plot(curves, f_star, target, png, title):
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    first = next(iter(curves.values()))
    x_steps = "epoch" if "epoch" in first else "iteration"
    longest = max(max(c["seconds"]) for c in curves.values())
    time_scale, time_unit = (1e3, "ms") if longest < 1 else (1.0, "s")

    if f_star is not None:
        # loss - f* can round to 0 or just below it at the optimum; show that as the rounding floor.
        floor = 1e-16 * max(1.0, abs(f_star))
        ys = {name: [max(v - f_star, floor) for v in c["loss"]] for name, c in curves.items()}
        y_label = "training loss − f*"
    else:
        ys = {name: c["loss"] for name, c in curves.items()}
        y_label = "training loss"
    log_y = all(v > 0 for y in ys.values() for v in y)
    show_target = f_star is not None and target is not None and target > f_star

    # Ten colors and four line styles cycled together: neighbours differ in both, and no two of
    # the first lcm(10, 4) = 20 lines look alike (the demo draws 16).
    colors = plt.get_cmap("tab10").colors
    styles = ["-", "--", "-.", ":"]
    fig, (ax_steps, ax_time) = plt.subplots(1, 2, figsize=(14, 6.5), sharey=True, constrained_layout=True)
    for (name, c), color, style in zip(curves.items(), itertools.cycle(colors), itertools.cycle(styles)):
        label = f"{name} (lr {float(c['lr']):g})"
        ax_steps.plot(c[x_steps], ys[name], color=color, linestyle=style, linewidth=1.6, label=label)
        ax_time.plot([t * time_scale for t in c["seconds"]], ys[name], color=color, linestyle=style, linewidth=1.6)

    for ax in (ax_steps, ax_time):
        if log_y:
            ax.set_yscale("log")
        if show_target:
            ax.axhline(target - f_star, color="0.35", linestyle=(0, (6, 3)), linewidth=1.0)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", axis="y", alpha=0.12)
    if show_target:
        ax_steps.annotate(f"target: f − f* = {target - f_star:.2g}", xy=(1, target - f_star),
                          xycoords=("axes fraction", "data"), xytext=(-4, 3), textcoords="offset points",
                          ha="right", va="bottom", fontsize=9, color="0.3")
    ax_steps.set_xlabel("epochs (passes over the training set)" if x_steps == "epoch" else "iterations")
    ax_time.set_xlabel(f"wall time ({time_unit}, without the loss evaluations for the curves)")
    ax_steps.set_ylabel(y_label + (" (log scale)" if log_y else ""))
    ax_steps.set_title(f"{y_label} per {x_steps}")
    ax_time.set_title(f"{y_label} against wall time")
    fig.suptitle(title)
    # One legend for both panels, to the right of them (bbox_inches="tight" makes room for it).
    fig.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=9, handlelength=3.2, frameon=False)
    fig.savefig(png, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv):
    parser = argparse.ArgumentParser(description="Plot compare_optimizers' loss curves.")
    parser.add_argument("csv", help="the CSV written by compare_optimizers --csv")
    parser.add_argument("png", help="the PNG to write")
    parser.add_argument("--title", default=DEFAULT_TITLE, help="the figure's title")
    args = parser.parse_args(argv)

    try:
        import matplotlib  # noqa: F401  (checked first, so that a missing one is named as such)
    except ImportError as e:
        print(f"plot_convergence.py: cannot plot: matplotlib is not importable by {sys.executable} ({e}).\n"
              "  Install it (Debian: apt-get install python3-matplotlib, then run this script with /usr/bin/python3);\n"
              "  the table printed by compare_optimizers has the same results.", file=sys.stderr)
        return 3
    try:
        curves, f_star, target = read_curves(args.csv)
    except BadCsv as e:
        print(f"plot_convergence.py: {e}", file=sys.stderr)
        return 1
    try:
        plot(curves, f_star, target, args.png, args.title)
    except OSError as e:
        print(f"plot_convergence.py: cannot write {args.png}: {e.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
