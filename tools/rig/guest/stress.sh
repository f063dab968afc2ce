# SPDX-License-Identifier: GPL-2.0
# The `make stress` suite: the long versions of the randomised tests, which
# make check runs short. On the kernel command line (from make stress
# FUZZ=N TORTURE=S): tern.fuzz= resume streams for the fuzzer (default
# 100000), tern.torture= seconds of the concurrency torture (default 1800).
. /rig/lib.sh

load vfio-pci vfio_iommu_type1 pci-pf-stub tern_core tern-vfio-pci

TERN_FUZZ_ITERATIONS=$(sed -n 's/.* *tern\.fuzz=\([0-9]*\).*/\1/p' /proc/cmdline)
TERN_TORTURE_SECONDS=$(sed -n 's/.* *tern\.torture=\([0-9]*\).*/\1/p' /proc/cmdline)
export TERN_FUZZ_ITERATIONS=${TERN_FUZZ_ITERATIONS:-100000}
export TERN_TORTURE_SECONDS=${TERN_TORTURE_SECONDS:-1800}
# past the runner's timeout from `settings`: the tests' own still hold
RIG_KSFT_TIMEOUT=0
run_listed tern_torture_test
run_listed tern_resume_fuzz_test
