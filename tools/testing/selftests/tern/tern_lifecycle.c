// SPDX-License-Identifier: GPL-2.0
/*
 * Driver life cycles, 100 times each: unbinding and rebinding the VF
 * driver (opening the VF every round), and unloading and reloading both
 * modules with VFs enabled. The rig fails the run on any splat or leak
 * this leaves behind. Runs last: it reloads the modules.
 */
#include <stdlib.h>
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

	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      NULL));
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind",
		 TERN_VF_DRIVER);
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf[0]);
	for (i = 0; i < 100; i++) {
		ASSERT_EQ(0, sysfs_write(path, bdf[0])) TH_LOG("round %d", i);
		ASSERT_EQ(0, pci_bind_driver(bdf[0], TERN_VF_DRIVER));
		ASSERT_EQ(0, vfio_dev_open(&dev, sysfs, VFIO_PATH_CDEV));
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

TEST_HARNESS_MAIN
