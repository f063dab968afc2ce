#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install the uAPI headers of one of the cached kernel sources (no kernel
# build needed) into the cache, once per source version. Prints the include
# directory, for KHDR_INCLUDES.
#
# usage: uapi-headers.sh SOURCE     (e.g. linux-source-7.3)
set -euo pipefail
. "$(dirname "$0")/common.sh"

src="$RIG_CACHE/src/$1"
[ -f "$src/Makefile" ] || die "no kernel source in $src: run tools/rig/setup.sh"
ver=$(cat "$src/.deb-version" 2>/dev/null || dpkg-query -W -f='${Version}' "$1")
out="$RIG_CACHE/uapi-$1-$ver"
if [ ! -f "$out/.rig-done" ]; then
	rm -rf "$out"
	make -s -C "$src" O="$out/build" ARCH=x86_64 \
		INSTALL_HDR_PATH="$out" headers_install >&2
	rm -rf "$out/build"
	touch "$out/.rig-done"
fi
echo "$out/include"
