#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: build everything (or reuse the cache), boot the emulated host
# and show, step by step, what the rig does inside it.
set -euo pipefail
. "$(dirname "$0")/common.sh"

cat <<'EOT'
tern demo
=========
This builds (or reuses from the cache) a Linux 6.12 kernel and QEMU 10.0
with the tern device model, boots a small VM under QEMU's TCG emulation
(q35 machine, emulated Intel IOMMU) and runs the demo suite inside it.
It then live-migrates one VF's state to another with tools/tern-migrate,
the way a VMM does, with and without pre-copy, while a workload keeps
changing the source's device memory. It ends with QEMU itself as the VMM:
two QEMU processes inside the VM migrate a machine with two tern VFs
assigned, with pre-copy and device dirty tracking, and QEMU's migration
statistics are printed.
First run: ~20 minutes of builds; later runs: about a minute.

EOT
rc=0
# the demo shows the spec's default 64 MiB of device memory per VF
TERN_PF_OPTS=${TERN_PF_OPTS-devmem-mb=64} "$RIG_TOP/tools/rig/check.sh" demo ||
	rc=$?
out="$RIG_CACHE/run/${RIG_RUN_NAME:-demo}/${KERNELS:-debug}"
echo
echo "What happened inside the VM (from $out/tap.log):"
grep '^DEMO:' "$out/tap.log" | sed 's/^DEMO: /  /' || true
exit $rc
