#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Merge tern-bench stream rows at several device memory sizes into one
scaling table.

Each BENCH_JSON is the bench.json of one `BENCH_SCALE` run of `make bench`
(tools/rig/bench.sh: one VM per size, only the stream row). From each
repetition's absolute figures (its "stream" member) this takes, per size:

  save s/GiB     a full save (STOP_COPY, 1 MiB read()s) per GiB of device
                 memory
  resume s/GiB   its resume (1 MiB write()s until the destination accepts
                 STOP) per GiB of device memory
  MemAvail MiB   the peak MemAvailable drop during the full save
  kernel MiB     the peak Slab + VmallocUsed rise during the full save

each as median [min, max] over the repetitions, and writes them to OUT_JSON:

  {"sizes": [{"devmem_mib": 64, "reps": 5, "stream_mib": 64.0005,
              "save_s_per_gib": {"median": ..., "min": ..., "max": ...,
                                 "samples": [...]},
              "resume_s_per_gib": {...}, "avail_drop_mib": {...},
              "kern_rise_mib": {...}, "save_per_memcpy": {...},
              "resume_per_memcpy": {...}}, ...]}

sorted by size (save_per_memcpy and resume_per_memcpy are rows 2 and 3,
throughput / memcpy). With only SCALING_JSON, prints the table of an
existing scaling.json. The table is an RST simple table, ready for
Documentation/tern/performance.rst.

usage: scaling.py OUT_JSON BENCH_JSON...
       scaling.py SCALING_JSON
"""
import json
import statistics
import sys

COLUMNS = (
    ("save_s_per_gib", "save s/GiB"),
    ("resume_s_per_gib", "resume s/GiB"),
    ("avail_drop_mib", "MemAvailable drop MiB"),
    ("kern_rise_mib", "Slab+VmallocUsed rise MiB"),
)


def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples),
            "max": max(samples), "samples": samples}


def size_entry(path):
    """The scaling figures of one bench.json, or None if it has none."""
    with open(path) as f:
        data = json.load(f)
    reps = (data.get("stream") or {}).get("reps")
    if not reps:
        print(f"scaling.py: {path}: no stream figures, left out",
              file=sys.stderr)
        return None
    gib = data["devmem_mib"] / 1024
    return {
        "devmem_mib": data["devmem_mib"],
        "reps": len(reps),
        "stream_mib": statistics.median(r["bytes"] for r in reps) / 2**20,
        "save_s_per_gib": summary([r["save_s"] / gib for r in reps]),
        "resume_s_per_gib": summary([r["resume_s"] / gib for r in reps]),
        "avail_drop_mib": summary([r["avail_drop_mib"] for r in reps]),
        "kern_rise_mib": summary([r["kern_rise_mib"] for r in reps]),
        "save_per_memcpy": summary([r["memcpy_s"] / r["save_s"]
                                    for r in reps]),
        "resume_per_memcpy": summary([r["memcpy_s"] / r["resume_s"]
                                      for r in reps]),
    }


def cell(s):
    return f"{s['median']:.3g} [{s['min']:.3g}, {s['max']:.3g}]"


def print_rst_table(head, rows):
    """An RST simple table of the head line and the rows (lists of str)."""
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    rule = "  ".join("=" * w for w in widths)
    print(rule)
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        if r is head:
            print(rule)
    print(rule)


def print_table(sizes):
    head = ["device memory"] + [title for _, title in COLUMNS]
    rows = [[f"{e['devmem_mib']} MiB"] + [cell(e[key]) for key, _ in COLUMNS]
            for e in sizes]
    reps = sorted({e["reps"] for e in sizes})
    print(f"tern-bench scaling: full save and resume time per GiB of device "
          f"memory, peak kernel memory during the save; median [min, max] of "
          f"{'/'.join(map(str, reps))} repetitions")
    print_rst_table(head, rows)


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit("\n".join(__doc__.strip().splitlines()[-2:]))
    if len(args) == 1:
        with open(args[0]) as f:
            sizes = json.load(f)["sizes"]
    else:
        sizes = [e for e in map(size_entry, args[1:]) if e]
        sizes.sort(key=lambda e: e["devmem_mib"])
        with open(args[0], "w") as f:
            json.dump({"sizes": sizes}, f, indent=1)
            f.write("\n")
    if not sizes:
        sys.exit("scaling.py: no size has stream figures")
    print_table(sizes)


if __name__ == "__main__":
    main()
