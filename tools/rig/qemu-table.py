#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Downtime side by side: one table from the "# STATS" lines the QEMU
migration tests print (tools/testing/selftests/tern/qemu/qemu_mig.c), all from
one VM run's tap.log, so that every row was measured on the same machine
in the same run.

usage: qemu-table.py TAP_LOG

Prints, per consumer (QEMU version), the kernel's mtty sample as the
baseline and each tern migration: QEMU's downtime and total time, the
device bytes QEMU read before (pre-copy) and after the switchover
(stop-copy, from its trace), and tern's downtime over mtty's. Prints
nothing when the run has no STATS lines.
"""
import re
import sys

STATS_RE = re.compile(r"# STATS (.*)$")
# the rows in this order; anything else after them
ORDER = ["mtty", "tern_1vf", "tern_2vf", "tern_1vf_container",
         "tern_2vf_multifd", "tern_1vf_reinit"]


def size(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024.0
    return str(n)


def main():
    runs = {}
    with open(sys.argv[1], errors="replace") as f:
        for line in f:
            m = STATS_RE.search(line)
            if not m:
                continue
            kv = dict(w.split("=", 1) for w in m.group(1).split() if "=" in w)
            runs.setdefault(kv["qemu"], {})[kv["test"]] = kv
    if not runs:
        return
    print("QEMU as the consumer: downtime and device data (one VM run)")
    hdr = (f"{'QEMU':<8} {'migration':<20} {'downtime':>9} {'total':>9} "
           f"{'pre-copy':>11} {'stop-copy':>11} {'downtime/mtty':>14}")
    print(hdr)
    print("-" * len(hdr))
    for qemu in sorted(runs, key=lambda v: [int(x) for x in v.split(".")
                                            if x.isdigit()]):
        rows = runs[qemu]
        base = rows.get("mtty")
        for test in sorted(rows, key=lambda t: (ORDER.index(t)
                                                if t in ORDER else len(ORDER),
                                                t)):
            r = rows[test]
            down = int(r["downtime_ms"])
            ratio = "-"
            if base and test != "mtty" and int(base["downtime_ms"]):
                ratio = f"{down / int(base['downtime_ms']):.2f}"
            print(f"{qemu:<8} {test:<20} {down:>6} ms {int(r['total_ms']):>6} ms "
                  f"{size(int(r['precopy_bytes'])):>11} "
                  f"{size(int(r['stopcopy_bytes'])):>11} {ratio:>14}")


if __name__ == "__main__":
    main()
