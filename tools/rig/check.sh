#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The whole `make check`: install what is missing, build (or reuse) the
# cached QEMU and kernels, run checkpatch, kernel-doc -Wall (6.12 and
# 7.3) and the version check, build the tern-dkms package (lintian), run
# the model tests, check the upstream series of tern's additions to the
# VFIO selftests (tools/rig/upstream-series.sh), build the selftests,
# then for each kernel build the modules with W=1, run sparse,
# build them with DKMS from the package where the kernel asks for it,
# build the initramfs, boot the VM, run the suite and judge the logs. Ends
# with one "kernel K: N passed, N failed, N skipped" line per kernel and
# the total "N passed, N failed, N skipped" as the last line.
#
# usage: check.sh [SUITE]    (default: check)
#   KERNELS   kernels to run on, space or comma separated (tools/rig/
#             kernels.sh); default: all of them for the check suite, the
#             debug kernel for the others (demo, bench) and with T
#   T         the quick loop: only these tests (comma-separated selftest
#             binaries, TEST_F names or fixture.variant.test names,
#             tern-migrate or libvirt), none of the static checks but the
#             W=1 build (which is all the demo and bench suites do
#             either) and the upstream series
set -euo pipefail
. "$(dirname "$0")/common.sh"
. "$RIG_TOP/tools/rig/kernels.sh"

suite=${1:-check}
only=${T:-}
if [ -n "$only" ] && ! [[ "$only" =~ ^[A-Za-z0-9_.,-]+$ ]]; then
	log "T=$only: expected comma-separated test names ([A-Za-z0-9_.-])"
	exit 2
fi
# full: the whole check, with every static check; the demo, the benchmark
# and the T= loop build the modules (W=1) and run their tests only
full=0
[ "$suite" = check ] && [ -z "$only" ] && full=1
if [ $full = 1 ]; then
	kernels=${KERNELS:-$RIG_ALL_KERNELS}
else
	kernels=${KERNELS:-debug}
fi
kernels=${kernels//,/ }
# RIG_RUN_NAME keeps concurrent runs (e.g. two developers) apart
out="$RIG_CACHE/run/${RIG_RUN_NAME:-$suite}"
rm -rf "$out"
mkdir -p "$out"
results="$out/host.results"
: > "$results"
t0=$(date +%s)

step() { printf '\n[rig] === %s\n' "$*" >&2; }

step "setup (packages, sources)"
"$RIG_TOP/tools/rig/setup.sh"
step "QEMU with the tern model"
qemu=$("$RIG_TOP/tools/rig/build-qemu.sh")

host_checks() {
	step "checkpatch --strict"
	mapfile -t ksources < <(cd "$RIG_TOP" && git ls-files -co --exclude-standard \
		'drivers/*.[ch]' 'include/*.h' | sort)
	if (cd "$RIG_TOP" && "$RIG_CACHE/src/linux-source-6.12/scripts/checkpatch.pl" \
		--strict --no-tree --quiet -f "${ksources[@]}") >"$out/checkpatch.log" 2>&1; then
		echo "PASS static: checkpatch --strict" >> "$results"
	else
		echo "FAIL static: checkpatch --strict (see $out/checkpatch.log)" >> "$results"
		cat "$out/checkpatch.log" >&2
	fi

	step "kernel-doc -Wall"
	# both kernels' kernel-doc: 6.12's perl one and 7.3's python one
	local kd kdfail=
	for kd in "$RIG_CACHE/src/linux-source-6.12/scripts/kernel-doc" \
		  "$RIG_CACHE/src/linux-source-7.3/scripts/kernel-doc"; do
		(cd "$RIG_TOP" && "$kd" -Wall -none "${ksources[@]}") \
			>> "$out/kernel-doc.log" 2>&1 || kdfail=1
	done
	if [ -z "$kdfail" ] && ! grep -qi 'warning\|error' "$out/kernel-doc.log"; then
		echo "PASS static: kernel-doc -Wall (6.12 and 7.3)" >> "$results"
	else
		echo "FAIL static: kernel-doc -Wall (see $out/kernel-doc.log)" >> "$results"
		cat "$out/kernel-doc.log" >&2
	fi

	step "version in every place"
	local vline
	if vline=$("$RIG_TOP/tools/rig/version-check.sh" 2>&1); then
		echo "PASS static: $vline" >> "$results"
	else
		echo "FAIL static: $vline" >> "$results"
		echo "$vline" >&2
	fi

	step "tern-dkms package (dpkg-buildpackage, lintian)"
	# the .deb's path also when only lintian failed: DKMS builds its sources
	if tern_deb=$("$RIG_TOP/tools/rig/deb.sh" "$out/deb" 2>"$out/deb.log"); then
		echo "PASS static: tern-dkms package, lintian clean" >> "$results"
	else
		echo "FAIL static: tern-dkms package, lintian clean (see $out/deb.log)" \
			>> "$results"
		cat "$out/deb.log" >&2
	fi
	[ -f "$tern_deb" ] || tern_deb=

	step "DKMS refuses bookworm's 6.1 (the tern-dkms package's sources)"
	local rel61
	rel61=$(cat "$RIG_CACHE/bookworm-6.1/release")
	if [ -n "$tern_deb" ] && DKMS_EXPECT=refusal "$RIG_TOP/tools/rig/dkms.sh" \
		"$rel61" "$RIG_CACHE/bookworm-6.1/root/usr/src/linux-headers-$rel61" \
		"$RIG_CACHE/dkms/refusal" "$tern_deb" > "$out/dkms-refusal.log" 2>&1; then
		echo "PASS static: dkms refuses $rel61 (BUILD_EXCLUSIVE_KERNEL)" >> "$results"
	else
		echo "FAIL static: dkms refuses $rel61 (see $out/dkms-refusal.log)" >> "$results"
		tail -5 "$out/dkms-refusal.log" >&2
	fi

	step "plain make: a missing KDIR and bookworm's 6.1 refused in words"
	# parse time only (make -n): what a host admin reads instead of make's
	# bare "No such file or directory" or 6.1's compile errors
	local no_kdir old_kdir
	no_kdir=$(cd "$RIG_TOP" && make -n KDIR="$out/no-such-kdir" 2>&1 || true)
	old_kdir=$(cd "$RIG_TOP" && make -n \
		KDIR="$RIG_CACHE/bookworm-6.1/root/usr/src/linux-headers-$rel61" 2>&1 || true)
	if grep -q "no kernel build tree in KDIR=$out/no-such-kdir: install the kernel's headers" \
		<<< "$no_kdir" &&
	   grep -q ": tern needs 6.12 or later (Debian 12 bookworm: linux-image-6.12-amd64" \
		<<< "$old_kdir"; then
		echo "PASS static: plain make names a missing KDIR and refuses $rel61" >> "$results"
	else
		echo "FAIL static: plain make does not say what is missing or too old" >> "$results"
		printf '%s\n' "$no_kdir" "$old_kdir" | tail -4 >&2
	fi

	# Debian's 6.12 for bookworm is no longer booted (the stock kernel is
	# trixie's): DKMS still builds, installs, removes and reinstalls tern
	# for it, with bookworm's dkms and gcc 12, from the package's sources
	step "DKMS builds for bookworm's 6.12 (the tern-dkms package's sources)"
	local rel612
	rel612=$(cat "$RIG_CACHE/bookworm-6.12/release")
	if [ -n "$tern_deb" ] && "$RIG_TOP/tools/rig/dkms.sh" "$rel612" \
		"$RIG_CACHE/bookworm-6.12/root/usr/src/linux-headers-$rel612" \
		"$RIG_CACHE/dkms/bookworm-6.12" "$tern_deb" \
		> "$out/dkms-bookworm-6.12.log" 2>&1; then
		echo "PASS static: dkms build and install for $rel612 (bookworm), README.md's removal and upgrade" >> "$results"
	else
		echo "FAIL static: dkms build and install for $rel612 (see $out/dkms-bookworm-6.12.log)" >> "$results"
		tail -5 "$out/dkms-bookworm-6.12.log" >&2
	fi

	step "device model tests (qtest, no guest)"
	python3 "$RIG_TOP/tools/qemu/tern-qtest/tern_qtest.py" "$qemu" \
		> "$out/qtest.log" 2>&1 || true
	# the model's own TAP becomes host-side results ("PASS model: ...")
	sed -n -e 's/^ok [0-9]* - \(.*\)/PASS model: \1/p' \
		-e 's/^not ok [0-9]* - \(.*\)/FAIL model: \1/p' "$out/qtest.log" >> "$results"
	grep -q '^1\.\.' "$out/qtest.log" && [ "$(grep -c '^ok \|^not ok ' "$out/qtest.log")" = \
		"$(sed -n 's/^1\.\.//p' "$out/qtest.log")" ] ||
		echo "FAIL model: qtest run incomplete (see $out/qtest.log)" >> "$results"
}
# the tern-dkms package (full check only): what DKMS builds, if there is one
tern_deb=
[ $full = 0 ] || host_checks

# tern's additions to the VFIO selftests as a patch series for upstream:
# it must apply to a clean 7.3 tree, build there and be checkpatch
# --strict clean (a few seconds; also in the T= loop)
if [ "$suite" = check ]; then
	step "upstream series of the VFIO selftests (git am, build, checkpatch on 7.3)"
	if "$RIG_TOP/tools/rig/upstream-series.sh" "$out/upstream-series" \
		> /dev/null 2> "$out/upstream-series.log"; then
		echo "PASS static: upstream series: git am, build, checkpatch --strict on 7.3" \
			>> "$results"
	else
		echo "FAIL static: upstream series (see $out/upstream-series.log)" \
			>> "$results"
		cat "$out/upstream-series.log" >&2
	fi
fi

step "selftests"
# one build for every kernel, against the newest uAPI headers: the tests
# find out at run time what the kernel under test offers
uapi=$("$RIG_TOP/tools/rig/uapi-headers.sh" linux-source-7.3)
# built and installed as a kselftest target of the 7.3 tree, the way a
# kernel developer does; the VM runs them with the installed runner
ksft=$("$RIG_TOP/tools/rig/kselftest-install.sh" \
	"$RIG_CACHE/src/linux-source-7.3" "$out/kselftest" "$uapi")
tests=$(sed -n 's/^tern://p' "$ksft/kselftest-list.txt" | tr '\n' ' ')
# upstream's VFIO selftests of 7.3, with tern's libvfio driver and
# vfio_pci_migration_test dropped in (cached: rebuilt when they change)
uvfio=$("$RIG_TOP/tools/rig/upstream-vfio.sh" \
	"$RIG_CACHE/src/linux-source-7.3" "$RIG_CACHE/upstream-vfio" "$uapi")
# the tools, on the libvfio of that prepared tree (upstream-vfio.sh keeps
# it beside the binaries, OUTDIR/tree); the VM carries tern-migrate
mkdir -p "$out/selftests"
make -s -C "$RIG_TOP/tools/tern" OUTPUT="$out/selftests" \
	VFIO_SELFTESTS="$(dirname "$uvfio")/tree/tools/testing/selftests/vfio" \
	KHDR_INCLUDES="-isystem $uapi" >&2
if [ $full = 1 ]; then
	step "selftests and tools against uAPI headers without 7.1's additions"
	if "$RIG_TOP/tools/rig/uapi-floor.sh" "$uapi" "$(dirname "$ksft")/tree" \
		"$(dirname "$uvfio")/tree/tools/testing/selftests/vfio" \
		"$out/uapi-floor" > "$out/uapi-floor.log" 2>&1; then
		echo "PASS static: selftests and tools build without 7.1's uAPI additions" \
			>> "$results"
	else
		echo "FAIL static: selftests and tools without 7.1's uAPI additions (see $out/uapi-floor.log)" \
			>> "$results"
	fi

	step "tern-migrate and tern-bench command lines"
	# one result for the whole table of checks; the failures one by one
	"$RIG_TOP/tools/tern/cli-test.sh" "$out/selftests" > "$out/cli-test.log" 2>&1
	npass=$(grep -c '^PASS cli: ' "$out/cli-test.log" || true)
	if grep '^FAIL cli: ' "$out/cli-test.log" >> "$results"; then
		:
	elif [ "$npass" -gt 0 ]; then
		echo "PASS cli: tern-migrate and tern-bench options ($npass checks)" >> "$results"
	else
		echo "FAIL cli: no results (see $out/cli-test.log)" >> "$results"
	fi
fi
# the README's commands for hosts, run in the VM as a host admin would
python3 "$RIG_TOP/tools/rig/readme-blocks.py" guest "$RIG_TOP/README.md" \
	"$out/selftests/readme-host"
chmod +x "$out/selftests/readme-host"
tests="$tests readme-host"
# the README's quoted error messages, caused in the VM (troubleshoot.sh)
python3 "$RIG_TOP/tools/rig/readme-blocks.py" messages "$RIG_TOP/README.md" \
	"$out/selftests/readme-messages"
chmod +x "$out/selftests/readme-messages"
tests="$tests readme-messages"

# Build the kernels in the background, in order, at the lowest priority:
# while the first kernel's VM runs, the next kernel builds in the CPU time
# the VM leaves idle, and a VM run never waits for a build it does not need.
(
	for k in $kernels; do
		nice -n 19 bash -c '. "$0/tools/rig/common.sh"; . "$0/tools/rig/kernels.sh";
			rig_kernel_build "$1" >/dev/null' "$RIG_TOP" "$k" || exit 1
	done
) 2> "$out/kernel-builds.log" &
kernel_builds=$!

# run_vm: the suite in a VM of kernel $k (rig_kernel's K_*), its logs in
# $kout
run_vm() {
	RIG_APPEND="${RIG_APPEND:-} tern.kernel=$k tern.lacks=${K_LACKS:-none} tern.qemu=$K_QEMU${only:+ tern.tests=$only}" \
		"$RIG_TOP/tools/rig/run-vm.sh" "$qemu" "$K_IMAGE" \
		"$kout/initramfs.cpio" "$suite" "$kout" "${RIG_TIMEOUT:-1200}"
}

summaries=()
for k in $kernels; do
	step "kernel $k"
	rig_kernel "$k"
	kout="$out/$k"
	mkdir -p "$kout"
	cp "$results" "$kout/static.results"

	# the builds for a kernel whose headers need another release's
	# toolchain run in that release's root (K_IN_ROOT)
	step "$k: modules (W=1)$([ $full = 0 ] || echo ", sparse")"
	bdir="$RIG_CACHE/modules/$k"
	"${K_IN_ROOT[@]}" env RIG_SPARSE=$full \
		"$RIG_TOP/tools/rig/static-checks.sh" "$K_KDIR" "$bdir" \
		"$kout/static.results" "static($k)" || true
	if [ -n "$K_INTREE" ] && [ $full = 1 ]; then
		step "$k: in-tree build (W=1)"
		if "$RIG_TOP/tools/rig/intree.sh" "$K_INTREE" "$K_KDIR" \
			"$kout/intree.log" >&2; then
			echo "PASS static($k): in-tree build, W=1" >> "$kout/static.results"
		else
			echo "FAIL static($k): in-tree build, W=1 (see $kout/intree.log)" \
				>> "$kout/static.results"
		fi
	fi
	modules=()
	if [ "$K_DKMS" = 1 ] && [ $full = 1 ]; then
		step "$k: dkms build and install${tern_deb:+, sources of the tern-dkms package}"
		if "${K_IN_ROOT[@]}" "$RIG_TOP/tools/rig/dkms.sh" "$K_RELEASE" "$K_KDIR" \
			"$RIG_CACHE/dkms/$k" ${tern_deb:+"$tern_deb"} \
			> "$kout/dkms.modules" 2> "$kout/dkms.log"; then
			echo "PASS static($k): dkms build and install, README.md's removal and upgrade" >> "$kout/static.results"
		else
			echo "FAIL static($k): dkms build and install (see $kout/dkms.log)" \
				>> "$kout/static.results"
		fi
		mapfile -t modules < "$kout/dkms.modules"
	else
		while IFS= read -r ko; do modules+=("$ko"); done < <(
			find "$bdir/drivers" -name '*.ko' 2>/dev/null | sort)
	fi

	step "$k: initramfs and VM run"
	# the VM also carries this QEMU and Debian's: the end-to-end tests run
	# them as the VMMs; trixie's where it is the default consumer; and,
	# for the check suite's libvirt test only (~19 MB), Debian's libvirt
	qemu_trixie=
	[ "$K_QEMU" != trixie ] || qemu_trixie="$RIG_CACHE/qemu-trixie/root"
	libvirt=
	[ "$suite" = check ] && libvirt="$RIG_CACHE/libvirt-debian/root"
	RIG_L1_QEMU=$qemu RIG_L1_QEMU_DEBIAN="$RIG_CACHE/qemu-debian/root" \
		RIG_L1_QEMU_TRIXIE=$qemu_trixie RIG_L1_LIBVIRT=$libvirt \
		RIG_GUEST_MODULES=$K_GUEST_MODULES RIG_KSELFTEST=$ksft \
		RIG_UPSTREAM_VFIO=$uvfio \
		"$RIG_TOP/tools/rig/mkinitramfs.sh" "$K_MODDIR" "$kout/initramfs.cpio" \
		"$out/selftests" "$tests tern-migrate" "${modules[@]}"
	run_vm
	# A task still in msleep() after the guest's hung-task timeout
	# (120 s) means a timer of the guest never fired: one vCPU's clock
	# event stopped (seen on 7.3 only, Documentation/tern/overview.rst),
	# which no test can cause or survive. The suite runs once more; the
	# stalled run's logs stay as *.stalled and the summary says so.
	if [ -s "$kout/hung-task" ] && grep -q '[[:space:]]msleep+' "$kout/hung-task"; then
		for f in console.log tap.log postmortem.log hung-task; do
			mv "$kout/$f" "$kout/$f.stalled"
		done
		stalled="the guest's timers stalled (a task in msleep() for 120 s, $kout/hung-task.stalled): the suite ran again"
		log "$k: $stalled"
		run_vm
	fi
	python3 "$RIG_TOP/tools/rig/tap-summary.py" "$kout/tap.log" \
		"$kout/console.log" "$kout/static.results" "${K_KNOWN_SPLATS:-none}" \
		"$RIG_TOP/tools/rig/expected-failures" "$k" > "$kout/summary" || true
	sed "s/^/[$k] /" "$kout/summary" | sed '$d'
	[ -z "${stalled:-}" ] || echo "[$k] note: $stalled"
	stalled=
	# QEMU's downtime per consumer, tern beside the mtty baseline
	python3 "$RIG_TOP/tools/rig/qemu-table.py" "$kout/tap.log" \
		> "$kout/qemu-table" || true
	sed "s/^/[$k] /" "$kout/qemu-table" >&2
	# and where it goes, phase by phase (performance.rst)
	python3 "$RIG_TOP/tools/tern/downtime-split.py" "$kout/tap.log" \
		> "$kout/downtime-split" 2>/dev/null || true
	summaries+=("kernel $k: $(tail -1 "$kout/summary")")
	# host-side results count once, with the first kernel
	: > "$results"
done

wait "$kernel_builds" || true
log "total time $(( $(date +%s) - t0 ))s (logs in $out)"
printf '%s\n' "${summaries[@]}"
# the total is the run's last line: "N passed, N failed, N skipped"
printf '%s\n' "${summaries[@]}" | awk '
	{ for (i = 1; i < NF; i++) {
		if ($(i + 1) ~ /^passed/) p += $i
		if ($(i + 1) ~ /^failed/) f += $i
		if ($(i + 1) ~ /^skipped/) s += $i } }
	END { printf "%d passed, %d failed, %d skipped\n", p, f, s; exit (f > 0 || p == 0) }'
