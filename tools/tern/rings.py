#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The stream row of tern-bench per ring shape of the migration data files.

A `BENCH_RINGS` run of `make bench` (tools/rig/bench.sh) runs tern-bench's
stream row once per shape DEPTHxCHUNK_KB (tern-vfio-pci's module
parameters depth and chunk_kb) in one VM; the guest prints each run's JSON as
"BENCH-RING-JSON <shape>: " lines of the TAP log. This collects them and
prints, per shape, save and resume throughput against memcpy (rows 2 and 3:
ratios measured side by side) and the peak kernel memory rise during the
full save (row 4), as median [min, max] over the repetitions, and writes
OUT_JSON:

  {"rings": [{"shape": "4x1024", "depth": 4, "chunk_kb": 1024,
              "ring_mib": 4.0, "reps": 5, "save_per_memcpy": {...},
              "resume_per_memcpy": {...}, "kern_rise_mib": {...}}, ...]}

in the order run. Fails if a shape has no stream figures.

usage: rings.py OUT_JSON TAP_LOG
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scaling import cell, print_rst_table, summary  # noqa: E402

COLUMNS = (
    ("save_per_memcpy", "save / memcpy"),
    ("resume_per_memcpy", "resume / memcpy"),
    ("kern_rise_mib", "Slab+VmallocUsed rise MiB"),
)


def shapes_of(tap):
    """{shape: JSON text} in the order the shapes ran."""
    texts = {}
    line_re = re.compile(r"^BENCH-RING-JSON (\d+x\d+): (.*)$")
    with open(tap, errors="replace") as f:
        for line in f:
            m = line_re.match(line.rstrip("\r\n"))
            if m:
                texts.setdefault(m.group(1), []).append(m.group(2))
    return {shape: "\n".join(lines) for shape, lines in texts.items()}


def entry(shape, text):
    reps = (json.loads(text).get("stream") or {}).get("reps")
    if not reps:
        return None
    depth, chunk_kb = (int(v) for v in shape.split("x"))
    return {
        "shape": shape, "depth": depth, "chunk_kb": chunk_kb,
        "ring_mib": depth * chunk_kb / 1024, "reps": len(reps),
        "save_per_memcpy": summary([r["memcpy_s"] / r["save_s"]
                                    for r in reps]),
        "resume_per_memcpy": summary([r["memcpy_s"] / r["resume_s"]
                                      for r in reps]),
        "kern_rise_mib": summary([r["kern_rise_mib"] for r in reps]),
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip().splitlines()[-1])
    out, tap = sys.argv[1:]
    rings, bad = [], []
    for shape, text in shapes_of(tap).items():
        try:
            e = entry(shape, text)
        except (ValueError, KeyError, ZeroDivisionError):
            e = None
        if e:
            rings.append(e)
        else:
            bad.append(shape)
    with open(out, "w") as f:
        json.dump({"rings": rings}, f, indent=1)
        f.write("\n")
    head = ["depth x chunk", "ring per file"] + [t for _, t in COLUMNS]
    rows = [[f"{e['depth']} x {e['chunk_kb']} KiB", f"{e['ring_mib']:g} MiB"]
            + [cell(e[k]) for k, _ in COLUMNS] for e in rings]
    print("median [min, max] of the repetitions")
    print_rst_table(head, rows)
    if bad or not rings:
        sys.exit(f"rings.py: no stream figures for {', '.join(bad) or 'any shape'}")


if __name__ == "__main__":
    main()
