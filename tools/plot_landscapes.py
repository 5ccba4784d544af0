#!/usr/bin/python3
"""Draws the paths written by examples/landscapes (--csv) over contour plots of the six functions.

Usage: plot_landscapes.py CSV PNG

The CSV has the columns kind,function,optimizer,lr,step,x,y,f, one row per
    path          an iterate of one optimizer (step 0 is the common start), with f at it;
    global/local  a known local minimizer in the domain, global or not;
    domain_lo/hi  the corners of the box shown.
The PNG is a grid of one panel per function, in file order: filled contours of f (log-spaced
levels of f − min f where f spans orders of magnitude), each optimizer's path in its own colour,
the start as a black dot, global minima as gold stars and other local minima as white crosses.

The contours are computed here, with numpy, from the same formulas as include/descent/problems/;
the script checks them against the f column of every path row and refuses to draw (exit 1) if
they disagree, so a picture never shows one function under another's paths.

Needs only the standard library, numpy and matplotlib (with Pillow, which matplotlib itself needs;
Debian: python3-matplotlib, for /usr/bin/python3). Exit status: 0 on success, 1 for a bad CSV or an unwritable PNG, 2 for a usage
error, 3 when numpy, matplotlib or Pillow cannot be imported (the program's table has the numbers).
"""

import argparse
import csv
import math
import sys

COLUMNS = ("kind", "function", "optimizer", "lr", "step", "x", "y", "f")
# Functions whose range in the domain spans orders of magnitude: their levels are log-spaced.
LOG_LEVELS = {"Himmelblau", "Beale", "Six-hump camel"}


class BadCsv(Exception):
    pass


def formulas(np):
    pi = math.pi

    def ackley(x, y):
        r = np.hypot(x, y) * math.sqrt(0.5)
        return (20 - 20 * np.exp(-0.2 * r)) + (math.e - np.exp(0.5 * (np.cos(2 * pi * x) + np.cos(2 * pi * y))))

    def rastrigin(x, y):
        return sum(t * t + 10 * (1 - np.cos(2 * pi * t)) for t in (x, y))

    return {
        "Himmelblau": lambda x, y: (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2,
        "Beale": lambda x, y: (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2,
        "Six-hump camel": lambda x, y: (4 - 2.1 * x * x + x**4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y,
        "Ackley": ackley,
        "Rastrigin": rastrigin,
        "Styblinski-Tang": lambda x, y: 0.5 * sum(t**4 - 16 * t * t + 5 * t for t in (x, y)),
    }


def read(path):
    """Returns {function: {"lo", "hi", "minima": [(x, y, global)], "paths": {optimizer: (lr, xs, ys, fs)}}}."""
    functions = {}
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if tuple(reader.fieldnames or ()) != COLUMNS:
                raise BadCsv(f"{path}: the header must be {','.join(COLUMNS)}")
            for line, row in enumerate(reader, start=2):
                entry = functions.setdefault(row["function"], {"minima": [], "paths": {}})
                try:
                    x, y = float(row["x"]), float(row["y"])
                    if row["kind"] == "path":
                        lr, xs, ys, fs = entry["paths"].setdefault(row["optimizer"], (row["lr"], [], [], []))
                        xs.append(x)
                        ys.append(y)
                        fs.append(float(row["f"]))
                    elif row["kind"] in ("global", "local"):
                        entry["minima"].append((x, y, row["kind"] == "global"))
                    elif row["kind"] in ("domain_lo", "domain_hi"):
                        entry[row["kind"][-2:]] = (x, y)
                    else:
                        raise BadCsv(f"{path}:{line}: unknown kind {row['kind']!r}")
                except (TypeError, ValueError):
                    raise BadCsv(f"{path}:{line}: x, y or f is missing or not a number") from None
    except OSError as e:
        raise BadCsv(f"{path}: {e.strerror}") from None
    for name, entry in functions.items():
        if "lo" not in entry or "hi" not in entry or not entry["paths"]:
            raise BadCsv(f"{path}: {name} has no domain or no paths")
    if not functions:
        raise BadCsv(f"{path}: no data rows")
    return functions


def check_formulas(np, functions, f_of):
    for name, entry in functions.items():
        if name not in f_of:
            raise BadCsv(f"no formula for {name!r} (known: {', '.join(f_of)})")
        for optimizer, (_, xs, ys, fs) in entry["paths"].items():
            x, y, written = np.array(xs), np.array(ys), np.array(fs)
            finite = np.isfinite(written) & (np.abs(written) < 1e12)
            ours = f_of[name](x[finite], y[finite])
            if not np.allclose(ours, written[finite], rtol=1e-7, atol=1e-9):
                worst = np.argmax(np.abs(ours - written[finite]))
                raise BadCsv(f"{name}, {optimizer}: the plot's formula gives {ours[worst]:.10g} where the CSV has "
                             f"{written[finite][worst]:.10g}")


def plot(np, functions, f_of, png):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    names = list(functions)
    cols = 3
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.6 * rows), squeeze=False)
    colours = plt.get_cmap("tab10").colors
    optimizers = list(next(iter(functions.values()))["paths"])
    for ax, name in zip(axes.flat, names):
        entry = functions[name]
        (x0, y0), (x1, y1) = entry["lo"], entry["hi"]
        gx, gy = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
        z = f_of[name](gx, gy)
        if name in LOG_LEVELS:
            shifted = z - z.min() + 1e-3 * (z.max() - z.min()) / 1e4
            levels = np.geomspace(shifted.min(), shifted.max(), 30)
            ax.contourf(gx, gy, shifted, levels=levels, norm=LogNorm(), cmap="viridis")
            ax.contour(gx, gy, shifted, levels=levels[::2], norm=LogNorm(), colors="k", linewidths=0.3, alpha=0.4)
        else:
            ax.contourf(gx, gy, z, levels=30, cmap="viridis")
            ax.contour(gx, gy, z, levels=15, colors="k", linewidths=0.3, alpha=0.4)
        for k, optimizer in enumerate(optimizers):
            lr, xs, ys, _ = entry["paths"][optimizer]
            ax.plot(xs, ys, color=colours[k % len(colours)], linewidth=1.4, label=f"{optimizer} (lr {float(lr):g})")
            ax.plot(xs[-1], ys[-1], "o", color=colours[k % len(colours)], markersize=4)
        for mx, my, is_global in entry["minima"]:
            if is_global:
                ax.plot(mx, my, "*", color="gold", markeredgecolor="k", markersize=13, zorder=5)
            else:
                ax.plot(mx, my, "x", color="white", markersize=5, markeredgewidth=1.2, zorder=5)
        start = entry["paths"][optimizers[0]]
        ax.plot(start[1][0], start[2][0], "o", color="black", markersize=6, zorder=6)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_title(name)
        ax.legend(fontsize=7, loc="best", framealpha=0.7)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    fig.suptitle("Paths from one start (black dot), 2000 steps without noise; gold stars: global minima, "
                 "white crosses: local minima", fontsize=11)
    fig.tight_layout()
    # A 256-colour palette: filled contours are flat areas, so this keeps the file small (about a
    # third of the full-colour PNG) without visible change.
    from PIL import Image

    fig.set_dpi(72)
    fig.canvas.draw()
    image = Image.frombuffer("RGBA", fig.canvas.get_width_height(), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    try:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(png, optimize=True)
    except OSError as e:
        raise BadCsv(f"{png}: {e.strerror}") from None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv")
    parser.add_argument("png")
    args = parser.parse_args()
    try:
        import numpy as np
        import matplotlib  # noqa: F401
        import PIL  # noqa: F401  (matplotlib's own dependency)
    except ImportError as e:
        print(f"plot_landscapes.py: {e}", file=sys.stderr)
        return 3
    try:
        functions = read(args.csv)
        f_of = formulas(np)
        check_formulas(np, functions, f_of)
        plot(np, functions, f_of, args.png)
    except BadCsv as e:
        print(f"plot_landscapes.py: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
