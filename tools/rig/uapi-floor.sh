#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tern's userspace builds with the uAPI headers of every tree libvfio
# builds with (Linux 6.18 and later), not only with 7.1's: the two 7.1
# symbols it uses (VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
# VFIO_PRECOPY_INFO_REINIT) have fallback definitions in
# libvfio/vfio_pci_migration.h, and the programs find out at run time
# whether the kernel has them. This builds every program that uses them
# (the tern selftests, upstream-style vfio_pci_migration_test, tern-migrate
# and tern-bench) against UAPI_INCLUDE with those two taken out, as a 6.18
# to 7.0 tree has it. 6.12's cannot work: libvfio itself uses
# VFIO_DEVICE_BIND_FLAG_TOKEN, which 6.12 lacks.
#
# KSELFTEST_TREE is kselftest-install.sh's OUTDIR/tree, VFIO_DIR
# upstream-vfio.sh's prepared tools/testing/selftests/vfio.
#
# usage: uapi-floor.sh UAPI_INCLUDE KSELFTEST_TREE VFIO_DIR OUTDIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 4 ] || die "usage: $0 UAPI_INCLUDE KSELFTEST_TREE VFIO_DIR OUTDIR"
uapi=$1 st=$2/tools/testing/selftests vfio=$3 out=$4
[ -f "$uapi/linux/vfio.h" ] || die "$uapi: no uAPI headers"
[ -f "$st/tern/Makefile" ] || die "$2: no tern kselftest tree"
[ -f "$vfio/lib/libvfio.mk" ] || die "$vfio: no prepared VFIO selftests"

rm -rf "$out"
mkdir -p "$out/tern" "$out/vfio" "$out/tools"
cp -R "$uapi" "$out/include"
floor_h="$out/include/linux/vfio.h"
sed -i -e '/^#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2\b/d' \
	-e '/^#define VFIO_PRECOPY_INFO_REINIT\b/d' "$floor_h"
! grep -qE '^#define (VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2|VFIO_PRECOPY_INFO_REINIT)\b' \
	"$floor_h" || die "could not take 7.1's additions out of $floor_h"
khdr="-isystem $out/include"

users() {
	grep -lE 'VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2|VFIO_PRECOPY_INFO_REINIT' "$@" |
		sed 's|.*/||; s|\.c$||' | sort -u
}

# the tern selftests that use them, in the kselftest tree as installed
progs=$(users "$st"/tern/*.c "$st"/tern/qemu/*.c)
[ -n "$progs" ] || die "no tern selftest uses 7.1's symbols: nothing to check"
targets=()
for p in $progs; do targets+=("$out/tern/$p"); done
log "uAPI floor: ${progs//$'\n'/ } against $floor_h"
make -s -C "$st/tern" OUTPUT="$out/tern" KHDR_INCLUDES="$khdr" \
	USERCFLAGS=-Werror USERLDFLAGS=-static "${targets[@]}" >&2

# the VFIO selftests that tern adds
progs=$(users "$vfio"/*.c)
targets=()
for p in $progs; do targets+=("$out/vfio/$p"); done
if [ ${#targets[@]} -gt 0 ]; then
	make -s -C "$vfio" OUTPUT="$out/vfio" KHDR_INCLUDES="$khdr" \
		USERLDFLAGS=-static "${targets[@]}" >&2
fi

# the tools
make -s -C "$RIG_TOP/tools/tern" OUTPUT="$out/tools" VFIO_SELFTESTS="$vfio" \
	KHDR_INCLUDES="$khdr" >&2
