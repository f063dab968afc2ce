#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the project's kernel modules against KBUILD_DIR with W=1, then run
# sparse (C=2) and checkpatch --strict over the kernel sources. Each check
# appends a PASS/FAIL line to RESULTS; findings are printed. Exits non-zero
# if any check failed.
#
# usage: static-checks.sh KBUILD_DIR RESULTS
set -uo pipefail
. "$(dirname "$0")/common.sh"

kbuild=$1 results=$2
ksrc="$RIG_CACHE/src/linux-source-6.12"
rc=0
record() {	# record NAME STATUS LOGFILE
	if [ "$2" = 0 ]; then
		echo "PASS static: $1" >> "$results"
	else
		echo "FAIL static: $1" >> "$results"
		log "$1 failed:"; sed 's/^/    /' "$3" >&2
		rc=1
	fi
}

mapfile -t ksources < <(cd "$RIG_TOP" && git ls-files -co --exclude-standard \
	'drivers/*.[ch]' 'include/*.h' 2>/dev/null | sort)
if [ ${#ksources[@]} = 0 ]; then
	log "no kernel sources yet: nothing to build or check"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# W=1 build; any warning is a failure
make -C "$RIG_TOP" KDIR="$kbuild" W=1 modules >"$tmp/build" 2>&1
st=$?
grep -E 'warning:|error:' "$tmp/build" > "$tmp/w1" && st=1
[ $st = 0 ] || cat "$tmp/build" >> "$tmp/w1"
record "W=1 build" $st "$tmp/w1"

# sparse over every file (C=2 rechecks even up-to-date objects)
make -C "$RIG_TOP" KDIR="$kbuild" C=2 CHECK="sparse" modules >"$tmp/sparse.all" 2>&1
st=$?
grep -E 'warning:|error:' "$tmp/sparse.all" > "$tmp/sparse" && st=1
record "sparse C=2" $st "$tmp/sparse"

# checkpatch --strict on every kernel source file of the project
(cd "$RIG_TOP" && "$ksrc/scripts/checkpatch.pl" --strict --no-tree --quiet \
	-f "${ksources[@]}") \
	>"$tmp/checkpatch" 2>&1
st=$?
record "checkpatch --strict" $st "$tmp/checkpatch"
exit $rc
