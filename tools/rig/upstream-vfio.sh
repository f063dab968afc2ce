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
# The tern driver includes <linux/tern/tern_if.h> from this repository's
# include directory, added for the overlay's driver objects only.
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

# The overlay: new files only, never a replacement of an upstream one.
overlay_files=$(cd "$overlay" && find . -type f | sed 's|^\./||' | sort)
for rel in $overlay_files; do
	[ ! -e "$ksrc/tools/testing/selftests/vfio/$rel" ] ||
		die "overlay file $rel exists upstream: the overlay only adds files"
done

# The copy is redone when the source, the set of overlay files or this
# script changed. It dereferences symlinks (tools/include/linux/pci_ids.h
# and the register headers of lib/drivers point into drivers/ and include/).
# this script by content, not time: a fresh clone reuses the cache
want=$(printf '%s\n%s\n%s\n' "$ksrc" "$overlay_files" "$(sha256sum < "$0")")
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

# Register the overlay with upstream's build and driver table (each edit is
# done once: the tree is a cached copy).
table="$vfio/lib/vfio_pci_driver.c"
mk="$vfio/lib/libvfio.mk"
for d in "${drivers[@]}"; do
	if ! grep -q "&${d}_ops," "$table"; then
		sed -i -e "/^static struct vfio_pci_driver_ops \*driver_ops\[\] = {$/{
i extern struct vfio_pci_driver_ops ${d}_ops;\n
}" -e "/^static struct vfio_pci_driver_ops \*driver_ops\[\] = {$/,/^};$/{
s/^};$/\t\&${d}_ops,\n};/
}" "$table"
	fi
	if ! grep -q "^extern struct vfio_pci_driver_ops ${d}_ops;$" "$table" ||
	   ! grep -q "^	&${d}_ops,$" "$table"; then
		die "could not register ${d}_ops in lib/vfio_pci_driver.c"
	fi

	if ! grep -q "drivers/$d/$d.c" "$mk"; then
		sed -i "/^LIBVFIO_OUTPUT := /i LIBVFIO_C += drivers/$d/$d.c\n" "$mk"
		# shellcheck disable=SC2016 # make variables, for make
		printf '\n# %s\n$(LIBVFIO_OUTPUT)/drivers/%s/%s.o: CFLAGS += $(TERN_CFLAGS)\n' \
			"tern's include directory, for <linux/tern/tern_if.h>" "$d" "$d" >> "$mk"
	fi
	grep -q "^LIBVFIO_C += drivers/$d/$d.c$" "$mk" ||
		die "could not add drivers/$d/$d.c to lib/libvfio.mk"
done
# the library's own sources and headers, beside upstream's
for c in "${libs[@]}"; do
	grep -q "^LIBVFIO_C += $c$" "$mk" ||
		sed -i "0,/^LIBVFIO_C += /{/^LIBVFIO_C += /i LIBVFIO_C += $c
}" "$mk"
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

# Under TCG, pinning vfio_pci_driver_test's 1 GiB memcpy region costs about
# 15 s per test (20 tests on a kernel with every IOMMU mode: 316 s of the
# suite's 364 s). The rig maps 64 MiB, which still holds four times the
# tern driver's max_memcpy_size and the storm's two halves.
drv_test="$vfio/vfio_pci_driver_test.c"
sed -i 's/&self->memcpy_region, SZ_1G);/\&self->memcpy_region, SZ_64M);/' "$drv_test"
grep -q '&self->memcpy_region, SZ_64M);' "$drv_test" ||
	die "could not shrink the memcpy region of vfio_pci_driver_test.c"

# tern's device ABI header, copied into the tree like the overlay: the
# build's dependency files then never name the repository, which moves
# (a CI clone, then the developer's tree) while this cache stays
mkdir -p "$tree/tern-include/linux/tern"
for h in "$RIG_TOP"/include/linux/tern/*.h; do
	cmp -s "$h" "$tree/tern-include/linux/tern/${h##*/}" ||
		cp "$h" "$tree/tern-include/linux/tern/"
done
mk_args=(-C "$vfio" OUTPUT="$out/build" KHDR_INCLUDES="-isystem $uapi"
	 TERN_CFLAGS="-I$tree/tern-include" USERLDFLAGS=-static)
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
# ("u8 buf[n] = {};", valid C23; vfio_pci_irq_set() in 6.18's
# lib/vfio_pci_device.c has one, 7.3 has none):
# rewrite each one the compiler reports as a declaration and a memset().
if ! build; then
	vlas=$(sed -n 's/^\([^: ]*\):\([0-9]*\):[0-9]*: error: variable-sized object may not be initialized.*/\1:\2/p' \
		"$buildlog" | sort -u)
	[ -n "$vlas" ] || build_failed
	for v in $vlas; do
		f=${v%%:*} line=${v##*:}
		case "$f" in /*) ;; *) f="$vfio/$f" ;; esac
		sed -i "${line}s/\([A-Za-z_][A-Za-z0-9_]*\)\(\[[^]]*\]\) = {[^}]*};/\1\2; memset(\1, 0, sizeof(\1));/" "$f"
		log "patched a VLA initialiser for GCC $(gcc -dumpversion): ${f#"$tree/"}:$line"
	done
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
