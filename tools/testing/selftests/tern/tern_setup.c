// SPDX-License-Identifier: GPL-2.0
/*
 * The tern device the selftests act on, and bringing it into the
 * configuration a test needs (see tern_setup.h). Every sysfs write the
 * setup makes is behind tern_selftests_destructive().
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "tern_setup.h"

const struct pci_selftest_id tern_pf_id = {
	.what = "tern PF",
	.env = TERN_SELFTESTS_PF_ENV,
	.vendor = TERN_PCI_VENDOR_ID,
	.device = TERN_PCI_PF_DEVICE_ID,
};

char tern_pf[16];
static char tern_setup_why[512];

bool tern_selftests_destructive(void)
{
	const char *val = getenv(TERN_SELFTESTS_DESTRUCTIVE_ENV);

	return val && !strcmp(val, "1");
}

const char *tern_setup_reason(void)
{
	return tern_setup_why;
}

int tern_pf_vfs(char (*vf_bdf)[16], int max)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t len;
	int n;

	for (n = 0; n < max; n++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d",
			 tern_pf, n);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			break;
		link[len] = 0;
		snprintf(vf_bdf[n], sizeof(vf_bdf[n]), "%s", basename(link));
	}
	return n;
}

/* The first @nvfs VFs on @vf_driver, the PF on @pf_driver; or -EPERM. */
static int tern_vfs_as_they_are(const char *pf_driver, const char *vf_driver,
				int nvfs, char (*vf_bdf)[16])
{
	char vfs[TERN_MAX_VFS][16], cur[64];
	int n, i, found = 0;

	n = tern_pf_vfs(vfs, TERN_MAX_VFS);
	for (i = 0; i < n && found < nvfs; i++)
		if (pci_driver_is(vfs[i], vf_driver))
			strcpy(vf_bdf[found++], vfs[i]);
	if (pci_driver_is(tern_pf, pf_driver) && found == nvfs)
		return nvfs;

	if (pci_device_driver(tern_pf, cur, sizeof(cur)))
		strcpy(cur, "no driver");
	snprintf(tern_setup_why, sizeof(tern_setup_why),
		 "needs PF %s on %s with %d VFs on %s, finds it on %s with %d VFs, %d on %s: set %s=1 to let the test set that up",
		 tern_pf, pf_driver, nvfs, vf_driver, cur, n, found, vf_driver,
		 TERN_SELFTESTS_DESTRUCTIVE_ENV);
	return -EPERM;
}

/* Exactly @nvfs VFs on @vf_driver, the PF on @pf_driver; rebinding. */
static int tern_set_up_vfs(const char *pf_driver, const char *vf_driver,
			   int nvfs, char (*vf_bdf)[16])
{
	char vfs[TERN_MAX_VFS][16], path[PATH_MAX], buf[32];
	int n, i, ret;

	ret = pci_bind_driver(tern_pf, pf_driver);
	if (ret)
		return ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs",
		 tern_pf);
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
	n = tern_pf_vfs(vfs, TERN_MAX_VFS);
	if (n != nvfs)
		return -ENODEV;
	for (i = 0; i < n; i++) {
		strcpy(vf_bdf[i], vfs[i]);
		ret = pci_bind_driver(vf_bdf[i], vf_driver);
		if (ret)
			return ret;
	}
	return n;
}

int tern_prepare_vfs(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16], char *pf_bdf)
{
	if (pf_bdf)
		strcpy(pf_bdf, tern_pf);
	if (!tern_selftests_destructive())
		return tern_vfs_as_they_are(pf_driver, vf_driver, nvfs, vf_bdf);
	return tern_set_up_vfs(pf_driver, vf_driver, nvfs, vf_bdf);
}

static bool tern_driver_present(const char *driver)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", driver);
	return !stat(path, &st);
}

int tern_lib_prepare(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16])
{
	char path[PATH_MAX], cur[64];

	if (!tern_selftests_destructive())
		return tern_vfs_as_they_are(pf_driver, vf_driver, nvfs, vf_bdf);
	if (!tern_driver_present(pf_driver) || !tern_driver_present(vf_driver))
		return -ENOENT;
	if (!pci_device_driver(tern_pf, cur, sizeof(cur)) &&
	    strcmp(cur, pf_driver)) {
		/* VFs go away before their PF changes hands */
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/sriov_numvfs", tern_pf);
		sysfs_write(path, "0");
	}
	return tern_set_up_vfs(pf_driver, vf_driver, nvfs, vf_bdf);
}

int tern_pci_reset(const char *bdf)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bdf);
	return sysfs_write(path, "1");
}

void *tern_pf_unbind_thread(void *pf)
{
	return (void *)(long)sysfs_write("/sys/bus/pci/drivers/"
					 TERN_PF_DRIVER "/unbind", pf);
}

int tern_pf_fw_fault(const char *pf, const char *rule)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/tern_core/%s/fw_fault",
		 pf);
	return sysfs_write(path, rule);
}

long tern_pf_value(const char *pf, const char *name)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), "/sys/kernel/debug/tern_core/%s/%s", pf,
		 name);
	if (sysfs_read(path, val, sizeof(val)))
		return -1;
	return strtol(val, NULL, 0);
}

/* drivers/pci/pcie/aer_inject.c's write() format */
struct aer_error_inj {
	uint8_t bus;
	uint8_t dev;
	uint8_t fn;
	uint32_t uncor_status;
	uint32_t cor_status;
	uint32_t header_log0;
	uint32_t header_log1;
	uint32_t header_log2;
	uint32_t header_log3;
	uint32_t domain;
};

int tern_aer_inject(const char *pf, uint32_t uncor_status)
{
	struct aer_error_inj einj = { .uncor_status = uncor_status };
	unsigned int domain, bus, dev, fn;
	ssize_t n;
	int fd;

	if (sscanf(pf, "%x:%x:%x.%x", &domain, &bus, &dev, &fn) != 4)
		return -EINVAL;
	einj.domain = domain;
	einj.bus = bus;
	einj.dev = dev;
	einj.fn = fn;
	fd = open("/dev/aer_inject", O_WRONLY);
	if (fd < 0)
		return -errno;
	n = write(fd, &einj, sizeof(einj));
	if (n < 0)
		n = -errno;
	close(fd);
	return n == sizeof(einj) ? 0 : (n < 0 ? n : -EIO);
}

int tern_device_reset(struct vfio_dev *dev)
{
	int ret;

	while ((ret = ioctl(dev->device_fd, VFIO_DEVICE_RESET)) &&
	       errno == EAGAIN)
		usleep(10000);
	return ret ? -errno : 0;
}

enum vfio_device_mig_state tern_mig_state(struct vfio_dev *dev)
{
	enum vfio_device_mig_state s = VFIO_DEVICE_STATE_ERROR;

	vfio_mig_get_state(dev, &s);
	return s;
}

int tern_new_save_reads(struct vfio_dev *dev)
{
	char buf[64];
	ssize_t n;
	int fd;

	if (vfio_mig_set_state(dev, VFIO_DEVICE_STATE_PRE_COPY, &fd))
		return -1;
	n = read(fd, buf, sizeof(buf));
	if (vfio_mig_set_state(dev, VFIO_DEVICE_STATE_RUNNING, NULL))
		n = -1;
	close(fd);
	return n > 0 ? 0 : -1;
}

long tern_pf_op_stat(const char *pf, const char *opcode, int column)
{
	char path[128], line[256], name[32];
	unsigned long long v[3];
	long ret = 0;
	FILE *f;

	if (column < 1 || column > 3)
		return -1;
	snprintf(path, sizeof(path), "/sys/kernel/debug/tern_core/%s/stats",
		 pf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%31s %llu %llu %llu", name, &v[0], &v[1],
			   &v[2]) == 4 && !strcmp(name, opcode))
			ret = v[column - 1];
	fclose(f);
	return ret;
}
