#!/usr/bin/python3
"""Lists, checks and dumps a descent checkpoint (include/descent/checkpoint.hpp), with numpy only.

    /usr/bin/python3 tools/inspect_checkpoint.py run.ckpt               entries, metadata, tensors
    /usr/bin/python3 tools/inspect_checkpoint.py run.ckpt --json        the same as JSON
    /usr/bin/python3 tools/inspect_checkpoint.py run.ckpt --dump optimizer.exp_avg [--csv | --json]
    /usr/bin/python3 tools/inspect_checkpoint.py big.ckpt --no-verify   skip the (pure-Python, slow) checksum

Exit status: 0 fine, 1 the file is not a valid descent checkpoint (not safetensors or not descent's,
truncated, checksum mismatch, unreadable), 2 a usage error (unknown option or tensor).

From Python (put tools/ on sys.path):

    from inspect_checkpoint import read_checkpoint
    entries, tensors = read_checkpoint("run.ckpt")   # raises CheckpointError on a bad file
    entries["optimizer"]["kind"], entries["optimizer"]["lr"], tensors["optimizer.exp_avg"]

entries maps each entry name to its metadata exactly as stored (JSON values; a non-finite double is
the string "inf", "-inf" or "nan": decode it with number()); tensors maps each tensor name
("<entry>.<field>", or "<entry>" for an entry that is one Eigen array) to a numpy array (C order:
an Eigen matrix comes back with its rows and columns as in Eigen).

Reading it yourself
-------------------
The file is safetensors: an 8-byte little-endian header length n, n bytes of JSON (padded with
spaces), then the arrays, little-endian and contiguous. parse() below is all there is to it; the
rest of this file is the checks that give a bad file a clear message, and the checksum: XXH64
(seed 0) of the whole file with the 16 hex digits after '"descent.checksum":"xxh64:' read as '0'.
"""

import argparse
import json
import math
import struct
import sys

try:
    import numpy as np
except ImportError:
    if __name__ == "__main__":
        sys.exit("inspect_checkpoint.py needs numpy (Debian: python3-numpy, in /usr/bin/python3)")
    raise

DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "U64": "<u8"}
FORMAT_VERSION = "1"
MAX_HEADER = 100 << 20  # safetensors' cap on the header, as descent's reader
CHECKSUM_KEY = b'"descent.checksum":"xxh64:'


def parse(blob):
    """The format in ten lines: (entries' metadata, tensors) from the bytes of a checkpoint."""
    n = int.from_bytes(blob[:8], "little")  # the header's length
    header = json.loads(blob[8:8 + n])  # JSON, padded with spaces to a multiple of 8
    meta = header.pop("__metadata__")  # a string -> string map
    entries = json.loads(meta["descent.entries"])  # a JSON text again: entry -> its metadata
    data = memoryview(blob)[8 + n:]
    tensors = {}
    for name, t in header.items():  # "<entry>.<field>", or "<entry>" for one Eigen array
        begin, end = t["data_offsets"]  # relative to the start of the data
        tensors[name] = np.frombuffer(data[begin:end], DTYPES[t["dtype"]]).reshape(t["shape"])
    return entries, tensors


class CheckpointError(Exception):
    """The file is not a valid descent checkpoint; the message says why."""


def number(value):
    """A double of the metadata: a JSON number, or the string "inf", "-inf" or "nan"."""
    if isinstance(value, str) and value in ("inf", "-inf", "nan"):
        return float(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError("not a number: %r" % (value,))


# ---- XXH64 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), pure Python ------------

_P1 = 0x9E3779B185EBCA87
_P2 = 0xC2B2AE3D27D4EB4F
_P3 = 0x165667B19E3779F9
_P4 = 0x85EBCA77C2B2AE63
_P5 = 0x27D4EB2F165667C5
_M = (1 << 64) - 1


def _round(acc, lane):
    acc = (acc + lane * _P2) & _M
    return (((acc << 31) | (acc >> 33)) * _P1) & _M


def _merge(h, acc):
    h ^= _round(0, acc)
    return (h * _P1 + _P4) & _M


def xxh64(data, seed=0):
    """XXH64 of a bytes-like object, as an int (some 20 MB/s on CPython 3.11)."""
    data = memoryview(data).cast("B")
    n = len(data)
    p = 0
    if n >= 32:
        v1, v2, v3, v4 = (seed + _P1 + _P2) & _M, (seed + _P2) & _M, seed & _M, (seed - _P1) & _M
        stripes = n // 32
        lanes = iter(struct.unpack_from("<%dQ" % (4 * stripes), data))
        for l1, l2, l3, l4 in zip(lanes, lanes, lanes, lanes):  # _round, inlined: this is the hot loop
            v1 = (v1 + l1 * _P2) & _M
            v1 = (((v1 << 31) | (v1 >> 33)) * _P1) & _M
            v2 = (v2 + l2 * _P2) & _M
            v2 = (((v2 << 31) | (v2 >> 33)) * _P1) & _M
            v3 = (v3 + l3 * _P2) & _M
            v3 = (((v3 << 31) | (v3 >> 33)) * _P1) & _M
            v4 = (v4 + l4 * _P2) & _M
            v4 = (((v4 << 31) | (v4 >> 33)) * _P1) & _M
        p = 32 * stripes
        h = (((v1 << 1) | (v1 >> 63)) + ((v2 << 7) | (v2 >> 57)) + ((v3 << 12) | (v3 >> 52)) +
             ((v4 << 18) | (v4 >> 46))) & _M
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while p + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, p)[0])
        h = ((((h << 27) | (h >> 37)) & _M) * _P1 + _P4) & _M
        p += 8
    if p + 4 <= n:
        h ^= (struct.unpack_from("<I", data, p)[0] * _P1) & _M
        h = ((((h << 23) | (h >> 41)) & _M) * _P2 + _P3) & _M
        p += 4
    while p < n:
        h ^= (data[p] * _P5) & _M
        h = ((((h << 11) | (h >> 53)) & _M) * _P1) & _M
        p += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    h ^= h >> 32
    return h


# ---- the checks ------------------------------------------------------------------------------------


def check(blob, source="the checkpoint"):
    """Raises CheckpointError unless blob is a well-formed descent checkpoint (the checks of
    descent::Checkpoint::load, except the checksum: see checksum()). Returns the parsed header."""

    def bad(what):
        raise CheckpointError("%s: %s" % (source, what))

    if len(blob) == 0:
        bad("empty: not a descent checkpoint")
    if len(blob) < 8:
        bad("truncated: %d bytes, shorter than the 8-byte header length" % len(blob))
    n = int.from_bytes(blob[:8], "little")
    if n > MAX_HEADER:
        bad("not a descent checkpoint (or corrupted): its first 8 bytes give a header length of %d bytes, "
            "more than safetensors' limit of 100 MiB" % n)
    if n > len(blob) - 8:
        bad("truncated or not a descent checkpoint: the header length is %d bytes but only %d follow"
            % (n, len(blob) - 8))
    try:
        header = json.loads(bytes(blob[8:8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        bad("not a descent checkpoint (or corrupted): the header is not valid JSON: %s" % e)
    if not isinstance(header, dict):
        bad("not a descent checkpoint: the header is not a JSON object")
    meta = header.get("__metadata__")
    if not isinstance(meta, dict):
        bad("not a descent checkpoint: a safetensors header without __metadata__")
    fmt = meta.get("descent.format")
    if not isinstance(fmt, str):
        bad("not a descent checkpoint: no descent.format in __metadata__ (a safetensors file from elsewhere?)")
    if fmt != FORMAT_VERSION:
        bad("unsupported format version '%s' (this reader reads version %s)" % (fmt, FORMAT_VERSION))
    digest = meta.get("descent.checksum")
    if not isinstance(digest, str):
        bad("no descent.checksum in __metadata__")
    if len(digest) != 22 or not digest.startswith("xxh64:") or any(c not in "0123456789abcdef" for c in digest[6:]):
        bad("descent.checksum '%s' is not xxh64: and 16 hex digits" % digest)
    text = meta.get("descent.entries")
    if not isinstance(text, str):
        bad("no descent.entries in __metadata__")
    try:
        entries = json.loads(text)
    except ValueError as e:
        bad("descent.entries is not valid JSON: %s" % e)
    if not isinstance(entries, dict):
        bad("descent.entries is not a JSON object")
    for name, m in entries.items():
        if not isinstance(m, dict):
            bad("the metadata of entry '%s' is not a JSON object" % name)
        if not name or "." in name:
            bad("invalid entry name '%s'" % name)

    def size(x):
        return isinstance(x, int) and not isinstance(x, bool) and x >= 0

    spans = []
    for name, t in header.items():
        if name == "__metadata__":
            continue
        where = "tensor '%s': " % name
        if not isinstance(t, dict):
            bad(where + "not a JSON object")
        if not all(k in t for k in ("dtype", "shape", "data_offsets")):
            bad(where + "needs dtype, shape and data_offsets")
        if t["dtype"] not in DTYPES:
            bad(where + "unknown dtype '%s' (descent writes F32, F64, I64 and U64)" % (t["dtype"],))
        shape, offsets = t["shape"], t["data_offsets"]
        if not isinstance(shape, list) or not all(size(s) for s in shape):
            bad(where + "shape %s is not a list of sizes" % json.dumps(shape))
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(size(o) for o in offsets):
            bad(where + "data_offsets is not a pair of offsets")
        begin, end = offsets
        need = math.prod(shape) * int(DTYPES[t["dtype"]][2])
        if end - begin != need:
            bad(where + "data_offsets [%d, %d] hold %d bytes, but %s of shape %s needs %d"
                % (begin, end, end - begin, t["dtype"], json.dumps(shape), need))
        if name.split(".", 1)[0] not in entries:
            bad(where + "belongs to no entry in descent.entries")
        spans.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(spans):
        if begin != covered:
            bad(("tensor '%s' overlaps another" if begin < covered else "a hole in the data before tensor '%s'")
                % name + " (data_offsets from %d)" % begin)
        covered = end
    have = len(blob) - 8 - n
    if covered > have:
        bad("truncated, or offsets point past the end: the tensors need %d bytes of data but the file holds %d"
            % (covered, have))
    if covered < have:
        bad("the file has %d bytes after the last tensor's data" % (have - covered))
    if bytes(blob[8:8 + n]).count(CHECKSUM_KEY) != 1:
        bad("the header's descent.checksum is not written as descent writes it")
    return header


def checksum(blob):
    """'xxh64:<16 hex digits>': what the checksum of this (well-formed) checkpoint must be."""
    n = int.from_bytes(blob[:8], "little")
    at = 8 + bytes(blob[8:8 + n]).find(CHECKSUM_KEY) + len(CHECKSUM_KEY)
    zeroed = bytearray(blob)
    zeroed[at:at + 16] = b"0" * 16
    return "xxh64:%016x" % xxh64(zeroed)


def verify_checksum(blob, header, source="the checkpoint"):
    """Raises CheckpointError unless the checksum in the header matches the content."""
    saved, actual = header["__metadata__"]["descent.checksum"], checksum(blob)
    if saved != actual:
        raise CheckpointError("%s: checksum mismatch: the header says %s but the content hashes to %s (the file is "
                              "corrupted or was modified)" % (source, saved, actual))


def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return bytearray(f.read())  # a bytearray: the arrays parse() returns are then writable
    except OSError as e:
        raise CheckpointError("%s: cannot read: %s" % (path, e.strerror or e)) from e


def read_checkpoint(path, verify=True):
    """(entries' metadata, tensors) of the checkpoint at path: see the module's docstring. Raises
    CheckpointError on a bad file; verify=False skips the checksum (slow in Python for big files)."""
    blob = read_bytes(path)
    header = check(blob, str(path))
    if verify:
        verify_checksum(blob, header, str(path))
    return parse(blob)


# ---- the listing -----------------------------------------------------------------------------------


def _json_number(x):
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def summary(a):
    """{"min", "max", "mean"} of a float array (of its finite values, with counts of the others), or
    {"min", "max"} of an integer one; {} when empty."""
    if a.size == 0:
        return {}
    if a.dtype.kind != "f":
        return {"min": int(a.min()), "max": int(a.max())}
    finite = a[np.isfinite(a)].astype(np.float64)
    out = {}
    if finite.size:
        out = {"min": float(finite.min()), "max": float(finite.max()), "mean": float(finite.mean())}
    for key, count in (("nan", int(np.isnan(a).sum())), ("inf", int(np.isposinf(a).sum())),
                       ("-inf", int(np.isneginf(a).sum()))):
        if count:
            out[key] = count
    return out


def listing(path, verify=True):
    """Everything the listing shows, as a JSON-ready dict. Raises CheckpointError on a bad file."""
    blob = read_bytes(path)
    header = check(blob, str(path))
    verified = None
    if verify:
        verify_checksum(blob, header, str(path))
        verified = True
    entries, tensors = parse(blob)
    out_entries = {}
    for name in sorted(entries):
        meta = dict(entries[name])
        kind = meta.pop("kind", "")
        out_entries[name] = {"kind": kind, "metadata": meta,
                             "tensors": sorted(t for t in tensors if t.split(".", 1)[0] == name)}
    out_tensors = {}
    for name in sorted(tensors):
        info = header[name]
        s = {k: (_json_number(v) if isinstance(v, float) else v) for k, v in summary(tensors[name]).items()}
        out_tensors[name] = dict({"dtype": info["dtype"], "shape": info["shape"], "data_offsets": info["data_offsets"]},
                                 **s)
    meta = header["__metadata__"]
    return {"file": str(path), "bytes": len(blob), "format": meta["descent.format"],
            "checksum": meta["descent.checksum"], "checksum_verified": verified,
            "entries": out_entries, "tensors": out_tensors}


def _flatten(meta, prefix=""):
    """[(dotted key, value)] with nested objects (Grouped's groups and blocks) spelled out."""
    out = []
    for key, value in meta.items():
        if isinstance(value, dict):
            out.extend(_flatten(value, prefix + key + "."))
        else:
            out.append((prefix + key, value))
    return out


def print_listing(info, out=sys.stdout):
    verified = {True: "verified", None: "not verified (--no-verify)"}[info["checksum_verified"]]
    out.write("%s: descent checkpoint, format %s, %d bytes, %d entries, %d tensors\n"
              % (info["file"], info["format"], info["bytes"], len(info["entries"]), len(info["tensors"])))
    out.write("checksum %s %s\n" % (info["checksum"], verified))
    width = max([len(t) for t in info["tensors"]] + [0])
    for name, e in info["entries"].items():
        out.write("\n%s: %s\n" % (name, e["kind"] or "(no kind)"))
        for key, value in _flatten(e["metadata"]):
            out.write("    %s = %s\n" % (key, json.dumps(value)))
        for t in e["tensors"]:
            ti = info["tensors"][t]
            stats = " ".join("%s=%s" % (k, ("%.6g" % ti[k]) if isinstance(ti[k], float) else ti[k])
                             for k in ("min", "max", "mean", "nan", "inf", "-inf") if k in ti)
            out.write("  %-*s  %s %-10s %s\n" % (width, t, ti["dtype"], json.dumps(ti["shape"]),
                                                 stats or "(empty)"))


def dump(array, style, out=sys.stdout):
    """One array: numpy's repr (shortest round-trip digits), CSV (one row per line; a vector one value
    per line) or JSON (nested lists; non-finite as "inf"/"-inf"/"nan")."""
    if style == "json":
        values = array.tolist()

        def fix(v):
            return [fix(x) for x in v] if isinstance(v, list) else (_json_number(v) if isinstance(v, float) else v)

        json.dump({"dtype": array.dtype.name, "shape": list(array.shape), "values": fix(values)}, out)
        out.write("\n")
    elif style == "csv":
        rows = array.reshape(1, 1) if array.ndim == 0 else (array.reshape(-1, 1) if array.ndim == 1 else
                                                           array.reshape(array.shape[0], -1))
        for row in rows:
            out.write(",".join(str(v) for v in row) + "\n")  # str of a numpy scalar: shortest round-trip
    else:
        with np.printoptions(threshold=sys.maxsize, floatmode="unique", linewidth=100):
            out.write(repr(array) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description="List, check and dump a descent checkpoint (safetensors layout).")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print the listing (or the dumped array) as JSON")
    p.add_argument("--dump", metavar="TENSOR", help="print one array, e.g. params or optimizer.exp_avg")
    p.add_argument("--csv", action="store_true", help="with --dump: CSV instead of numpy's repr")
    p.add_argument("--no-verify", action="store_true", help="skip the checksum (slow in pure Python on big files)")
    args = p.parse_args(argv)
    if args.csv and not args.dump:
        p.error("--csv needs --dump TENSOR")
    if args.csv and args.json:
        p.error("--csv and --json exclude each other")
    prog = "inspect_checkpoint.py"
    try:
        if args.dump:
            entries, tensors = read_checkpoint(args.file, verify=not args.no_verify)
            if args.dump not in tensors:
                sys.stderr.write("%s: %s: no tensor '%s' (it has %s)\n"
                                 % (prog, args.file, args.dump, ", ".join(sorted(tensors)) or "none"))
                return 2
            dump(tensors[args.dump], "json" if args.json else ("csv" if args.csv else "repr"))
        else:
            info = listing(args.file, verify=not args.no_verify)
            if args.json:
                json.dump(info, sys.stdout, indent=1)
                sys.stdout.write("\n")
            else:
                print_listing(info)
    except CheckpointError as e:
        sys.stderr.write("%s: %s\n" % (prog, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
