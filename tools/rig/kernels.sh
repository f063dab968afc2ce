# SPDX-License-Identifier: GPL-2.0
# The kernels `make check` runs the suite on. Sourced, not run.
#
#   debug    Debian's linux-source-6.12 built with tools/rig/kernel.config
#            (lockdep, kmemleak, debug objects): the fast loop
#   kasan    the same with tools/rig/kernel-kasan.config (make check-kasan)
#   stock    Debian 13 trixie's default kernel (linux-image-6.12.*+deb13-
#            amd64) and its modules, as a trixie host runs it, unpacked by
#            setup.sh, not rebuilt; tern is built against the matching
#            linux-headers package in a trixie root (gcc-14, dkms 3.2), and
#            the QEMU tests' default consumer is trixie's own QEMU
#   current  linux-source-7.3 from trixie-backports with kernel.config
#
# rig_kernel NAME sets:
#   K_IMAGE    the bzImage to boot
#   K_MODDIR   its lib/modules/<release> directory
#   K_RELEASE  its release string (uname -r)
#   K_KDIR     the directory to build out-of-tree modules against
#   K_DKMS     1: the VM loads tern as DKMS built and installed it for this
#              kernel (the host path), else the rig's own W=1 build
#   K_INTREE   the source to check the in-tree build in (tools/rig/intree.sh)
#   K_KNOWN_SPLATS  kernel warnings that are the kernel's own (named in
#              tools/rig/tap-summary.py): listed, not failed
#   K_LACKS    features the kernel lacks by design, as the guest's
#              tern.lacks= list: a test needing one SKIPs there, and only
#              there (everywhere else a missing feature fails the test)
#   K_GUEST_MODULES  for a distribution kernel: the modules the suite
#              needs in the initramfs (with their dependencies)
#   K_IN_ROOT  for a kernel whose headers need another release's
#              toolchain: the command prefix that runs tern's builds for it
#              (W=1, sparse, DKMS) in that release's root (tools/rig/
#              common.sh rig_in_root); an empty array: this system
#   K_QEMU     the default consumer of the QEMU tests in the VM: "rig"
#              (the rig's QEMU 10.0 with the tern model) or "trixie"
#              (Debian trixie's own qemu-system-x86); the other consumer
#              is Debian's QEMU 11.1 on every kernel
RIG_ALL_KERNELS="debug stock current"

# rig_kernel_build NAME: build NAME (or reuse the cached build) if it is
# one of the rig's own kernels, and print its build directory
rig_kernel_build() {
	case "$1" in
	debug) RIG_KSRC=linux-source-6.12 "$RIG_TOP/tools/rig/build-kernel.sh" ;;
	kasan) RIG_KSRC=linux-source-6.12 "$RIG_TOP/tools/rig/build-kernel.sh" \
		kernel-kasan.config ;;
	current) RIG_KSRC=linux-source-7.3 "$RIG_TOP/tools/rig/build-kernel.sh" ;;
	esac
}

rig_kernel() {
	local name=$1 abi
	K_LACKS= K_GUEST_MODULES= K_DKMS=0 K_INTREE= K_KNOWN_SPLATS=
	K_QEMU=rig K_IN_ROOT=()
	case "$name" in
	debug|kasan|current)
		K_KDIR=$(rig_kernel_build "$name")
		K_IMAGE="$K_KDIR/arch/x86/boot/bzImage"
		K_RELEASE=$(cat "$K_KDIR/include/config/kernel.release")
		K_MODDIR="$K_KDIR/mod-install/lib/modules/$K_RELEASE"
		[ "$name" = current ] && K_DKMS=1 K_INTREE=linux-source-7.3 \
			K_KNOWN_SPLATS=sriov_remove_lockdep,aer_inject_wait_context
		# PRECOPY_INFOv2 and its REINIT flag came with 7.1
		[ "$name" = current ] || K_LACKS=precopy_info_v2
		;;
	stock)
		abi="$(rig_stock_abi)-amd64"
		local root="$RIG_CACHE/stock-${abi%-amd64}/root"
		[ -f "$RIG_CACHE/trixie-build/.rig-done" ] ||
			die "no trixie build root: run tools/rig/setup.sh"
		[ -f "$root/boot/vmlinuz-$abi" ] ||
			die "no stock kernel in $root: run tools/rig/setup.sh"
		K_RELEASE=$abi
		K_DKMS=1
		K_KDIR="$root/usr/src/linux-headers-$abi"
		K_IMAGE="$root/boot/vmlinuz-$abi"
		K_MODDIR="$root/lib/modules/$abi"
		# Debian's config (trixie's as bookworm's 6.12): no IOMMUFD (so
		# no vfio cdev and no IOMMUFD_DRIVER), no CONFIG_SAMPLES, no
		# FAULT_INJECTION; 6.12
		K_LACKS="cdev,dma_logging,mtty,fault_injection,precopy_info_v2,vfio_debugfs"
		K_GUEST_MODULES="vfio-pci vfio_iommu_type1 pci-pf-stub aer_inject"
		K_IN_ROOT=(rig_in_root "$RIG_CACHE/trixie-build/root")
		K_QEMU=trixie
		;;
	*)
		die "unknown kernel '$name' (known: $RIG_ALL_KERNELS kasan)"
		;;
	esac
}
