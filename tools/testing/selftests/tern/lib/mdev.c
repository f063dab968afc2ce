// SPDX-License-Identifier: GPL-2.0
/*
 * A mediated device on libvfio's IOMMU (see mdev.h).
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include "mdev.h"

static void mdev_container_open(struct vfio_pci_device *device,
				const char *uuid)
{
	struct vfio_group_status group_status = {
		.argsz = sizeof(group_status),
	};
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf_assert(path, sizeof(path), "/sys/bus/mdev/devices/%s/iommu_group",
			uuid);
	n = readlink(path, link, sizeof(link) - 1);
	VFIO_ASSERT_GT(n, 0, "%s: no IOMMU group\n", uuid);
	link[n] = 0;

	snprintf_assert(path, sizeof(path), "/dev/vfio/%s", basename(link));
	device->group_fd = open(path, O_RDWR);
	VFIO_ASSERT_GE(device->group_fd, 0, "open(%s) failed\n", path);

	ioctl_assert(device->group_fd, VFIO_GROUP_GET_STATUS, &group_status);
	VFIO_ASSERT_TRUE(group_status.flags & VFIO_GROUP_FLAGS_VIABLE);
	ioctl_assert(device->group_fd, VFIO_GROUP_SET_CONTAINER,
		     &device->iommu->container_fd);
	vfio_container_set_iommu(device);

	__vfio_pci_group_get_device_fd(device, uuid, NULL);
	VFIO_ASSERT_GE(device->fd, 0, "%s: VFIO_GROUP_GET_DEVICE_FD failed\n", uuid);
}

static void mdev_iommufd_open(struct vfio_pci_device *device, const char *uuid)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = device->iommu->ioas_id,
	};
	char path[PATH_MAX];
	struct dirent *entry;
	DIR *dir;

	snprintf_assert(path, sizeof(path), "/sys/bus/mdev/devices/%s/vfio-dev",
			uuid);
	dir = opendir(path);
	VFIO_ASSERT_NOT_NULL(dir, "%s: no vfio cdev\n", uuid);
	while ((entry = readdir(dir)) && strncmp(entry->d_name, "vfio", 4))
		continue;
	VFIO_ASSERT_NOT_NULL(entry, "%s: no vfio cdev\n", uuid);
	snprintf_assert(path, sizeof(path), "/dev/vfio/devices/%s", entry->d_name);
	VFIO_ASSERT_EQ(closedir(dir), 0);

	device->fd = open(path, O_RDWR);
	VFIO_ASSERT_GE(device->fd, 0, "open(%s) failed\n", path);
	VFIO_ASSERT_EQ(__vfio_device_bind_iommufd(device->fd,
						  device->iommu->iommufd, NULL), 0);
	ioctl_assert(device->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach);
}

struct vfio_pci_device *mdev_device_init(const char *uuid,
					 struct iommu *iommu)
{
	struct vfio_pci_device *device;
	int i;

	device = vfio_pci_device_alloc(uuid, iommu);
	for (i = 0; i < ARRAY_SIZE(device->msi_eventfds); i++)
		device->msi_eventfds[i] = -1;

	if (iommu->mode->container_path)
		mdev_container_open(device, uuid);
	else
		mdev_iommufd_open(device, uuid);

	device->info.argsz = sizeof(device->info);
	ioctl_assert(device->fd, VFIO_DEVICE_GET_INFO, &device->info);

	/* the BARs' regions, for pread() and pwrite(); none is mapped */
	for (i = 0; i < PCI_STD_NUM_BARS; i++) {
		struct vfio_region_info *info = &device->bars[i].info;

		info->argsz = sizeof(*info);
		info->index = i;
		ioctl_assert(device->fd, VFIO_DEVICE_GET_REGION_INFO, info);
	}

	return device;
}
