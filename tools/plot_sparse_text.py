#!/usr/bin/python3
"""The figure of docs/sparse.md's text example, from `sparse_text --history CSV`.

Usage:
  plot_sparse_text.py CSV [PNG]      (PNG defaults to docs/images/sparse_text.png)

Left: test accuracy against epochs of the run chosen for each optimizer (the lr with the best
validation accuracy after the last epoch), with the majority-class baseline of the test split
(0.1346, as sparse_text prints it; fixed by examples/data/debian_descriptions.txt); right: the loss over
the whole training set against epochs, the other lrs of each grid drawn faintly.
"""

import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MAJORITY = 0.1346
COLORS = {"Adagrad": "tab:blue", "SparseAdam": "tab:orange", "SGD": "tab:green"}


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.join(os.path.dirname(__file__), "..", "docs", "images",
                                                               "sparse_text.png")
    runs = {}
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            run = runs.setdefault((row["optimizer"], float(row["lr"])), {"chosen": row["chosen"] == "1", "rows": []})
            run["rows"].append(row)

    fig, (acc, loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (name, lr), run in sorted(runs.items()):
        rows = run["rows"]
        epochs = [int(r["epoch"]) for r in rows]
        color = COLORS.get(name, "black")
        if run["chosen"]:
            tested = [r for r in rows if r["test_accuracy"]]
            acc.plot([int(r["epoch"]) for r in tested], [float(r["test_accuracy"]) for r in tested], color=color,
                     marker="o", markersize=3, label=f"{name}, lr {lr:g}")
        loss.semilogy(epochs, [float(r["train_loss"]) for r in rows], color=color, alpha=1.0 if run["chosen"] else 0.25,
                      linewidth=2 if run["chosen"] else 1, label=f"{name}, lr {lr:g}" if run["chosen"] else None)
    acc.axhline(MAJORITY, color="gray", linestyle=":", label="majority class (0.135)")
    acc.set_xlabel("epoch")
    acc.set_ylabel("test accuracy")
    acc.set_ylim(0.0, 0.85)
    acc.set_title("Test accuracy (lr chosen on validation)")
    acc.grid(alpha=0.3)
    acc.legend(loc="lower right")
    loss.set_xlabel("epoch")
    loss.set_ylabel("training-set loss")
    loss.set_title("Training loss (faint: the grid's other lrs)")
    loss.grid(alpha=0.3, which="both")
    loss.legend(loc="lower left")
    fig.suptitle("Softmax regression on Debian package descriptions: 14 407 words x 8 sections, sparse gradients")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
