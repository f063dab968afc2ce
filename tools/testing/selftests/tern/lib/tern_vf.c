// SPDX-License-Identifier: GPL-2.0
/*
 * A tern VF as the tests open it (see tern_vf.h).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/kernel.h>
#include <linux/sizes.h>

#include "tern_vf.h"

/*
 * The arenas of one process share an IOVA allocator per IOMMU. Its first
 * page is never handed out: IOVA 0 stays unmapped, so that an engine
 * whose ring registers a reset cleared faults rather than reads or writes
 * an arena.
 */
static iova_t tern_arena_next_iova(struct iommu *iommu, size_t size)
{
	static struct iova_allocator *allocator;
	static struct iommu *allocator_iommu;

	if (allocator_iommu != iommu) {
		if (allocator)
			iova_allocator_cleanup(allocator);
		allocator = iova_allocator_init(iommu);
		allocator_iommu = iommu;
		iova_allocator_alloc(allocator, SZ_4K);
	}

	return iova_allocator_alloc(allocator, size);
}

void tern_arena_init(struct tern_arena *arena, struct iommu *iommu,
		     size_t size)
{
	void *vaddr;

	vaddr = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	VFIO_ASSERT_NE(vaddr, MAP_FAILED);

	*arena = (struct tern_arena) {
		.region = {
			.vaddr = vaddr,
			.size = size,
		},
		.iommu = iommu,
	};
}

static void tern_arena_map(struct tern_arena *arena)
{
	arena->region.iova = tern_arena_next_iova(arena->iommu,
						  arena->region.size);
	iommu_map(arena->iommu, &arena->region);
	arena->mapped = true;
}

void tern_arena_cleanup(struct tern_arena *arena, struct iommu *iommu)
{
	if (!arena->region.vaddr)
		return;

	if (arena->mapped)
		iommu_unmap(iommu, &arena->region);
	VFIO_ASSERT_EQ(munmap(arena->region.vaddr, arena->region.size), 0);
	arena->region.vaddr = NULL;
	arena->mapped = false;
}

void *tern_arena_alloc(struct tern_arena *arena, size_t size, size_t align)
{
	size_t offset = (arena->used + align - 1) & ~(align - 1);
	u8 *p;

	if (offset + size > arena->region.size)
		return NULL;

	if (!arena->mapped)
		tern_arena_map(arena);

	arena->used = offset + size;
	p = (u8 *)arena->region.vaddr + offset;
	memset(p, 0, size);

	return p;
}

struct vfio_pci_device *tern_vf_init(const char *bdf, struct iommu *iommu,
				     struct tern_arena *arena)
{
	struct vfio_pci_device *device;
	void *region;

	device = vfio_pci_device_init(bdf, iommu);
	VFIO_ASSERT_EQ(device->driver.ops != NULL, true,
		       "%s: no libvfio driver for this device\n", bdf);

	region = tern_arena_alloc(arena, TERN_DRIVER_REGION_SIZE, SZ_4K);
	VFIO_ASSERT_NOT_NULL(region, "%s: arena full\n", bdf);
	device->driver.region = (struct dma_region) {
		.vaddr = region,
		.iova = tern_arena_iova(arena, region),
		.size = TERN_DRIVER_REGION_SIZE,
	};

	vfio_pci_driver_init(device);

	return device;
}

void tern_vf_cleanup(struct vfio_pci_device *device, struct tern_arena *arena)
{
	if (device->driver.initialized)
		vfio_pci_driver_remove(device);

	tern_arena_cleanup(arena, device->iommu);
	vfio_pci_device_cleanup(device);
}

void tern_vf_release(struct vfio_pci_device *device, struct tern_arena *arena)
{
	int i;

	/*
	 * While the VF is open its removal waits, and its group keeps a type1
	 * container's mappings: unmap first.
	 */
	tern_arena_cleanup(arena, device->iommu);

	/* the BAR mappings hold the device file too */
	for (i = 0; i < PCI_STD_NUM_BARS; i++)
		if (device->bars[i].vaddr)
			munmap(device->bars[i].vaddr, device->bars[i].info.size);
	if (device->fd >= 0)
		close(device->fd);
	for (i = 0; i < ARRAY_SIZE(device->msi_eventfds); i++)
		if (device->msi_eventfds[i] >= 0)
			close(device->msi_eventfds[i]);
	if (device->group_fd)
		close(device->group_fd);

	vfio_pci_device_free(device);
}

u32 tern_mig_state(struct vfio_pci_device *device)
{
	u32 state;

	if (__vfio_pci_mig_state_get(device, &state))
		return VFIO_DEVICE_STATE_ERROR;

	return state;
}

int tern_mig_state_set(struct vfio_pci_device *device, u32 state)
{
	int data_fd, ret;

	ret = __vfio_pci_mig_state_set(device, state, &data_fd);
	if (data_fd >= 0)
		close(data_fd);

	return ret;
}

int tern_device_reset(struct vfio_pci_device *device)
{
	int ret;

	while ((ret = __vfio_pci_device_reset(device)) == -EAGAIN)
		usleep(10000);

	return ret;
}

int tern_new_save_reads(struct vfio_pci_device *device)
{
	char buf[64];
	ssize_t n;
	int fd;

	if (__vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_PRE_COPY, &fd))
		return -1;

	n = read(fd, buf, sizeof(buf));
	if (tern_mig_state_set(device, VFIO_DEVICE_STATE_RUNNING))
		n = -1;
	close(fd);

	return n > 0 ? 0 : -1;
}
