/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A tern VF as the tests open it: a libvfio device in one of the two IOMMU
 * modes a VMM uses, its engine driven by libvfio's tern driver
 * (<tern/tern.h>), and DMA memory from an arena mapped into the IOMMU.
 */
#ifndef TERN_SELFTESTS_LIB_TERN_VF_H
#define TERN_SELFTESTS_LIB_TERN_VF_H

#include <stdbool.h>
#include <stddef.h>

#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "tern_setup.h"

/*
 * The IOMMU modes the tests run in: the type1 container (the path of a
 * kernel without iommufd, Debian's) and iommufd with the vfio cdev. A
 * fixture whose variants carry more than the mode defines
 * FIXTURE_VARIANT_ADD_IOMMU_MODE(), as upstream's tests do for
 * FIXTURE_VARIANT_ADD_ALL_IOMMU_MODES(); one whose variants are the modes
 * alone declares them with TERN_FIXTURE_IOMMU_MODES().
 */
#define FIXTURE_VARIANT_ADD_TERN_IOMMU_MODES(...)			\
FIXTURE_VARIANT_ADD_IOMMU_MODE(vfio_type1v2_iommu, ##__VA_ARGS__);	\
FIXTURE_VARIANT_ADD_IOMMU_MODE(iommufd, ##__VA_ARGS__)

/* FIXTURE_VARIANT(@fixture) { iommu_mode } and one variant per mode. */
#define TERN_FIXTURE_IOMMU_MODES(fixture)				\
FIXTURE_VARIANT(fixture)						\
{									\
	const char *iommu_mode;						\
};									\
									\
FIXTURE_VARIANT_ADD(fixture, vfio_type1v2_iommu)			\
{									\
	.iommu_mode = MODE_VFIO_TYPE1V2_IOMMU,				\
};									\
									\
FIXTURE_VARIANT_ADD(fixture, iommufd)					\
{									\
	.iommu_mode = MODE_IOMMUFD,					\
}

/*
 * In a FIXTURE_SETUP: SKIP where the kernel may lack @iommu_mode and does
 * (no iommufd: feature "cdev"; no type1 container: "type1").
 */
#define SKIP_UNLESS_IOMMU_MODE(iommu_mode)					\
	SKIP_UNLESS_KERNEL_HAS(vfio_iommu_mode_available(iommu_mode, NULL),\
			       strcmp(iommu_mode, MODE_IOMMUFD) ? "type1" : "cdev")

/* Memory mapped for DMA at one IOVA range, handed out front to back. */
struct tern_arena {
	struct dma_region region;
	struct iommu *iommu;
	bool mapped;
	size_t used;
};

/*
 * @size bytes (a power of 2, at least the page size) for DMA through
 * @iommu. They are mapped at the first tern_arena_alloc(): a type1
 * container maps nothing until a device is opened on it.
 */
void tern_arena_init(struct tern_arena *arena, struct iommu *iommu,
		     size_t size);

/*
 * Unmap and free the arena. A type1 container drops its mappings with its
 * last device: before that device is closed (see tern_vf_cleanup()).
 */
void tern_arena_cleanup(struct tern_arena *arena, struct iommu *iommu);

/*
 * @size zeroed bytes at a multiple of @align (a power of 2), the arena
 * mapped; NULL if full.
 */
void *tern_arena_alloc(struct tern_arena *arena, size_t size, size_t align);

/* The IOVA of @vaddr, inside the arena. */
static inline iova_t tern_arena_iova(struct tern_arena *arena,
				     const void *vaddr)
{
	return arena->region.iova +
	       ((const u8 *)vaddr - (const u8 *)arena->region.vaddr);
}

/* Bytes of an arena a VF's driver region takes. */
#define TERN_DRIVER_REGION_SIZE	SZ_2M

/*
 * Open VF @bdf on @iommu with bus mastering on, both MSI-X vectors on
 * eventfds (device->msi_eventfds[TERN_VF_VEC_*]) and the engine started on
 * a ring of TERN_RING_SIZE entries, its driver region taken from @arena.
 * vfio_pci_device_cleanup() stops the engine and closes the VF.
 */
struct vfio_pci_device *tern_vf_init(const char *bdf, struct iommu *iommu,
				     struct tern_arena *arena);

/*
 * Undo tern_vf_init() and tern_arena_init() in the order a type1 container
 * needs: the driver's remove (engine stopped, MSI-X disabled), @arena
 * unmapped, the VF closed.
 */
void tern_vf_cleanup(struct vfio_pci_device *device, struct tern_arena *arena);

/*
 * The same for a VF that may be going away (its PF unbound) or whose fd
 * the test closed (device->fd < 0): no register write, no ioctl and no
 * assertion on the VF; stopping it is left to the kernel's release. Its
 * engine must be idle: @arena is unmapped first.
 */
void tern_vf_release(struct vfio_pci_device *device, struct tern_arena *arena);

/* The VF's migration state; ERROR if it cannot be read. */
u32 tern_mig_state(struct vfio_pci_device *device);

/*
 * Set the VF's migration state to @state for an arc whose data_fd, if it
 * opens one, the caller does not use (it is closed): 0 or -errno.
 */
int tern_mig_state_set(struct vfio_pci_device *device, u32 state);

/*
 * VFIO_DEVICE_RESET, tried again every 10 ms while a recovery in the
 * background holds the VF (-EAGAIN): 0 or -errno.
 */
int tern_device_reset(struct vfio_pci_device *device);

/* A new pre-copy session starts and its stream reads: 0, or -1. */
int tern_new_save_reads(struct vfio_pci_device *device);

/* DMA logging on an open device: feature "dma_logging". */
static inline bool tern_dma_logging_available(struct vfio_pci_device *device)
{
	return vfio_pci_device_feature_probe(device, VFIO_DEVICE_FEATURE_SET,
					     VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
}

/* PRECOPY_INFOv2 and its REINIT flag (Linux 7.1+): "precopy_info_v2". */
static inline bool tern_precopy_info_v2_available(struct vfio_pci_device *device)
{
	return vfio_pci_device_feature_probe(device, VFIO_DEVICE_FEATURE_SET,
					     VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2);
}

#endif /* TERN_SELFTESTS_LIB_TERN_VF_H */
