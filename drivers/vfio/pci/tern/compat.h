/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern-vfio-pci: what differs between the kernels the driver supports,
 * Linux 6.12 to 7.3, in one place. The logic files use the names below and
 * read the same on every kernel. Every difference is probed (a config
 * symbol, a uAPI define, or a Makefile probe of the kernel's headers).
 */
#ifndef _TERN_VFIO_COMPAT_H
#define _TERN_VFIO_COMPAT_H

#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

/*
 * Interface changes probed in the kernel's headers by this directory's
 * Makefile (TERN_HAVE_*), not read off version numbers: distributions
 * backport.
 */

/* 6.13: the namespace of MODULE_IMPORT_NS() is a string literal */
#ifdef TERN_HAVE_IMPORT_NS_STRING
#define TERN_IMPORT_NS_IOMMUFD()	MODULE_IMPORT_NS("IOMMUFD")
#else
#define TERN_IMPORT_NS_IOMMUFD()	MODULE_IMPORT_NS(IOMMUFD)
#endif

/*
 * 6.19: VFIO_DEVICE_GET_REGION_INFO is answered by the core through
 * .get_region_info_caps; vfio_pci_core_ioctl() no longer handles it.
 */
#ifdef TERN_HAVE_REGION_INFO_CAPS
#define TERN_VFIO_OP_REGION_INFO \
	.get_region_info_caps = vfio_pci_ioctl_get_region_info,
#else
#define TERN_VFIO_OP_REGION_INFO
#endif

/* 6.17: a device may check a VF token given to the iommufd cdev bind */
#ifdef TERN_HAVE_MATCH_TOKEN_UUID
#define TERN_VFIO_OP_MATCH_TOKEN \
	.match_token_uuid = vfio_pci_core_match_token_uuid,
#else
#define TERN_VFIO_OP_MATCH_TOKEN
#endif

/*
 * 6.15: crc32c() is the CRC library's, in <linux/crc32.h>; before, it is
 * __crc32c_le() there (crc32c() was libcrc32c's, through the crypto API).
 * Both run the raw CRC: the standard CRC-32C inverts before and after.
 */
#include <linux/crc32.h>
#ifdef TERN_HAVE_CRC32C_LIB
#define tern_crc32c_raw(crc, p, len)	crc32c(crc, p, len)
#else
#define tern_crc32c_raw(crc, p, len)	__crc32c_le(crc, p, len)
#endif

/* CRC-32C as the device computes it (stream CRCs) */
static inline u32 tern_crc32c(const void *p, size_t len)
{
	return ~tern_crc32c_raw(~0u, p, len);
}

/*
 * DMA logging reports go through struct iova_bitmap, which only a kernel
 * with IOMMUFD_DRIVER implements (elsewhere it compiles to stubs that fail
 * every report). Debian's stock 6.12 kernel has no IOMMUFD at all.
 */
static inline bool tern_have_dma_logging(void)
{
	return IS_ENABLED(CONFIG_IOMMUFD_DRIVER);
}

/*
 * 7.1: the PRECOPY_INFOv2 device feature makes vfio_precopy_info.flags an
 * output (VFIO_PRECOPY_INFO_REINIT) for callers that opt in, and the core
 * checks the ioctl's input with vfio_check_precopy_ioctl().
 */
#ifdef TERN_HAVE_PRECOPY_INFO_V2
static inline bool tern_precopy_info_v2(struct vfio_device *vdev)
{
	return vdev->precopy_info_v2;
}

#define tern_check_precopy_ioctl vfio_check_precopy_ioctl
#else
#define VFIO_PRECOPY_INFO_REINIT	BIT(0)

static inline bool tern_precopy_info_v2(struct vfio_device *vdev)
{
	return false;
}

static inline int tern_check_precopy_ioctl(struct vfio_device *vdev,
					   unsigned int cmd, unsigned long arg,
					   struct vfio_precopy_info *info)
{
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);

	if (cmd != VFIO_MIG_GET_PRECOPY_INFO)
		return -ENOTTY;
	if (copy_from_user(info, (void __user *)arg, minsz))
		return -EFAULT;
	if (info->argsz < minsz)
		return -EINVAL;
	return 0;
}
#endif

/*
 * The vfio core's per-device debugfs directory, <debugfs>/vfio/<dev>/, from
 * registration to unregistration; only with CONFIG_VFIO_DEBUGFS, which
 * Debian's stock kernels do not set.
 */
static inline bool tern_have_vfio_debugfs(void)
{
	return IS_ENABLED(CONFIG_VFIO_DEBUGFS);
}

static inline struct dentry *tern_vfio_debug_root(struct vfio_device *vdev)
{
#if IS_ENABLED(CONFIG_VFIO_DEBUGFS)
	return vdev->debug_root;
#else
	return NULL;
#endif
}

#endif /* _TERN_VFIO_COMPAT_H */
