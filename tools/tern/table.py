#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the figures of a tern-bench JSON file as a table.

One line per row of the JSON that `tern-bench --json` writes (`make bench`:
$out/bench.json): name, median [min, max] and unit, as tern-bench prints
them. A with/without ratio (pre-copy/none) that is below 1 in every
repetition is followed by the same figures as a reduction, "= 99.9998 %
less [min, max]": the ratio stays the headline, the reduction says how
close to 100 % it is.

usage: table.py BENCH_JSON
"""
import json
import math
import sys

# rows whose ratio is "with X / without X": a ratio below 1 is a saving
WITH_WITHOUT = ("pre-copy/none",)


def reduction(ratio):
    """100 % - ratio, with just enough decimals that it does not read as 100:
    1.9e-06 -> "99.9998", 7.4e-04 -> "99.93", 0.0022 -> "99.8",
    0.5 -> "50.0"."""
    left = 100 * ratio
    decimals = 1
    if 0 < left < 1:
        decimals = max(1, math.floor(-math.log10(left)) + 1)
    return f"{100 - left:.{decimals}f}"


def is_with_without(row):
    return row["unit"] == "ratio" and any(w in row["name"]
                                          for w in WITH_WITHOUT)


def fmt(v):
    return "-" if v is None else f"{v:.4g}"


def line(row):
    """One row: the figure as tern-bench prints it, plus the reduction."""
    text = (f"{row['name']:<52} {fmt(row['median']):>12} "
            f"[{fmt(row['min'])}, {fmt(row['max'])}] {row['unit']}")
    if is_with_without(row) and None not in (row["min"], row["max"]) and \
            0 <= row["min"] and row["max"] < 1:
        # the smallest ratio is the largest reduction
        text += (f" = {reduction(row['median'])} % less "
                 f"[{reduction(row['max'])}, {reduction(row['min'])}]")
    return text


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    with open(sys.argv[1]) as f:
        data = json.load(f)
    print(f"tern-bench: {data['devmem_mib']} MiB device memory per VF, "
          f"{data['reps']} repetitions, median [min, max]")
    for row in data["rows"]:
        print(line(row))


if __name__ == "__main__":
    main()
