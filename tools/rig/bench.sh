#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: build (or reuse) everything, boot the rig VM with larger
# VF device memory and run tools/tern-bench in it (guest suite "bench").
# Prints the table and writes it as JSON to $RIG_CACHE/run/bench/bench.json.
# Not part of `make check`: it takes several minutes under TCG.
#
#   BENCH_DEVMEM_MB   device memory per VF (default 256)
#   BENCH_REPS        repetitions per figure (default 5)
#   BENCH_ONLY        subset, e.g. "precopy,stream" (default: all rows)
#
# Profiling the L0 QEMU process (the VM runs under TCG, so the device
# model's firmware and the guest both execute in it):
#   BENCH_TRACE       QEMU trace event patterns, comma-separated, e.g.
#                     "tern_admin_*,tern_save_*": logged with timestamps to
#                     $out/trace.log (the model's tools/qemu/tern/trace-events)
#   BENCH_PERF        1: run QEMU under `perf record` into $out/perf.data
#   BENCH_PERF_ARGS   perf record options (default "-F 999 -k CLOCK_REALTIME",
#                     the trace's clock, for trace-stats.py --perf)
#   KERNELS           the kernel to run on (tools/rig/kernels.sh; default debug)
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_TOP/tools/rig/kernels.sh"

out="$RIG_CACHE/run/${RIG_RUN_NAME:-bench}"
rm -rf "$out"
mkdir -p "$out/bin"
t0=$(date +%s)

qemu=$("$RIG_TOP/tools/rig/build-qemu.sh")
kernel=${KERNELS:-debug}
rig_kernel "$kernel"
bdir="$RIG_CACHE/modules/$kernel"
RIG_SPARSE=0 "$RIG_TOP/tools/rig/static-checks.sh" "$K_KDIR" "$bdir" /dev/null "$kernel" ||
	die "the modules do not build cleanly for the $kernel kernel"
modules=()
while IFS= read -r ko; do modules+=("$ko"); done < <(
	find "$bdir/drivers" -name '*.ko' 2>/dev/null | sort)
make -s -C "$RIG_TOP/tools/tern-bench" OUTPUT="$out/bin" \
	KHDR_INCLUDES="-I$("$RIG_TOP/tools/rig/uapi-headers.sh" linux-source-7.3)" \
	>&2 2> "$out/build.log" || {
	cat "$out/build.log" >&2
	exit 1
}
RIG_GUEST_MODULES=$K_GUEST_MODULES \
	"$RIG_TOP/tools/rig/mkinitramfs.sh" "$K_MODDIR" "$out/initramfs.cpio" \
	"$out/bin" "tern-bench" "${modules[@]}"
# QEMU, or a wrapper around it that adds tracing or perf to the VM's run
# (run-vm.sh also calls it for `-device help`, which stays unwrapped)
vmqemu=$qemu
if [ -n "${BENCH_TRACE:-}${BENCH_PERF:-}" ]; then
	vmqemu="$out/qemu-wrap.sh"
	{
		echo '#!/bin/bash'
		echo 'case " $* " in *" -kernel "*) ;; *) exec "$REAL_QEMU" "$@" ;; esac'
		if [ -n "${BENCH_TRACE:-}" ]; then
			echo 'set -- -msg timestamp=on -D "$OUT/trace.log" "$@"'
			IFS=, read -ra events <<< "$BENCH_TRACE"
			for ev in "${events[@]}"; do
				printf 'set -- -trace enable=%q "$@"\n' "$ev"
			done
		fi
		if [ -n "${BENCH_PERF:-}" ]; then
			echo 'exec perf record ${PERF_ARGS:--F 999 -k CLOCK_REALTIME} -o "$OUT/perf.data" -- "$REAL_QEMU" "$@"'
		else
			echo 'exec "$REAL_QEMU" "$@"'
		fi
	} > "$vmqemu"
	chmod +x "$vmqemu"
	export REAL_QEMU=$qemu OUT=$out PERF_ARGS=${BENCH_PERF_ARGS:-}
	command -v perf >/dev/null || [ -z "${BENCH_PERF:-}" ] ||
		die "BENCH_PERF: no perf on this host (Debian: linux-perf)"
fi
RIG_APPEND="tern.bench_reps=${BENCH_REPS:-5} ${BENCH_ONLY:+tern.bench_only=$BENCH_ONLY} tern.lacks=${K_LACKS:-none} ${RIG_APPEND:-}" \
TERN_PF_OPTS=${TERN_PF_OPTS-devmem-mb=${BENCH_DEVMEM_MB:-256}} \
	"$RIG_TOP/tools/rig/run-vm.sh" "$vmqemu" "$K_IMAGE" \
	"$out/initramfs.cpio" bench "$out" "${RIG_TIMEOUT:-3600}"

sed -n 's/^BENCH-JSON: //p' "$out/tap.log" > "$out/bench.json"
echo "tern-bench ($(date -u +%F), BENCH_DEVMEM_MB=${BENCH_DEVMEM_MB:-256}, logs in $out)"
sed -n 's/^BENCH: //p' "$out/tap.log"
echo
echo "JSON ($out/bench.json):"
cat "$out/bench.json"
log "total time $(( $(date +%s) - t0 ))s"
rc=0
python3 "$RIG_TOP/tools/rig/tap-summary.py" "$out/tap.log" "$out/console.log" \
	/dev/null >&2 || rc=$?
[ -s "$out/bench.json" ] || rc=1
exit $rc
