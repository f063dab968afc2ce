#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the test VM under TCG (q35 + intel-iommu with interrupt remapping)
# and run one guest suite. The kernel log goes to $OUT/console.log, the
# suite's output to $OUT/tap.log; the VM powers off when the suite ends.
#
# usage: run-vm.sh QEMU BZIMAGE INITRAMFS SUITE OUTDIR [TIMEOUT_S]
set -euo pipefail
. "$(dirname "$0")/common.sh"

qemu=$1 kernel=$2 initrd=$3 suite=$4 out=$5 timeout_s=${6:-900}
# 16 MiB of device memory per VF keeps the suite quick under TCG (the demo
# and the benchmark ask for more); the tests inject firmware faults.
TERN_PF_OPTS=${TERN_PF_OPTS-devmem-mb=16,fault-injection=on}
mkdir -p "$out"
rm -f "$out/console.log" "$out/tap.log"

devices=(
	# stock device for the rig smoke test, integrated on the root bus
	-device edu,bus=pcie.0,addr=0x5
)
# four tern PFs, when this QEMU has the model, each behind its own root
# port (its own bus numbers and IOMMU groups): PF0 and PF1, the same
# device, as the source and destination of a migration between hosts are
# two devices (the tests migrate from PF0's VFs to PF1's,
# TERN_SELFTESTS_PF_OTHER), and PF2 and PF3 of other kinds (guest/lib.sh
# names each by its root port)
if "$qemu" -device help 2>/dev/null | grep -q '"tern-pf"'; then
	# SeaBIOS does not size SR-IOV BARs: reserve a 64-bit window for the
	# VFs' device memory that Linux then assigns
	for pf in 1 2; do
		devices+=(-device pcie-root-port,id=rp$pf,bus=pcie.0,chassis=$pf,addr=0x$((5 + pf)),pref64-reserve=4G
			  -device "tern-pf,bus=rp$pf${TERN_PF_OPTS:+,$TERN_PF_OPTS}")
	done
	# the PFs a destination of another kind is made of, one VF each
	# (tern_compat_test, tools/rig/guest/lib.sh names them by root
	# port): PF2 runs the previous firmware with PF0's device memory,
	# PF3 the current firmware with 1 MiB
	pf0_devmem=$(echo ",$TERN_PF_OPTS," | sed -n 's/.*,devmem-mb=\([0-9]*\),.*/\1/p')
	devices+=(-device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,addr=0x8,pref64-reserve=4G
		  -device "tern-pf,bus=rp3,vfs=1,fw-version=1.0${pf0_devmem:+,devmem-mb=$pf0_devmem}"
		  -device pcie-root-port,id=rp4,bus=pcie.0,chassis=4,addr=0x9,pref64-reserve=64M
		  -device tern-pf,bus=rp4,vfs=1,devmem-mb=1)
fi

log "booting VM (suite $suite, log $out/console.log)"
# a human monitor for the post-mortem of a run that times out (a short
# path: a UNIX socket's is at most 107 bytes)
mon=$(mktemp -u "${TMPDIR:-/tmp}/tern-monitor.XXXXXX")
rm -f "$out/postmortem.log" "$out/timed-out" "$out/hung-task" \
	"$out/qemu.log" "$out/cpu-reset.log"
start=$(date +%s)
rc=0
"$qemu" \
	-M q35 -accel tcg -cpu "${RIG_CPU:-max}" -smp 2 -m "${RIG_VM_MEM:-3G}" \
	-nodefaults -display none -no-reboot \
	-L /usr/share/seabios -L /usr/share/qemu \
	-device intel-iommu,intremap=on \
	"${devices[@]}" \
	-monitor "unix:$mon,server=on,wait=off" \
	-serial "file:$out/console.log" -serial "file:$out/tap.log" \
	-kernel "$kernel" -initrd "$initrd" \
	-d cpu_reset -D "$out/cpu-reset.log" \
	-append "console=ttyS0 intel_iommu=on panic=-1 oops=panic \
		 softlockup_panic=1 tern.suite=$suite ${RIG_APPEND:-}" \
	2> "$out/qemu.log" &
qemu_pid=$!
# What the VM was doing (vCPU states and addresses, local APICs, QEMU's
# threads), recorded before it is ended early
postmortem() {
	{
		echo "$1"
		python3 "$RIG_TOP/tools/rig/vm-postmortem.py" "$mon" \
			"$(dirname "$kernel")/../../../System.map"
		if command -v gdb > /dev/null; then
			for p in $(pgrep -f -- "unix:$mon,"); do
				timeout 60 gdb -p "$p" -batch -nx \
					-ex 'thread apply all bt' 2>&1
			done
		fi
	} > "$out/postmortem.log" 2>&1
}
# The suite's deadline: a timer, not a synchronisation. When it fires,
# record the post-mortem, then end the VM as `timeout` would.
(
	set +e
	trap 'kill "$timer" 2> /dev/null; exit 0' TERM
	sleep "$timeout_s" < /dev/null > /dev/null 2>&1 &
	timer=$!
	wait "$timer"
	postmortem "suite $suite timed out after ${timeout_s}s"
	touch "$out/timed-out"
	kill "$qemu_pid"
) &
watchdog=$!
# A task blocked for longer than the guest's hung-task timeout (120 s)
# fails the suite whatever follows: end the VM at the guest's first report
# (kept in $out/hung-task) instead of at the deadline. The reader follows
# the console as QEMU writes it and stops with QEMU.
(
	set +e
	report=
	# read line by line as written (awk would wait for a full buffer)
	while IFS= read -r line; do
		case $line in
		*"INFO: task "*" blocked for more than"*) report=1 ;;
		esac
		[ -n "$report" ] || continue
		printf '%s\n' "$line"
		case $line in *"</TASK>"*) break ;; esac
	done < <(tail -n +1 -F --pid="$qemu_pid" "$out/console.log" 2> /dev/null) \
		> "$out/hung-task"
	[ -s "$out/hung-task" ] || exit 0
	kill "$watchdog" 2> /dev/null
	postmortem "suite $suite: a task blocked for more than the guest's hung-task timeout"
	touch "$out/timed-out"
	kill "$qemu_pid"
) &
hung_watch=$!
wait "$qemu_pid" || rc=$?
kill "$watchdog" 2> /dev/null || true
wait "$watchdog" 2> /dev/null || true
wait "$hung_watch" 2> /dev/null || true
log "VM exited after $(( $(date +%s) - start ))s (rc=$rc)"
# what QEMU printed (warnings; an abort's message), in the run's log too
sed 's/^/[qemu] /' "$out/qemu.log" >&2
if [ -e "$out/timed-out" ]; then
	echo "TERN-RIG: timeout: $(head -1 "$out/postmortem.log") (post-mortem: $out/postmortem.log)" >> "$out/tap.log"
	log "VM timed out: post-mortem in $out/postmortem.log"
elif ! grep -q '^TERN-RIG: done' "$out/tap.log" 2> /dev/null; then
	# the VM ended before the suite did: say how, for the summary
	if grep -q 'Triple fault' "$out/cpu-reset.log" 2> /dev/null; then
		why="the guest triple-faulted (CPU state: $out/cpu-reset.log)"
	elif [ "$rc" != 0 ]; then
		why="QEMU exited with status $rc: $(grep . "$out/qemu.log" | tail -1)"
	else
		why="the guest reset itself: a panic (panic=-1) or a reboot, see console.log"
	fi
	echo "TERN-RIG: vm-exit $why" >> "$out/tap.log"
fi
rm -f "$mon"
exit 0
