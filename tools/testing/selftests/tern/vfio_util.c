// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO helpers for the tern selftests. Everything here is what a VMM does
 * to reach a device; nothing is tern-specific.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/iommufd.h>
#include <linux/pci_regs.h>

#include "vfio_util.h"

#define IOCTL_OR_ERRNO(fd, req, arg) (ioctl(fd, req, arg) ? -errno : 0)

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

int pci_selftest_device(const struct pci_selftest_id *id, int *argc,
			char **argv, char *bdf, char *why, size_t len)
{
	char dir[PATH_MAX];
	unsigned long vendor, device;
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

static int open_cdev(struct vfio_dev *dev)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;
	int ret;

	snprintf(path, sizeof(path), "%s/vfio-dev", dev->sysfs);
	dir = opendir(path);
	if (!dir)
		return -errno;
	path[0] = 0;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4))
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s",
				 de->d_name);
	closedir(dir);
	if (!path[0])
		return -ENODEV;

	dev->device_fd = open(path, O_RDWR);
	if (dev->device_fd < 0)
		return -errno;
	dev->iommufd = open("/dev/iommu", O_RDWR);
	if (dev->iommufd < 0)
		return -errno;
	bind.iommufd = dev->iommufd;
	ret = IOCTL_OR_ERRNO(dev->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (ret)
		return ret;
	ret = IOCTL_OR_ERRNO(dev->iommufd, IOMMU_IOAS_ALLOC, &alloc);
	if (ret)
		return ret;
	dev->ioas_id = alloc.out_ioas_id;
	attach.pt_id = dev->ioas_id;
	return IOCTL_OR_ERRNO(dev->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
			      &attach);
}

static int open_legacy(struct vfio_dev *dev)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;
	int ret;

	snprintf(path, sizeof(path), "%s/iommu_group", dev->sysfs);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -ENODEV;
	link[n] = 0;

	dev->container_fd = open("/dev/vfio/vfio", O_RDWR);
	if (dev->container_fd < 0)
		return -errno;
	if (ioctl(dev->container_fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
		return -EPROTO;
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	dev->group_fd = open(path, O_RDWR);
	if (dev->group_fd < 0)
		return -errno;
	ret = IOCTL_OR_ERRNO(dev->group_fd, VFIO_GROUP_GET_STATUS, &status);
	if (ret)
		return ret;
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
		return -EBUSY;
	ret = IOCTL_OR_ERRNO(dev->group_fd, VFIO_GROUP_SET_CONTAINER,
			     &dev->container_fd);
	if (ret)
		return ret;
	if (ioctl(dev->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return -errno;
	dev->device_fd = ioctl(dev->group_fd, VFIO_GROUP_GET_DEVICE_FD,
			       dev->name);
	return dev->device_fd < 0 ? -errno : 0;
}

int vfio_dev_open(struct vfio_dev *dev, const char *sysfs_path,
		  enum vfio_access_path path)
{
	char tmp[sizeof(dev->sysfs)];
	int ret;

	memset(dev, 0, sizeof(*dev));
	dev->path = path;
	dev->device_fd = dev->iommufd = dev->container_fd = dev->group_fd = -1;
	snprintf(dev->sysfs, sizeof(dev->sysfs), "%s", sysfs_path);
	snprintf(tmp, sizeof(tmp), "%s", sysfs_path);
	snprintf(dev->name, sizeof(dev->name), "%s", basename(tmp));

	ret = path == VFIO_PATH_CDEV ? open_cdev(dev) : open_legacy(dev);
	if (ret)
		vfio_dev_close(dev);
	return ret;
}

void vfio_dev_close(struct vfio_dev *dev)
{
	if (dev->device_fd >= 0)
		close(dev->device_fd);
	if (dev->group_fd >= 0)
		close(dev->group_fd);
	if (dev->container_fd >= 0)
		close(dev->container_fd);
	if (dev->iommufd >= 0)
		close(dev->iommufd);
	dev->device_fd = dev->iommufd = dev->container_fd = dev->group_fd = -1;
}

void *vfio_alloc_dma_buffer(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int vfio_dma_map(struct vfio_dev *dev, void *vaddr, size_t size,
		 uint64_t iova)
{
	if (dev->path == VFIO_PATH_CDEV) {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
				 IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = dev->ioas_id,
			.user_va = (uintptr_t)vaddr,
			.length = size,
			.iova = iova,
		};

		return IOCTL_OR_ERRNO(dev->iommufd, IOMMU_IOAS_MAP, &map);
	} else {
		struct vfio_iommu_type1_dma_map map = {
			.argsz = sizeof(map),
			.flags = VFIO_DMA_MAP_FLAG_READ |
				 VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)vaddr,
			.iova = iova,
			.size = size,
		};

		return IOCTL_OR_ERRNO(dev->container_fd, VFIO_IOMMU_MAP_DMA,
				      &map);
	}
}

int vfio_dma_unmap(struct vfio_dev *dev, size_t size, uint64_t iova)
{
	if (dev->path == VFIO_PATH_CDEV) {
		struct iommu_ioas_unmap unmap = {
			.size = sizeof(unmap),
			.ioas_id = dev->ioas_id,
			.iova = iova,
			.length = size,
		};

		return IOCTL_OR_ERRNO(dev->iommufd, IOMMU_IOAS_UNMAP, &unmap);
	} else {
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = iova,
			.size = size,
		};

		return IOCTL_OR_ERRNO(dev->container_fd, VFIO_IOMMU_UNMAP_DMA,
				      &unmap);
	}
}

int vfio_region_info(struct vfio_dev *dev, unsigned int index,
		     struct vfio_region_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->index = index;
	return IOCTL_OR_ERRNO(dev->device_fd, VFIO_DEVICE_GET_REGION_INFO,
			      info);
}

ssize_t vfio_region_read(struct vfio_dev *dev, unsigned int index,
			 uint64_t offset, void *buf, size_t len)
{
	struct vfio_region_info info;
	ssize_t n;
	int ret;

	ret = vfio_region_info(dev, index, &info);
	if (ret)
		return ret;
	n = pread(dev->device_fd, buf, len, info.offset + offset);
	return n < 0 ? -errno : n;
}

ssize_t vfio_region_write(struct vfio_dev *dev, unsigned int index,
			  uint64_t offset, const void *buf, size_t len)
{
	struct vfio_region_info info;
	ssize_t n;
	int ret;

	ret = vfio_region_info(dev, index, &info);
	if (ret)
		return ret;
	n = pwrite(dev->device_fd, buf, len, info.offset + offset);
	return n < 0 ? -errno : n;
}

uint32_t vfio_read32(struct vfio_dev *dev, unsigned int index,
		     uint64_t offset)
{
	uint32_t val = ~0u;

	if (vfio_region_read(dev, index, offset, &val, 4) != 4)
		return ~0u;
	return val;
}

void vfio_write32(struct vfio_dev *dev, unsigned int index, uint64_t offset,
		  uint32_t val)
{
	vfio_region_write(dev, index, offset, &val, 4);
}

int vfio_pci_enable_master(struct vfio_dev *dev)
{
	uint16_t cmd;
	ssize_t n;

	n = vfio_region_read(dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND,
			     &cmd, sizeof(cmd));
	if (n != sizeof(cmd))
		return n < 0 ? n : -EIO;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	n = vfio_region_write(dev, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND,
			      &cmd, sizeof(cmd));
	return n == sizeof(cmd) ? 0 : (n < 0 ? n : -EIO);
}

void *vfio_region_mmap(struct vfio_dev *dev, unsigned int index,
		       size_t *size)
{
	struct vfio_region_info info;
	void *p;

	if (vfio_region_info(dev, index, &info) ||
	    !(info.flags & VFIO_REGION_INFO_FLAG_MMAP) || !info.size)
		return NULL;
	p = mmap(NULL, info.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 dev->device_fd, info.offset);
	if (p == MAP_FAILED)
		return NULL;
	*size = info.size;
	return p;
}

int vfio_irq_enable(struct vfio_dev *dev, unsigned int index,
		    unsigned int count, int *efds)
{
	size_t sz = sizeof(struct vfio_irq_set) + count * sizeof(int);
	struct vfio_irq_set *set;
	unsigned int i;
	int ret;

	set = calloc(1, sz);
	if (!set)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		efds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efds[i] < 0) {
			ret = -errno;
			while (i--)
				close(efds[i]);
			free(set);
			return ret;
		}
	}
	set->argsz = sz;
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = index;
	set->start = 0;
	set->count = count;
	memcpy(set->data, efds, count * sizeof(int));
	ret = IOCTL_OR_ERRNO(dev->device_fd, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	if (ret)
		for (i = 0; i < count; i++)
			close(efds[i]);
	return ret;
}

int vfio_irq_disable(struct vfio_dev *dev, unsigned int index)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index,
	};

	return IOCTL_OR_ERRNO(dev->device_fd, VFIO_DEVICE_SET_IRQS, &set);
}

uint64_t vfio_eventfd_wait(int efd, int timeout_ms)
{
	struct pollfd pfd = { .fd = efd, .events = POLLIN };
	uint64_t count = 0;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	if (read(efd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

int vfio_device_feature(struct vfio_dev *dev, uint32_t flags, void *data,
			size_t size)
{
	struct vfio_device_feature *feature;
	int ret;

	feature = calloc(1, sizeof(*feature) + size);
	if (!feature)
		return -ENOMEM;
	feature->argsz = sizeof(*feature) + size;
	feature->flags = flags;
	if (size)
		memcpy(feature->data, data, size);
	ret = IOCTL_OR_ERRNO(dev->device_fd, VFIO_DEVICE_FEATURE, feature);
	if (!ret && size)
		memcpy(data, feature->data, size);
	free(feature);
	return ret;
}

int vfio_mig_set_state(struct vfio_dev *dev, enum vfio_device_mig_state state,
		       int *data_fd)
{
	struct vfio_device_feature_mig_state mig = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret;

	ret = vfio_device_feature(dev, VFIO_DEVICE_FEATURE_SET |
				  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				  &mig, sizeof(mig));
	if (data_fd)
		*data_fd = ret ? -1 : mig.data_fd;
	else if (!ret && mig.data_fd >= 0)
		close(mig.data_fd);
	return ret;
}

int vfio_mig_get_state(struct vfio_dev *dev,
		       enum vfio_device_mig_state *state)
{
	struct vfio_device_feature_mig_state mig = {};
	int ret;

	ret = vfio_device_feature(dev, VFIO_DEVICE_FEATURE_GET |
				  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				  &mig, sizeof(mig));
	if (!ret)
		*state = mig.device_state;
	return ret;
}

int vfio_mig_get_flags(struct vfio_dev *dev, uint64_t *flags)
{
	struct vfio_device_feature_migration mig = {};
	int ret;

	ret = vfio_device_feature(dev, VFIO_DEVICE_FEATURE_GET |
				  VFIO_DEVICE_FEATURE_MIGRATION,
				  &mig, sizeof(mig));
	if (!ret)
		*flags = mig.flags;
	return ret;
}

int vfio_mig_precopy_info(int data_fd, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return IOCTL_OR_ERRNO(data_fd, VFIO_MIG_GET_PRECOPY_INFO, info);
}

int mig_stream_read(int data_fd, struct mig_stream *s, size_t chunk)
{
	for (;;) {
		ssize_t n;

		if (s->cap - s->len < chunk) {
			size_t cap = (s->cap + chunk) * 2;
			uint8_t *p = realloc(s->data, cap);

			if (!p)
				return -ENOMEM;
			s->data = p;
			s->cap = cap;
		}
		n = read(data_fd, s->data + s->len, chunk);
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		s->len += n;
	}
}

int mig_stream_write(int data_fd, const void *buf, size_t len, size_t split)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(data_fd, p, len < split ? len : split);

		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

void mig_stream_free(struct mig_stream *s)
{
	free(s->data);
	memset(s, 0, sizeof(*s));
}

int mig_stream_pump(int src_fd, int dst_fd, void *buf, size_t chunk,
		    uint64_t *moved)
{
	for (;;) {
		ssize_t n = read(src_fd, buf, chunk);
		int ret;

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (dst_fd >= 0) {
			ret = mig_stream_write(dst_fd, buf, n, n);
			if (ret)
				return ret;
		}
		*moved += n;
	}
}

int vfio_dma_log_start(struct vfio_dev *dev,
		       const struct vfio_device_feature_dma_logging_range *ranges,
		       unsigned int nranges, uint64_t *page_size)
{
	struct vfio_device_feature_dma_logging_control control = {
		.page_size = *page_size,
		.num_ranges = nranges,
		.ranges = (uintptr_t)ranges,
	};
	int ret;

	ret = vfio_device_feature(dev, VFIO_DEVICE_FEATURE_SET |
				  VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				  &control, sizeof(control));
	if (!ret)
		*page_size = control.page_size;
	return ret;
}

int vfio_dma_log_stop(struct vfio_dev *dev)
{
	return vfio_device_feature(dev, VFIO_DEVICE_FEATURE_SET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
				   NULL, 0);
}

int vfio_dma_log_report(struct vfio_dev *dev, uint64_t iova, uint64_t length,
			uint64_t page_size, uint64_t *bitmap)
{
	struct vfio_device_feature_dma_logging_report report = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return vfio_device_feature(dev, VFIO_DEVICE_FEATURE_GET |
				   VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
				   &report, sizeof(report));
}

double monotonic_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

bool vfio_cdev_available(void)
{
	return !access("/dev/iommu", F_OK);
}

bool vfio_precopy_info_v2_available(struct vfio_dev *dev)
{
	return !vfio_device_feature(dev, VFIO_DEVICE_FEATURE_PROBE |
				    VFIO_DEVICE_FEATURE_SET |
				    VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
				    NULL, 0);
}

bool vfio_dma_logging_available(struct vfio_dev *dev)
{
	return !vfio_device_feature(dev, VFIO_DEVICE_FEATURE_PROBE |
				    VFIO_DEVICE_FEATURE_SET |
				    VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				    NULL, 0);
}
