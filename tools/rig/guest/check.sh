# SPDX-License-Identifier: GPL-2.0
# The `make check` suite: every kselftest in /tests/list, in the order
# listed (through the installed kselftest runner where the initramfs has
# one, see lib.sh), then the upstream VFIO selftests, then tern-migrate,
# then libvirt; or only the tests named in tern.tests= (make check T=).
# init has named the devices (name_devices).
. /rig/lib.sh

load vfio-pci vfio_iommu_type1 pci-pf-stub tern_core tern-vfio-pci aer_inject
kernel_lacks mtty || load mtty

# the migration tool, as a VMM would run it, with a live workload
# (through the container where the kernel has no iommufd), from a VF of
# PF0 to a VF of PF1, as between two hosts
run_tern_migrate() {
	src=$(tern_vfs 1)
	dst=$(tern_vfs 1 "$TERN_SELFTESTS_PF_OTHER")
	path=
	kernel_lacks cdev && path=--legacy
	run_cmd_test tern-migrate /tests/tern-migrate $path --fill 7 \
		--workload 4 --verify "$src" "$dst"
}

# libvirt's managed hostdev and live migration between two libvirt
# daemons (tools/rig/guest/libvirt.sh)
run_libvirt() {
	run_test libvirt sh /rig/libvirt.sh
}

if [ -n "$TERN_TESTS" ]; then
	run_selected "$TERN_TESTS" run_tern_migrate run_libvirt
else
	for t in $(cat /tests/list); do
		case "$t:$TERN_KERNEL" in
		# the short randomised runs (60 s, 1,000 streams) on the kernels
		# with the debug checks they are for (lockdep, debug objects,
		# kmemleak; KASAN in check-kasan), once per make check
		tern_torture_test:debug | tern_resume_fuzz_test:debug) ;;
		tern_torture_test:kasan | tern_resume_fuzz_test:kasan) ;;
		tern_torture_test:* | tern_resume_fuzz_test:*)
			skip_test "$t" "runs on the debug and kasan kernels (make stress: the long run)"
			continue ;;
		esac
		run_listed "$t"
	done
	run_upstream_vfio
	run_tern_migrate
	run_libvirt
fi
