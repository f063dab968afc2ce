#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tern's selftests as a kselftest target of a kernel tree, built and
# installed the kselftest way. A scratch tree OUTDIR/tree gets what
# `make -C tools/testing/selftests TARGETS=tern install` needs from the
# kernel source KSRC (6.18 or later: the top of tools/testing/selftests,
# its kselftest/ and vfio/, tools/include and tools/arch,
# scripts/subarch.include; KSRC itself is only read) and tern as if it
# were merged: tools/testing/selftests/tern, and tern's additions to the
# VFIO selftests' library (tools/rig/vfio-overlay.sh), which the tern
# tests stand on. The build uses KSRC's uAPI headers
# (tools/rig/uapi-headers.sh, or UAPI_INCLUDE), links statically (the
# rig's VM has no libc) and fails on warnings. OUTDIR/install then holds
# run_kselftest.sh, kselftest/, kselftest-list.txt and tern/ (the
# binaries, config, settings and README.rst): a tree to copy anywhere and
# run as
#
#	TERN_SELFTESTS_PF=<PF address> ./run_kselftest.sh -c tern
#
# with TERN_SELFTESTS_PF_OTHER=<address of a second tern PF> to migrate
# between the two PFs (README.rst).
#
# usage: kselftest-install.sh KSRC OUTDIR [UAPI_INCLUDE]
# Prints the install directory.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# -ge 2 ] || die "usage: $0 KSRC OUTDIR [UAPI_INCLUDE]"
ksrc=$(cd "$1" && pwd)
[ -f "$ksrc/tools/testing/selftests/lib.mk" ] ||
	die "$ksrc: not a kernel source with kselftests"
uapi=${3:-$("$RIG_TOP/tools/rig/uapi-headers.sh" "$(basename "$ksrc")")}
[ -f "$uapi/linux/vfio.h" ] || die "$uapi: no uAPI headers"
mkdir -p "$2"
out=$(cd "$2" && pwd)
tree="$out/tree"
install="$out/install"
selftests="$tree/tools/testing/selftests"

[ -f "$ksrc/tools/testing/selftests/vfio/lib/libvfio.mk" ] ||
	die "$ksrc: no tools/testing/selftests/vfio/lib (the tern selftests need Linux 6.18 or later)"

rm -rf "$tree" "$install"
mkdir -p "$selftests/tern" "$tree/scripts" "$tree/tools"
find "$ksrc/tools/testing/selftests" -maxdepth 1 -type f \
	-exec cp -t "$selftests" {} +
cp -r "$ksrc/tools/testing/selftests/kselftest" "$selftests/"
cp -RL "$ksrc/tools/testing/selftests/vfio" "$selftests/"
cp -RL "$ksrc/tools/include" "$ksrc/tools/arch" "$tree/tools/"
cp "$ksrc/scripts/subarch.include" "$tree/scripts/"

# tern, merged: its selftests and its additions to the VFIO library
"$RIG_TOP/tools/rig/vfio-overlay.sh" "$ksrc/tools/testing/selftests/vfio" \
	"$selftests/vfio"
cp -R "$RIG_TOP/tools/testing/selftests/tern/." "$selftests/tern/"

log "kselftest install: tern from $ksrc into $install"
make -s -C "$selftests" TARGETS=tern FORCE_TARGETS=1 \
	INSTALL_PATH="$install" KHDR_INCLUDES="-isystem $uapi" \
	USERCFLAGS=-Werror USERLDFLAGS=-static install >&2
if ! [ -x "$install/run_kselftest.sh" ] ||
   ! grep -q '^tern:' "$install/kselftest-list.txt"; then
	die "kselftest install incomplete in $install"
fi
echo "$install"
