#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The N-VF row of `make bench`: every VF of a PF migrated at once.

Reads the "# NVF" lines that qemu_migration_nvf_test
(tools/testing/selftests/tern/qemu) printed in one VM run's TAP log, writes
them as JSON and prints one table per consumer (QEMU version):

  - per VF count N and multifd off/on: QEMU's downtime, median [min, max]
    of the repetitions after the warm-up (repetition 0), its ratio to
    mtty's median downtime in the same run, and each VF's device time
    inside the downtime (the median over the repetitions of the median
    VF, and the largest VF time seen); the warm-up's downtime and VF
    times apart;
  - the goals: downtime with multifd / without, per N (the median of the
    per-repetition ratios, the two migrations of a repetition run back to
    back), and N VFs / 1 VF with multifd (medians).

usage: nvf.py TAP_LOG [NVF_JSON]

The JSON ("nvf": consumers, each with its mtty baseline and points) is what
plots.py draws bench-nvf.svg from. Exit status 1 when the log has no NVF
line, or a point lacks a repetition after the warm-up.
"""
import json
import re
import statistics
import sys

USAGE = "usage: nvf.py TAP_LOG [NVF_JSON]"
NVF_RE = re.compile(r"# NVF (.*)$")
# where the rest of the downtime goes (qemu_migration_nvf_test's
# nvf_windows()): the source's stop of the first VF to the last VF's saved
# data, within it the final RAM sync's last DMA-log report, and the
# destination's first arc out of RESUMING to the last VF RUNNING
WINDOWS = ("src_window_ms", "sync_ms", "dst_window_ms")


def stat(values):
    return {"median": statistics.median(values), "min": min(values),
            "max": max(values)}


def parse(path):
    """{qemu: {(test, n, multifd): {rep: record}}} from the log."""
    runs = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = NVF_RE.search(line)
            if not m:
                continue
            kv = dict(w.split("=", 1) for w in m.group(1).split() if "=" in w)
            rec = {"rep": int(kv["rep"]),
                   "downtime_ms": int(kv["downtime_ms"]),
                   "total_ms": int(kv["total_ms"]),
                   "vf_ms": [float(v) for v in kv["vf_ms"].split(",")]}
            for k in WINDOWS:
                if k in kv:
                    rec[k] = float(kv[k])
            key = (kv["test"], int(kv["n"]), int(kv["multifd"]))
            runs.setdefault(kv["qemu"], {}).setdefault(key, {})[rec["rep"]] = rec
    return runs


def point(reps):
    """A point's JSON: the warm-up apart, the steady repetitions' figures."""
    first = reps.get(0)
    steady = [reps[r] for r in sorted(reps) if r > 0]
    if not steady:
        raise ValueError("no repetition after the warm-up")
    windows = {k: statistics.median(r[k] for r in steady)
               for k in WINDOWS if all(k in r for r in steady)}
    return {
        "first": first,
        "reps": steady,
        "windows_ms": windows,
        "downtime_ms": stat([r["downtime_ms"] for r in steady]),
        "vf_ms": {"median": statistics.median(statistics.median(r["vf_ms"])
                                              for r in steady),
                  "max": max(max(r["vf_ms"]) for r in steady)},
    }


def paired(num, den):
    """Per-repetition ratios num/den of two points' downtimes, as stat()."""
    a = {r["rep"]: r["downtime_ms"] for r in num["reps"]}
    b = {r["rep"]: r["downtime_ms"] for r in den["reps"]}
    ratios = [a[k] / b[k] for k in sorted(a) if k in b and b[k]]
    return stat(ratios) if ratios else None


def build(runs):
    consumers = []
    for qemu in sorted(runs, key=lambda v: [int(x) for x in v.split(".")]):
        keys = runs[qemu]
        mtty = point(keys[("mtty", 1, 0)])
        points = []
        for (test, n, multifd) in sorted(k for k in keys if k[0] == "tern"):
            p = point(keys[(test, n, multifd)])
            p.update(n=n, multifd=multifd)
            base = mtty["downtime_ms"]["median"]
            p["downtime_per_mtty"] = (p["downtime_ms"]["median"] / base
                                      if base else None)
            points.append(p)
        by = {(p["n"], p["multifd"]): p for p in points}
        for p in points:
            if p["multifd"]:
                p["multifd_per_off"] = (paired(p, by[(p["n"], 0)])
                                        if (p["n"], 0) in by else None)
            one = by.get((1, p["multifd"]))
            p["per_1vf"] = (p["downtime_ms"]["median"] /
                            one["downtime_ms"]["median"]
                            if one and one["downtime_ms"]["median"] else None)
        consumers.append({"qemu": qemu, "mtty": mtty, "points": points})
    return {"nvf": {"consumers": consumers}}


def fmt_stat(s, digits=3):
    return (f"{s['median']:.{digits}g} [{s['min']:.{digits}g}, "
            f"{s['max']:.{digits}g}]")


def table(data):
    for c in data["nvf"]["consumers"]:
        mtty = c["mtty"]
        reps = len(mtty["reps"])
        print(f"QEMU {c['qemu']}: N VFs of one PF at once, {reps} "
              f"repetitions after a warm-up (rep 0); mtty downtime "
              f"{fmt_stat(mtty['downtime_ms'])} ms, first "
              f"{mtty['first']['downtime_ms'] if mtty['first'] else '-'} ms")
        hdr = (f"{'N':>2} {'multifd':>7}  {'downtime ms':<20} {'/mtty':>6}  "
               f"{'VF device ms (max)':<19} {'first: downtime, VF ms':<24}")
        print(hdr)
        print("-" * len(hdr))
        for p in c["points"]:
            first = p["first"]
            ftxt = (f"{first['downtime_ms']} ms, "
                    f"{statistics.median(first['vf_ms']):.1f}"
                    if first else "-")
            ratio = p["downtime_per_mtty"]
            print(f"{p['n']:>2} {'on' if p['multifd'] else 'off':>7}  "
                  f"{fmt_stat(p['downtime_ms']):<20} "
                  f"{ratio if ratio is None else f'{ratio:.2f}':>6}  "
                  f"{p['vf_ms']['median']:>7.1f} ({p['vf_ms']['max']:.1f})"
                  f"{'':<6} {ftxt:<24}")
        if all(p["windows_ms"] for p in c["points"]):
            print("where it goes (medians, ms): source's VFs stopped to "
                  "saved, of it to the final sync's last DMA-log report; "
                  "destination's first arc out of RESUMING to all RUNNING")
            for p in c["points"]:
                w = p["windows_ms"]
                print(f"{p['n']:>2} {'on' if p['multifd'] else 'off':>7}  "
                      f"source {w['src_window_ms']:7.1f}  sync "
                      f"{w['sync_ms']:7.1f}  destination "
                      f"{w['dst_window_ms']:7.1f}  sum of VF device times "
                      f"{statistics.median(sum(r['vf_ms']) for r in p['reps']):7.1f}")
        print("goals (ratios of downtimes in this run):")
        for p in c["points"]:
            if p["multifd"] and p.get("multifd_per_off"):
                s = p["multifd_per_off"]
                print(f"  N={p['n']}: multifd / without {fmt_stat(s)}"
                      f" (goal <= 1: {'met' if s['median'] <= 1 else 'not met'})")
        for p in c["points"]:
            if p["multifd"] and p["n"] == max(q["n"] for q in c["points"]) \
               and p["per_1vf"] is not None and p["n"] > 1:
                print(f"  {p['n']} VFs / 1 VF, multifd: {p['per_1vf']:.2f} "
                      f"(goal <= 2: "
                      f"{'met' if p['per_1vf'] <= 2 else 'not met'})")
        print()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(USAGE)
    runs = parse(sys.argv[1])
    if not runs:
        print(f"nvf.py: no NVF lines in {sys.argv[1]}", file=sys.stderr)
        return 1
    try:
        data = build(runs)
    except (KeyError, ValueError) as e:
        print(f"nvf.py: incomplete run: {e}", file=sys.stderr)
        return 1
    table(data)
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
