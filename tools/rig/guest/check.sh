# SPDX-License-Identifier: GPL-2.0
# The `make check` suite: every kselftest in /tests, in the order listed.
. /rig/lib.sh

load vfio-pci mtty tern_core tern-vfio-pci
for t in $(cat /tests/list); do
	run_test "$t" "/tests/$t"
done

# the migration tool, as a VMM would run it, with a live workload
vfs=$(tern_vfs 2)
run_cmd_test tern-migrate /tests/tern-migrate --fill 7 --workload 4 \
	--verify $vfs
