#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build and install the tern modules with DKMS (Debian's dkms, the way a
# host installs them: dkms.conf at the top of the repository) for one
# kernel, with DKMS's source, build and install trees in the cache instead
# of /usr/src, /var/lib/dkms and /lib/modules. Prints the installed module
# files, which the VM then loads.
#
# usage: dkms.sh KERNEL_RELEASE KDIR TREE
set -euo pipefail
. "$(dirname "$0")/common.sh"

kver=$1 kdir=$2 tree=$3
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$RIG_TOP/dkms.conf")
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$RIG_TOP/dkms.conf")
opts=(--sourcetree "$tree/src" --dkmstree "$tree/dkms"
      --installtree "$tree/install" -k "$kver" --kernelsourcedir "$kdir")

# what `dkms add` would copy to /usr/src/tern-<version>
rm -rf "$tree"
mkdir -p "$tree/src/$name-$ver" "$tree/dkms" "$tree/install/$kver"
(cd "$RIG_TOP" && git ls-files -co --exclude-standard -- dkms.conf Makefile \
	Kbuild Kconfig drivers include | rsync -a --files-from=- . \
	"$tree/src/$name-$ver/")
dkms add "$name/$ver" "${opts[@]}" >&2
dkms build "$name/$ver" "${opts[@]}" >&2 ||
	{ cat "$tree/dkms/$name/$ver/build/make.log" >&2 || true
	  die "dkms build for $kver failed"; }
dkms install "$name/$ver" "${opts[@]}" --no-depmod >&2
find "$tree/install/$kver" -name '*.ko*' | sort
