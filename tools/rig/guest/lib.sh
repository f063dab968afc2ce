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

# run_selected NAMES TERN_MIGRATE_FN: run what `make check T=NAMES` chose,
# NAMES comma-separated. A name is a selftest binary (all of it), a test
# (TEST_F name, in every binary and variant that has it) or a full
# fixture[.variant].test name; tern-migrate runs TERN_MIGRATE_FN. A name
# that matches nothing is a failure, so a typo cannot pass.
run_selected() {
	for name in $(echo "$1" | tr , ' '); do
		if [ "$name" = tern-migrate ]; then
			$2
			continue
		fi
		if grep -qx "$name" /tests/list; then
			run_test "$name" "/tests/$name"
			continue
		fi
		case $name in
		*.*) filter=-r ;;
		*) filter=-t ;;
		esac
		found=
		for t in $(cat /tests/list); do
			"/tests/$t" $filter "$name" > /tmp/selected.tap 2>&1
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

# tern_vfs N: enable N VFs on the tern PF (bound to tern_core) and bind
# them to tern-vfio-pci; prints their BDFs.
tern_vfs() {
	pf=$(grep -l 0x7e40 /sys/bus/pci/devices/*/device | head -1 | xargs dirname)
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
