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
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "tern_setup.h"

int sysfs_write(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	int fd, ret = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

int sysfs_read(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
	return 0;
}

static int sysfs_read_hex(const char *dir, const char *attr,
			  unsigned long *val)
{
	char path[PATH_MAX], buf[32];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", dir, attr);
	ret = sysfs_read(path, buf, sizeof(buf));
	if (ret)
		return ret;
	*val = strtoul(buf, NULL, 16);
	return 0;
}

static bool is_bdf(const char *str)
{
	unsigned int s, b, d, f;
	int length;

	return sscanf(str, "%4x:%2x:%2x.%2x%n", &s, &b, &d, &f, &length) == 4 &&
	       length == (int)strlen(str);
}

/* @name (from @from) is a device of the kind @id names: into @bdf. */
static int pci_selftest_check(const struct pci_selftest_id *id,
			      const char *name, const char *from, char *bdf,
			      char *why, size_t len)
{
	unsigned long vendor, device;
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", name);
	if (sysfs_read_hex(dir, "vendor", &vendor) ||
	    sysfs_read_hex(dir, "device", &device)) {
		snprintf(why, len, "%s (from %s): no such PCI device", name,
			 from);
		return -ENODEV;
	}
	if (vendor != id->vendor || device != id->device) {
		snprintf(why, len,
			 "%s (from %s) is a %04lx:%04lx, not a %s (%04x:%04x)",
			 name, from, vendor, device, id->what, id->vendor,
			 id->device);
		return -ENODEV;
	}
	snprintf(bdf, 16, "%s", name);
	return 0;
}

int pci_selftest_device(const struct pci_selftest_id *id, int *argc,
			char **argv, char *bdf, char *why, size_t len)
{
	const char *name, *from;
	int i;

	/* argv: the trailing addresses go, the first of them is the device */
	for (i = *argc - 1; i > 0 && is_bdf(argv[i]); i--)
		;
	if (++i < *argc) {
		name = argv[i];
		from = "the command line";
		*argc = i;
	} else {
		name = getenv(id->env);
		from = id->env;
		if (!name || !*name) {
			snprintf(why, len,
				 "no %s named: pass its address (segment:bus:device.function) as the last argument or set %s",
				 id->what, id->env);
			return -ENOENT;
		}
		if (!is_bdf(name)) {
			snprintf(why, len,
				 "%s=%s: not a PCI address (segment:bus:device.function)",
				 id->env, name);
			return -EINVAL;
		}
	}
	return pci_selftest_check(id, name, from, bdf, why, len);
}

int pci_device_driver(const char *bdf, char *driver, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -ENOENT;
	link[n] = 0;
	snprintf(driver, len, "%s", basename(link));
	return 0;
}

bool pci_driver_is(const char *bdf, const char *driver)
{
	char cur[64];

	return !pci_device_driver(bdf, cur, sizeof(cur)) &&
	       !strcmp(cur, driver);
}

int pci_bind_driver(const char *bdf, const char *driver)
{
	char path[PATH_MAX], cur[64];
	int ret;

	if (!pci_device_driver(bdf, cur, sizeof(cur))) {
		if (!strcmp(cur, driver))
			return 0;
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		ret = sysfs_write(path, bdf);
		if (ret)
			return ret;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	ret = sysfs_write(path, driver);
	if (ret)
		return ret;
	ret = sysfs_write("/sys/bus/pci/drivers_probe", bdf);
	if (ret)
		return ret;
	if (pci_device_driver(bdf, cur, sizeof(cur)))
		return -ENODEV;
	return strcmp(cur, driver) ? -EBUSY : 0;
}

double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

int kmsg_next(int fd, char *msg, size_t len)
{
	char rec[2048], *text;
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;	/* records overwritten meanwhile: go on */
		if (n <= 0)
			return 0;
		rec[n] = 0;
		/* "level,seq,usec,flags;message\n" then key=value lines */
		rec[strcspn(rec, "\n")] = 0;
		text = strchr(rec, ';');
		snprintf(msg, len, "%s", text ? text + 1 : rec);
		return 1;
	}
}

bool kernel_may_lack(const char *feature)
{
	const char *lacks = getenv("TERN_KERNEL_LACKS");
	size_t n = strlen(feature);
	const char *p;

	if (!lacks)
		return true;
	for (p = lacks; (p = strstr(p, feature)); p += n) {
		if ((p == lacks || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	}
	return false;
}

void tern_vf_debugfs_path(char *path, size_t len, const char *bdf,
			  const char *file)
{
	struct stat st;

	if (!stat("/sys/kernel/debug/vfio", &st))
		snprintf(path, len, "/sys/kernel/debug/vfio/%s/migration/tern/%s",
			 bdf, file);
	else
		snprintf(path, len, "/sys/kernel/debug/tern_vfio_pci/%s/%s",
			 bdf, file);
}

u32 crc32c_update(u32 crc, const void *buf, size_t len)
{
	const u8 *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1));
	}
	return ~crc;
}

u32 crc32c(const void *buf, size_t len)
{
	return crc32c_update(0, buf, len);
}

const struct pci_selftest_id tern_pf_id = {
	.what = "tern PF",
	.env = TERN_SELFTESTS_PF_ENV,
	.vendor = TERN_PCI_VENDOR_ID,
	.device = TERN_PCI_PF_DEVICE_ID,
};

char tern_pf[16];
char tern_pf_other[16];
static char tern_setup_why[512];

int tern_selftest_other_pf(char *why, size_t len)
{
	const char *name = getenv(TERN_SELFTESTS_PF_OTHER_ENV);
	int ret;

	tern_pf_other[0] = 0;
	if (!name || !*name)
		return -ENOENT;
	if (!is_bdf(name)) {
		snprintf(why, len,
			 "%s=%s: not a PCI address (segment:bus:device.function)",
			 TERN_SELFTESTS_PF_OTHER_ENV, name);
		return -EINVAL;
	}
	ret = pci_selftest_check(&tern_pf_id, name,
				 TERN_SELFTESTS_PF_OTHER_ENV, tern_pf_other,
				 why, len);
	if (ret)
		return ret;
	if (!strcmp(tern_pf_other, tern_pf)) {
		snprintf(why, len, "%s=%s: the PF itself, not another one",
			 TERN_SELFTESTS_PF_OTHER_ENV, name);
		tern_pf_other[0] = 0;
		return -EINVAL;
	}
	return 0;
}

bool tern_selftests_destructive(void)
{
	const char *val = getenv(TERN_SELFTESTS_DESTRUCTIVE_ENV);

	return val && !strcmp(val, "1");
}

const char *tern_setup_reason(void)
{
	return tern_setup_why;
}

int tern_pf_vfs_of(const char *pf, char (*vf_bdf)[16], int max)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t len;
	int n;

	for (n = 0; n < max; n++) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/virtfn%d",
			 pf, n);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			break;
		link[len] = 0;
		snprintf(vf_bdf[n], sizeof(vf_bdf[n]), "%s", basename(link));
	}
	return n;
}

int tern_pf_vfs(char (*vf_bdf)[16], int max)
{
	return tern_pf_vfs_of(tern_pf, vf_bdf, max);
}

/* The first @nvfs VFs on @vf_driver, the PF on @pf_driver; or -EPERM. */
static int tern_vfs_as_they_are(const char *pf, const char *pf_driver,
				const char *vf_driver, int nvfs,
				char (*vf_bdf)[16])
{
	char vfs[TERN_MAX_VFS][16], cur[64];
	int n, i, found = 0;

	n = tern_pf_vfs_of(pf, vfs, TERN_MAX_VFS);
	for (i = 0; i < n && found < nvfs; i++)
		if (pci_driver_is(vfs[i], vf_driver))
			strcpy(vf_bdf[found++], vfs[i]);
	if (pci_driver_is(pf, pf_driver) && found == nvfs)
		return nvfs;

	if (pci_device_driver(pf, cur, sizeof(cur)))
		strcpy(cur, "no driver");
	snprintf(tern_setup_why, sizeof(tern_setup_why),
		 "needs PF %s on %s with %d VFs on %s, finds it on %s with %d VFs, %d on %s: set %s=1 to let the test set that up",
		 pf, pf_driver, nvfs, vf_driver, cur, n, found, vf_driver,
		 TERN_SELFTESTS_DESTRUCTIVE_ENV);
	return -EPERM;
}

/* Exactly @nvfs VFs on @vf_driver, PF @pf on @pf_driver; rebinding. */
static int tern_set_up_vfs(const char *pf, const char *pf_driver,
			   const char *vf_driver, int nvfs, char (*vf_bdf)[16])
{
	char vfs[TERN_MAX_VFS][16], path[PATH_MAX], buf[32];
	int n, i, ret;

	ret = pci_bind_driver(pf, pf_driver);
	if (ret)
		return ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs",
		 pf);
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
	n = tern_pf_vfs_of(pf, vfs, TERN_MAX_VFS);
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

static bool tern_driver_present(const char *driver)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s", driver);
	return !stat(path, &st);
}

int tern_prepare_pf_vfs(const char *pf, const char *pf_driver,
			const char *vf_driver, int nvfs, char (*vf_bdf)[16])
{
	char path[PATH_MAX], cur[64];

	if (!tern_selftests_destructive())
		return tern_vfs_as_they_are(pf, pf_driver, vf_driver, nvfs,
					    vf_bdf);
	if (!tern_driver_present(pf_driver) || !tern_driver_present(vf_driver))
		return -ENOENT;
	if (!pci_device_driver(pf, cur, sizeof(cur)) &&
	    strcmp(cur, pf_driver)) {
		/* VFs go away before their PF changes hands */
		snprintf(path, sizeof(path),
			 "/sys/bus/pci/devices/%s/sriov_numvfs", pf);
		sysfs_write(path, "0");
	}
	return tern_set_up_vfs(pf, pf_driver, vf_driver, nvfs, vf_bdf);
}

int tern_prepare_vfs(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16])
{
	return tern_prepare_pf_vfs(tern_pf, pf_driver, vf_driver, nvfs,
				   vf_bdf);
}

int tern_prepare_migration(struct tern_mig_vfs *vfs)
{
	char pf0[2][16], pf1[2][16];
	int ret;

	memset(vfs, 0, sizeof(*vfs));
	ret = tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2, pf0);
	if (ret < 0)
		return ret;
	if (!tern_pf_other[0]) {
		strcpy(vfs->src, pf0[0]);
		strcpy(vfs->dst, pf0[1]);
		strcpy(vfs->same_pf, pf0[1]);
		return 0;
	}
	ret = tern_prepare_pf_vfs(tern_pf_other, TERN_PF_DRIVER,
				  TERN_VF_DRIVER, 2, pf1);
	if (ret < 0)
		return ret;
	strcpy(vfs->src, pf0[1]);
	strcpy(vfs->dst, pf1[0]);
	strcpy(vfs->same_pf, pf0[0]);
	vfs->cross_pf = true;
	return 0;
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
	u8 bus;
	u8 dev;
	u8 fn;
	u32 uncor_status;
	u32 cor_status;
	u32 header_log0;
	u32 header_log1;
	u32 header_log2;
	u32 header_log3;
	u32 domain;
};

int tern_aer_inject(const char *pf, u32 uncor_status)
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
