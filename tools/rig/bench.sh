#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: build (or reuse) everything, boot the rig VM with larger
# VF device memory and run tools/tern's tern-bench in it (guest suite
# "bench"). Prints the table (tools/tern/table.py) and writes it as JSON to
# $RIG_CACHE/run/bench/bench.json, and the pre-copy plots drawn from it
# (tools/tern/plots.py) next to it as bench-convergence.svg and
# bench-downtime.svg. Not part of `make check`: it takes several minutes
# under TCG.
#
#   BENCH_DEVMEM_MB   device memory per VF (default 256)
#   BENCH_REPS        repetitions per figure (default 5)
#   BENCH_ONLY        subset, e.g. "precopy,stream" (default: all rows);
#                     "nvf" is the N-VF row, a VM run of its own (below)
#   BENCH_DOCS        1: also copy the plots of a passing run to
#                     Documentation/tern/ (for performance.rst)
#   BENCH_SCALE       sizes in MiB, e.g. "64,256,1024": instead of the one
#                     run, one VM per device memory size (powers of 2 up to
#                     1024; TERN_PF_OPTS=devmem-mb=N,vfs=2) with only the
#                     stream row, in $out/devmem-N/; their save and resume
#                     time per GiB and peak kernel memory are merged into
#                     $out/scaling.json and one table (tools/tern/
#                     scaling.py). BENCH_DEVMEM_MB does not apply, and
#                     BENCH_ONLY and TERN_PF_OPTS must be unset.
#   BENCH_RINGS       e.g. "1x1024,4x1024,16x256": one VM run
#                     of the stream row once per ring shape of the migration
#                     data files, DEPTHxCHUNK_KB (tern-vfio-pci's
#                     module parameters depth and chunk_kb),
#                     side by side; the table of tools/tern/rings.py
#                     and $out/rings.json
#   BENCH_NVF_QEMU    the N-VF row's consumers: "default" (QEMU 10.0, the
#                     default), "other" (Debian's QEMU 11.1) or both,
#                     "default,other"
#   BENCH_NVF_COUNTS  its VF counts (default "1,2,4,7")
#   BENCH_NVF_DEVMEM_MB  its device memory per VF (default 16, as make check)
#   BENCH_CPU         the guest CPU model (default max), e.g. "max,-erms,-fsrm":
#                     a labelled variant that keeps the guest kernel's
#                     copies off "rep movsb", which TCG emulates byte by byte
#
# The N-VF row (BENCH_ONLY unset or naming nvf): a second VM run, with
# seven VFs on PF0 and PF1 (TERN_PF_OPTS=devmem-mb=N,vfs=7), in which
# qemu_migration_nvf_test (tools/testing/selftests/tern/qemu) has QEMU
# migrate a machine with N of PF0's VFs to PF1's, multifd off and on, and
# mtty as the baseline, BENCH_REPS times after a warm-up; logs in
# $out/nvf/, the table of tools/tern/nvf.py, $out/nvf/nvf.json and the plot
# $out/nvf/bench-nvf.svg.
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

# the scaling sizes, checked before anything is built
sizes=()
if [ -n "${BENCH_SCALE:-}" ]; then
	[ -z "${TERN_PF_OPTS+set}" ] ||
		die "BENCH_SCALE sets TERN_PF_OPTS itself (devmem-mb=N,vfs=2): unset it"
	[ "${BENCH_ONLY:-stream}" = stream ] ||
		die "BENCH_SCALE runs the stream row only: unset BENCH_ONLY"
	IFS=, read -ra sizes <<< "$BENCH_SCALE"
	for mb in "${sizes[@]}"; do
		# two VFs of 1 GiB fill half of the root port's 4 GiB window
		case $mb in
		1|2|4|8|16|32|64|128|256|512|1024) ;;
		*) die "BENCH_SCALE: '$mb' is not a power of 2 from 1 to 1024 (MiB)" ;;
		esac
	done
fi

if [ -n "${BENCH_RINGS:-}" ]; then
	[ -z "${BENCH_SCALE:-}" ] || die "BENCH_RINGS and BENCH_SCALE are separate runs"
	[ "${BENCH_ONLY:-stream}" = stream ] ||
		die "BENCH_RINGS runs the stream row only: unset BENCH_ONLY"
	IFS=, read -ra rings <<< "$BENCH_RINGS"
	for shape in "${rings[@]}"; do
		[[ $shape =~ ^([0-9]+)x([0-9]+)$ ]] &&
			[ "${BASH_REMATCH[1]}" -ge 1 ] && [ "${BASH_REMATCH[1]}" -le 16 ] &&
			[ "${BASH_REMATCH[2]}" -ge 4 ] && [ "${BASH_REMATCH[2]}" -le 1024 ] ||
			die "BENCH_RINGS: '$shape' is not DEPTHxCHUNK_KB (depth 1..16, chunk 4..1024 KiB)"
	done
fi

# BENCH_ONLY: tern-bench's rows, and nvf, the N-VF row's VM run
rows= bench=1 nvf=1
if [ -n "${BENCH_ONLY:-}" ]; then
	bench=0 nvf=0
	IFS=, read -ra only_rows <<< "$BENCH_ONLY"
	for r in "${only_rows[@]}"; do
		if [ "$r" = nvf ]; then
			nvf=1
		else
			bench=1 rows=${rows:+$rows,}$r
		fi
	done
fi
[ -z "${BENCH_SCALE:-}${BENCH_RINGS:-}" ] || nvf=0
[[ ${BENCH_NVF_QEMU:-default} =~ ^(default|other|default,other|other,default)$ ]] ||
	die "BENCH_NVF_QEMU: 'default', 'other' or 'default,other'"
[[ ${BENCH_NVF_COUNTS:-1} =~ ^[1-7](,[1-7])*$ ]] ||
	die "BENCH_NVF_COUNTS: VF counts from 1 to 7, comma-separated"

out="$RIG_CACHE/run/${RIG_RUN_NAME:-bench}"
rm -rf "$out"
mkdir -p "$out/bin"
t0=$(date +%s)

qemu=$("$RIG_TOP/tools/rig/build-qemu.sh")
kernel=${KERNELS:-debug}
rig_kernel "$kernel"
bdir="$RIG_CACHE/modules/$kernel"
# in the kernel's build root if its headers need one (tools/rig/kernels.sh)
"${K_IN_ROOT[@]}" env RIG_SPARSE=0 \
	"$RIG_TOP/tools/rig/static-checks.sh" "$K_KDIR" "$bdir" /dev/null "$kernel" ||
	die "the modules do not build cleanly for the $kernel kernel"
modules=()
while IFS= read -r ko; do modules+=("$ko"); done < <(
	find "$bdir/drivers" -name '*.ko' 2>/dev/null | sort)
# tern-bench stands on libvfio: the VFIO selftests of the 7.3 tree with
# tern's additions (tools/rig/upstream-vfio.sh, cached)
uapi=$("$RIG_TOP/tools/rig/uapi-headers.sh" linux-source-7.3)
uvfio=$("$RIG_TOP/tools/rig/upstream-vfio.sh" \
	"$RIG_CACHE/src/linux-source-7.3" "$RIG_CACHE/upstream-vfio" "$uapi")
make -s -C "$RIG_TOP/tools/tern" OUTPUT="$out/bin" \
	VFIO_SELFTESTS="$(dirname "$uvfio")/tree/tools/testing/selftests/vfio" \
	KHDR_INCLUDES="-isystem $uapi" "$out/bin/tern-bench" \
	> "$out/build.log" 2>&1 || {
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
			# after run-vm.sh's own -D, which it overrides
			echo 'set -- "$@" -msg timestamp=on -D "$OUT/trace.log"'
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
	# OUT, the directory of trace.log and perf.data, is run_bench's
	export REAL_QEMU=$qemu PERF_ARGS=${BENCH_PERF_ARGS:-}
	command -v perf >/dev/null || [ -z "${BENCH_PERF:-}" ] ||
		die "BENCH_PERF: no perf on this host (Debian: linux-perf)"
fi
# run_vm DIR PF_OPTS ONLY INITRAMFS: one VM run of the suite with the
# tern-pf properties PF_OPTS and the rows ONLY (empty: all), logs (and
# trace.log, perf.data) in DIR
run_vm() {
	local dir=$1 pf_opts=$2 only=$3 initramfs=$4

	mkdir -p "$dir"
	OUT=$dir RIG_CPU=${BENCH_CPU:-max} \
	RIG_APPEND="tern.bench_reps=${BENCH_REPS:-5} ${only:+tern.bench_only=$only} ${BENCH_RINGS:+tern.bench_rings=$BENCH_RINGS} tern.bench_nvf_qemu=${BENCH_NVF_QEMU:-default} ${BENCH_NVF_COUNTS:+tern.bench_nvf_counts=$BENCH_NVF_COUNTS} tern.lacks=${K_LACKS:-none} ${RIG_APPEND:-}" \
	TERN_PF_OPTS=$pf_opts \
		"$RIG_TOP/tools/rig/run-vm.sh" "$vmqemu" "$K_IMAGE" \
		"$initramfs" bench "$dir" "${RIG_TIMEOUT:-3600}"
}

# run_bench DIR PF_OPTS ONLY: run_vm with tern-bench, the JSON extracted to
# DIR/bench.json. Fails if the run did not pass or left no complete JSON.
run_bench() {
	local dir=$1 ret=0

	run_vm "$1" "$2" "$3" "$out/initramfs.cpio"
	sed -n 's/^BENCH-JSON: //p' "$dir/tap.log" > "$dir/bench.json"
	python3 "$RIG_TOP/tools/rig/tap-summary.py" "$dir/tap.log" \
		"$dir/console.log" /dev/null >&2 || ret=1
	# (a BENCH_RINGS run's JSON is per shape: rings.py checks it)
	[ -n "${BENCH_RINGS:-}" ] ||
		python3 -m json.tool "$dir/bench.json" >/dev/null 2>&1 || ret=1
	return $ret
}

# the table from the JSON, with the reductions; tern-bench's own if the
# JSON is incomplete (a run that failed half way)
print_table() {
	python3 "$RIG_TOP/tools/tern/table.py" "$1/bench.json" 2>/dev/null ||
		sed -n 's/^BENCH: //p' "$1/tap.log"
}

# matplotlib is Debian's python3-matplotlib (tools/rig/setup.sh), for the
# system python3, which may not be the first python3 in PATH
plot_python=/usr/bin/python3
[ -x "$plot_python" ] || plot_python=python3

rc=0
if [ ${#sizes[@]} -gt 0 ]; then
	jsons=()
	for mb in "${sizes[@]}"; do
		log "BENCH_SCALE: $mb MiB of device memory per VF"
		run_bench "$out/devmem-$mb" "devmem-mb=$mb,vfs=2" stream || rc=1
		python3 -m json.tool "$out/devmem-$mb/bench.json" >/dev/null 2>&1 &&
			jsons+=("$out/devmem-$mb/bench.json")
	done
	echo "tern-bench scaling ($(date -u +%F), BENCH_SCALE=$BENCH_SCALE, logs in $out)"
	for mb in "${sizes[@]}"; do
		echo
		print_table "$out/devmem-$mb"
	done
	echo
	if [ ${#jsons[@]} -gt 0 ]; then
		python3 "$RIG_TOP/tools/tern/scaling.py" "$out/scaling.json" \
			"${jsons[@]}" || rc=1
		echo "JSON: $out/scaling.json"
	else
		rc=1
	fi
	log "total time $(( $(date +%s) - t0 ))s"
	exit $rc
fi

if [ -n "${BENCH_RINGS:-}" ]; then
	run_bench "$out" "${TERN_PF_OPTS-devmem-mb=${BENCH_DEVMEM_MB:-256}}" \
		stream || rc=1
	echo "tern-bench ring shapes ($(date -u +%F), BENCH_RINGS=$BENCH_RINGS," \
		"BENCH_CPU=${BENCH_CPU:-max}, logs in $out)"
	python3 "$RIG_TOP/tools/tern/rings.py" "$out/rings.json" \
		"$out/tap.log" || rc=1
	echo "JSON: $out/rings.json"
	log "total time $(( $(date +%s) - t0 ))s"
	exit $rc
fi

# the N-VF row: qemu_migration_nvf_test of the selftests, built and
# installed the kselftest way, with the QEMUs it drives in the VM
run_nvf() {
	local dir=$out/nvf ksft debian=

	mkdir -p "$dir"
	ksft=$("$RIG_TOP/tools/rig/kselftest-install.sh" \
		"$RIG_CACHE/src/linux-source-7.3" "$out/kselftest" "$uapi" \
		2> "$dir/build.log") || {
		cat "$dir/build.log" >&2
		return 1
	}
	case ",${BENCH_NVF_QEMU:-default}," in
	*,other,*) debian="$RIG_CACHE/qemu-debian/root" ;;
	esac
	RIG_L1_QEMU=$qemu RIG_L1_QEMU_DEBIAN=$debian \
	RIG_GUEST_MODULES=$K_GUEST_MODULES \
		"$RIG_TOP/tools/rig/mkinitramfs.sh" "$K_MODDIR" \
		"$dir/initramfs.cpio" "$ksft/tern" qemu_migration_nvf_test \
		"${modules[@]}"
	run_vm "$dir" "devmem-mb=${BENCH_NVF_DEVMEM_MB:-16},vfs=7" nvf \
		"$dir/initramfs.cpio"
	python3 "$RIG_TOP/tools/rig/tap-summary.py" "$dir/tap.log" \
		"$dir/console.log" /dev/null >&2 || return 1
}

if [ $bench = 1 ]; then
	run_bench "$out" "${TERN_PF_OPTS-devmem-mb=${BENCH_DEVMEM_MB:-256}}" \
		"$rows" || rc=1
fi
if [ $nvf = 1 ]; then
	run_nvf || rc=1
	echo "N-VF row ($(date -u +%F), BENCH_NVF_DEVMEM_MB=${BENCH_NVF_DEVMEM_MB:-16}, logs in $out/nvf)"
	python3 "$RIG_TOP/tools/tern/nvf.py" "$out/nvf/tap.log" \
		"$out/nvf/nvf.json" || rc=1
	echo "JSON: $out/nvf/nvf.json"
	if [ -f "$out/nvf/nvf.json" ]; then
		if "$plot_python" "$RIG_TOP/tools/tern/plots.py" \
			"$out/nvf/nvf.json" "$out/nvf"; then
			if [ "${BENCH_DOCS:-0}" = 1 ] && [ $rc = 0 ]; then
				cp "$out/nvf/bench-nvf.svg" "$RIG_TOP/Documentation/tern/"
				echo "copied to Documentation/tern/bench-nvf.svg"
			fi
		else
			log "plots.py failed (matplotlib: python3-matplotlib, tools/rig/setup.sh)"
			rc=1
		fi
	fi
	[ $bench = 1 ] || {
		log "total time $(( $(date +%s) - t0 ))s"
		exit $rc
	}
	echo
fi
echo "tern-bench ($(date -u +%F), BENCH_DEVMEM_MB=${BENCH_DEVMEM_MB:-256}, BENCH_CPU=${BENCH_CPU:-max}, logs in $out)"
print_table "$out"
echo
echo "JSON: $out/bench.json"
# the plots, from a complete JSON (a run that failed half way has none)
if python3 -m json.tool "$out/bench.json" >/dev/null 2>&1; then
	if "$plot_python" "$RIG_TOP/tools/tern/plots.py" \
		"$out/bench.json" "$out"; then
		if [ "${BENCH_DOCS:-0}" = 1 ] && [ $rc = 0 ]; then
			for f in bench-convergence.svg bench-downtime.svg; do
				[ -f "$out/$f" ] || continue
				cp "$out/$f" "$RIG_TOP/Documentation/tern/$f"
				echo "copied to Documentation/tern/$f"
			done
		fi
	else
		log "plots.py failed (matplotlib: python3-matplotlib, tools/rig/setup.sh)"
		rc=1
	fi
fi
log "total time $(( $(date +%s) - t0 ))s"
exit $rc
