#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Split migration time into firmware time and the rest, from a QEMU trace.

Reads the log of `BENCH_TRACE=tern_admin_submit,tern_admin_complete make
bench` ($out/trace.log, QEMU's log trace backend with -msg timestamp=on).
An admin command's firmware time runs from its submit event (the model
fetched it from the ring after the doorbell) to its complete event (result
and completion written); the firmware latency (fw-latency-us) is included.

Prints, per opcode, the count and firmware time, and for every save session
(SAVE_BEGIN .. SAVE_END) and load session (LOAD_BEGIN .. LOAD_COMMIT or
LOAD_ABORT) of at least --min-mib MiB: wall time, firmware-busy time (union
of the commands' intervals) and the rest, which is the driver, the guest
userspace and the guest's own copies (everything the VM does between
firmware commands).

With --perf, also reads `perf script -F tid,time,ip,sym,dso` of the same
run (BENCH_PERF=1) and prints where the QEMU threads spent their samples
during the save, load and DMA-log report windows. perf's timestamps must
be on the trace's clock (BENCH_PERF_ARGS="-F 999 -k CLOCK_REALTIME"), or
--clock-offset gives the seconds to add to them.

usage: trace-stats.py TRACE_LOG [--min-mib N] [--perf FILE [--clock-offset S]]
"""
import argparse
import collections
import os
import re
import statistics

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load_opcodes():
    """Opcode -> name: the values of enum tern_admin_opcode and the names of
    TERN_OPCODES in include/linux/tern/tern_if.h, parsed as
    tools/qemu/tern-qtest/tern_qtest.py parses it."""
    text = open(os.path.join(TOP, "include/linux/tern/tern_if.h")).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    value = {m[1]: int(m[2], 0) for m in re.finditer(
        r"\bTERN_OP_(\w+)\s*=\s*(0x[0-9a-fA-F]+|\d+)\s*,", text)}
    body = re.search(r"#define\s+TERN_OPCODES\(.*?[^\\]\n", text, re.S)[0]
    return {value[n]: n for n in re.findall(r"__VA_ARGS__\((\w+)\)", body)}


OPS = load_opcodes()
OP = {name: op for op, name in OPS.items()}
# the model's trace names the opcode after its number (older logs do not)
LINE = re.compile(r"^\d+@(\d+\.\d+):(tern_admin_submit|tern_admin_complete) "
                  r"cid (\d+) opcode 0x([0-9a-f]+)(?: \w+)? vf (\d+)"
                  r"(?: status 0x([0-9a-f]+) result0 0x([0-9a-f]+))?")


def union(intervals):
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += b - a
            end = b
        elif b > end:
            total += b - end
            end = b
    return total


def perf_windows(path, offset, windows, top=12):
    """Samples per thread and symbol inside @windows [(start, end)]."""
    count, threads, n = collections.Counter(), collections.Counter(), 0
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) < 3:
                continue
            try:
                t = float(p[1].rstrip(":")) + offset
            except ValueError:
                continue
            if not any(a <= t <= b for a, b in windows):
                continue
            sym = p[3] if len(p) > 4 else "?"
            if sym == "[unknown]" and "perf-" in p[-1]:
                sym = "<TCG translated guest code>"
            count[(p[0], sym)] += 1
            threads[p[0]] += 1
            n += 1
    if not n:
        print("  no samples in these windows (clock offset?)")
        return
    wall = sum(b - a for a, b in windows)
    print(f"  {len(windows)} windows, {wall:.3f} s, {n} samples; threads: " +
          ", ".join(f"{t} {100 * c / n:.0f}%" for t, c in threads.most_common()))
    for (tid, sym), c in count.most_common(top):
        print(f"  {100 * c / n:5.1f}%  {tid:>8}  {sym}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--min-mib", type=float, default=64)
    ap.add_argument("--perf")
    ap.add_argument("--clock-offset", type=float, default=0.0)
    args = ap.parse_args()

    cmds = []           # (op, vf, t_submit, t_complete, result0)
    open_cmds = {}
    with open(args.log, errors="replace") as f:
        for line in f:
            m = LINE.match(line)
            if not m:
                continue
            t, ev, cid, op, vf = (float(m[1]), m[2], int(m[3]),
                                  int(m[4], 16), int(m[5]))
            if ev == "tern_admin_submit":
                open_cmds[cid] = (op, vf, t)
            elif cid in open_cmds:
                op0, vf0, t0 = open_cmds.pop(cid)
                cmds.append((op0, vf0, t0, t, int(m[7] or "0", 16)))
    cmds.sort(key=lambda c: c[2])

    print(f"{'opcode':18} {'count':>7} {'fw ms total':>12} "
          f"{'fw us median':>13} {'fw us max':>10}")
    for op in sorted({c[0] for c in cmds}):
        d = [(c[3] - c[2]) * 1e6 for c in cmds if c[0] == op]
        print(f"{OPS.get(op, hex(op)):18} {len(d):7} {sum(d) / 1e3:12.1f} "
              f"{statistics.median(d):13.0f} {max(d):10.0f}")

    print()
    print(f"{'session':8} {'vf':>3} {'MiB':>7} {'cmds':>5} {'wall s':>8} "
          f"{'fw s':>7} {'fw %':>5} {'rest s':>7}  (rest: driver, guest)")
    kinds = {OP["SAVE_BEGIN"]: ("save", {OP["SAVE_END"]}),
             OP["LOAD_BEGIN"]: ("load", {OP["LOAD_COMMIT"], OP["LOAD_ABORT"]})}
    windows = {}
    for i, c in enumerate(cmds):
        if c[0] not in kinds:
            continue
        name, ends = kinds[c[0]]
        sess = [c]
        for d in cmds[i + 1:]:
            if d[1] != c[1]:
                continue
            sess.append(d)
            if d[0] in ends:
                break
        if sess[-1][0] not in ends:
            continue
        data = [d for d in sess if d[0] in (OP["SAVE_READ"], OP["LOAD_WRITE"])]
        if name == "save":
            mib = sum(d[4] for d in data) / 2**20
        else:
            mib = len(data)     # LOAD_WRITE: one driver chunk (1 MiB) each
        if mib < args.min_mib:
            continue
        wall = sess[-1][3] - sess[0][2]
        fw = union([(d[2], d[3]) for d in sess])
        print(f"{name:8} {c[1]:3} {mib:7.1f} {len(sess):5} {wall:8.3f} "
              f"{fw:7.3f} {100 * fw / wall:5.1f} {wall - fw:7.3f}")
        windows.setdefault(name, []).append((sess[0][2], sess[-1][3]))

    if not args.perf:
        return
    windows["report"] = [(c[2], c[3]) for c in cmds
                         if c[0] == OP["DIRTY_READ_CLEAR"]]
    for name, w in windows.items():
        print()
        print(f"perf samples during {name} sessions:")
        perf_windows(args.perf, args.clock_offset, w)


if __name__ == "__main__":
    main()
