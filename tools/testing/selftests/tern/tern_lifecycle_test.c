// SPDX-License-Identifier: GPL-2.0
/*
 * Driver life cycles, 100 times each: unbinding and rebinding the VF
 * driver (opening the VF every round), and unloading and reloading both
 * modules with VFs enabled; and removing the PF under an open VF with a
 * command outstanding. The rig fails the run on any splat or leak this
 * leaves behind. It reloads the modules (the binaries after it in the
 * Makefile find them freshly loaded). Every test here needs
 * TERN_SELFTESTS_DESTRUCTIVE=1.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

/*
 * The VFs are opened as a VMM without iommufd opens them: the type1
 * group/container path, which every kernel the tests run on has.
 */
#define CYCLE_IOMMU_MODE	MODE_VFIO_TYPE1V2_IOMMU

FIXTURE(tern_lifecycle_test) {
};

FIXTURE_SETUP(tern_lifecycle_test)
{
}

FIXTURE_TEARDOWN(tern_lifecycle_test)
{
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 100 unbind/rebind cycles of the VF driver, opening the VF each time. */
TEST_F_TIMEOUT(tern_lifecycle_test, bind_unbind_100, 600)
{
	struct vfio_pci_device *device;
	char bdf[1][16], path[128];
	struct iommu *iommu;
	int i;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unbinds and rebinds a VF of PF %s",
				     tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf));
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind",
		 TERN_VF_DRIVER);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, sysfs_write(path, bdf[0])) TH_LOG("round %d", i);
		ASSERT_EQ(0, pci_bind_driver(bdf[0], TERN_VF_DRIVER));
		iommu = iommu_init(CYCLE_IOMMU_MODE);
		device = vfio_pci_device_init(bdf[0], iommu);
		vfio_pci_device_cleanup(device);
		iommu_cleanup(iommu);
	}
}

/*
 * 100 unload/reload cycles of both modules; every tenth round first
 * enables VFs, so that unloading also tears SR-IOV down.
 */
TEST_F_TIMEOUT(tern_lifecycle_test, module_reload_100, 900)
{
	char bdf[2][16];
	int i;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unloads and reloads tern_core and tern-vfio-pci");
	for (i = 0; i < 100; i++) {
		if (i % 10 == 0)
			ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER,
						      TERN_VF_DRIVER, 2, bdf))
				TH_LOG("round %d", i);
		ASSERT_EQ(0, run("rmmod tern_vfio_pci && rmmod tern_core"))
			TH_LOG("round %d", i);
		ASSERT_EQ(0, run("modprobe tern_core && modprobe tern-vfio-pci"))
			TH_LOG("round %d", i);
	}
	ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2, bdf));
}

#define DEBUGFS		"/sys/kernel/debug/tern_core"
#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"

struct arc_arg {
	struct vfio_pci_device *device;
	int ret;
};

static void *set_p2p(void *p)
{
	struct arc_arg *arg = p;

	arg->ret = tern_mig_state_set(arg->device,
				      VFIO_DEVICE_STATE_RUNNING_P2P);
	return NULL;
}

/*
 * Removing the PF under a VF that is open, with a firmware command
 * outstanding that will never complete (stalled): the waiter gets -ENODEV
 * at once rather than after the (one minute) timeout, the removal waits
 * for the VF's user to close it and then completes, and the PF binds
 * again afterwards.
 */
TEST_F_TIMEOUT(tern_lifecycle_test, forced_removal_fails_outstanding_commands,
	       120)
{
	char bdf[1][16], *pf = tern_pf, path[128], timeout[32];
	struct arc_arg arg = { .ret = 1 };
	struct vfio_pci_device *device;
	pthread_t arc, unbind;
	struct iommu *iommu;
	void *unbind_ret;
	long before;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unbinds PF %s under an open VF", tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf));
	iommu = iommu_init(CYCLE_IOMMU_MODE);
	device = vfio_pci_device_init(bdf[0], iommu);
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, timeout, sizeof(timeout)));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	snprintf(path, sizeof(path), DEBUGFS "/%s/fw_fault", pf);
	ASSERT_EQ(0, sysfs_write(path, "stall 0x02 1"));

	before = tern_pf_op_stat(pf, "VF_QUIESCE", 1);
	arg.device = device;
	ASSERT_EQ(0, pthread_create(&arc, NULL, set_p2p, &arg));
	/* wait (bounded) until the command is with the firmware */
	while (tern_pf_op_stat(pf, "VF_QUIESCE", 1) == before)
		ASSERT_EQ(0, sched_yield());

	ASSERT_EQ(0, pthread_create(&unbind, NULL, tern_pf_unbind_thread, pf));
	ASSERT_EQ(0, pthread_join(arc, NULL));
	ASSERT_EQ(-ENODEV, arg.ret);
	/*
	 * The PF's removal waits for the VF's user, then finishes. The VF
	 * has no libvfio driver initialized: closing it touches no register.
	 */
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
	ASSERT_EQ(0, pthread_join(unbind, &unbind_ret));
	ASSERT_EQ(0, (long)unbind_ret);

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, timeout));
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf));
}

/*
 * A save file a reset orphaned, kept open while its VF is closed and its
 * PF unbound: closing the VF ended it (no PF buffer left: buf_bytes 0),
 * so the unbind completes and the file, read, asked for PRECOPY_INFO or
 * closed afterwards, fails cleanly without touching the PF that is gone
 * (the rig fails the run on any kernel splat, KASAN's included, and
 * tern_core warns if a buffer outlives the PF).
 */
TEST_F_TIMEOUT(tern_lifecycle_test, orphaned_file_outlives_its_pf, 120)
{
	char bdf[1][16], *pf = tern_pf, path[128], val[32];
	struct vfio_precopy_info info;
	struct vfio_pci_device *device;
	struct iommu *iommu;
	char buf[64];
	int fd;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unbinds PF %s under an open data file",
				     tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf));
	iommu = iommu_init(CYCLE_IOMMU_MODE);
	device = vfio_pci_device_init(bdf[0], iommu);
	ASSERT_EQ(0, __vfio_pci_mig_state_set(device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, __vfio_pci_device_reset(device));
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
	snprintf(path, sizeof(path), DEBUGFS "/%s/buf_bytes", pf);
	ASSERT_EQ(0, sysfs_read(path, val, sizeof(val)));
	ASSERT_EQ(0, strtoll(val, NULL, 0));

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers/tern_core/unbind", pf));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	/* the VF is gone with its PF: no state to report, no PF to ask */
	ASSERT_EQ(-ENODEV, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf));
}

TERN_TEST_HARNESS_MAIN
