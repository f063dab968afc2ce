# SPDX-License-Identifier: GPL-2.0
# The `make demo` suite: show the emulated host, then live-migrate a tern
# VF's state with tern-migrate, with pre-copy to a VF of the other PF (as
# between two hosts) and without it to another VF of the same PF.
. /rig/lib.sh

say() { echo "DEMO: $*"; }

say "kernel $(uname -r) booted under TCG with an emulated Intel IOMMU"
load vfio-pci vfio_iommu_type1 pci-pf-stub mtty tern_core tern-vfio-pci
say "loaded tern_core (PF: firmware admin queue) and tern-vfio-pci (VFs)"
vfs=$(tern_vfs 2)
other=$(tern_vfs 1 "$TERN_SELFTESTS_PF_OTHER")
set -- $vfs $other
say "two tern PFs, as two hosts would have: PF0 $TERN_SELFTESTS_PF and PF1 $TERN_SELFTESTS_PF_OTHER"
say "enabled 2 VFs on PF0 and 1 on PF1 and bound them to tern_vfio_pci:"
for bdf in $vfs $other; do
	say "  VF $bdf (PF $(basename "$(readlink /sys/bus/pci/devices/$bdf/physfn)")), IOMMU group $(basename "$(readlink /sys/bus/pci/devices/$bdf/iommu_group)"), $(( $(stat -c %s /sys/bus/pci/devices/$bdf/resource2) >> 20 )) MiB device memory"
done

migrate() {	# migrate NAME TITLE ARGS...
	name=$1 title=$2
	shift 2
	say ""
	say "$title"
	run_cmd_test "$name" sh -c "/tests/tern-migrate $* > /tmp/$name.out 2>&1"
	tr '\r' '\n' < "/tmp/$name.out" | grep -v '^$' | sed 's/^/DEMO:   /'
}

# figure NAME LABEL: a value of tern-migrate's summary, as printed
figure() { sed -n "s/^$2  *//p" "/tmp/$1.out"; }
# bytes NAME: the exact stop-copy byte count ("520 bytes", "1.0 MiB (N bytes)")
bytes() {
	awk '/^stop-copy bytes/ { v = $(NF - 1); gsub(/[()]/, "", v); print v }' \
		"/tmp/$1.out"
}

migrate pre-copy "VF $1 (PF0) -> VF $3 (PF1) with pre-copy, source rewriting 8 pages/ms" \
	--fill 1 --workload 8 --verify "$1" "$3"
migrate stop-copy "VF $1 -> VF $2 (both PF0) stop-copy only (no pre-copy)" \
	--no-precopy --fill 2 --verify "$1" "$2"
say ""
say "With pre-copy only the pages changed since the last pass travel while"
say "the VF is stopped; without it the whole device memory does."

say ""
if [ -x /usr/bin/qemu-system-x86_64 ]; then
	say "QEMU as the VMM: two QEMU 10.0 processes in this VM are the source"
	say "and destination of a machine with two tern VFs assigned (vfio-pci,"
	say "iommufd), the source's of PF0, the destination's of PF1. Its guest"
	say "is played over QEMU's qtest protocol; it keeps writing device memory,"
	say "and the engine keeps writing guest RAM, while QEMU migrates it with"
	say "pre-copy and the VFs' DMA dirty logging:"
	/tests/qemu_migration_test -r qemu_migration_test.default.two_vfs \
		> /tmp/qemu.out 2>&1
	rc=$?
	echo "TERN-RIG: run qemu_migration_test"
	cat /tmp/qemu.out
	echo "TERN-RIG: exit qemu_migration_test $rc"
	[ $rc = 0 ] && say "Both VFs verified on the destination (registers, jobs," &&
		say "device memory checksum, guest RAM written by DMA)."
else
	say "(no QEMU in this VM: skipped the QEMU migration)"
fi

say ""
# "97.1 KiB (99400 bytes)" -> "97.1 KiB"
short() { figure "$1" 'stop-copy bytes' | sed 's/ (.*)$//'; }
# the saving with as many decimals as it needs: 99.85 %, 99.99980 %
less=$(awk -v a="$(bytes pre-copy)" -v b="$(bytes stop-copy)" 'BEGIN {
	if (b <= 0) { print "n/a"; exit }
	rest = 100 * a / b; d = 2
	for (t = rest * 100; t > 0 && t < 10 && d < 9; t *= 10) d++
	printf("%." d "f %% less", 100 - rest) }')
say "With vs without pre-copy: downtime" \
	"$(figure pre-copy 'stop-copy time (downtime)') vs" \
	"$(figure stop-copy 'stop-copy time (downtime)'), sent while stopped" \
	"$(short pre-copy) vs $(short stop-copy) ($less)"
if [ -f /tmp/qemu.out ]; then
	say "QEMU's figures (two VFs, pre-copy, DMA dirty logging):"
	sed -n 's/^# QEMU: /DEMO:   /p' /tmp/qemu.out
fi
