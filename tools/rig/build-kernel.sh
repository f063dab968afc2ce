#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build a test VM kernel from one of Debian's kernel sources with the rig's
# config fragment(s), out of tree (O=) in a cache directory keyed by the
# source version and the fragments. Prints the build directory.
#
# usage: [RIG_KSRC=SOURCE] build-kernel.sh [extra-fragment ...]
#   SOURCE: linux-source-6.12 (default) or linux-source-7.3, as unpacked
#   into the cache by setup.sh; extra fragments: e.g. kernel-kasan.config
set -euo pipefail
. "$(dirname "$0")/common.sh"

srcname=${RIG_KSRC:-linux-source-6.12}
src="$RIG_CACHE/src/$srcname"
[ -f "$src/Makefile" ] || die "no kernel source in $src: run tools/rig/setup.sh"
if [ -f "$src/.deb-version" ]; then
	ver=$(cat "$src/.deb-version")
else
	ver=$(dpkg-query -W -f='${Version}' "$srcname")
fi

frags=("$RIG_TOP/tools/rig/kernel.config")
for f in "$@"; do frags+=("$RIG_TOP/tools/rig/$f"); done

key=$( { echo "$ver"; cat "${frags[@]}"; } | sha256sum | cut -c1-16)
out="$RIG_CACHE/kernel-$key"
if [ -f "$out/.rig-done" ]; then
	echo "$out"
	exit 0
fi

build_lock
# another run (or check.sh's background build) may have built it meanwhile
if [ -f "$out/.rig-done" ]; then
	echo "$out"
	exit 0
fi
log "building $srcname $ver in $out (cold: ~12 min on 2 cores)"
mkdir -p "$out"
cat "${frags[@]}" > "$out/rig.fragment"
make -s -C "$src" O="$out" ARCH=x86_64 KCONFIG_ALLCONFIG="$out/rig.fragment" \
	allnoconfig >"$out/build.log" 2>&1
make -s -C "$src" O="$out" ARCH=x86_64 olddefconfig >>"$out/build.log" 2>&1

# Kconfig silently drops options whose dependencies are not met: check that
# every requested value really is in the final .config.
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=n)
		opt=${line%%=*}
		if grep -q "^$opt=" "$out/.config"; then
			log "config: $opt requested off but is on"; bad=1
		fi ;;
	CONFIG_*=*)
		grep -qx "$line" "$out/.config" ||
			{ log "config: $line requested but got: $(grep "^$line\|^# ${line%%=*} " "$out/.config" || echo unset)"
			  grep -q "${line%%=*}[= ]" "$out/.config" || true; bad=1; } ;;
	esac
done < <(grep -h '^CONFIG_' "${frags[@]}")
[ $bad = 0 ] || die "kernel config fragment not satisfied (see above)"

make -C "$src" O="$out" ARCH=x86_64 -j"$RIG_JOBS" bzImage modules \
	>>"$out/build.log" 2>&1 ||
	{ grep -B2 -A10 -m5 'error:' "$out/build.log" >&2 || tail -30 "$out/build.log" >&2
	  die "kernel build failed (log: $out/build.log)"; }
rm -rf "$out/mod-install" "$out/usr-headers"
make -s -C "$src" O="$out" ARCH=x86_64 INSTALL_MOD_PATH="$out/mod-install" \
	modules_install >>"$out/build.log" 2>&1
make -s -C "$src" O="$out" ARCH=x86_64 INSTALL_HDR_PATH="$out/usr-headers" \
	headers_install >>"$out/build.log" 2>&1
touch "$out/.rig-done"
log "kernel ready"
echo "$out"
