#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Where a QEMU migration's downtime goes, tern beside mtty.

Reads the "# SPLIT" and "# EVENT" lines the QEMU migration tests print
(tools/testing/selftests/tern/qemu/qemu_split.h) into a run's tap.log: the
events of both QEMUs (their trace) and of the kernel (tern's tracepoints)
between the source QEMU's src-downtime-start and src-downtime-end, in
microseconds from the start, on one clock.

The downtime is cut into phases at QEMU's own checkpoints and the first
and last VFIO state changes of each side, so the phases follow each other
and add up to the downtime exactly. A phase whose cut a migration does not
have (mtty has no dirty logging report) counts 0 there. With several logs
(or --all), each cell is the mean over the migrations of that consumer
and scenario, so the column still adds up (to the mean downtime).

Then, per scenario, what tern did inside the phases: each VF's arcs with
the firmware commands in them and their latency, the DMA logging reports,
the VFs' sections of the stream on both sides.

usage: downtime-split.py TAP_LOG [TAP_LOG ...] [--qemu VERSION]
                         [--tests TEST,...] [--events TEST] [--summary]
                         [--reports]

--qemu keeps one consumer; --tests names the columns (default: mtty and
the scenarios of qemu_migration_test; the second migrations of
qemu_migration_abort_test are again_*); --events TEST prints the named
scenario's events, as the tests logged them, instead of the tables;
--summary prints, per consumer and scenario, only the downtime and the
phases tern works in (TERN_PHASES: the arcs of both sides, the last dirty
sync, the stop-copy read), means over the logs. --reports prints, per
consumer and scenario, the DMA logging REPORTs inside the downtime per VF,
medians over every VF of every migration: how many, their time in the
driver and their DIRTY_READ_CLEARs' latency, all of them and those after
each VF's first (what answering the later ones from the first one's read
could save at most).
"""
import argparse
import collections
import re
import signal
import statistics
import sys

# the scenarios, in the order of the columns; mtty is the baseline
ORDER = ["mtty", "tern_1vf", "tern_2vf", "tern_1vf_container",
         "tern_2vf_multifd"]
SHORT = {"mtty": "mtty", "tern_1vf": "1 VF", "tern_2vf": "2 VFs",
         "tern_1vf_container": "container", "tern_2vf_multifd": "multifd",
         "again_cancel_precopy": "2nd cancel", "again_cancel_stopcopy":
         "2nd cancel sc", "again_dst_killed": "2nd killed",
         "again_no_postcopy": "2nd postcopy"}

PHASES = [
    ("stop_pre", "VM stop, before the devices' arcs"),
    ("arc_p2p", "source arcs to PRE_COPY_P2P"),
    ("arc_stop", "source arcs to STOP_COPY"),
    ("stop_post", "VM stop, after the devices' arcs"),
    ("ram_pre", "RAM: switchover, up to the last dirty sync"),
    ("sync", "last dirty sync (VF: DMA logging REPORTs)"),
    ("ram", "RAM: the last pages"),
    ("dev", "devices' stop-copy data (VF: read())"),
    ("nonit", "other device state (VF: config space)"),
    ("dst_load", "destination: loading what is left"),
    ("dst_pre", "destination: VM start, before the arcs"),
    ("dst_p2p", "destination arcs to RUNNING_P2P (LOAD_COMMIT)"),
    ("dst_run", "destination arcs to RUNNING"),
    ("dst_post", "destination: VM start, after the arcs"),
    ("shut", "destination: clean-up, SHUT on the return path"),
    ("rp", "source: return path closed, completion"),
]

# the phases a VF's driver and firmware work in (mtty's are QEMU's alone)
TERN_PHASES = ["arc_p2p", "arc_stop", "sync", "dev", "dst_p2p", "dst_run"]

SPLIT_RE = re.compile(r"# SPLIT (.*)$")
EVENT_RE = re.compile(r"# EVENT (-?\d+) (\S+) (\S+) ?(.*)$")


class Event:
    def __init__(self, t, who, name, args):
        self.t, self.who, self.name, self.args = t, who, name, args

    def __repr__(self):
        return f"{self.t:>8} {self.who:<6} {self.name} {self.args}"


def read_splits(paths):
    """[(header dict, [Event])] in the order of the logs."""
    splits = []
    for path in paths:
        cur = None
        with open(path, errors="replace") as f:
            for line in f:
                m = SPLIT_RE.search(line)
                if m:
                    kv = dict(w.split("=", 1) for w in m.group(1).split()
                              if "=" in w)
                    cur = (kv, [])
                    splits.append(cur)
                    continue
                m = EVENT_RE.search(line)
                if m and cur:
                    cur[1].append(Event(int(m[1]), m[2], m[3], m[4]))
    return splits


def is_set_state(e, side, states):
    return (e.who == side and e.name == "vfio_migration_set_state" and
            re.search(r"new state (%s)," % "|".join(states), e.args))


def is_checkpoint(e, name):
    return e.name == "vmstate_downtime_checkpoint" and e.args == name


def first(events, pred, after=-1, before=None):
    for e in events:
        if e.t >= after and (before is None or e.t <= before) and pred(e):
            return e
    return None


def last(events, pred, after=-1, before=None):
    found = None
    for e in events:
        if e.t >= after and (before is None or e.t <= before) and pred(e):
            found = e
    return found


def cuts(kv, ev):
    """The phase each cut starts: [(time, phase)], sorted."""
    end = int(kv["downtime_us"])
    stopped = first(ev, lambda e: is_checkpoint(e, "src-vm-stopped"))
    stopped_t = stopped.t if stopped else end
    c = [(0, "stop_pre")]

    def add(e, phase):
        if e is not None:
            c.append((e.t, phase))

    add(first(ev, lambda e: is_set_state(e, "src", ["PRE_COPY_P2P",
                                                     "RUNNING_P2P"]),
              before=stopped_t), "arc_p2p")
    add(first(ev, lambda e: is_set_state(e, "src", ["STOP_COPY", "STOP"]),
              before=stopped_t), "arc_stop")
    add(last(ev, lambda e: e.who == "src" and e.name == "vfio_vmstate_change",
             before=stopped_t), "stop_post")
    add(stopped, "ram_pre")
    sync = last(ev, lambda e: e.who == "src" and
                e.name == "migration_bitmap_sync_start")
    add(sync, "sync")
    if sync:
        add(first(ev, lambda e: e.who == "src" and
                  e.name == "migration_bitmap_sync_end", after=sync.t), "ram")
    add(first(ev, lambda e: e.who == "src" and
              e.name == "vmstate_downtime_save" and
              e.args.startswith("type=iterable idstr=ram ")), "dev")
    add(first(ev, lambda e: e.who == "src" and
              is_checkpoint(e, "src-iterable-saved")), "nonit")
    add(first(ev, lambda e: e.who == "src" and
              is_checkpoint(e, "src-non-iterable-saved")), "dst_load")
    add(first(ev, lambda e: e.who == "dst" and
              is_checkpoint(e, "dst-precopy-loadvm-completed")), "dst_pre")
    add(first(ev, lambda e: is_set_state(e, "dst", ["RUNNING_P2P"])),
        "dst_p2p")
    add(first(ev, lambda e: is_set_state(e, "dst", ["RUNNING"])), "dst_run")
    add(last(ev, lambda e: e.who == "dst" and
             e.name == "vfio_vmstate_change"), "dst_post")
    add(first(ev, lambda e: e.who == "dst" and
              is_checkpoint(e, "dst-precopy-bh-vm-started")), "shut")
    add(first(ev, lambda e: e.who == "src" and
              e.name == "source_return_path_thread_shut"), "rp")
    c.append((end, None))
    return sorted(c, key=lambda x: x[0])


def phases(kv, ev):
    """{phase: microseconds}; they add up to the downtime."""
    c = cuts(kv, ev)
    out = collections.Counter()
    for (t, phase), (t2, _) in zip(c, c[1:]):
        out[phase] += t2 - t
    return out


def arg(args, key):
    m = re.search(r"\b%s=(\S+)" % key, args)
    return m[1] if m else None


def tern_detail(kv, ev):
    """Lines: what tern did inside the downtime, for one migration."""
    out = []
    cmds = [e for e in ev if e.name == "tern_cmd_complete"]
    used = set()
    for a in (e for e in ev if e.name == "tern_vf_arc"):
        dur = int(arg(a.args, "duration_ns")) / 1000
        start = a.t - dur
        m = re.match(r"(\S+) (\S+) -> (\S+)", a.args)
        inside = []
        for c in cmds:
            if c.who == a.who and start - 1 <= c.t <= a.t and id(c) not in used:
                used.add(id(c))
                op = c.args.split()[1]
                inside.append(f"{op} {int(arg(c.args, 'latency_ns')) / 1000:.0f}")
        out.append(f"  {a.who[1:]:<3} {m[1]} {m[2]} -> {m[3]}: "
                   f"{dur / 1000:.2f} ms"
                   + (f" (commands, us: {', '.join(inside)})" if inside else ""))
    reports = [e for e in ev if e.name == "tern_vf_dirty_report"]
    if reports:
        rc = [c for c in cmds if c.args.split()[1] == "DIRTY_READ_CLEAR"]
        out.append(f"  DMA logging: {len(reports)} REPORTs, "
                   f"{sum(int(arg(r.args, 'duration_ns')) for r in reports) / 1e6:.2f} ms "
                   f"in the driver, {len(rc)} DIRTY_READ_CLEAR "
                   f"{sum(int(arg(c.args, 'latency_ns')) for c in rc) / 1e6:.2f} ms")
    for op in ("SAVE_READ", "LOAD_WRITE"):
        sub = [e for e in ev if e.name == "tern_cmd_submit" and
               e.args.split()[1] == op]
        done = [c for c in cmds if c.args.split()[1] == op]
        if sub or done:
            lat = ", ".join(f"{int(arg(c.args, 'latency_ns')) / 1000:.0f}"
                            for c in done)
            out.append(f"  {op}: {len(sub)} sent, {len(done)} waited for"
                       f" (latency, us: {lat})")
    for e in ev:
        if (e.name in ("vmstate_downtime_save", "vmstate_downtime_load") and
                arg(e.args, "idstr").endswith("/vfio")):
            what = "save" if e.name.endswith("save") else "load"
            out.append(f"  {e.who} {what} {arg(e.args, 'type'):<12} "
                       f"{arg(e.args, 'idstr')}: "
                       f"{int(arg(e.args, 'downtime')) / 1000:.2f} ms")
    return out


def vf_reports(ev):
    """{VF: [(driver ns, DIRTY_READ_CLEAR latency ns)]}, one per REPORT.

    QEMU asks for the reports one after the other, so a report's commands
    are the DIRTY_READ_CLEARs completed since the report before it.
    """
    out = collections.defaultdict(list)
    lat = 0
    for e in ev:
        if (e.name == "tern_cmd_complete" and
                e.args.split()[1] == "DIRTY_READ_CLEAR"):
            lat += int(arg(e.args, "latency_ns"))
        elif e.name == "tern_vf_dirty_report":
            out[e.args.split()[0]].append(
                (int(arg(e.args, "duration_ns")), lat))
            lat = 0
    return out


def print_reports(qemu, tests, runs):
    for t in tests:
        per_vf = [r for kv, ev in runs[(qemu, t)]
                  for r in vf_reports(ev).values()]
        if not per_vf:
            continue

        def med(f):
            return statistics.median(f(r) for r in per_vf) / 1e6

        n = statistics.median(len(r) for r in per_vf)
        print(f"{qemu:<8} {t:<22} VF windows {len(per_vf):3}"
              f"  REPORTs {n:3.0f}"
              f"  driver {med(lambda r: sum(d for d, _ in r)):4.2f} ms"
              f"  firmware {med(lambda r: sum(c for _, c in r)):4.2f} ms"
              f"  after the first: driver"
              f" {med(lambda r: sum(d for d, _ in r[1:])):4.2f} ms"
              f"  firmware {med(lambda r: sum(c for _, c in r[1:])):4.2f} ms")


def main():
    # a reader that stops early (head) is no error
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--qemu")
    ap.add_argument("--tests", help="comma-separated columns")
    ap.add_argument("--events", metavar="TEST")
    ap.add_argument("--summary", action="store_true")
    ap.add_argument("--reports", action="store_true")
    args = ap.parse_args()

    splits = [s for s in read_splits(args.logs)
              if not args.qemu or s[0].get("qemu") == args.qemu]
    if args.events:
        for kv, ev in splits:
            if kv.get("test") == args.events:
                print("# SPLIT " + " ".join(f"{k}={v}" for k, v in kv.items()))
                for e in ev:
                    print(e)
        return
    runs = collections.defaultdict(list)
    for kv, ev in splits:
        runs[(kv["qemu"], kv["test"])].append((kv, ev))
    if not runs:
        print("no # SPLIT lines", file=sys.stderr)
        sys.exit(1)
    versions = sorted({q for q, _ in runs},
                      key=lambda v: [int(x) for x in v.split(".")
                                     if x.isdigit()])
    for qemu in versions:
        want = args.tests.split(",") if args.tests else ORDER
        tests = [t for t in want if (qemu, t) in runs]
        if not tests:
            continue
        if args.reports:
            print_reports(qemu, tests, runs)
            continue
        mean = {}
        for t in tests:
            acc = collections.Counter()
            for kv, ev in runs[(qemu, t)]:
                acc.update(phases(kv, ev))
            n = len(runs[(qemu, t)])
            mean[t] = {p: v / n for p, v in acc.items()}
        if args.summary:
            for t in tests:
                tp = sum(mean[t].get(p, 0) for p in TERN_PHASES) / 1000
                print(f"{qemu:<8} {t:<22} migrations {len(runs[(qemu, t)])}"
                      f"  downtime {sum(mean[t].values()) / 1000:6.1f} ms"
                      f"  tern's phases {tp:5.1f} ms")
            continue
        base = mean.get("mtty")
        w = max([13] + [len(SHORT.get(t, t)) + 2 for t in tests])
        print(f"QEMU {qemu}: downtime by phase, ms "
              f"(mean of {', '.join(f'{SHORT.get(t, t)} {len(runs[(qemu, t)])}' for t in tests)}"
              f" migrations; +/-: against mtty)")
        print(f"{'phase':<48}" + "".join(f"{SHORT.get(t, t):>{w}}" for t in tests))
        for p, label in PHASES + [("total", "downtime")]:
            cells = []
            for t in tests:
                v = (sum(mean[t].values()) if p == "total"
                     else mean[t].get(p, 0)) / 1000
                if base is not None and t != "mtty":
                    b = (sum(base.values()) if p == "total"
                         else base.get(p, 0)) / 1000
                    cells.append(f"{v:.1f} {v - b:+.1f}".rjust(w))
                else:
                    cells.append(f"{v:.1f}".rjust(w))
            if p == "total":
                print("-" * (48 + w * len(tests)))
            print(f"{label:<48}" + "".join(cells))
        if base is not None:
            print("ratio to mtty" + " " * 35 + "".join(
                (f"{sum(mean[t].values()) / sum(base.values()):.2f}"
                 if t != "mtty" else "-").rjust(w) for t in tests))
        print()
        for t in tests:
            if t == "mtty":
                continue
            kv, ev = runs[(qemu, t)][-1]
            print(f"QEMU {qemu} {t}: tern inside the downtime "
                  f"(last migration of {len(runs[(qemu, t)])}, "
                  f"{int(kv['downtime_us']) / 1000:.1f} ms)")
            for line in tern_detail(kv, ev):
                print(line)
        print()


if __name__ == "__main__":
    main()
