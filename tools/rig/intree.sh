#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The drivers as part of a kernel tree: drivers/, include/linux/tern and
# Documentation/tern are copied into a copy of a kernel source (hard links,
# so the copy is cheap; every file the rig edits is replaced, never written
# through), the parent Kconfig and Makefile files get the lines an upstream
# submission would add, and both modules are built with
# CONFIG_TERN_CORE=m CONFIG_TERN_VFIO_PCI=m and W=1 on top of that kernel's
# rig configuration. Any warning fails.
#
# usage: intree.sh SOURCE KBUILD LOG    (e.g. linux-source-7.3, its O= dir)
set -euo pipefail
. "$(dirname "$0")/common.sh"

src="$RIG_CACHE/src/$1" kbuild=$2 logf=$3
tree="$RIG_CACHE/intree/$1"
out="$RIG_CACHE/intree/$1-build"

# a fresh copy of the pristine source, once per source version
if [ ! -f "$tree/.rig-copied" ] ||
   [ "$(cat "$tree/.rig-copied")" != "$(cat "$src/.deb-version" 2>/dev/null)" ]; then
	rm -rf "$tree" "$out"
	mkdir -p "$(dirname "$tree")"
	cp -al "$src" "$tree"
	cat "$src/.deb-version" > "$tree/.rig-copied"
fi

# the project's files (replacing links, so the pristine source is untouched)
for d in drivers/misc/tern drivers/vfio/pci/tern include/linux/tern \
	 Documentation/tern; do
	rm -rf "${tree:?}/$d"
	mkdir -p "$tree/$d"
	cp -a "$RIG_TOP/$d/." "$tree/$d/"
done

# add_line FILE ANCHOR_REGEX LINE: LINE after the last line matching
# ANCHOR_REGEX (or at the end), once; sed -i writes a new file
add_line() {
	grep -qxF "$3" "$tree/$1" && return 0
	if [ -n "$2" ] && grep -q "$2" "$tree/$1"; then
		local n
		n=$(grep -n "$2" "$tree/$1" | tail -1 | cut -d: -f1)
		sed -i "${n}a $3" "$tree/$1"
	else
		sed -i "\$a $3" "$tree/$1"
	fi
}
add_line drivers/misc/Kconfig '^source "drivers/misc/' 'source "drivers/misc/tern/Kconfig"'
add_line drivers/misc/Makefile '' 'obj-$(CONFIG_TERN_CORE)	+= tern/'
add_line drivers/vfio/pci/Kconfig '^source "drivers/vfio/pci/' 'source "drivers/vfio/pci/tern/Kconfig"'
add_line drivers/vfio/pci/Makefile '' 'obj-$(CONFIG_TERN_VFIO_PCI) += tern/'

mkdir -p "$out"
cp "$kbuild/.config" "$out/.config"
"$tree/scripts/config" --file "$out/.config" -m TERN_CORE -m TERN_VFIO_PCI
make -s -C "$tree" O="$out" ARCH=x86_64 olddefconfig > "$logf" 2>&1
for opt in CONFIG_TERN_CORE=m CONFIG_TERN_VFIO_PCI=m; do
	grep -qx "$opt" "$out/.config" ||
		{ echo "$opt did not survive olddefconfig" >> "$logf"; exit 1; }
done
make -C "$tree" O="$out" ARCH=x86_64 -j"$RIG_JOBS" W=1 \
	drivers/misc/tern/ drivers/vfio/pci/tern/ >> "$logf" 2>&1
! grep -E 'warning:|error:' "$logf"
