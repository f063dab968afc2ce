#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""What a hung test VM was doing, for the log of a run that timed out.

usage: vm-postmortem.py MONITOR_SOCKET [SYSTEM_MAP]

Asks the VM's human monitor (run-vm.sh starts one on a UNIX socket) for
its run state and each vCPU's state and instruction pointer, three times a
second apart, names the kernel function of each address from the
kernel's System.map, and prints each vCPU's local APIC (its timer).
Whether the vCPUs are halted (the kernel waits: see the guest's report of
blocked tasks in console.log), spin in one function (a lockup) or are
stuck in QEMU (no answer: the device model deadlocked) is what tells the
kinds of hang apart.
"""
import bisect
import re
import socket
import sys
import time

RIP_RE = re.compile(r"RIP=([0-9a-f]{16})")
PROMPT = b"(qemu) "


def load_symbols(path):
    addrs, names = [], []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] in "tTwW":
                    addrs.append(int(parts[0], 16))
                    names.append(parts[2])
    except OSError:
        pass
    order = sorted(range(len(addrs)), key=addrs.__getitem__)
    return [addrs[i] for i in order], [names[i] for i in order]


def symbolize(symbols, addr):
    addrs, names = symbols
    i = bisect.bisect_right(addrs, addr) - 1
    if i < 0 or addr - addrs[i] > 0x100000:
        return "?"
    return f"{names[i]}+{addr - addrs[i]:#x}"


class Monitor:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.read_to_prompt()

    def read_to_prompt(self):
        data = b""
        while not data.endswith(PROMPT):
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    def command(self, cmd):
        self.sock.sendall(cmd.encode() + b"\n")
        out = self.read_to_prompt()
        # the monitor echoes the command line (with terminal escapes)
        lines = out.replace("\r", "").split("\n")
        return "\n".join(l for l in lines[1:] if not l.startswith("(qemu)"))


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    symbols = load_symbols(sys.argv[2]) if len(sys.argv) > 2 else ([], [])
    try:
        mon = Monitor(sys.argv[1])
        print(mon.command("info status").strip())
        for sample in range(3):
            if sample:
                time.sleep(1)
            print(f"sample {sample + 1}:")
            for line in mon.command("info cpus").splitlines():
                print("  " + line.strip())
            regs = mon.command("info registers -a")
            for cpu, rip in enumerate(RIP_RE.findall(regs)):
                addr = int(rip, 16)
                print(f"  CPU {cpu}: RIP {addr:#x} {symbolize(symbols, addr)}")
        # each CPU's local APIC: a timer that is not armed (initial count
        # 0, or masked) on a CPU whose tasks wait for a timer tells a
        # clock event the guest never re-armed from an interrupt that
        # QEMU never delivered (a vector left in IRR)
        for cpu in range(len(RIP_RE.findall(regs))):
            print(f"local APIC of CPU {cpu}:")
            for line in mon.command(f"info lapic {cpu}").splitlines():
                print("  " + line.rstrip())
    except (OSError, socket.timeout) as e:
        print(f"the monitor does not answer ({e}): QEMU itself is stuck")


if __name__ == "__main__":
    main()
