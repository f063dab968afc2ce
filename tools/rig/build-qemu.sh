#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build QEMU 10.0 from Debian's source with the tern device model added.
#
# The build tree is keyed by what forces a full reconfigure (QEMU source
# version, configure options, device list); the model sources are synced
# into it with rsync --checksum so that editing the model only recompiles
# the model. Prints the path of the qemu-system-x86_64 binary.
set -euo pipefail
. "$(dirname "$0")/common.sh"

src=$(ls -d "$RIG_CACHE"/src/qemu-10.0*/ 2>/dev/null | head -1)
[ -n "$src" ] || die "no QEMU source in $RIG_CACHE/src: run tools/rig/setup.sh"
src=${src%/}
model="$RIG_TOP/tools/qemu/tern"

CONFIGURE_OPTS="--target-list=x86_64-softmmu --without-default-features
 --without-default-devices --with-devices-x86_64=tern --enable-tcg
 --disable-docs --disable-install-blobs --disable-werror --python=/usr/bin/python3
 --enable-trace-backends=log --disable-download"
have_model=0
[ -f "$model/meson.build" ] && have_model=1

key=$( { echo "$src"; echo "$CONFIGURE_OPTS";
	cat "$RIG_TOP/tools/rig/qemu-devices.mak"; } | sha256sum | cut -c1-16)
build="$RIG_CACHE/qemu-$key"

# The source tree is shared by all keyed builds: integrate the model into it
# idempotently. Registration is a one-line hook per meson/Kconfig file.
# (files rewritten only when they change: meson reconfigures on any mtime)
{ cat "$RIG_TOP/tools/rig/qemu-devices.mak"
  [ $have_model = 0 ] || echo "CONFIG_TERN=y"; } > "$RIG_CACHE/.tern.mak"
cmp -s "$RIG_CACHE/.tern.mak" "$src/configs/devices/x86_64-softmmu/tern.mak" ||
	cp "$RIG_CACHE/.tern.mak" "$src/configs/devices/x86_64-softmmu/tern.mak"
if [ $have_model = 1 ]; then
	mkdir -p "$src/hw/misc/tern"
	rsync -rc --delete "$model/" "$src/hw/misc/tern/"
	# the single device ABI header, shared with the kernel drivers
	rsync -c "$RIG_TOP/include/linux/tern/tern_if.h" "$src/hw/misc/tern/tern_if.h"
	grep -q "subdir('tern')" "$src/hw/misc/meson.build" ||
		echo "subdir('tern')" >> "$src/hw/misc/meson.build"
	grep -q 'source tern/Kconfig' "$src/hw/misc/Kconfig" ||
		echo 'source tern/Kconfig' >> "$src/hw/misc/Kconfig"
	if [ -f "$model/trace-events" ] &&
	   ! grep -q "'hw/misc/tern'" "$src/meson.build"; then
		sed -i "s|^    'hw/misc',$|    'hw/misc',\n    'hw/misc/tern',|" "$src/meson.build"
		grep -q "'hw/misc/tern'" "$src/meson.build" ||
			die "could not register hw/misc/tern trace events"
	fi
fi

# Fixes QEMU 10.0 lacks, from tools/qemu/patches, applied to the shared
# source tree: a copy of each applied patch is kept in it, so that a patch
# changed or removed from the repository is reversed first (the build
# then recompiles what changed).
applied="$src/.tern-patches"
mkdir -p "$applied"
for p in "$applied"/*.patch; do
	[ -e "$p" ] || continue
	cmp -s "$p" "$RIG_TOP/tools/qemu/patches/${p##*/}" && continue
	log "reversing QEMU patch ${p##*/}"
	patch -d "$src" -p1 -R -s -f < "$p" || die "cannot reverse $p in $src"
	rm -f "$p"
done
for p in "$RIG_TOP"/tools/qemu/patches/*.patch; do
	[ -e "$p" ] || continue
	[ -e "$applied/${p##*/}" ] && continue
	log "applying QEMU patch ${p##*/}"
	patch -d "$src" -p1 -N -s -f < "$p" || die "$p does not apply to $src"
	cp "$p" "$applied/"
done

# an up-to-date build needs no lock: a warm run never waits for another
# run's kernel build
if [ -f "$build/build.ninja" ] &&
   ninja -C "$build" -n qemu-system-x86_64 2>/dev/null | grep -q '^ninja: no work to do'; then
	ln -sfn "$build" "$RIG_CACHE/qemu"
	echo "$build/qemu-system-x86_64"
	exit 0
fi
build_lock
if [ ! -f "$build/build.ninja" ]; then
	log "configuring QEMU in $build"
	rm -rf "$build"
	mkdir -p "$build"
	# shellcheck disable=SC2086
	(cd "$build" && "$src/configure" $CONFIGURE_OPTS >configure.log 2>&1) ||
		{ tail -30 "$build/configure.log" >&2; die "QEMU configure failed"; }
fi
log "building QEMU ($build)"
ninja -C "$build" -j"$RIG_JOBS" qemu-system-x86_64 >"$build/ninja.log" 2>&1 ||
	{ grep -B5 -A20 -m3 'error' "$build/ninja.log" >&2 || tail -40 "$build/ninja.log" >&2
	  die "QEMU build failed (log: $build/ninja.log)"; }
ln -sfn "$build" "$RIG_CACHE/qemu"
echo "$build/qemu-system-x86_64"
