// SPDX-License-Identifier: GPL-2.0
/*
 * Driver life cycles, 100 times each: unbinding and rebinding the VF
 * driver (opening the VF every round), and unloading and reloading both
 * modules with VFs enabled; and removing the PF under an open VF with a
 * command outstanding. The rig fails the run on any splat or leak this
 * leaves behind. Runs last: it reloads the modules. Every test here needs
 * TERN_SELFTESTS_DESTRUCTIVE=1.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "vfio_util.h"

FIXTURE(cycle) {
};

FIXTURE_SETUP(cycle)
{
}

FIXTURE_TEARDOWN(cycle)
{
}

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* 100 unbind/rebind cycles of the VF driver, opening the VF each time. */
TEST_F_TIMEOUT(cycle, bind_unbind_100, 600)
{
	char bdf[1][16], path[128], sysfs[64];
	struct vfio_dev dev;
	int i;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unbinds and rebinds a VF of PF %s",
				     tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      NULL));
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind",
		 TERN_VF_DRIVER);
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf[0]);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, sysfs_write(path, bdf[0])) TH_LOG("round %d", i);
		ASSERT_EQ(0, pci_bind_driver(bdf[0], TERN_VF_DRIVER));
		ASSERT_EQ(0, vfio_dev_open(&dev, sysfs, VFIO_PATH_LEGACY));
		vfio_dev_close(&dev);
	}
}

/*
 * 100 unload/reload cycles of both modules; every tenth round first
 * enables VFs, so that unloading also tears SR-IOV down.
 */
TEST_F_TIMEOUT(cycle, module_reload_100, 900)
{
	char bdf[2][16];
	int i;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unloads and reloads tern_core and tern-vfio-pci");
	for (i = 0; i < 100; i++) {
		if (i % 10 == 0)
			ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER,
						      TERN_VF_DRIVER, 2, bdf,
						      NULL)) TH_LOG("round %d", i);
		ASSERT_EQ(0, run("rmmod tern_vfio_pci && rmmod tern_core"))
			TH_LOG("round %d", i);
		ASSERT_EQ(0, run("modprobe tern_core && modprobe tern-vfio-pci"))
			TH_LOG("round %d", i);
	}
	ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2, bdf,
				      NULL));
}

#define DEBUGFS		"/sys/kernel/debug/tern_core"
#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"

struct arc_arg {
	struct vfio_dev *dev;
	int ret;
};

static void *set_p2p(void *p)
{
	struct arc_arg *arg = p;

	arg->ret = vfio_mig_set_state(arg->dev, VFIO_DEVICE_STATE_RUNNING_P2P,
				      NULL);
	return NULL;
}

/*
 * Removing the PF under a VF that is open, with a firmware command
 * outstanding that will never complete (stalled): the waiter gets -ENODEV
 * at once rather than after the (one minute) timeout, the removal waits
 * for the VF's user to close it and then completes, and the PF binds
 * again afterwards.
 */
TEST_F_TIMEOUT(cycle, forced_removal_fails_outstanding_commands, 120)
{
	char bdf[1][16], pf[16], sysfs[64], path[128], timeout[32];
	struct arc_arg arg = { .ret = 1 };
	struct vfio_dev dev;
	pthread_t arc, unbind;
	void *unbind_ret;
	long before;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unbinds PF %s under an open VF", tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      pf));
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf[0]);
	ASSERT_EQ(0, vfio_dev_open(&dev, sysfs, VFIO_PATH_LEGACY));
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, timeout, sizeof(timeout)));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	snprintf(path, sizeof(path), DEBUGFS "/%s/fw_fault", pf);
	ASSERT_EQ(0, sysfs_write(path, "stall 0x02 1"));

	before = tern_pf_op_stat(pf, "VF_QUIESCE", 1);
	arg.dev = &dev;
	ASSERT_EQ(0, pthread_create(&arc, NULL, set_p2p, &arg));
	/* wait (bounded) until the command is with the firmware */
	while (tern_pf_op_stat(pf, "VF_QUIESCE", 1) == before)
		ASSERT_EQ(0, sched_yield());

	ASSERT_EQ(0, pthread_create(&unbind, NULL, tern_pf_unbind_thread, pf));
	ASSERT_EQ(0, pthread_join(arc, NULL));
	ASSERT_EQ(-ENODEV, arg.ret);
	/* the PF's removal waits for the VF's user, then finishes */
	vfio_dev_close(&dev);
	ASSERT_EQ(0, pthread_join(unbind, &unbind_ret));
	ASSERT_EQ(0, (long)unbind_ret);

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, timeout));
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      NULL));
}

/*
 * A save file a reset orphaned, kept open while its VF is closed and its
 * PF unbound: closing the VF ended it (no PF buffer left: buf_bytes 0),
 * so the unbind completes and the file, read, asked for PRECOPY_INFO or
 * closed afterwards, fails cleanly without touching the PF that is gone
 * (the rig fails the run on any kernel splat, KASAN's included, and
 * tern_core warns if a buffer outlives the PF).
 */
TEST_F_TIMEOUT(cycle, orphaned_file_outlives_its_pf, 120)
{
	char bdf[1][16], pf[16], sysfs[64], path[128], val[32];
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	struct vfio_dev dev;
	char buf[64];
	int fd;

	TERN_SKIP_UNLESS_DESTRUCTIVE("unbinds PF %s under an open data file",
				     tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      pf));
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf[0]);
	ASSERT_EQ(0, vfio_dev_open(&dev, sysfs, VFIO_PATH_LEGACY));
	ASSERT_EQ(0, vfio_mig_set_state(&dev, VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, ioctl(dev.device_fd, VFIO_DEVICE_RESET));
	vfio_dev_close(&dev);
	snprintf(path, sizeof(path), DEBUGFS "/%s/buf_bytes", pf);
	ASSERT_EQ(0, sysfs_read(path, val, sizeof(val)));
	ASSERT_EQ(0, strtoll(val, NULL, 0));

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers/tern_core/unbind", pf));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	/* the VF is gone with its PF: no state to report, no PF to ask */
	ASSERT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_EQ(0, close(fd));
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      NULL));
}

TERN_TEST_HARNESS_MAIN
