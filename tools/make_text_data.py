#!/usr/bin/python3
"""Writes examples/data/debian_descriptions.txt, the bag-of-words text set of examples/sparse_text.cpp.

The text is the long descriptions of Debian 12 ("bookworm") main amd64 packages, labelled by the
package's Section. Inputs are the two archive indices apt downloads: the Packages file (Section,
Source, Description-md5) and i18n/Translation-en (the descriptions). apt here is configured not to
fetch translations, so get them into a private lists directory, leaving the system's alone:

    mkdir -p /tmp/lists/partial /tmp/aptconf
    echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main' \
        > /tmp/sources.list
    apt-get update -o Dir::Etc::Parts=/tmp/aptconf -o Dir::State::Lists=/tmp/lists \
        -o Dir::Etc::SourceList=/tmp/sources.list -o Dir::Etc::SourceParts=/nonexistent -o Acquire::Languages=en
    /usr/bin/python3 tools/make_text_data.py /tmp/lists

Deterministic: the same two index files give the same output byte for byte (no randomness; every
choice is by sorting or by an MD5 of a name).

Output format (documented in examples/data/README.md): a header of `#` lines, then one line per
vocabulary word, `w<TAB>word`, in id order (id = 0, 1, ...), then one line per package,
`split<TAB>label<TAB>ids`, with split one of train / valid / test, label the class index (the
order of CLASSES) and ids the space-separated vocabulary ids of the description's words in text
order (a word repeated in the text repeats its id; words outside the vocabulary are dropped).
"""

import collections
import glob
import hashlib
import os
import re
import subprocess
import sys

CLASSES = ["libs", "python", "doc", "devel", "utils", "net", "science", "games"]
CAP_PER_CLASS = 1200
MIN_COUNT = 2  # a word is in the vocabulary when it occurs >= 2 times in the training descriptions
WORD = re.compile(r"[a-z][a-z0-9]+")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "data", "debian_descriptions.txt")


def md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def read_index(path):
    """The stanzas of a Debian index file (lz4 or plain), as dicts; continuation lines joined by \\n."""
    if path.endswith(".lz4"):
        data = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True, capture_output=True).stdout
    else:
        with open(path, "rb") as f:
            data = f.read()
    for block in data.decode("utf-8").split("\n\n"):
        stanza, key = {}, None
        for line in block.split("\n"):
            if not line:
                continue
            if line[0] in " \t":
                stanza[key] += "\n" + line[1:]
            else:
                key, _, value = line.partition(":")
                stanza[key] = value.strip()
        if stanza:
            yield stanza


def split_of(source):
    """train / valid / test, 70 / 15 / 15, by the source package: the binary packages built from one
    source (libfoo1, libfoo-dev, foo-doc) share most of their description, and must not straddle the
    split."""
    bucket = int(md5(source)[:8], 16) % 100
    return "train" if bucket < 70 else ("valid" if bucket < 85 else "test")


def main():
    lists = sys.argv[1] if len(sys.argv) > 1 else "/var/lib/apt/lists"
    packages_path = glob.glob(os.path.join(lists, "*_debian_dists_bookworm_main_binary-amd64_Packages*"))[0]
    translation_path = glob.glob(os.path.join(lists, "*_debian_dists_bookworm_main_i18n_Translation-en*"))[0]
    release_path = glob.glob(os.path.join(lists, "*_debian_dists_bookworm_InRelease"))[0]
    with open(release_path, encoding="utf-8") as f:
        release = dict(line.split(": ", 1) for line in f.read().split("\n") if line[:5] in ("Date:", "Versi"))

    descriptions = {}
    for s in read_index(translation_path):
        descriptions[(s["Package"], s["Description-md5"])] = s["Description-en"]

    # One document per distinct description: identical ones (a package and its transitional dummy,
    # per-architecture variants) would be the same sample twice.
    seen = set()
    by_class = collections.defaultdict(list)
    for s in read_index(packages_path):
        section = s.get("Section", "").split("/")[-1]
        if section not in CLASSES:
            continue
        text = descriptions.get((s["Package"], s.get("Description-md5", "")))
        if text is None or s["Description-md5"] in seen:
            continue
        seen.add(s["Description-md5"])
        source = s.get("Source", s["Package"]).split(" ")[0]
        by_class[section].append((md5(s["Package"]), s["Package"], source, text))

    docs = []
    for label, section in enumerate(CLASSES):
        for _, package, source, text in sorted(by_class[section])[:CAP_PER_CLASS]:
            body = "\n".join(line for line in text.lower().split("\n") if line.strip() != ".")
            docs.append((split_of(source), label, package, WORD.findall(body)))
    docs.sort(key=lambda d: (d[0] != "train", d[0] != "valid", md5(d[2])))

    counts = collections.Counter(w for split, _, _, words in docs if split == "train" for w in words)
    vocabulary = sorted(w for w, c in counts.items() if c >= MIN_COUNT)
    ids = {w: i for i, w in enumerate(vocabulary)}

    with open(OUT, "w", encoding="utf-8", newline="\n") as f:
        f.write("# Long descriptions of Debian 12 (bookworm) main amd64 packages, by Section; see examples/data/README.md\n")
        f.write(f"# source: http://deb.debian.org/debian bookworm main (Release Version {release['Version']}, Date {release['Date']})\n")
        f.write(f"# classes: {' '.join(CLASSES)}\n")
        f.write(f"# vocabulary: {len(vocabulary)} words occurring >= {MIN_COUNT} times in the training split\n")
        for w in vocabulary:
            f.write(f"w\t{w}\n")
        for split, label, _, words in docs:
            f.write(f"{split}\t{label}\t{' '.join(str(ids[w]) for w in words if w in ids)}\n")

    sizes = collections.Counter((d[0], d[1]) for d in docs)
    for split in ("train", "valid", "test"):
        print(split, [sizes[(split, k)] for k in range(len(CLASSES))])
    print(f"vocabulary {len(vocabulary)}, {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
