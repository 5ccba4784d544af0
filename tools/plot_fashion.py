#!/usr/bin/python3
"""The Fashion-MNIST figures of docs/fashion_mnist.md, from examples/fashion_mnist's --history CSVs.

Usage:
  plot_fashion.py compare FASHION_MNIST_BINARY OUTDIR PNG [--epochs N] [--data DIR]
      Kingma & Ba (2015), Figures 1-2, on Fashion-MNIST: for softmax regression and for the MLP,
      Adam, Adagrad, RMSProp and SGD with Nesterov momentum (0.9), each run at every lr of the grid
      below with a constant lr, no weight decay, batches of 128 and the same start and batch order
      (the binary's defaults). For each optimizer and model the lr with the lowest training loss in
      the last epoch wins; its training loss (the mean of the epoch's minibatch losses) is drawn
      against epochs. Writes every run's CSV and a summary (OUTDIR/compare.md, a Markdown table of
      every lr's final training loss and test accuracy) into OUTDIR, and the figure into PNG.
  plot_fashion.py overfit CSV PNG
      The CSV of `fashion_mnist --overfit --history CSV`: training-set and test loss against
      epochs for the three runs (plain, weight-decay, early-stopping), one panel each; the
      early-stopping panel marks the restored epoch (the lowest validation loss).

The lr grids (three points a factor of ~3 apart around each optimizer's usual lr; a winner at
the edge of its grid is flagged in compare.md):
"""

import argparse
import csv
import math
import os
import subprocess
import sys

GRIDS = {
    "adam": [3e-4, 1e-3, 3e-3],
    "adagrad": [3e-3, 1e-2, 3e-2],
    "rmsprop": [1e-4, 3e-4, 1e-3],
    "nesterov": [1e-2, 3e-2, 1e-1],
}
__doc__ += "".join(f"  {name:9s} {', '.join(f'{lr:g}' for lr in lrs)}\n" for name, lrs in GRIDS.items())
LABELS = {"adam": "Adam", "adagrad": "Adagrad", "rmsprop": "RMSProp", "nesterov": "SGD Nesterov"}
MODELS = {"softmax": "softmax regression (7 850 parameters)", "mlp": "MLP 784-256-128-10 (235 146 parameters)"}


def read_history(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path}: no rows")
    runs = {}
    for r in rows:
        runs.setdefault(r["run"], []).append({k: float(v) for k, v in r.items() if k != "run"})
    return runs


def pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot_fashion.py: cannot import matplotlib ({e}); Debian: python3-matplotlib", file=sys.stderr)
        sys.exit(3)
    return plt


def compare(args):
    os.makedirs(args.outdir, exist_ok=True)
    results = {}  # (model, optimizer) -> list of (lr, epochs rows)
    for model in MODELS:
        for name, grid in GRIDS.items():
            for lr in grid:
                path = os.path.join(args.outdir, f"{model}-{name}-{lr:g}.csv")
                if not os.path.exists(path):
                    command = [args.binary, "--model", model, "--optimizer", name, "--lr", f"{lr:g}",
                               "--weight-decay", "0", "--schedule", "constant", "--epochs", str(args.epochs),
                               "--history", path + ".part"]
                    if args.data:
                        command += ["--data", args.data]
                    print("plot_fashion.py:", " ".join(command), file=sys.stderr, flush=True)
                    # Exit code 1 only means a run missed the accuracy bar: its curve still counts.
                    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    if done.returncode not in (0, 1):
                        print(f"plot_fashion.py: {' '.join(command)} failed ({done.returncode})", file=sys.stderr)
                        sys.exit(1)
                    os.replace(path + ".part", path)
                (rows,) = read_history(path).values()
                results.setdefault((model, name), []).append((lr, rows))

    lines = ["| model | optimizer | lr | training loss, last epoch | test accuracy, last epoch | best |",
             "|---|---|---|---|---|---|"]
    best = {}
    for (model, name), runs in results.items():
        finite = [(lr, rows) for lr, rows in runs if math.isfinite(rows[-1]["train_loss"])]
        lr_best, rows_best = min(finite, key=lambda run: run[1][-1]["train_loss"])
        best[(model, name)] = (lr_best, rows_best)
        edge = lr_best in (GRIDS[name][0], GRIDS[name][-1])
        for lr, rows in runs:
            mark = ("**best**" + (" (grid edge)" if edge else "")) if lr == lr_best else ""
            lines.append(f"| {model} | {LABELS[name]} | {lr:g} | {rows[-1]['train_loss']:.4f} | "
                         f"{rows[-1]['test_accuracy']:.4f} | {mark} |")
    with open(os.path.join(args.outdir, "compare.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))

    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, model in zip(axes, MODELS):
        for name in GRIDS:
            lr, rows = best[(model, name)]
            ax.plot([r["epoch"] for r in rows], [r["train_loss"] for r in rows], marker="o", markersize=3,
                    label=f"{LABELS[name]} (lr {lr:g})")
        ax.set_yscale("log")
        ax.set_xlabel("epochs (iterations over the 60 000 training images)")
        ax.set_ylabel("training loss (cross-entropy, epoch mean)")
        ax.set_title(f"Fashion-MNIST, {MODELS[model]}", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Each optimizer at its best lr of a small grid; batches of 128, constant lr, no weight decay",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"plot_fashion.py: drew {args.png}", file=sys.stderr)


def overfit(args):
    runs = read_history(args.csv)
    names = ["plain", "weight-decay", "early-stopping"]
    missing = [n for n in names if n not in runs]
    if missing:
        print(f"plot_fashion.py: {args.csv} lacks the runs {', '.join(missing)} (write it with --overfit)",
              file=sys.stderr)
        sys.exit(1)
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    titles = {"plain": "no regularisation", "weight-decay": "weight decay on the weight matrices",
              "early-stopping": "EarlyStopping (validation split, best restored)"}
    for ax, name in zip(axes, names):
        rows = runs[name]
        epochs = [r["epoch"] for r in rows]
        ax.plot(epochs, [r["train_set_loss"] for r in rows], label="training loss (2 000 images)")
        ax.plot(epochs, [r["test_loss"] for r in rows], label="test loss (10 000 images)")
        if name == "early-stopping":
            ax.plot(epochs, [r["validation_loss"] for r in rows], linestyle=":", label="validation loss (1 000)")
            restored = min(rows, key=lambda r: r["validation_loss"])
            ax.axvline(restored["epoch"], color="grey", linestyle="--", linewidth=1)
            ax.annotate(f"restored: epoch {restored['epoch']:.0f}\ntest loss {restored['test_loss']:.3f}",
                        (restored["epoch"], restored["test_loss"]), textcoords="axes fraction", xytext=(0.6, 0.45),
                        fontsize=8, arrowprops={"arrowstyle": "->", "color": "grey"})
        ax.set_title(titles[name], fontsize=10)
        ax.set_xlabel("epochs")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("cross-entropy")
    fig.suptitle("Overfitting, visible: the MLP on 2 000 Fashion-MNIST images", fontsize=11)
    fig.tight_layout()
    fig.savefig(args.png, dpi=110)
    print(f"plot_fashion.py: drew {args.png}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare")
    c.add_argument("binary")
    c.add_argument("outdir")
    c.add_argument("png")
    c.add_argument("--epochs", type=int, default=10)
    c.add_argument("--data", default="")
    o = sub.add_parser("overfit")
    o.add_argument("csv")
    o.add_argument("png")
    args = parser.parse_args()
    try:
        compare(args) if args.command == "compare" else overfit(args)
    except (OSError, ValueError, KeyError) as e:
        print(f"plot_fashion.py: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
