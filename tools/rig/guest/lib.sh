# SPDX-License-Identifier: GPL-2.0
# Helpers for the guest suites (sourced by init).

# run_test NAME CMD...: run one kselftest binary, framed for the host parser;
# its exit status is left in RIG_LAST_STATUS.
run_test() {
	name=$1
	shift
	echo "TERN-RIG: run $name"
	"$@"
	RIG_LAST_STATUS=$?
	echo "TERN-RIG: exit $name $RIG_LAST_STATUS"
}

# report_blocked_tasks: every 30 s, the kernel stack of each task (thread)
# found in uninterruptible sleep at two looks in a row without having run
# in between (same context-switch counts), once, to the kernel log. The
# stock kernel has no hung-task detector, the rig's report after 120 s:
# this is the post-mortem of a run that times out with a test stuck in
# the kernel (run-vm.sh records the vCPUs' side). A periodic look, never a
# synchronisation.
report_blocked_tasks() {
	seen= reported=
	while sleep 30; do
		now=
		for task in /proc/[0-9]*/task/[0-9]*; do
			{ read -r line < "$task/stat"; } 2> /dev/null || continue
			state=${line##*) }
			[ "${state%% *}" = D ] || continue
			switches=$(sed -n 's/^.*ctxt_switches:[[:space:]]*//p' \
				"$task/status" 2> /dev/null | tr '\n' +)
			id="${task##*/}:$switches"
			now="$now $id"
			case " $seen " in *" $id "*) ;; *) continue ;; esac
			case " $reported " in *" ${task##*/} "*) continue ;; esac
			reported="$reported ${task##*/}"
			echo "tern-rig: task ${task##*/} ($(cat "$task/comm")) blocked for 30 s or more:" > /dev/kmsg
			while read -r frame; do
				echo "tern-rig:   $frame" > /dev/kmsg
			done < "$task/stack"
		done
		seen=$now
	done
}

# The installed kselftest tree (tools/rig/kselftest-install.sh), when the
# initramfs has one: the tern selftests it lists run from there, the full
# ones through its run_kselftest.sh.
KSFT_ROOT=/kselftest

# in_kselftest NAME: the installed tree has NAME in its tern collection
in_kselftest() {
	grep -qx "tern:$1" "$KSFT_ROOT/kselftest-list.txt" 2>/dev/null
}

# test_path NAME: the binary of selftest NAME
test_path() {
	if in_kselftest "$1"; then
		echo "$KSFT_ROOT/tern/$1"
	else
		echo "/tests/$1"
	fi
}

# kselftest_status NAME < RUNNER_OUTPUT: the exit status of tern test NAME
# as run_kselftest.sh reports it in its own result line ("ok 1 selftests:
# tern: NAME", "... # SKIP", "not ok 1 ... # exit=N", "... # TIMEOUT N
# seconds"); 1 when there is no such line.
kselftest_status() {
	awk -v t="selftests: tern: $1" '
		/^(not )?ok [0-9]+ / {
			rest = $0
			sub(/^(not )?ok [0-9]+ /, "", rest)
			if (index(rest, t) != 1)
				next
			rest = substr(rest, length(t) + 1)
			if (rest != "" && rest !~ /^ #/)
				next
			if ($1 == "ok")
				st = rest ~ /# SKIP/ ? 4 : rest ~ /# XFAIL/ ? 2 : 0
			else if (match(rest, /exit=[0-9]+/))
				st = substr(rest, RSTART + 5, RLENGTH - 5)
			else if (rest ~ /# TIMEOUT/)
				st = 124
			else
				st = 1
			found = 1
		}
		END { print found ? st : 1 }'
}

# kselftest_unnest NAME: the output of run_kselftest.sh -t tern:NAME as
# the test's own TAP. The runner prints its own plan and result ("1..1",
# "ok 1 selftests: tern: NAME") around the test's output, which it
# prefixes with "# " between "# selftests: tern: NAME" and that result:
# there one "# " comes off; every line of the runner's own becomes a
# "# run_kselftest: ..." comment.
kselftest_unnest() {
	awk -v t="selftests: tern: $1" '
		function own(line) { print "# run_kselftest: " line; fflush() }
		nested && /^(not )?ok [0-9]+ / {
			nested = 0
			own($0)
			next
		}
		nested { print substr($0, 3); fflush(); next }
		$0 == "# " t { nested = 1 }
		{ own($0) }'
}

# run_kselftest NAME [ARGS...]: run tern selftest NAME through the
# installed run_kselftest.sh (-t tern:NAME; ARGS as its
# KSELFTEST_<NAME>_ARGS), framed for the host parser like run_test: the
# frame holds the test's own TAP (kselftest_unnest), and the exit status,
# left in RIG_LAST_STATUS, is the test's as the runner reports it.
run_kselftest() {
	name=$1
	shift
	args_var=KSELFTEST_$(printf %s "$name" | tr -c '[:alnum:]_' _ |
		tr '[:lower:]' '[:upper:]')_ARGS
	echo "TERN-RIG: run $name"
	# RIG_KSFT_TIMEOUT: the runner's per-binary timeout (0: none)
	env "$args_var=$*" "$KSFT_ROOT/run_kselftest.sh" \
		${RIG_KSFT_TIMEOUT:+-o "$RIG_KSFT_TIMEOUT"} -t "tern:$name" 2>&1 |
		tee /tmp/kselftest.out | kselftest_unnest "$name"
	RIG_LAST_STATUS=$(kselftest_status "$name" < /tmp/kselftest.out)
	echo "TERN-RIG: exit $name $RIG_LAST_STATUS"
}

# tern_vf_bdf I: the address of the tern PF's VF I, enabled or not
tern_vf_bdf() {
	pf=/sys/bus/pci/devices/$TERN_SELFTESTS_PF
	slot=${TERN_SELFTESTS_PF##*:}
	devfn=$(( 0x${slot%.*} * 8 + ${slot#*.} + $(cat "$pf/sriov_offset") +
		  $1 * $(cat "$pf/sriov_stride") ))
	printf '%s:%02x.%x\n' "${TERN_SELFTESTS_PF%:*}" $((devfn >> 3)) $((devfn & 7))
}

# run_listed NAME: a test of /tests/list, all of it: through the installed
# kselftest runner where it has NAME, else /tests/NAME. tern_torture_test
# runs between kernel-log markers for its two VFs (tools/rig/tap-summary.py):
# its guest threads enable the engine while a reset clears the ring
# registers, and the engine then reads at IOVA 0, which the IOMMU reports.
run_listed() {
	# the randomised tests' seed, chosen here (tern.seed= on the kernel
	# command line, from `make stress SEED=`, or the time) and printed
	# before the test starts: a run the VM does not survive names it too
	case $1 in
	tern_resume_fuzz_test | tern_torture_test)
		seed=$(sed -n 's/.* tern\.seed=\([0-9]*\).*/\1/p' /proc/cmdline)
		seed=${seed:-$(date +%s)}
		export TERN_FUZZ_SEED=$seed TERN_TORTURE_SEED=$seed
		echo "# $1: seed $seed (make stress SEED=$seed reproduces it)"
		;;
	esac
	if [ "$1" = tern_torture_test ]; then
		for i in 0 1; do
			echo "tern-rig: iommu faults expected from $(tern_vf_bdf $i)" > /dev/kmsg
		done
		run_kselftest "$1"
		echo "tern-rig: iommu faults no longer expected" > /dev/kmsg
		return
	fi
	if in_kselftest "$1"; then
		run_kselftest "$1"
	else
		run_test "$1" "/tests/$1"
	fi
}

# run_selected NAMES TERN_MIGRATE_FN LIBVIRT_FN: run what `make check
# T=NAMES` chose, NAMES comma-separated. A name is a selftest binary (all
# of it), a test (TEST_F name, in every binary and variant that has it) or
# a full fixture[.variant].test name; tern-migrate runs TERN_MIGRATE_FN,
# libvirt LIBVIRT_FN. A name that matches nothing is a failure, so a typo
# cannot pass.
run_selected() {
	for name in $(echo "$1" | tr , ' '); do
		if [ "$name" = tern-migrate ]; then
			$2
			continue
		fi
		if [ "$name" = libvirt ]; then
			$3
			continue
		fi
		if [ "$name" = upstream-vfio ]; then
			run_upstream_vfio
			continue
		fi
		if grep -qx "$name" "$UPSTREAM_VFIO/list" 2>/dev/null; then
			run_upstream_vfio "$name"
			continue
		fi
		if grep -qx "$name" /tests/list; then
			run_listed "$name"
			continue
		fi
		case $name in
		*.*) filter=-r ;;
		*) filter=-t ;;
		esac
		found=
		for t in $(cat /tests/list); do
			"$(test_path "$t")" $filter "$name" > /tmp/selected.tap 2>&1
			st=$?
			# a binary without that test plans none
			grep -qx '1\.\.0' /tmp/selected.tap && continue
			echo "TERN-RIG: run $t"
			cat /tmp/selected.tap
			echo "TERN-RIG: exit $t $st"
			found=1
		done
		[ -n "$found" ] || echo "TERN-RIG: fail no test named '$name'"
	done
}

# kernel_lacks FEATURE: the kernel lacks FEATURE by design (tern.lacks=)
kernel_lacks() {
	case ",$TERN_KERNEL_LACKS," in
	*",$1,"*) return 0 ;;
	esac
	return 1
}

# load MODULE...: modprobe, reporting failures as a failed rig step.
# Built-in modules count as loaded.
load() {
	for m in "$@"; do
		ko=$(echo "$m" | tr _ -)
		grep -q "/\($ko\|$(echo "$m" | tr - _)\)\.ko" \
			"/lib/modules/$(uname -r)/modules.builtin" && continue
		modprobe "$m" || echo "TERN-RIG: fail modprobe $m"
	done
}

# run_cmd_test NAME CMD...: a command that is one test (exit status 0 =
# pass), reported as a one-result TAP plan.
run_cmd_test() {
	name=$1
	shift
	echo "TERN-RIG: run $name"
	echo "1..1"
	if "$@"; then
		echo "ok 1 $name"
	else
		echo "not ok 1 $name"
	fi
	echo "TERN-RIG: exit $name 0"
}

# pci_find VENDOR DEVICE [PORT]: the address of the first such PCI device
# in address order (hexadecimal IDs without 0x), or with PORT the first
# below the root port at 0000:00:PORT (e.g. 08.0); nothing if none
pci_find() {
	for dev in /sys/bus/pci/devices/*; do
		if [ -n "${3:-}" ]; then
			case "$(readlink -f "$dev")" in
			*/0000:00:$3/*) ;;
			*) continue ;;
			esac
		fi
		if [ "$(cat "$dev/vendor")" = "0x$1" ] &&
		   [ "$(cat "$dev/device")" = "0x$2" ]; then
			basename "$dev"
			return
		fi
	done
}

# name_devices: name the VM's devices to the selftests, which never look
# for one themselves (tools/testing/selftests/tern/tern_setup.h), and let
# them reconfigure and reload everything: the VM is theirs. The VM has four
# tern PFs, found by the root port they are behind (tools/rig/run-vm.sh):
# PF0 (00:06.0) is the PF of every test; PF1 (00:07.0), the same device,
# the destination of the migrations between PFs; PF2 and PF3 are of
# another kind, for tern_compat_test. A device that is missing fails the
# run here; the tests would only SKIP (or migrate within PF0).
name_devices() {
	TERN_SELFTESTS_PF=$(pci_find 1234 7e40 06.0)
	TERN_SELFTESTS_PF_OTHER=$(pci_find 1234 7e40 07.0)
	TERN_SELFTESTS_EDU=$(pci_find 1234 11e8)
	# the PFs of another kind (tools/rig/run-vm.sh): firmware 1.0, and
	# 1 MiB of device memory
	TERN_SELFTESTS_PF_FW10=$(pci_find 1234 7e40 08.0)
	TERN_SELFTESTS_PF_DEVMEM1M=$(pci_find 1234 7e40 09.0)
	# tern-migrate --check, compared with what RESUMING does
	TERN_SELFTESTS_TERN_MIGRATE=
	[ -x /tests/tern-migrate ] && TERN_SELFTESTS_TERN_MIGRATE=/tests/tern-migrate
	TERN_SELFTESTS_DESTRUCTIVE=1
	# the two consumers of the QEMU tests: QEMU 10.0 with the tern model
	# and Debian's QEMU 11.1 (tools/rig/mkinitramfs.sh); on the kernel
	# that stands for a trixie host (tern.qemu=trixie, tools/rig/
	# kernels.sh K_QEMU), trixie's own QEMU 10.0 instead of the rig's
	TERN_SELFTESTS_QEMU=/usr/bin/qemu-system-x86_64
	case " $(cat /proc/cmdline) " in
	*" tern.qemu=trixie "*)
		TERN_SELFTESTS_QEMU=/usr/bin/qemu-system-x86_64-trixie ;;
	esac
	TERN_SELFTESTS_QEMU_OTHER=/usr/bin/qemu-system-x86_64-debian
	export TERN_SELFTESTS_PF TERN_SELFTESTS_PF_OTHER TERN_SELFTESTS_EDU \
		TERN_SELFTESTS_DESTRUCTIVE \
		TERN_SELFTESTS_QEMU TERN_SELFTESTS_QEMU_OTHER \
		TERN_SELFTESTS_PF_FW10 TERN_SELFTESTS_PF_DEVMEM1M \
		TERN_SELFTESTS_TERN_MIGRATE
	# the suites that run the QEMU tests must carry both; the bench does not
	case " $(cat /proc/cmdline) " in
	*" tern.suite=check "* | *" tern.suite=stress "*)
		for q in "$TERN_SELFTESTS_QEMU" "$TERN_SELFTESTS_QEMU_OTHER"; do
			[ -x "$q" ] || echo "TERN-RIG: fail no QEMU $q in the VM"
		done
		;;
	esac
	[ -n "$TERN_SELFTESTS_PF" ] ||
		echo "TERN-RIG: fail no tern PF (1234:7e40) in the VM"
	[ -n "$TERN_SELFTESTS_PF_OTHER" ] ||
		echo "TERN-RIG: fail no second tern PF (1234:7e40) in the VM"
	[ -n "$TERN_SELFTESTS_EDU" ] ||
		echo "TERN-RIG: fail no edu device (1234:11e8) in the VM"
	[ -n "$TERN_SELFTESTS_PF_FW10" ] ||
		echo "TERN-RIG: fail no tern PF with firmware 1.0 behind 00:08.0 in the VM"
	[ -n "$TERN_SELFTESTS_PF_DEVMEM1M" ] ||
		echo "TERN-RIG: fail no tern PF with 1 MiB device memory behind 00:09.0 in the VM"
	echo "TERN-RIG: devices PF=${TERN_SELFTESTS_PF:-none} PF_OTHER=${TERN_SELFTESTS_PF_OTHER:-none} edu=${TERN_SELFTESTS_EDU:-none} PF_FW10=${TERN_SELFTESTS_PF_FW10:-none} PF_DEVMEM1M=${TERN_SELFTESTS_PF_DEVMEM1M:-none}"
	echo "TERN-RIG: QEMUs $($TERN_SELFTESTS_QEMU --version | head -1) / $($TERN_SELFTESTS_QEMU_OTHER --version | head -1)"
}

# skip_test NAME REASON: a test this run cannot run, as one SKIP result
skip_test() {
	echo "TERN-RIG: run $1"
	echo "1..1"
	echo "ok 1 $1 # SKIP $2"
	echo "TERN-RIG: exit $1 4"
}

# run_upstream_vfio [NAME...]: the upstream VFIO selftests of the 7.3 tree
# (make check T=upstream-vfio, or T=one of their binaries)
# with tern's libvfio driver and vfio_pci_migration_test
# (tools/rig/upstream-vfio.sh) on two tern VFs of PF0 (the migration
# test: PF0's VF 0 and PF1's VF 0), each binary framed as
# vfio/NAME; all of them, or the NAMEs. Where the kernel has no iommufd
# (tern.lacks=cdev) the iommufd modes are left out, and the binaries that
# open the device through iommufd in main() SKIP. What the rig changes or
# leaves out, and why: Documentation/tern/drivers.rst, "Upstream VFIO
# selftests".
UPSTREAM_VFIO=/upstream-vfio
run_upstream_vfio() {
	if ! [ -f "$UPSTREAM_VFIO/list" ]; then
		echo "TERN-RIG: fail no upstream VFIO selftests in the initramfs"
		return
	fi
	names=${*:-$(cat "$UPSTREAM_VFIO/list")}
	vfs=$(tern_vfs 2)
	vf0=$(echo $vfs | cut -d' ' -f1)
	# the migration test's destination: a VF of PF1, as between hosts
	other=$(tern_vfs 1 "$TERN_SELFTESTS_PF_OTHER")
	# the variants of the iommufd modes, alone and with a memory type
	no_iommufd=
	if kernel_lacks cdev; then
		for m in iommufd iommufd_compat_type1 iommufd_compat_type1v2; do
			for v in "" _anonymous _anonymous_hugetlb_2mb \
				 _anonymous_hugetlb_1gb; do
				no_iommufd="$no_iommufd -V $m$v"
			done
		done
	fi
	for t in $names; do
		case $t in
		vfio_pci_sriov_uapi_test)
			skip_test "vfio/$t" "needs the PF on vfio-pci (enable_sriov): tern's PF belongs to tern_core"
			continue ;;
		vfio_iommufd_setup_test | vfio_pci_device_test | vfio_pci_driver_test)
			if kernel_lacks cdev; then
				skip_test "vfio/$t" "this kernel has no iommufd, which the binary opens the device through"
				continue
			fi ;;
		esac
		set --
		case $t in
		vfio_pci_driver_test)
			# DMA to unmapped IOVAs: IOMMU faults; those run below
			set -- -T memcpy_from_unmapped_iova -T memcpy_to_unmapped_iova \
				-T mix_and_match ;;
		vfio_dma_mapping_test | vfio_dma_mapping_mmio_test | \
		vfio_pci_device_init_perf_test)
			set -- $no_iommufd ;;
		esac
		case $t in
		vfio_pci_migration_test)
			set -- "$@" "$vf0" $other ;;
		vfio_pci_device_init_perf_test)
			set -- "$@" $vfs ;;
		*)
			set -- "$@" "$vf0" ;;
		esac
		run_test "vfio/$t" "$UPSTREAM_VFIO/$t" "$@"
		[ "$t" = vfio_pci_driver_test ] || continue
		# the tests that fault the IOMMU on purpose, between markers in
		# the kernel log that name the device (tools/rig/tap-summary.py
		# expects its DMAR faults there, and nowhere else)
		echo "tern-rig: iommu faults expected from $vf0" > /dev/kmsg
		run_test "vfio/$t" "$UPSTREAM_VFIO/$t" -t memcpy_from_unmapped_iova \
			-t memcpy_to_unmapped_iova -t mix_and_match "$vf0"
		echo "tern-rig: iommu faults no longer expected" > /dev/kmsg
	done
}

# tern_vfs N [PF]: enable N VFs on tern PF PF (bound to tern_core;
# default PF0, $TERN_SELFTESTS_PF) and bind them to tern-vfio-pci; prints
# their BDFs.
tern_vfs() {
	pf=/sys/bus/pci/devices/${2:-$TERN_SELFTESTS_PF}
	echo 0 > "$pf/sriov_numvfs"
	echo "$1" > "$pf/sriov_numvfs"
	for vf in "$pf"/virtfn*; do
		bdf=$(basename "$(readlink "$vf")")
		echo tern_vfio_pci > "/sys/bus/pci/devices/$bdf/driver_override"
		[ -e "/sys/bus/pci/devices/$bdf/driver" ] &&
			echo "$bdf" > "/sys/bus/pci/devices/$bdf/driver/unbind"
		echo "$bdf" > /sys/bus/pci/drivers_probe
		echo "$bdf"
	done
}
