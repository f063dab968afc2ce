#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the project's kernel modules against one kernel with W=1 and run
# sparse (C=2) over them. The sources are copied (unchanged files keep
# their times, so rebuilds stay incremental) into BUILD_DIR, one per kernel, so that
# builds for several kernels never share objects. Each check appends a
# PASS/FAIL line to RESULTS, prefixed by TAG; findings are printed. Exits
# non-zero if any check failed; the modules are in BUILD_DIR.
#
# usage: static-checks.sh KDIR BUILD_DIR RESULTS TAG
#   RIG_SPARSE=0 skips sparse (the T= loop of make check)
set -uo pipefail
. "$(dirname "$0")/common.sh"

kdir=$1 bdir=$2 results=$3 tag=$4
rc=0
record() {	# record NAME STATUS LOGFILE
	if [ "$2" = 0 ]; then
		echo "PASS $tag: $1" >> "$results"
	else
		echo "FAIL $tag: $1" >> "$results"
		log "$tag: $1 failed:"; sed 's/^/    /' "$3" >&2
		rc=1
	fi
}

mkdir -p "$bdir"
# by content, and without the sources' times: a file whose content changed
# gets a new mtime even if the checkout it comes from is older than the
# objects (switching between clones), so make rebuilds it
rsync -rlpD --checksum --delete --exclude '*.o' --exclude '*.ko' --exclude '.*.cmd' \
	--exclude '*.mod*' --exclude 'modules.order' --exclude 'Module.symvers' \
	--exclude '*.a' "$RIG_TOP"/{Makefile,Kbuild,Kconfig,drivers,include} "$bdir/"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# W=1 build; any warning is a failure
make -C "$bdir" KDIR="$kdir" W=1 modules >"$tmp/build" 2>&1
st=$?
grep -E 'warning:|error:' "$tmp/build" > "$tmp/w1" && st=1
[ $st = 0 ] || cat "$tmp/build" >> "$tmp/w1"
record "W=1 build" $st "$tmp/w1"

[ "${RIG_SPARSE:-1}" = 0 ] && exit $rc
# sparse over every file (C=2 rechecks even up-to-date objects)
make -C "$bdir" KDIR="$kdir" C=2 CHECK="sparse" modules >"$tmp/sparse.all" 2>&1
st=$?
grep -E 'warning:|error:' "$tmp/sparse.all" > "$tmp/sparse" && st=1
record "sparse C=2" $st "$tmp/sparse"
exit $rc
