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

# load MODULE...: modprobe, reporting failures as a failed rig step.
load() {
	for m in "$@"; do
		modprobe "$m" || echo "TERN-RIG: fail modprobe $m"
	done
}
