# SPDX-License-Identifier: GPL-2.0
# The `make bench` suite: run tern-bench on two tern VFs. The table goes to
# the TAP log as "BENCH: " lines and the JSON file as "BENCH-JSON: " lines,
# which tools/rig/bench.sh extracts on the host. With tern.bench_only=nvf
# instead the N-VF row: qemu_migration_nvf_test, QEMU migrating every VF
# of PF0 at once, whose "# NVF" lines tools/tern/nvf.py reads.
. /rig/lib.sh

load vfio-pci vfio_iommu_type1 pci-pf-stub tern_core tern-vfio-pci
reps=$(sed -n 's/.* *tern\.bench_reps=\([0-9]*\).*/\1/p' /proc/cmdline)
only=$(sed -n 's/.* *tern\.bench_only=\([a-z,]*\).*/\1/p' /proc/cmdline)
rings=$(sed -n 's/.* *tern\.bench_rings=\([0-9x,]*\).*/\1/p' /proc/cmdline)
# the consumers of the N-VF row: default (QEMU 10.0), other (Debian's 11.1)
nvf_qemu=$(sed -n 's/.* *tern\.bench_nvf_qemu=\([a-z,]*\).*/\1/p' /proc/cmdline)
nvf_counts=$(sed -n 's/.* *tern\.bench_nvf_counts=\([0-9,]*\).*/\1/p' /proc/cmdline)
if [ "$only" = nvf ]; then
	kernel_lacks mtty || load mtty
	variants=
	for v in $(echo "${nvf_qemu:-default}" | tr , ' '); do
		variants="$variants -v $v"
	done
	# the test sets the VFs up itself, as many as each point needs
	run_test qemu_migration_nvf_test env TERN_NVF_REPS="${reps:-5}" \
		TERN_NVF_COUNTS="$nvf_counts" /tests/qemu_migration_nvf_test \
		$variants
elif [ -n "$rings" ]; then
	set -- $(tern_vfs 2)
	# the stream row once per ring shape of the data files,
	# DEPTHxCHUNK_KB: the module parameters apply to the
	# files created after them
	params=/sys/module/tern_vfio_pci/parameters
	for shape in $(echo "$rings" | tr , ' '); do
		echo "${shape%%x*}" > $params/depth
		echo "${shape#*x}" > $params/chunk_kb
		rm -f /tmp/bench.json
		run_cmd_test "tern-bench-$shape" sh -c "/tests/tern-bench \
			--reps ${reps:-5} --only stream --json /tmp/bench.json \
			$1 $2 > /tmp/out 2> /tmp/err"
		sed "s/^/BENCH $shape: /" /tmp/out
		sed 's/^/BENCH-LOG: /' /tmp/err
		[ -f /tmp/bench.json ] &&
			sed "s/^/BENCH-RING-JSON $shape: /" /tmp/bench.json
	done
else
	set -- $(tern_vfs 2)
	run_cmd_test tern-bench sh -c "/tests/tern-bench --reps ${reps:-5} \
		${only:+--only $only} --json /tmp/bench.json $1 $2 > /tmp/out 2> /tmp/err"
	sed 's/^/BENCH: /' /tmp/out
	sed 's/^/BENCH-LOG: /' /tmp/err
	[ -f /tmp/bench.json ] && sed 's/^/BENCH-JSON: /' /tmp/bench.json
fi
