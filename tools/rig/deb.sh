#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the Debian package tern-dkms (debian/) the way a host admin does
# (README.md, "Installing on a host"), from a clean export of the tree:
# the files git tracks or would track (git ls-files -co --exclude-standard,
# as the DKMS test takes them), never the objects a `make` left; and the
# source package (3.0 native) from the same copy. Then lintian on the
# .changes, which covers the .deb and the .buildinfo, and on the .dsc: any
# error or warning fails. Everything lands in OUT_DIR (the build's copy of
# the tree in OUT_DIR/build); prints the .deb's path, also when lintian
# fails, so that the DKMS test can still build what the package ships.
#
# usage: deb.sh OUT_DIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 1 ] || die "usage: deb.sh OUT_DIR"
out=$1
ver=$(sed -n 's/^#define TERN_VERSION "\(.*\)"$/\1/p' \
	"$RIG_TOP/include/linux/tern/tern_version.h")
[ -n "$ver" ] || die "no TERN_VERSION in include/linux/tern/tern_version.h"

rm -rf "$out"
src="$out/build/tern-$ver"
mkdir -p "$src"
# a file deleted in the work tree but still tracked is left out
(cd "$RIG_TOP" && git ls-files -z -co --exclude-standard |
	rsync -a --from0 --files-from=- --ignore-missing-args . "$src/")

log "dpkg-source -b, dpkg-buildpackage -us -uc -b (in $src)"
(cd "$out/build" && dpkg-source -b "tern-$ver") >&2 || die "dpkg-source failed"
(cd "$src" && dpkg-buildpackage -us -uc -b) >&2 ||
	die "dpkg-buildpackage failed"
deb="$out/tern-dkms_${ver}_all.deb"
mv "$out"/build/tern-dkms_"$ver"_all.deb "$out"/build/tern_"$ver"_*.changes \
	"$out"/build/tern_"$ver"_*.buildinfo "$out"/build/tern_"$ver".dsc \
	"$out"/build/tern_"$ver".tar.* "$out/"
echo "$deb"

# the sources and dkms.conf in one directory, named after the version
dpkg-deb -c "$deb" > "$out/contents"
for f in dkms.conf Makefile Kbuild drivers/misc/tern/main.c \
	 include/linux/tern/tern_version.h; do
	grep -q " \./usr/src/tern-$ver/$f\$" "$out/contents" ||
		die "$deb has no /usr/src/tern-$ver/$f (see $out/contents)"
done

log "lintian"
lintian --fail-on error,warning --display-info "$out"/tern_"$ver"_*.changes \
	"$out/tern_$ver.dsc" >&2 || die "lintian: errors or warnings (above)"
log "tern-dkms $ver: lintian clean"
