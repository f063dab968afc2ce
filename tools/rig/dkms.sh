#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build and install the tern modules with DKMS (Debian's dkms, the way a
# host installs them) for one kernel, with DKMS's source, build and install
# trees in TREE instead of /usr/src, /var/lib/dkms and /lib/modules. Prints
# the installed module files, which the VM then loads.
#
# With DEB, the tern-dkms package (tools/rig/deb.sh), DKMS builds what the
# package ships: its /usr/src/tern-<version>, dkms.conf included, unpacked
# with dpkg-deb -x, as its postinst has DKMS build it on a host. Without
# (a run by hand), what `dkms add .` would copy from this tree.
#
# With DKMS_EXPECT=refusal, KERNEL_RELEASE is one tern does not support:
# `dkms build` must skip it for dkms.conf's BUILD_EXCLUSIVE_KERNEL (exit
# 77, and its message), and `dkms autoinstall` must report the failure
# README.md warns of (bookworm's dkms 3.0.10 counts a refused build as a
# failed autoinstall). Prints those two results.
#
# Otherwise it also goes through README.md's "Upgrading and removing" once
# the modules are installed: a second `dkms add` is refused ("already
# contains"), the removal (`dkms remove --all`, the /usr/src copy deleted)
# leaves no module and no DKMS entry behind, and the upgrade (add, build
# and install again) installs what the VM then loads.
#
# usage: dkms.sh KERNEL_RELEASE KDIR TREE [DEB]
set -euo pipefail
. "$(dirname "$0")/common.sh"

kver=$1 kdir=$2 tree=$3 deb=${4:-}
rm -rf "$tree"
if [ -n "$deb" ]; then
	mkdir -p "$tree/pkg"
	dpkg-deb -x "$deb" "$tree/pkg"
	srcroot="$tree/pkg/usr/src"
	confs=("$srcroot"/*/dkms.conf)
	[ ${#confs[@]} = 1 ] && [ -f "${confs[0]}" ] ||
		die "$deb: expected one /usr/src/*/dkms.conf"
	conf=${confs[0]}
else
	srcroot="$tree/src"
	conf="$RIG_TOP/dkms.conf"
fi
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$conf")
trees=(--sourcetree "$srcroot" --dkmstree "$tree/dkms"
       --installtree "$tree/install")
opts=("${trees[@]}" -k "$kver" --kernelsourcedir "$kdir")

mkdir -p "$tree/dkms" "$tree/install/$kver"
# place_sources: the sources in $srcroot/$name-$ver, as `dkms add .` (or
# the package) puts them in /usr/src/tern-<version>
place_sources() {
	if [ -n "$deb" ]; then
		dpkg-deb -x "$deb" "$tree/pkg"
	else
		mkdir -p "$srcroot/$name-$ver"
		(cd "$RIG_TOP" && git ls-files -co --exclude-standard -- dkms.conf \
			Makefile Kbuild Kconfig drivers include |
			rsync -a --files-from=- . "$srcroot/$name-$ver/")
	fi
}
if [ -n "$deb" ]; then
	[ "$(dirname "$conf")" = "$srcroot/$name-$ver" ] ||
		die "$deb: dkms.conf names $name $ver, but is in $(dirname "$conf")"
	log "dkms: the sources of $(basename "$deb")"
else
	place_sources
	log "dkms: the sources of $RIG_TOP"
fi
dkms add "$name/$ver" "${opts[@]}" >&2
if [ "${DKMS_EXPECT:-}" = refusal ]; then
	rc=0
	dkms build "$name/$ver" "${opts[@]}" > "$tree/build.log" 2>&1 || rc=$?
	cat "$tree/build.log" >&2
	[ $rc = 77 ] && grep -q 'includes a BUILD_EXCLUSIVE directive which does not match' \
		"$tree/build.log" ||
		die "dkms build for $kver: exit $rc, not a BUILD_EXCLUSIVE refusal (77)"
	[ ! -d "$tree/dkms/$name/$ver/$kver" ] ||
		[ -z "$(find "$tree/dkms/$name/$ver/$kver" -name '*.ko*')" ] ||
		die "dkms built modules for $kver"
	echo "dkms build $kver: refused (exit 77, BUILD_EXCLUSIVE)"
	rc=0
	dkms autoinstall "${opts[@]}" >&2 || rc=$?
	[ $rc != 0 ] ||
		die "dkms autoinstall for $kver succeeded: README.md's bookworm warning is out of date"
	echo "dkms autoinstall $kver: exit $rc (a failed autoinstall, as README.md says)"
	exit 0
fi
build_install() {
	dkms build "$name/$ver" "${opts[@]}" >&2 ||
		{ cat "$tree/dkms/$name/$ver/build/make.log" >&2 || true
		  die "dkms build for $kver failed"; }
	dkms install "$name/$ver" "${opts[@]}" --no-depmod >&2
	[ -n "$(find "$tree/install/$kver" -name '*.ko*')" ] ||
		die "dkms install for $kver installed no module"
}
build_install

# README.md, "Upgrading and removing": a second add is refused, in
# bookworm's dkms 3.0 words (tern-<version>) or trixie's 3.2 (tern/<version>)
rc=0
dkms add "$name/$ver" "${opts[@]}" > "$tree/add-again.log" 2>&1 || rc=$?
cat "$tree/add-again.log" >&2
[ $rc != 0 ] && grep -q "DKMS tree already contains: $name[-/]$ver" "$tree/add-again.log" ||
	die "a second dkms add: exit $rc, not README.md's \"already contains: $name-$ver\" (or $name/$ver)"
# the removal: nothing of tern left for this kernel, nor in DKMS's tree
dkms remove "$name/$ver" --all "${trees[@]}" >&2
rm -rf "${srcroot:?}/$name-$ver"
[ -z "$(find "$tree/install/$kver" -name '*.ko*')" ] ||
	die "dkms remove --all left modules for $kver"
[ -z "$(dkms status "$name" "${trees[@]}" 2>&1)" ] ||
	die "dkms status after the removal: $(dkms status "$name" "${trees[@]}" 2>&1)"
# the upgrade: add, build and install again, which the VM then loads
place_sources
dkms add "$name/$ver" "${opts[@]}" >&2
build_install
log "dkms: $kver installed, added again (refused), removed, installed again"
find "$tree/install/$kver" -name '*.ko*' | sort
