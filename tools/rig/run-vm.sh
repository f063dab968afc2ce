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
# the tern PF behind its own root port, when this QEMU has the model
if "$qemu" -device help 2>/dev/null | grep -q '"tern-pf"'; then
	# SeaBIOS does not size SR-IOV BARs: reserve a 64-bit window for the
	# VFs' device memory that Linux then assigns
	devices+=(-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,addr=0x6,pref64-reserve=4G
		  -device "tern-pf,bus=rp1${TERN_PF_OPTS:+,$TERN_PF_OPTS}")
fi

log "booting VM (suite $suite, log $out/console.log)"
start=$(date +%s)
rc=0
timeout --foreground "$timeout_s" "$qemu" \
	-M q35 -accel tcg -cpu "${RIG_CPU:-max}" -smp 2 -m "${RIG_VM_MEM:-3G}" \
	-nodefaults -display none -no-reboot \
	-L /usr/share/seabios -L /usr/share/qemu \
	-device intel-iommu,intremap=on \
	"${devices[@]}" \
	-serial "file:$out/console.log" -serial "file:$out/tap.log" \
	-kernel "$kernel" -initrd "$initrd" \
	-append "console=ttyS0 intel_iommu=on panic=-1 oops=panic \
		 softlockup_panic=1 tern.suite=$suite ${RIG_APPEND:-}" || rc=$?
log "VM exited after $(( $(date +%s) - start ))s (rc=$rc)"
[ $rc = 124 ] && echo "TERN-RIG: timeout after ${timeout_s}s" >> "$out/tap.log"
exit 0
