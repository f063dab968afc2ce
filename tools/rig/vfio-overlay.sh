#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Drop tern's additions to the kernel's VFIO selftests (this repository's
# tools/testing/selftests/vfio: lib/drivers/tern, the migration library
# lib/vfio_pci_migration.c and its header, vfio_pci_migration_test) into
# VFIO_DIR, a copy of UPSTREAM_VFIO_DIR (a kernel's
# tools/testing/selftests/vfio, 6.18 or later), and register them with a
# few guarded edits, as upstream would carry them: the driver table,
# LIBVFIO_C, libvfio.h, TEST_GEN_PROGS. Each edit is done once, so
# VFIO_DIR may be a cached copy. The overlay only adds files: one that
# exists upstream is an error. Each new line goes where a patch to
# upstream would put it (tools/rig/upstream-series.sh makes the patches
# with this script): a driver's after the last driver's, a library
# source after the last of libvfio's own sources.
#
# OVERLAY_DIR, laid out the same, replaces this repository's
# tools/testing/selftests/vfio: upstream-series.sh adds one patch's part
# of it at a time.
#
# usage: vfio-overlay.sh UPSTREAM_VFIO_DIR VFIO_DIR [OVERLAY_DIR]
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 2 ] || [ $# = 3 ] || die "usage: $0 UPSTREAM_VFIO_DIR VFIO_DIR [OVERLAY_DIR]"
upstream=$1 vfio=$2
[ -f "$vfio/lib/libvfio.mk" ] || die "$vfio: no lib/libvfio.mk (needs Linux 6.18 or later)"
overlay=${3:-"$RIG_TOP/tools/testing/selftests/vfio"}

overlay_files=$(cd "$overlay" && find . -type f -o -type l | sed 's|^\./||' | sort)
for rel in $overlay_files; do
	[ ! -e "$upstream/$rel" ] ||
		die "overlay file $rel exists upstream: the overlay only adds files"
done

drivers=() libs=() headers=() tests=()
for rel in $overlay_files; do
	mkdir -p "$vfio/$(dirname "$rel")"
	cmp -s "$overlay/$rel" "$vfio/$rel" || cp "$overlay/$rel" "$vfio/$rel"
	d=${rel#lib/drivers/}
	d=${d%%/*}
	if [ "$rel" = "lib/drivers/$d/$d.c" ]; then
		drivers+=("$d")
	elif [ "$rel" = "lib/${rel#lib/}" ] && [ "${rel#lib/*/}" = "$rel" ] &&
	     [ "${rel%.c}" != "$rel" ]; then
		libs+=("${rel#lib/}")
	elif [ "$rel" = "lib/include/libvfio/${rel##*/}" ]; then
		headers+=("${rel#lib/include/}")
	elif [ "$rel" = "$(basename "$rel" _test.c)_test.c" ]; then
		tests+=("${rel%.c}")
	fi
done

# before_blank FILE N: N, or N - 1 when the line above N is blank (a new
# line then ends the block above the blank line instead of opening N's)
before_blank() {
	if [ "$2" -gt 1 ] && [ -z "$(sed -n "$(($2 - 1))p" "$1")" ]; then
		echo $(($2 - 1))
	else
		echo "$2"
	fi
}

# the drivers: the driver table (a declaration after the last one, an
# entry at the end) and LIBVFIO_C (after the last driver's)
table="$vfio/lib/vfio_pci_driver.c"
mk="$vfio/lib/libvfio.mk"
for d in "${drivers[@]}"; do
	if ! grep -q "&${d}_ops," "$table"; then
		n=$(grep -n '^static struct vfio_pci_driver_ops \*driver_ops\[\] = {$' "$table" |
			cut -d: -f1)
		[ -n "$n" ] || die "no driver_ops[] table in lib/vfio_pci_driver.c"
		sed -i -e "$(before_blank "$table" "$n")i extern struct vfio_pci_driver_ops ${d}_ops;" \
			-e "/^static struct vfio_pci_driver_ops \*driver_ops\[\] = {$/,/^};$/{
s/^};$/\t\&${d}_ops,\n};/
}" "$table"
	fi
	if ! grep -q "^extern struct vfio_pci_driver_ops ${d}_ops;$" "$table" ||
	   ! grep -q "^	&${d}_ops,$" "$table"; then
		die "could not register ${d}_ops in lib/vfio_pci_driver.c"
	fi

	if ! grep -q "drivers/$d/$d.c" "$mk"; then
		n=$(grep -n '^LIBVFIO_OUTPUT := ' "$mk" | cut -d: -f1)
		[ -n "$n" ] || die "no LIBVFIO_OUTPUT in lib/libvfio.mk"
		sed -i "$(before_blank "$mk" "$n")i LIBVFIO_C += drivers/$d/$d.c" "$mk"
	fi
	grep -q "^LIBVFIO_C += drivers/$d/$d.c$" "$mk" ||
		die "could not add drivers/$d/$d.c to lib/libvfio.mk"
done
# the library's own sources (after the last of the first block of
# LIBVFIO_C lines, libvfio's own) and headers, beside upstream's
for c in "${libs[@]}"; do
	if ! grep -q "^LIBVFIO_C += $c$" "$mk"; then
		n=$(awk '/^LIBVFIO_C (:|\+)= / { n = NR; next } n { exit } END { print n }' "$mk")
		[ -n "$n" ] || die "no LIBVFIO_C in lib/libvfio.mk"
		sed -i "${n}a LIBVFIO_C += $c" "$mk"
	fi
	grep -q "^LIBVFIO_C += $c$" "$mk" || die "could not add $c to lib/libvfio.mk"
done
libvfio_h="$vfio/lib/include/libvfio.h"
for h in "${headers[@]}"; do
	if ! grep -q "^#include <$h>$" "$libvfio_h"; then
		n=$(grep -n '^#include <libvfio/' "$libvfio_h" | tail -1 | cut -d: -f1)
		[ -n "$n" ] || die "no libvfio/ include in lib/include/libvfio.h"
		sed -i "${n}a #include <$h>" "$libvfio_h"
	fi
done
for t in "${tests[@]}"; do
	if ! grep -q "^TEST_GEN_PROGS += $t$" "$vfio/Makefile"; then
		n=$(grep -n '^TEST_GEN_PROGS += ' "$vfio/Makefile" | tail -1 | cut -d: -f1)
		[ -n "$n" ] || die "no TEST_GEN_PROGS in the vfio Makefile"
		sed -i "${n}a TEST_GEN_PROGS += $t" "$vfio/Makefile"
	fi
done

