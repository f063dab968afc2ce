/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tern device the selftests act on, and what they may change on it.
 *
 * The device is a tern PF named as the upstream VFIO selftests name
 * theirs: its address as the last command-line argument, or
 *
 *	TERN_SELFTESTS_PF=segment:bus:device.function
 *
 * Its VFs are found through it (virtfnN). Nothing named, or no tern PF at
 * the address named: the binary exits KSFT_SKIP and says why. The tests
 * never look for a tern device themselves.
 *
 * Without TERN_SELFTESTS_DESTRUCTIVE=1 a test takes the PF and its VFs as
 * they are (the PF on tern_core, enough VFs enabled and on tern_vfio_pci,
 * none of them in use), touches only the VFs it opens, and SKIPs, saying
 * why, where it needs more. With it, the tests may change sriov_numvfs,
 * rebind the PF and its VFs (driver_override), unload and reload the
 * modules, unbind the PF under an open VF, and inject faults that every VF
 * of the PF sees (fw_fault, fail_cmd, cmd_timeout_ms): for a machine whose
 * tern device is there to be tested, as in the rig's VM.
 */
#ifndef TERN_SELFTEST_SETUP_H
#define TERN_SELFTEST_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "tern_if.h"
#include "vfio_util.h"

#define TERN_PF_DRIVER		"tern_core"
#define TERN_VF_DRIVER		"tern_vfio_pci"

#define TERN_SELFTESTS_PF_ENV		"TERN_SELFTESTS_PF"
#define TERN_SELFTESTS_DESTRUCTIVE_ENV	"TERN_SELFTESTS_DESTRUCTIVE"

extern const struct pci_selftest_id tern_pf_id;
/* The named PF's address, set by TERN_TEST_HARNESS_MAIN. */
extern char tern_pf[16];

/* main() of a tern selftest: the PF named, or KSFT_SKIP. */
#define TERN_TEST_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		SELFTEST_DEVICE_OR_SKIP(&tern_pf_id, &argc, argv,	\
					tern_pf);			\
		return test_harness_run(argc, argv);			\
	}

/* TERN_SELFTESTS_DESTRUCTIVE=1: the tests may change more than their VFs. */
bool tern_selftests_destructive(void);

/*
 * In a FIXTURE_SETUP or TEST_F, before a change beyond the VFs the test
 * opens: SKIP, saying what the change is, unless the user opted in.
 */
#define TERN_SKIP_UNLESS_DESTRUCTIVE(fmt, ...)				\
	do {								\
		if (!tern_selftests_destructive())			\
			SKIP(return, fmt ": set "			\
			     TERN_SELFTESTS_DESTRUCTIVE_ENV "=1 to allow it",\
			     ##__VA_ARGS__);				\
	} while (0)

/*
 * Column @column (1: submitted, 2: failed, 3: timeouts) of @opcode's row
 * (by name, e.g. "VF_QUIESCE") in tern_core's <debugfs>/<pf>/stats: 0 for
 * an opcode never sent, -1 if the file cannot be read.
 */
long tern_pf_op_stat(const char *pf, const char *opcode, int column);

/* Reset PCI function @bdf through sysfs (a PF: an FLR): 0 or -errno. */
int tern_pci_reset(const char *bdf);

/*
 * A thread body: unbind tern_core from PF @pf (a const char *). Returns
 * sysfs_write()'s result, 0 or -errno, cast to a pointer.
 */
void *tern_pf_unbind_thread(void *pf);

/* Write a firmware fault rule to tern_core's <debugfs>/<pf>/fw_fault. */
int tern_pf_fw_fault(const char *pf, const char *rule);

/*
 * A number in tern_core's <debugfs>/<pf>/@name: "buf_bytes" (command data
 * buffers mapped for the PF), "resets" (firmware resets under the VFs'
 * users), "vf_users"; -1 if it cannot be read.
 */
long tern_pf_value(const char *pf, const char *name);

/*
 * Have the PF report an uncorrectable PCI error (PCI_ERR_UNC_* bits of
 * @uncor_status) through the kernel's aer_inject: 0 or -errno.
 */
int tern_aer_inject(const char *pf, uint32_t uncor_status);

/* The VF's migration state; ERROR if it cannot be read. */
enum vfio_device_mig_state tern_mig_state(struct vfio_dev *dev);

/*
 * VFIO_DEVICE_RESET, tried again every 10 ms while a recovery in the
 * background holds the VF (-EAGAIN): 0 or -errno.
 */
int tern_device_reset(struct vfio_dev *dev);

/* A new pre-copy session starts and its stream reads: 0, or -1. */
int tern_new_save_reads(struct vfio_dev *dev);

/* The enabled VFs of the PF, in VF order: their number (at most @max). */
int tern_pf_vfs(char (*vf_bdf)[16], int max);

/*
 * @nvfs VFs of the PF on @vf_driver, the PF on @pf_driver. Returns @nvfs
 * with the VFs' addresses in @vf_bdf (and the PF's in @pf_bdf if not
 * NULL), or -errno:
 *   -EPERM   the configuration is not there and the user has not opted in
 *            to changing it (tern_setup_reason() says what is missing);
 *   -ENODEV  the PF did not enable @nvfs VFs;
 *   else     the errno of the sysfs write that failed.
 * With the opt-in, SR-IOV is set to exactly @nvfs VFs and every driver is
 * rebound as needed; without it, the first @nvfs VFs on @vf_driver are
 * taken as they are.
 */
int tern_prepare_vfs(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16], char *pf_bdf);

/*
 * tern_prepare_vfs() for a change of PF driver (pci-pf-stub <-> tern_core):
 * with the opt-in, the VFs are disabled before the PF changes hands, and
 * a driver this kernel lacks is -ENOENT.
 */
int tern_lib_prepare(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16]);

/* Why the last tern_prepare_vfs() or tern_lib_prepare() was -EPERM. */
const char *tern_setup_reason(void);

/*
 * In a FIXTURE_SETUP or TEST_F: @call, one of the two above, must give
 * @nvfs VFs; SKIP with the reason on -EPERM, fail on anything else.
 */
#define TERN_PREPARE_OR_SKIP(nvfs, call)				\
	do {								\
		int __n = (call);					\
									\
		if (__n == -EPERM)					\
			SKIP(return, "%s", tern_setup_reason());	\
		ASSERT_EQ(nvfs, __n) TH_LOG("%s: %s", #call,		\
					    strerror(-__n));		\
	} while (0)

#endif
