#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's own VFIO selftests (tools/testing/selftests/vfio, 6.18
# and later) with tern's additions: the libvfio driver of the tern VF
# (lib/drivers/tern) and vfio_pci_migration_test. The additions live in this
# repository's tools/testing/selftests/vfio, laid out like the upstream
# directory; no upstream file is kept here. The script copies what the
# upstream Makefiles need out of KSRC into OUTDIR/tree (once per source:
# the copy is redone only when a source file or this script is newer),
# drops the additions in, registers them with a few guarded edits (driver
# table, LIBVFIO_C, libvfio.h, TEST_GEN_PROGS), and builds every test
# statically (the test VM has no libc) against UAPI_INCLUDE, the headers_install output of
# the kernel the tests are for (tools/rig/uapi-headers.sh).
#
# The tern driver's tern_if.h is a link to this repository's
# include/linux/tern/tern_if.h, as upstream's drivers link the register
# headers of theirs; the copy dereferences it.
#
# Prints the directory of the binaries (OUTDIR/bin); upstream's helper
# scripts (bash) go to OUTDIR/scripts. Build log: OUTDIR/build.log.
#
# usage: upstream-vfio.sh KSRC OUTDIR UAPI_INCLUDE
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 3 ] || die "usage: $0 KSRC OUTDIR UAPI_INCLUDE"
[ -f "$1/tools/testing/selftests/vfio/Makefile" ] ||
	die "no tools/testing/selftests/vfio in $1 (needs Linux 6.18 or later)"
[ -f "$3/linux/vfio.h" ] || die "no uAPI headers in $3 (linux/vfio.h)"
ksrc=$(cd "$1" && pwd)
uapi=$(cd "$3" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)

overlay="$RIG_TOP/tools/testing/selftests/vfio"
tree="$out/tree"
vfio="$tree/tools/testing/selftests/vfio"
stamp="$tree/.rig-source"
buildlog="$out/build.log"

# libvfio needs libuuid; a static link needs its archive (from uuid-dev)
uuid_a=$(gcc -print-file-name=libuuid.a)
[ "$uuid_a" != libuuid.a ] ||
	die "no static libuuid (libuuid.a): install uuid-dev (dpkg -L uuid-dev lists it)"

exec 8>"$out/.lock"
flock 8

# What the vfio Makefile and libvfio.mk reach outside their directory:
# ../lib.mk and the kselftest headers, tools/include (and the tools/arch
# headers it includes), scripts/subarch.include.
parts=(
	tools/include
	tools/arch
	scripts/subarch.include
	tools/testing/selftests/lib.mk
	tools/testing/selftests/kselftest
	tools/testing/selftests/vfio
)
for f in "$ksrc"/tools/testing/selftests/kselftest*.h; do
	parts+=("${f#"$ksrc/"}")
done

overlay_files=$(cd "$overlay" && find . -type f -o -type l | sed 's|^\./||' | sort)

# The copy is redone when the source, the set of overlay files or this
# script changed. It dereferences symlinks (tools/include/linux/pci_ids.h
# and the register headers of lib/drivers point into drivers/ and include/).
# these scripts by content, not time: a fresh clone reuses the cache
want=$(printf '%s\n%s\n%s\n' "$ksrc" "$overlay_files" \
	"$(cat "$0" "$RIG_TOP/tools/rig/vfio-overlay.sh" | sha256sum)")
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] ||
   [ -n "$(cd "$ksrc" && find -L "${parts[@]}" -newer "$stamp" -print -quit)" ]; then
	log "copying the VFIO selftests of $ksrc"
	rm -rf "$tree.new"
	for p in "${parts[@]}"; do
		mkdir -p "$tree.new/$(dirname "$p")"
		cp -RL "$ksrc/$p" "$tree.new/$p"
	done
	echo "$want" > "$tree.new/.rig-source"
	rm -rf "$tree" "$out/build"
	mv "$tree.new" "$tree"
fi

"$RIG_TOP/tools/rig/vfio-overlay.sh" "$ksrc/tools/testing/selftests/vfio" "$vfio"

# Under TCG, pinning vfio_pci_driver_test's 1 GiB memcpy region costs about
# 15 s per test (20 tests on a kernel with every IOMMU mode: 316 s of the
# suite's 364 s). The rig maps 64 MiB, which still holds four times the
# tern driver's max_memcpy_size and the storm's two halves.
drv_test="$vfio/vfio_pci_driver_test.c"
sed -i 's/&self->memcpy_region, SZ_1G);/\&self->memcpy_region, SZ_64M);/' "$drv_test"
grep -q '&self->memcpy_region, SZ_64M);' "$drv_test" ||
	die "could not shrink the memcpy region of vfio_pci_driver_test.c"

mk_args=(-C "$vfio" OUTPUT="$out/build" KHDR_INCLUDES="-isystem $uapi"
	 USERLDFLAGS=-static)
progs=$(make -s "${mk_args[@]}" COLLECTION=vfio emit_tests | sed -n 's/^vfio://p')
[ -n "$progs" ] || die "the vfio Makefile lists no tests (unsupported ARCH?)"

build() {
	log "building: $(echo "$progs" | tr '\n' ' ')"
	make -k -j"$RIG_JOBS" "${mk_args[@]}" >"$buildlog" 2>&1
}

build_failed() {
	grep -E ': (error|warning|undefined reference)|\*\*\*' "$buildlog" | head -40 >&2
	die "build failed (log: $buildlog)"
}

# Older GCC (12 here) rejects an initialiser on a variable-length array
# (vfio_pci_irq_set() in 6.18's lib/vfio_pci_device.c has one, 7.3 has
# none): rig_vla_fix rewrites them, and the build is tried again.
if ! build; then
	rig_vla_fix "$buildlog" "$vfio" || build_failed
	build || build_failed
fi

mkdir -p "$out/bin" "$out/scripts"
for t in $progs; do
	[ -x "$out/build/$t" ] || die "$t was not built (log: $buildlog)"
	case $(readelf -l "$out/build/$t") in
	*INTERP*) die "$t is not linked statically" ;;
	esac
	cmp -s "$out/build/$t" "$out/bin/$t" || cp "$out/build/$t" "$out/bin/$t"
done
cp "$vfio"/scripts/*.sh "$out/scripts/"

log "upstream VFIO selftests: $out/bin ($(echo "$progs" | wc -l) static binaries)"
echo "$out/bin"
