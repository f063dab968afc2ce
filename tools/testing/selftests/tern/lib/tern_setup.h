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
 * A second tern PF like the first, optional, is the destination of the
 * migrations between PFs, as between two hosts:
 *
 *	TERN_SELFTESTS_PF_OTHER=segment:bus:device.function
 *
 * Named, the migration round trips go from a VF of the PF to a VF of the
 * other PF (tern_prepare_migration()), and one of each kind still goes to
 * a VF of the same PF. Not named, every migration goes from one VF of the
 * PF to another, as on a machine with one tern PF. Named but not another
 * tern PF: the binary fails and says why. The other PF is prepared and
 * changed as the PF is (below), and only by the tests that migrate.
 *
 * The compatibility tests (tern_compat_test) migrate between the PF and
 * PFs of other kinds, each named the same way, in the environment only:
 *
 *	TERN_SELFTESTS_PF_FW10=<a tern PF running firmware 1.0, with the
 *		same device memory size as TERN_SELFTESTS_PF>
 *	TERN_SELFTESTS_PF_DEVMEM1M=<a tern PF running the current firmware,
 *		with 1 MiB of device memory per VF>
 *
 * (the QEMU model: tern-pf,fw-version=1.0 and tern-pf,devmem-mb=1). A test
 * that needs one SKIPs when it is not named; named but not there fails.
 * They need one VF each, which the test enables itself.
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
#ifndef TERN_SELFTESTS_LIB_TERN_SETUP_H
#define TERN_SELFTESTS_LIB_TERN_SETUP_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <linux/types.h>

#include <tern/tern_if.h>

#define TERN_PF_DRIVER		"tern_core"
#define TERN_VF_DRIVER		"tern_vfio_pci"

#define TERN_SELFTESTS_PF_ENV		"TERN_SELFTESTS_PF"
#define TERN_SELFTESTS_PF_OTHER_ENV	"TERN_SELFTESTS_PF_OTHER"
#define TERN_SELFTESTS_DESTRUCTIVE_ENV	"TERN_SELFTESTS_DESTRUCTIVE"
#define TERN_SELFTESTS_PF_FW10_ENV	"TERN_SELFTESTS_PF_FW10"
#define TERN_SELFTESTS_PF_DEVMEM1M_ENV	"TERN_SELFTESTS_PF_DEVMEM1M"

/* The page the tests lay their buffers out in. */
#define PAGE			4096

/* A PCI device a selftest binary acts on, named by the user. */
struct pci_selftest_id {
	const char *what;	/* "tern PF": for messages */
	const char *env;	/* "TERN_SELFTESTS_PF" */
	u16 vendor;
	u16 device;
};

/*
 * The device named by the last command-line argument (removed from argv)
 * or by the environment variable @id->env, in @bdf (16 bytes): 0, or
 * -ENOENT (nothing named), -EINVAL (not an address), -ENODEV (no such
 * device, or not the kind @id names), with the reason in @why.
 */
int pci_selftest_device(const struct pci_selftest_id *id, int *argc,
			char **argv, char *bdf, char *why, size_t len);

/* In main(): the device named, KSFT_SKIP if none, KSFT_FAIL if malformed. */
#define SELFTEST_DEVICE_OR_SKIP(id, argc, argv, bdf)			\
	do {								\
		char __why[256];					\
		int __ret = pci_selftest_device(id, argc, argv, bdf,	\
						__why, sizeof(__why));	\
		if (__ret == -EINVAL)					\
			ksft_exit_fail_msg("%s\n", __why);		\
		if (__ret)						\
			ksft_exit_skip("%s\n", __why);			\
	} while (0)

extern const struct pci_selftest_id tern_pf_id;
/* The named PF's address, set by TERN_TEST_HARNESS_MAIN. */
extern char tern_pf[16];
/* The other PF's address, "" when none is named (TERN_TEST_HARNESS_MAIN). */
extern char tern_pf_other[16];

/*
 * The other PF named by TERN_SELFTESTS_PF_OTHER, after tern_pf is known,
 * into tern_pf_other: 0, or -ENOENT (none named: tern_pf_other is ""),
 * -EINVAL (not an address, or tern_pf itself), -ENODEV (no such device,
 * or not a tern PF), with the reason in @why.
 */
int tern_selftest_other_pf(char *why, size_t len);

/*
 * main() of a tern selftest: the PF named, or KSFT_SKIP; the other PF, if
 * one is named, or KSFT_FAIL.
 */
#define TERN_TEST_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		char __why[256];					\
		int __ret;						\
									\
		SELFTEST_DEVICE_OR_SKIP(&tern_pf_id, &argc, argv,	\
					tern_pf);			\
		__ret = tern_selftest_other_pf(__why, sizeof(__why));	\
		if (__ret && __ret != -ENOENT)				\
			ksft_exit_fail_msg("%s\n", __why);		\
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
 * What the kernel under test offers. A kernel may lack a feature by design
 * (Debian's stock 6.12 has no iommufd, so no vfio cdev and no DMA logging
 * reports): the rig lists those features in TERN_KERNEL_LACKS
 * (comma-separated; "none" for a kernel with everything), and a test that
 * needs one SKIPs there, and only there. Outside the rig (unset) any
 * feature may be missing.
 */
bool kernel_may_lack(const char *feature);

/*
 * In a FIXTURE_SETUP or TEST_F (kselftest harness): SKIP with the reason
 * when @present is false and the kernel may lack @feature; otherwise carry
 * on, and the test fails on what is missing.
 */
#define SKIP_UNLESS_KERNEL_HAS(present, feature)				\
	do {								\
		if (!(present) && kernel_may_lack(feature))		\
			SKIP(return, "this kernel has no %s", feature);	\
	} while (0)

/* CLOCK_MONOTONIC in seconds, for durations and deadlines. */
double monotonic_s(void);

/* /dev/kmsg, to be read from its end on (-errno if it cannot be opened) */
int kmsg_open(void);
/*
 * The message of the next kernel log record since kmsg_open() (its first
 * line, without the "level,seq,usec,flags;" prefix) in @msg: 1, or 0 when
 * there is none (yet).
 */
int kmsg_next(int fd, char *msg, size_t len);

/* sysfs and PCI driver binding: 0 or -errno. */
int sysfs_write(const char *path, const char *val);
/* @buf gets the value without its trailing newline. */
int sysfs_read(const char *path, char *buf, size_t len);
/* The driver @bdf is bound to, in @driver (@len bytes): 0, or -ENOENT. */
int pci_device_driver(const char *bdf, char *driver, size_t len);
bool pci_driver_is(const char *bdf, const char *driver);
/* Unbind @bdf from its driver, if any, and bind it to @driver. */
int pci_bind_driver(const char *bdf, const char *driver);

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
int tern_aer_inject(const char *pf, u32 uncor_status);

/*
 * The path of @file in tern-vfio-pci's debugfs directory of VF @bdf:
 * <debugfs>/vfio/<bdf>/migration/tern/@file where the kernel has the vfio
 * core's debugfs (CONFIG_VFIO_DEBUGFS), else <debugfs>/tern_vfio_pci/<bdf>/.
 */
void tern_vf_debugfs_path(char *path, size_t len, const char *bdf,
			  const char *file);

/* The enabled VFs of the PF, in VF order: their number (at most @max). */
int tern_pf_vfs(char (*vf_bdf)[16], int max);
/* The same for PF @pf. */
int tern_pf_vfs_of(const char *pf, char (*vf_bdf)[16], int max);

/*
 * @nvfs VFs of the PF on @vf_driver, the PF on @pf_driver. Returns @nvfs
 * with the VFs' addresses in @vf_bdf, or -errno:
 *   -EPERM   the configuration is not there and the user has not opted in
 *            to changing it (tern_setup_reason() says what is missing);
 *   -ENOENT  with the opt-in, a driver this kernel lacks;
 *   -ENODEV  the PF did not enable @nvfs VFs;
 *   else     the errno of the sysfs write that failed.
 * With the opt-in, SR-IOV is set to exactly @nvfs VFs (disabled first when
 * the PF changes hands) and every driver is rebound as needed; without
 * it, the first @nvfs VFs on @vf_driver are taken as they are.
 */
int tern_prepare_vfs(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16]);

/* The same for PF @pf: tern_pf, tern_pf_other or a PF of another kind. */
int tern_prepare_pf_vfs(const char *pf, const char *pf_driver,
			const char *vf_driver, int nvfs, char (*vf_bdf)[16]);

/* Why the last tern_prepare_vfs() was -EPERM. */
const char *tern_setup_reason(void);

/* The VFs of a migration A -> B, from tern_prepare_migration(). */
struct tern_mig_vfs {
	char src[16];		/* A: a VF of the PF */
	char dst[16];		/* B: a VF of the other PF, if named */
	char same_pf[16];	/* a destination on A's PF, never A */
	bool cross_pf;		/* B is on the other PF */
};

/*
 * Two VFs on tern_vfio_pci on each PF (the other one only if named),
 * prepared as tern_prepare_vfs() prepares them: 0, or its -errno. With
 * the other PF, A is the PF's VF 1 and B the other PF's VF 0, so that the
 * VF index differs as well as the PF (a stream must carry neither), and
 * @same_pf is the PF's VF 0; without it, A and B are the PF's VFs 0 and
 * 1, as on a machine with one tern PF, and @same_pf is B.
 */
int tern_prepare_migration(struct tern_mig_vfs *vfs);

/* In a FIXTURE_SETUP or TEST_F: tern_prepare_migration(), or SKIP. */
#define TERN_PREPARE_MIGRATION_OR_SKIP(vfs)				\
	do {								\
		int __ret = tern_prepare_migration(vfs);		\
									\
		if (__ret == -EPERM)					\
			SKIP(return, "%s", tern_setup_reason());	\
		ASSERT_EQ(0, __ret) TH_LOG("%s/%s: %s",			\
					   TERN_PF_DRIVER,		\
					   TERN_VF_DRIVER,		\
					   strerror(-__ret));		\
	} while (0)

/*
 * In a FIXTURE_SETUP or TEST_F: tern_prepare_vfs() must give @nvfs VFs;
 * SKIP with the reason on -EPERM, fail on anything else.
 */
#define TERN_PREPARE_OR_SKIP(pf_driver, vf_driver, nvfs, vf_bdf)	\
	do {								\
		int __n = tern_prepare_vfs(pf_driver, vf_driver, nvfs,	\
					   vf_bdf);			\
									\
		if (__n == -EPERM)					\
			SKIP(return, "%s", tern_setup_reason());	\
		ASSERT_EQ(nvfs, __n) TH_LOG("%s/%s: %s", pf_driver,	\
					    vf_driver, strerror(-__n));	\
	} while (0)

/* CRC-32C as the device computes it (CHECKSUM, stream CRCs). */
u32 crc32c(const void *buf, size_t len);
/*
 * Continue a CRC-32C: crc32c_update(crc32c(a, m), b, n) is the
 * CRC of a followed by b.
 */
u32 crc32c_update(u32 crc, const void *buf, size_t len);

#endif /* TERN_SELFTESTS_LIB_TERN_SETUP_H */
