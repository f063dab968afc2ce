#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: build everything (or reuse the cache), boot the emulated host
# and tell, live, what happens inside it. The build steps show as they
# start; the story comes from the VM's second serial port as it is written.
set -euo pipefail
. "$(dirname "$0")/common.sh"

cat <<'EOT'
tern demo
=========
This builds (or reuses from the cache) a Linux 6.12 kernel and QEMU 10.0
with the tern device model, boots a small VM under QEMU's TCG emulation
(q35 machine, emulated Intel IOMMU, two tern PFs as two hosts would have)
and runs the demo inside it: it live-migrates a VF's state with
tern-migrate (tools/tern), the way a VMM does, with pre-copy to a VF of
the other PF while a workload keeps changing the source's device memory,
and without pre-copy to another VF of its own PF; then QEMU itself is the
VMM: two QEMU processes inside the VM migrate a machine with two tern VFs
assigned, from one PF's VFs to the other's, with pre-copy and device dirty
tracking. It ends with the comparison and QEMU's figures.
First run: ~20 minutes of builds; later runs: about a minute and a half.

EOT
run="$RIG_CACHE/run/${RIG_RUN_NAME:-demo}"
kernel=${KERNELS:-debug}
rig_log="$run.log"
# a story left from the last demo must not be told again
rm -rf "$run"
mkdir -p "$RIG_CACHE/run"
# the demo shows the spec's default 64 MiB of device memory per VF
TERN_PF_OPTS=${TERN_PF_OPTS-devmem-mb=64} KERNELS=$kernel \
	"$RIG_TOP/tools/rig/check.sh" demo > "$rig_log" 2>&1 &
rig=$!
tail -q -n +1 -F --pid=$rig "$rig_log" "$run/$kernel/tap.log" 2>/dev/null |
	awk '/^\[rig\] === / { sub(/^\[rig\] === /, "[rig] "); print; fflush() }
	     /^\[rig\] (building|booting)/ { print; fflush() }
	     /^DEMO: / { sub(/^DEMO: /, "  "); print; fflush() }' ||
	true	# tail fails for a file that was not there when it started
rc=0
wait $rig || rc=$?
echo
echo "demo checks: $(tail -1 "$rig_log") (log: $rig_log)"
[ $rc = 0 ] || echo "the demo failed: see $rig_log and $run/$kernel/"
exit $rc
