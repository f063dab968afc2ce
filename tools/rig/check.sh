#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole `make check`: install what is missing, build (or reuse) the
# cached kernel and QEMU, build the modules with W=1, run sparse and
# checkpatch, build the selftests and the initramfs, boot the VM, run the
# suite and judge the logs. Ends with "N passed, N failed, N skipped".
#
# usage: check.sh [SUITE]    (default: check)
set -euo pipefail
. "$(dirname "$0")/common.sh"

suite=${1:-check}
# RIG_RUN_NAME keeps concurrent runs (e.g. two developers) apart
out="$RIG_CACHE/run/${RIG_RUN_NAME:-$suite}"
rm -rf "$out"
mkdir -p "$out"
results="$out/static.results"
: > "$results"
t0=$(date +%s)

step() { printf '\n[rig] === %s\n' "$*" >&2; }

step "setup (packages, sources)"
"$RIG_TOP/tools/rig/setup.sh"
step "QEMU with the tern model"
qemu=$("$RIG_TOP/tools/rig/build-qemu.sh")
step "kernel"
kbuild=$("$RIG_TOP/tools/rig/build-kernel.sh" ${RIG_KERNEL_FRAGMENTS:-})
ksrc="$RIG_CACHE/src/linux-source-6.12"

step "modules (W=1), sparse, checkpatch"
modules=()
if "$RIG_TOP/tools/rig/static-checks.sh" "$kbuild" "$results"; then :; fi
while IFS= read -r ko; do modules+=("$ko"); done < <(
	find "$RIG_TOP/drivers" -name '*.ko' 2>/dev/null | sort)

step "device model tests (qtest, no guest)"
python3 "$RIG_TOP/tools/qemu/tern-qtest/tern_qtest.py" "$qemu" \
	> "$out/qtest.log" 2>&1 || true
# the model's own TAP becomes host-side results ("PASS model: ...")
sed -n -e 's/^ok [0-9]* - \(.*\)/PASS model: \1/p' \
	-e 's/^not ok [0-9]* - \(.*\)/FAIL model: \1/p' "$out/qtest.log" >> "$results"
grep -q '^1\.\.' "$out/qtest.log" && [ "$(grep -c '^ok \|^not ok ' "$out/qtest.log")" = \
	"$(sed -n 's/^1\.\.//p' "$out/qtest.log")" ] ||
	echo "FAIL model: qtest run incomplete (see $out/qtest.log)" >> "$results"

step "selftests"
tests=$(make -s -C "$RIG_TOP/tools/testing/selftests/tern" print-tests)
mkdir -p "$out/selftests"
make -s -C "$RIG_TOP/tools/testing/selftests/tern" OUTPUT="$out/selftests" \
	KSFT_DIR="$ksrc/tools/testing/selftests" \
	KHDR_INCLUDES="-I$kbuild/usr-headers/include" >&2
make -s -C "$RIG_TOP/tools/tern-migrate" OUTPUT="$out/selftests" \
	KHDR_INCLUDES="-I$kbuild/usr-headers/include" >&2

step "initramfs and VM run"
# the VM also carries this QEMU: the end-to-end tests run it as the VMM
RIG_L1_QEMU=$qemu "$RIG_TOP/tools/rig/mkinitramfs.sh" "$kbuild" "$out/initramfs.cpio" \
	"$out/selftests" "$tests tern-migrate" "${modules[@]}"
"$RIG_TOP/tools/rig/run-vm.sh" "$qemu" "$kbuild/arch/x86/boot/bzImage" \
	"$out/initramfs.cpio" "$suite" "$out" "${RIG_TIMEOUT:-1200}"

log "total time $(( $(date +%s) - t0 ))s"
step "results (logs in $out)"
# the summary line "N passed, N failed, N skipped" is the run's last line
exec python3 "$RIG_TOP/tools/rig/tap-summary.py" "$out/tap.log" \
	"$out/console.log" "$results"
