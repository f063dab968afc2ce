#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test VM's initramfs: busybox-static, the kernel's modules
# plus the project's modules (in updates/, depmod'ed), the selftest
# binaries and the guest scripts.
#
# MODDIR is the kernel's lib/modules/<release> directory. The rig's own
# kernels have few modules and all of them go in; for a distribution kernel
# set RIG_GUEST_MODULES to the modules the suite loads, and only they and
# their dependencies go in (decompressed: busybox modprobe reads plain .ko).
#
# With RIG_L1_QEMU=path/to/qemu-system-x86_64 the image also carries that
# QEMU (stripped), the libraries ldd lists for it and SeaBIOS, so that the
# VM can run QEMU itself as the VMM of the end-to-end tests (~13 MB).
#
# With RIG_L1_QEMU_DEBIAN=ROOT (Debian's QEMU unpacked by setup.sh) it also
# carries that second QEMU in /opt/qemu-debian: the binary, the libraries
# and the dynamic loader it loads from ROOT, and the accelerator module
# the tests use, started by /usr/bin/qemu-system-x86_64-debian (~68 MB).
#
# With RIG_L1_LIBVIRT=ROOT (Debian trixie's libvirt unpacked by setup.sh)
# it also carries libvirtd, its QEMU driver and virsh, with the libraries
# and dynamic loader they load from ROOT in /opt/libvirt (hard links to
# Debian's QEMU's where they are the same file), started by
# /usr/bin/libvirtd and /usr/bin/virsh (tools/rig/guest/libvirt.sh; ~19 MB).
#
# With RIG_L1_QEMU_TRIXIE=ROOT (Debian trixie's own QEMU 10.0, unpacked by
# setup.sh) it carries that one too, in /opt/qemu-trixie, started by
# /usr/bin/qemu-system-x86_64-trixie (~60 MB; the stock kernel's VM only).
#
# With RIG_KSELFTEST=DIR (tools/rig/kselftest-install.sh) the installed
# kselftest tree goes to /kselftest, and the TESTS it has link there; with
# RIG_UPSTREAM_VFIO=BINDIR the upstream VFIO selftests go to /upstream-vfio.
#
# usage: mkinitramfs.sh MODDIR OUT.cpio TEST_BIN_DIR "TESTS" [MODULE.ko...]
set -euo pipefail
. "$(dirname "$0")/common.sh"

moddir=$1 out=$2 testdir=$3 tests=$4
shift 4
kver=$(basename "$moddir")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,rig,tests,etc,lib/modules}
cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$RIG_TOP/tools/rig/guest/init" "$stage/init"
cp "$RIG_TOP"/tools/rig/guest/*.sh "$stage/rig/"
chmod +x "$stage/init"

if [ -z "${RIG_GUEST_MODULES:-}" ]; then
	cp -a "$moddir" "$stage/lib/modules/"
	rm -f "$stage/lib/modules/$kver/build" "$stage/lib/modules/$kver/source"
else
	mkdir -p "$stage/lib/modules/$kver"
	cp "$moddir"/modules.order "$moddir"/modules.builtin* "$stage/lib/modules/$kver/"
	# shellcheck disable=SC2086
	/sbin/modprobe -d "${moddir%/lib/modules/*}" -S "$kver" --show-depends \
		-a $RIG_GUEST_MODULES | awk '$1 == "insmod" { print $2 }' | sort -u |
	while read -r ko; do
		rel=${ko#"$moddir"/}
		mkdir -p "$stage/lib/modules/$kver/$(dirname "$rel")"
		case "$ko" in
		*.xz) xz -dc "$ko" > "$stage/lib/modules/$kver/${rel%.xz}" ;;
		*) cp "$ko" "$stage/lib/modules/$kver/$rel" ;;
		esac
	done
fi
mkdir -p "$stage/lib/modules/$kver/updates"
for ko in "$@"; do
	case "$ko" in
	*.xz) xz -dc "$ko" > "$stage/lib/modules/$kver/updates/$(basename "${ko%.xz}")" ;;
	*) cp "$ko" "$stage/lib/modules/$kver/updates/" ;;
	esac
done
/sbin/depmod -b "$stage" "$kver"

# the upstream VFIO selftests (tools/rig/upstream-vfio.sh), in the order
# of their list
if [ -n "${RIG_UPSTREAM_VFIO:-}" ]; then
	mkdir -p "$stage/upstream-vfio"
	cp "$RIG_UPSTREAM_VFIO"/* "$stage/upstream-vfio/"
	(cd "$RIG_UPSTREAM_VFIO" && ls) > "$stage/upstream-vfio/list"
fi
# an installed kselftest tree (tools/rig/kselftest-install.sh): its tests
# run from /kselftest, and /tests/NAME points there
if [ -n "${RIG_KSELFTEST:-}" ]; then
	mkdir -p "$stage/kselftest"
	cp -a "$RIG_KSELFTEST/." "$stage/kselftest/"
fi
for t in $tests; do
	if [ -e "$stage/kselftest/tern/$t" ]; then
		ln -s "../kselftest/tern/$t" "$stage/tests/$t"
	else
		cp "$testdir/$t" "$stage/tests/"
	fi
done
# the list holds the kselftests; other binaries (tools) ride along
echo "$tests" | tr ' ' '\n' | { grep -v '^tern-migrate$\|^tern-bench$' || true; } > "$stage/tests/list"
if [ -n "${RIG_L1_QEMU:-}" ]; then
	mkdir -p "$stage/usr/bin" "$stage/usr/share/qemu"
	strip -o "$stage/usr/bin/qemu-system-x86_64" "$RIG_L1_QEMU"
	# the dynamic loader and libraries, at the paths the binary names
	ldd "$RIG_L1_QEMU" | grep -o '/[^ ]*' | while read -r lib; do
		mkdir -p "$stage$(dirname "$lib")"
		cp -L "$lib" "$stage$lib"
	done
	cp /usr/share/seabios/bios-256k.bin /usr/share/qemu/kvmvapic.bin \
		"$stage/usr/share/qemu/"
fi
# stage_unpacked_qemu ROOT OPT: the qemu-system-x86_64 of an unpacked
# Debian root (tools/rig/setup.sh) into OPT/bin, with what its own dynamic
# loader loads into OPT/lib; a wrapper runs it through that loader
stage_unpacked_qemu() {
	local root=$1 opt=$2
	mkdir -p "$opt/bin" "$opt/lib" "$stage/usr/bin"
	cp "$root/usr/bin/qemu-system-x86_64" "$opt/bin/"
	"$root/usr/lib64/ld-linux-x86-64.so.2" \
		--library-path "$root/usr/lib/x86_64-linux-gnu" \
		--list "$root/usr/bin/qemu-system-x86_64" |
		awk '$3 ~ /^\// { print $3 }' |
		xargs -r cp -L -t "$opt/lib/"
}
if [ -n "${RIG_L1_QEMU_DEBIAN:-}" ]; then
	root=$RIG_L1_QEMU_DEBIAN opt="$stage/opt/qemu-debian"
	stage_unpacked_qemu "$root" "$opt"
	mkdir -p "$opt/modules"
	cp "$root/usr/lib/x86_64-linux-gnu/qemu/accel-qtest.so" "$opt/modules/"
	# Debian builds accelerators as modules, found through QEMU_MODULE_DIR
	cat > "$stage/usr/bin/qemu-system-x86_64-debian" <<'EOT'
#!/bin/sh
d=/opt/qemu-debian
QEMU_MODULE_DIR=$d/modules exec $d/lib/ld-linux-x86-64.so.2 \
	--library-path $d/lib $d/bin/qemu-system-x86_64 "$@"
EOT
	chmod +x "$stage/usr/bin/qemu-system-x86_64-debian"
fi
if [ -n "${RIG_L1_LIBVIRT:-}" ]; then
	root=$RIG_L1_LIBVIRT opt="$stage/opt/libvirt"
	drv=usr/lib/x86_64-linux-gnu/libvirt/connection-driver
	mkdir -p "$opt/bin" "$opt/lib" "$stage/$drv" "$stage/usr/share/libvirt" \
		"$stage/usr/bin"
	cp "$root/usr/sbin/libvirtd" "$root/usr/bin/virsh" "$opt/bin/"
	# where libvirtd looks for them: the QEMU driver (no other: libvirtd
	# skips the drivers it does not find) and the CPU models
	cp "$root/$drv/libvirt_driver_qemu.so" "$stage/$drv/"
	cp -r "$root/usr/share/libvirt/cpu_map" "$stage/usr/share/libvirt/"
	for bin in "$root/usr/sbin/libvirtd" "$root/usr/bin/virsh" \
		   "$root/$drv/libvirt_driver_qemu.so"; do
		"$root/usr/lib64/ld-linux-x86-64.so.2" \
			--library-path "$root/usr/lib/x86_64-linux-gnu" --list "$bin"
	done | awk '$3 ~ /^\// { print $3 }' | sort -u | while read -r lib; do
		# most are the very files Debian's QEMU carries (both are
		# trixie's): a hard link, which the cpio archive stores once
		same="$stage/opt/qemu-debian/lib/$(basename "$lib")"
		if [ -f "$same" ] && cmp -s "$lib" "$same"; then
			ln "$same" "$opt/lib/"
		else
			cp -L "$lib" "$opt/lib/"
		fi
	done
	# run through their own dynamic loader and libraries, like Debian's
	# QEMU; the QEMU they start is the system's (a child does not
	# inherit --library-path)
	for bin in libvirtd virsh; do
		cat > "$stage/usr/bin/$bin" <<EOT
#!/bin/sh
exec /opt/libvirt/lib/ld-linux-x86-64.so.2 --library-path /opt/libvirt/lib \\
	/opt/libvirt/bin/$bin "\$@"
EOT
		chmod +x "$stage/usr/bin/$bin"
	done
	# libvirt runs /sbin/modprobe to load a stub driver that is not loaded
	ln -sf ../bin/busybox "$stage/sbin/modprobe"
	# the users QEMU may run as: root (the test's qemu.conf), and Debian's
	# default, which the QEMU driver looks up before it reads qemu.conf
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/bin/false' \
		> "$stage/etc/passwd"
	printf '%s\n' 'root:x:0:' 'libvirt-qemu:x:64055:' > "$stage/etc/group"
fi
# trixie's QEMU as a trixie host has it, from its own root like Debian's
# 11.1 above; it has no accelerator modules to carry (its packaging drops
# accel-qtest: tools/testing/selftests/tern/qemu/qemu_vmm.c)
if [ -n "${RIG_L1_QEMU_TRIXIE:-}" ]; then
	stage_unpacked_qemu "$RIG_L1_QEMU_TRIXIE" "$stage/opt/qemu-trixie"
	cat > "$stage/usr/bin/qemu-system-x86_64-trixie" <<'EOT'
#!/bin/sh
d=/opt/qemu-trixie
exec $d/lib/ld-linux-x86-64.so.2 --library-path $d/lib $d/bin/qemu-system-x86_64 "$@"
EOT
	chmod +x "$stage/usr/bin/qemu-system-x86_64-trixie"
fi
[ -d "$RIG_TOP/tools/rig/guest/extra" ] && cp -a "$RIG_TOP/tools/rig/guest/extra/." "$stage/"

(cd "$stage" && find . | cpio -o -H newc --quiet) > "$out"
log "initramfs: $out ($(du -h "$out" | cut -f1))"
