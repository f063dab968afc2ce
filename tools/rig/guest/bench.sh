# SPDX-License-Identifier: GPL-2.0
# The `make bench` suite: run tern-bench on two tern VFs. The table goes to
# the TAP log as "BENCH: " lines and the JSON file as "BENCH-JSON: " lines,
# which tools/rig/bench.sh extracts on the host.
. /rig/lib.sh

load vfio-pci vfio_iommu_type1 pci-pf-stub tern_core tern-vfio-pci
set -- $(tern_vfs 2)
reps=$(sed -n 's/.* *tern\.bench_reps=\([0-9]*\).*/\1/p' /proc/cmdline)
only=$(sed -n 's/.* *tern\.bench_only=\([a-z,]*\).*/\1/p' /proc/cmdline)
run_cmd_test tern-bench sh -c "/tests/tern-bench --reps ${reps:-5} \
	${only:+--only $only} --json /tmp/bench.json $1 $2 > /tmp/out 2> /tmp/err"
sed 's/^/BENCH: /' /tmp/out
sed 's/^/BENCH-LOG: /' /tmp/err
[ -f /tmp/bench.json ] && sed 's/^/BENCH-JSON: /' /tmp/bench.json
