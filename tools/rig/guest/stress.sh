# SPDX-License-Identifier: GPL-2.0
# The `make stress` suite: the long versions of the randomised tests, which
# make check runs short. tern.fuzz= on the kernel command line (make
# stress FUZZ=N) sets the resume-stream fuzzer's streams (default 100000).
. /rig/lib.sh

load vfio-pci vfio_iommu_type1 pci-pf-stub tern_core tern-vfio-pci

TERN_FUZZ_ITERATIONS=$(sed -n 's/.* *tern\.fuzz=\([0-9]*\).*/\1/p' /proc/cmdline)
export TERN_FUZZ_ITERATIONS=${TERN_FUZZ_ITERATIONS:-100000}
# past the runner's timeout from `settings`: the test's own still holds
RIG_KSFT_TIMEOUT=0
run_listed tern_resume_fuzz
