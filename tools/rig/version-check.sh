#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tern's version is written once, as TERN_VERSION in
# include/linux/tern/tern_version.h (X.Y.Z). Every other place that names
# it must agree: dkms.conf's PACKAGE_VERSION, the newest entry of
# debian/changelog, the first version heading of CHANGELOG.md, every
# tern/X.Y[.Z], tern-X.Y[.Z] and tern-dkms_X.Y[.Z] in README.md, and each
# module (a file with MODULE_LICENSE) says MODULE_VERSION(TERN_VERSION).
# Prints one line, "version X.Y.Z in every place" or what disagrees, and
# exits non-zero on any disagreement.
#
# usage: version-check.sh [TOP]    (default: this repository)
set -uo pipefail

top=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$top" || exit 1
hdr=include/linux/tern/tern_version.h
ver=$(sed -n 's/^#define TERN_VERSION "\(.*\)"$/\1/p' "$hdr" 2>/dev/null)
if ! [[ "$ver" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
	echo "version: no #define TERN_VERSION \"X.Y.Z\" in $hdr"
	exit 1
fi

bad=()
# same PLACE FOUND...: each FOUND must be the version (and one must be there)
same() {
	local place=$1 v
	shift
	[ $# -gt 0 ] || { bad+=("$place: none found"); return; }
	for v in "$@"; do
		[ "$v" = "$ver" ] || bad+=("$place: $v")
	done
}
same dkms.conf $(sed -n 's/^PACKAGE_VERSION="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' dkms.conf)
same debian/changelog $(sed -n '1s/^tern (\([^)]*\)).*/\1/p' debian/changelog)
same CHANGELOG.md $(grep -m1 -oP '^## \[\K[0-9][^]]*(?=\])' CHANGELOG.md)
same README.md $(grep -oE '\btern(/|-|-dkms_)[0-9]+(\.[0-9]+)+' README.md |
	sed -E 's/^tern(\/|-dkms_|-)//' | sort -u)
for f in $(grep -rl --include='*.c' '^MODULE_LICENSE(' drivers); do
	grep -q '^MODULE_VERSION(TERN_VERSION);$' "$f" &&
		grep -q '^#include <linux/tern/tern_version.h>$' "$f" ||
		bad+=("$f: no MODULE_VERSION(TERN_VERSION)")
done
# and no other version literal for a module
for f in $(grep -rlE 'MODULE_VERSION\("|PACKAGE_VERSION' drivers include); do
	bad+=("$f: a version of its own")
done

if [ ${#bad[@]} = 0 ]; then
	echo "version $ver in every place"
else
	echo "version $ver ($hdr) disagrees with $(IFS=,; echo "${bad[*]}" | sed 's/,/, /g')"
	exit 1
fi
