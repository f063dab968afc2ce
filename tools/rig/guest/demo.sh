# SPDX-License-Identifier: GPL-2.0
# The `make demo` suite: narrate what the VM has and run the tests.
. /rig/lib.sh

say() { echo "DEMO: $*"; }

say "kernel $(uname -r) booted under TCG; IOMMU groups: $(ls /sys/kernel/iommu_groups | wc -l)"
for d in /sys/bus/pci/devices/*; do
	say "PCI $(basename "$d") $(cat "$d/vendor"):$(cat "$d/device") group $(basename "$(readlink "$d/iommu_group" 2>/dev/null)")"
done
load vfio-pci mtty
say "loaded vfio-pci and the mtty sample (the reference migratable mdev)"
for t in $(cat /tests/list); do
	run_test "$t" "/tests/$t"
	if [ "$RIG_LAST_STATUS" = 0 ]; then say "test $t: all passed"; else say "test $t: FAILED"; fi
done
