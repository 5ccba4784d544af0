#!/usr/bin/python3
"""Writes the example data sets in examples/data/ from scikit-learn's bundled copies.

Run once, from anywhere, with Debian's python3-sklearn installed (only the standard library is
imported; the data files are read from the package's folder, scikit-learn itself is not used):

    /usr/bin/python3 examples/data/make_data.py [SKLEARN_DATA_DIR]

SKLEARN_DATA_DIR defaults to Debian's /usr/lib/python3/dist-packages/sklearn/datasets/data. The
output goes next to this script. It is deterministic: two runs give byte-identical files.

Every output file has one format, the one examples/common/csv.hpp reads with its default options:
a header row of column names, then one sample per row, comma-separated numbers only, the label or
target as the last column (named "target"), '\n' line endings, a final newline. Numbers are copied
as text from the source, never parsed and re-printed, so no digit changes; the one exception is the
diabetes target, whose source spells integers as "1.510000000000000000e+02" and which is written
as "151" after checking that every value is an integer.

scikit-learn's own files differ from that and from each other, which is why they are converted:
  - breast_cancer.csv, iris.csv, wine_data.csv: a first line "n_samples,n_features,class names..."
    (e.g. "569,30,malignant,benign") instead of column names; the class index is the last column.
  - digits.csv.gz: gzip, no header line; 64 pixels then the class.
  - diabetes_data_raw.csv.gz / diabetes_target.csv.gz: gzip, no header, features separated by
    single spaces, and the target in a separate file.
The column names are the feature_names that sklearn/datasets/_base.py assigns (sklearn 1.2.1).
"""

import gzip
import os
import sys

SKLEARN_DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
OUT = os.path.dirname(os.path.abspath(__file__))

BREAST_CANCER_NAMES = [
    f"{stat}{feature}{suffix}"
    for stat, suffix in (("mean ", ""), ("", " error"), ("worst ", ""))
    for feature in ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                    "concave points", "symmetry", "fractal dimension")
]
IRIS_NAMES = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
WINE_NAMES = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
              "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue",
              "od280/od315_of_diluted_wines", "proline"]
DIGITS_NAMES = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
DIABETES_NAMES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def check_number(text, where):
    try:
        float(text)
    except ValueError:
        sys.exit(f"make_data: {where}: not a number: {text!r}")
    return text


def write(name, header, rows):
    assert all("," not in h and '"' not in h for h in header), header
    for i, row in enumerate(rows):
        if len(row) != len(header):
            sys.exit(f"make_data: {name}: row {i + 1} has {len(row)} fields, expected {len(header)}")
    with open(os.path.join(OUT, name), "w", encoding="ascii", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(row) + "\n")
    print(f"make_data: wrote {name}: {len(rows)} samples, {len(header) - 1} features + target")


def convert_sklearn_csv(source, name, feature_names, n_classes):
    """sklearn's load_csv_data format: first line n_samples,n_features,class names; label last."""
    with open(os.path.join(SKLEARN_DATA, source), encoding="ascii") as f:
        lines = f.read().splitlines()
    first = lines[0].split(",")
    n_samples, n_features = int(first[0]), int(first[1])
    assert n_features == len(feature_names) and len(first) - 2 == n_classes, first
    rows = [[check_number(v, f"{source}:{i + 2}") for v in line.split(",")] for i, line in enumerate(lines[1:])]
    assert len(rows) == n_samples, (source, len(rows))
    assert {row[-1] for row in rows} == {str(k) for k in range(n_classes)}, source
    write(name, feature_names + ["target"], rows)


def read_gzip_lines(source):
    with gzip.open(os.path.join(SKLEARN_DATA, source), "rt", encoding="ascii") as f:
        return f.read().splitlines()


def main():
    global SKLEARN_DATA
    if len(sys.argv) > 1:
        SKLEARN_DATA = sys.argv[1]

    convert_sklearn_csv("breast_cancer.csv", "breast_cancer.csv", BREAST_CANCER_NAMES, 2)
    convert_sklearn_csv("iris.csv", "iris.csv", IRIS_NAMES, 3)
    convert_sklearn_csv("wine_data.csv", "wine_data.csv", WINE_NAMES, 3)

    digits = [[check_number(v, f"digits.csv.gz:{i + 1}") for v in line.split(",")]
              for i, line in enumerate(read_gzip_lines("digits.csv.gz"))]
    assert len(digits) == 1797 and {row[-1] for row in digits} == {str(k) for k in range(10)}
    write("digits.csv", DIGITS_NAMES + ["target"], digits)

    # Split on exactly one space, not split(): a doubled space then gives an empty field, which
    # check_number rejects, instead of passing silently.
    features = [line.split(" ") for line in read_gzip_lines("diabetes_data_raw.csv.gz")]
    targets = [float(v) for v in read_gzip_lines("diabetes_target.csv.gz")]
    assert len(features) == len(targets) == 442
    assert all(t.is_integer() for t in targets)
    diabetes = [[check_number(v, f"diabetes_data_raw.csv.gz:{i + 1}") for v in row] + [str(int(t))]
                for i, (row, t) in enumerate(zip(features, targets))]
    write("diabetes.csv", DIABETES_NAMES + ["target"], diabetes)


if __name__ == "__main__":
    main()
