# SPDX-License-Identifier: GPL-2.0
# The `make demo` suite: show the emulated host, then live-migrate a tern
# VF's state to another VF with tern-migrate, with and without pre-copy.
. /rig/lib.sh

say() { echo "DEMO: $*"; }

say "kernel $(uname -r) booted under TCG with an emulated Intel IOMMU"
load vfio-pci vfio_iommu_type1 pci-pf-stub mtty tern_core tern-vfio-pci
say "loaded tern_core (PF: firmware admin queue) and tern-vfio-pci (VFs)"
vfs=$(tern_vfs 2)
set -- $vfs
say "enabled 2 VFs on the tern PF and bound them to tern_vfio_pci:"
for bdf in $vfs; do
	say "  VF $bdf, IOMMU group $(basename "$(readlink /sys/bus/pci/devices/$bdf/iommu_group)"), $(( $(stat -c %s /sys/bus/pci/devices/$bdf/resource2) >> 20 )) MiB device memory"
done

migrate() {	# migrate NAME TITLE ARGS...
	name=$1 title=$2
	shift 2
	say ""
	say "$title"
	run_cmd_test "$name" sh -c "/tests/tern-migrate $* > /tmp/out 2>&1"
	tr '\r' '\n' < /tmp/out | grep -v '^$' | sed 's/^/DEMO:   /'
}

migrate pre-copy "VF $1 -> VF $2 with pre-copy, source rewriting 8 pages/ms" \
	--fill 1 --workload 8 --verify "$1" "$2"
migrate stop-copy "VF $1 -> VF $2 stop-copy only (no pre-copy)" \
	--no-precopy --fill 2 --verify "$1" "$2"
say ""
say "With pre-copy only the pages changed since the last pass travel while"
say "the VF is stopped; without it the whole device memory does."

say ""
if [ -x /usr/bin/qemu-system-x86_64 ]; then
	say "QEMU as the VMM: two QEMU 10.0 processes in this VM are the source"
	say "and destination of a machine with two tern VFs assigned (vfio-pci,"
	say "iommufd). Its guest is played over QEMU's qtest protocol; it keeps"
	say "writing device memory, and the engine keeps writing guest RAM, while"
	say "QEMU migrates it with pre-copy and the VFs' DMA dirty logging:"
	/tests/qemu_migration -t two_vfs > /tmp/qemu.out 2>&1
	rc=$?
	echo "TERN-RIG: run qemu_migration"
	cat /tmp/qemu.out
	echo "TERN-RIG: exit qemu_migration $rc"
	sed -n 's/^# QEMU: /DEMO:   /p' /tmp/qemu.out
	[ $rc = 0 ] && say "Both VFs verified on the destination (registers, jobs," &&
		say "device memory checksum, guest RAM written by DMA)."
else
	say "(no QEMU in this VM: skipped the QEMU migration)"
fi
