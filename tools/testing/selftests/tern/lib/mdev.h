/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A mediated device opened the way libvfio opens a PCI one, for the mtty
 * baseline: libvfio finds a device's IOMMU group and vfio cdev under
 * /sys/bus/pci, an mdev's are under /sys/bus/mdev. No BAR is mapped:
 * device->bars[i].info holds each BAR's region, read and written with
 * pread() and pwrite() at its offset.
 */
#ifndef TERN_SELFTESTS_LIB_MDEV_H
#define TERN_SELFTESTS_LIB_MDEV_H

#include <libvfio.h>

/* Open mdev @uuid (kept, not copied) on @iommu, in any IOMMU mode. */
struct vfio_pci_device *mdev_device_init(const char *uuid,
					 struct iommu *iommu);

#endif /* TERN_SELFTESTS_LIB_MDEV_H */
