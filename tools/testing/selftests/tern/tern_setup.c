// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tern/tern_if.h>

#include "tern_setup.h"
#include "vfio_util.h"

int tern_prepare_vfs(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16], char *pf_bdf)
{
	char pf[4][16], path[128], buf[32];
	int n, i, ret;

	n = pci_find_devices(TERN_PCI_VENDOR_ID, TERN_PCI_PF_DEVICE_ID, pf, 4);
	if (n < 1)
		return -ENODEV;
	if (pf_bdf)
		strcpy(pf_bdf, pf[0]);
	ret = pci_bind_driver(pf[0], pf_driver);
	if (ret)
		return ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs",
		 pf[0]);
	ret = sysfs_read(path, buf, sizeof(buf));
	if (ret)
		return ret;
	if (atoi(buf) != nvfs) {
		if (atoi(buf)) {
			ret = sysfs_write(path, "0");
			if (ret)
				return ret;
		}
		snprintf(buf, sizeof(buf), "%d", nvfs);
		ret = sysfs_write(path, buf);
		if (ret)
			return ret;
	}
	n = pci_find_devices(TERN_PCI_VENDOR_ID, TERN_PCI_VF_DEVICE_ID, vf_bdf,
			     nvfs);
	if (n != nvfs)
		return -ENODEV;
	for (i = 0; i < n; i++) {
		ret = pci_bind_driver(vf_bdf[i], vf_driver);
		if (ret)
			return ret;
	}
	return n;
}
