#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one test VM run from its two logs.

tap.log holds the suite's output: TERN-RIG: protocol lines framing each
kselftest binary's TAP. console.log holds the kernel log. A run fails on
any `not ok`, on a binary whose results fall short of its plan or that
exits non-zero, on an incomplete run (no `TERN-RIG: done`), on kmemleak
reports, and on any kernel splat. Prints one line per result and ends with
`N passed, N failed, N skipped`; exits 1 on any failure or when nothing
passed.

A kernel may have a known splat that is not tern's to fix (KNOWN_SPLATS
below, named by the rig per kernel in its fourth argument, comma
separated): each such warning, matched by its whole trace, is listed as
KNOWN and does not fail the run; anything else in the trace still does.

Likewise a test result that fails on some kernels for a reason that is the
kernel's (tools/rig/expected-failures, the fifth argument, for the kernel
named in the sixth) is listed as XFAIL with its reason and counted as
skipped; on any other kernel it is a failure like any other.
"""
import re
import sys

SPLATS = [
    r"WARNING:", r"BUG:", r"Oops", r"Kernel panic", r"kernel BUG at",
    r"possible circular locking", r"possible recursive locking",
    r"inconsistent lock state", r"INFO: task .* blocked",
    r"suspicious RCU usage", r"KASAN:", r"UBSAN:", r"ODEBUG:",
    r"list_add corruption", r"list_del corruption", r"unreferenced object",
    r"Call Trace:", r"general protection fault", r"DMAR: DRHD: handling fault",
    r"DMAR: \[DMA (Read|Write)", r"sleeping function called from invalid",
]
SPLAT_RE = re.compile("|".join(SPLATS))
# name: (first line of the warning, a frame every such trace has, why)
KNOWN_SPLATS = {
    # Linux 7.x asserts pci_rescan_remove_lock in
    # pci_stop_and_remove_bus_device(). sriov_numvfs_store() takes it, but
    # a PF driver's .remove on unbind or rmmod runs without it, and cannot
    # take it (hot removal calls .remove with it held): every PF driver
    # that disables SR-IOV in .remove (pds_core, mlx5_core, vfio-pci, and
    # tern_core) warns there on a lockdep kernel.
    "sriov_remove_lockdep": (
        re.compile(r"WARNING: drivers/pci/remove\.c:\d+ at "
                   r"pci_stop_and_remove_bus_device"),
        re.compile(r"\bsriov_disable\+"),
        "7.x: PF driver .remove disabling SR-IOV without "
        "pci_rescan_remove_lock (upstream)"),
    # aer_inject replaces the config accessors of the bus it injects on;
    # its accessor takes a spinlock_t under the raw pci_lock, which a 7.x
    # lockdep kernel (PROVE_RAW_LOCK_NESTING) reports at the next config
    # access on that bus (tern_pf_reset_test's AER tests).
    "aer_inject_wait_context": (
        re.compile(r"BUG: Invalid wait context"),
        re.compile(r"\baer_inj_read_config\+"),
        "7.x: aer_inject's inject_lock is a spinlock_t taken under the "
        "raw pci_lock (upstream)"),
}
# a trace ends with its task's stack, or with the end-of-trace line
END_TRACE_RE = re.compile(r"---\[ end trace|</TASK>")
# A test that makes a device fault the IOMMU on purpose runs between
# kernel-log markers naming the devices, one marker each, and one that ends
# them all (tools/rig/guest/lib.sh): the DMAR fault reports of those
# devices in between are expected, nothing else is.
FAULTS_BEGIN_RE = re.compile(r"tern-rig: iommu faults expected from "
                             r"[0-9a-f]{4}:([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])")
FAULTS_END_RE = re.compile(r"tern-rig: iommu faults no longer expected")
DMAR_FAULT_RE = re.compile(r"DMAR: DRHD: handling fault status|"
                           r"DMAR: \[DMA (Read|Write)[^]]*\] Request device "
                           r"\[(?:[0-9a-f]{4}:)?([0-9a-f]{2}:[0-9a-f]{2}\.[0-7])\]")
RESULT_RE = re.compile(r"^(not ok|ok) (\d+) (.*?)(\s+#\s*(SKIP|skip|TODO).*)?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)")


def known_splat_lines(console, names):
    """Indexes of console lines inside a known splat's trace, and count."""
    known, count = set(), {}
    for name in names:
        first, frame, _ = KNOWN_SPLATS[name]
        i = 0
        while i < len(console):
            if not first.search(console[i]):
                i += 1
                continue
            end = i
            while end < len(console) and not END_TRACE_RE.search(console[end]):
                end += 1
            block = range(i, min(end + 1, len(console)))
            if any(frame.search(console[j]) for j in block):
                known.update(block)
                count[name] = count.get(name, 0) + 1
            i = end + 1
    return known, count


def expected_failures(path, kernel):
    """{result name: reason} of the expected failures on this kernel."""
    out = {}
    if not path:
        return out
    for line in open(path).read().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kernels, rest = line.split(None, 1)
        name, reason = rest.split(" -- ", 1)
        if kernel in kernels.split(","):
            out[name.strip()] = reason.strip()
    return out


def expected_fault_lines(console):
    """Indexes of console lines that are IOMMU faults a test expected."""
    expected, devs = set(), set()
    for i, line in enumerate(console):
        m = FAULTS_BEGIN_RE.search(line)
        if m:
            devs.add(m.group(1))
            continue
        if FAULTS_END_RE.search(line):
            devs.clear()
            continue
        m = DMAR_FAULT_RE.search(line)
        if devs and m and (m.group(2) is None or m.group(2) in devs):
            expected.add(i)
    return expected


def main(tap_path, console_path, extra_path=None, known_names="",
         xfail_path=None, kernel=""):
    passed, failed, skipped = 0, 0, 0
    xfail = expected_failures(xfail_path, kernel)
    lines = open(tap_path, errors="replace").read().splitlines()
    console = open(console_path, errors="replace").read().splitlines()

    def fail(msg):
        nonlocal failed
        failed += 1
        print(f"FAIL {msg}")

    # results of host-side steps (static checks), one "PASS x"/"FAIL x" a line
    if extra_path:
        for l in open(extra_path).read().splitlines():
            if l.startswith("PASS "):
                passed += 1
                print(l)
            elif l.startswith("FAIL "):
                fail(l[5:])

    current, plan, seen, bin_failed, done = None, None, 0, 0, False
    vm_exit = "VM died or timed out"
    for raw in lines:
        line = raw.rstrip("\r")
        if line.startswith("TERN-RIG: run "):
            current = line[len("TERN-RIG: run "):].strip()
            plan, seen, bin_failed = None, 0, 0
            continue
        if line.startswith("TERN-RIG: exit "):
            name, rc = line[len("TERN-RIG: exit "):].strip().rsplit(" ", 1)
            if plan is None:
                fail(f"{name}: no TAP plan (crashed before starting?)")
            elif seen < plan:
                fail(f"{name}: {plan - seen} of {plan} results missing")
            # kselftest exits 1 when a test failed (counted above), 4 when
            # all skipped; any other status (a signal, a crash) is a failure
            if rc not in ("0", "4") and bin_failed == 0:
                fail(f"{name}: exit status {rc}")
            current = None
            continue
        if line.startswith("TERN-RIG: fail "):
            fail(line[len("TERN-RIG: fail "):])
            continue
        if line.startswith("TERN-RIG: kmemleak "):
            n = int(line.split()[2])
            if n:
                fail(f"kmemleak: {n} unreferenced objects after the tests")
            continue
        if line.startswith("TERN-RIG: vm-exit "):
            vm_exit = line[len("TERN-RIG: vm-exit "):]
            continue
        if line.startswith("TERN-RIG: timeout"):
            fail(line[len("TERN-RIG: "):])
            continue
        if line.startswith("TERN-RIG: error"):
            fail(line[len("TERN-RIG: "):])
            continue
        if line.startswith("TERN-RIG: done"):
            done = True
            continue
        if current is None:
            continue
        m = PLAN_RE.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = RESULT_RE.match(line)
        if m:
            seen += 1
            name = f"{current}: {m.group(3)}"
            if m.group(5) and m.group(5).upper() == "SKIP":
                skipped += 1
                print(f"SKIP {name}")
            elif m.group(1) == "ok":
                passed += 1
                print(f"PASS {name}")
            elif name in xfail:
                bin_failed += 1
                skipped += 1
                print(f"XFAIL {name}: {xfail[name]}")
            else:
                bin_failed += 1
                fail(name)

    if current is not None:
        fail(f"{current}: did not finish ({vm_exit})")
    if not done:
        fail("run incomplete: no 'TERN-RIG: done' (see console.log)")

    names = [n for n in known_names.split(",") if n and n != "none"]
    known, count = known_splat_lines(console, names)
    for name, n in count.items():
        print(f"KNOWN {n} x {name}: {KNOWN_SPLATS[name][2]}")
    faults = expected_fault_lines(console)
    if faults:
        print(f"KNOWN {len(faults)} x iommu_faults_expected: DMA to unmapped "
              "IOVAs, on purpose, by the device the test named")
    splats = [l for i, l in enumerate(console)
              if SPLAT_RE.search(l) and i not in known and i not in faults]
    for l in splats[:20]:
        print(f"SPLAT {l.strip()}")
    if splats:
        fail(f"kernel log: {len(splats)} splat line(s) in {console_path}")

    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or not passed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:7]))
