# SPDX-License-Identifier: GPL-2.0
# The `make check` suite: every kselftest in /tests, in the order listed.
. /rig/lib.sh

load vfio-pci mtty tern_core
for t in $(cat /tests/list); do
	run_test "$t" "/tests/$t"
done
