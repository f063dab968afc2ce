// SPDX-License-Identifier: GPL-2.0
/*
 * Rig smoke test: QEMU's stock "edu" PCI device, bound to vfio-pci behind
 * the emulated intel-iommu, is opened through libvfio in both IOMMU modes
 * the tern tests use (iommufd with the vfio cdev, the type1 container);
 * MMIO, DMA through IOMMU mappings and MSI delivery to an eventfd are
 * checked on each.
 *
 * The edu device is named like the tern PF (lib/tern_setup.h): its address as
 * the last argument, or TERN_SELFTESTS_EDU=segment:bus:device.function.
 * Binding it to vfio-pci needs TERN_SELFTESTS_DESTRUCTIVE=1.
 */
#include <poll.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "tern_vf.h"

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_ID		0x00
#define EDU_REG_LIVENESS	0x04
#define EDU_REG_IRQ_STATUS	0x24
#define EDU_REG_IRQ_ACK		0x64
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_DMA_START		0x1
#define EDU_DMA_TO_RAM		0x2
#define EDU_DMA_IRQ		0x4
#define EDU_DMA_IRQ_BIT		0x100
#define EDU_BUFFER		0x40000	/* the device's internal 4 KiB buffer */
#define EDU_IOVA_SRC		0x200000 /* edu masks DMA to 28 bits */
#define EDU_IOVA_DST		0x300000

static const struct pci_selftest_id edu_id = {
	.what = "edu device",
	.env = "TERN_SELFTESTS_EDU",
	.vendor = EDU_VENDOR,
	.device = EDU_DEVICE,
};

static char edu_bdf[16];

FIXTURE(vfio_smoke_test)
{
	struct iommu *iommu;
	struct vfio_pci_device *device;
};

TERN_FIXTURE_IOMMU_MODES(vfio_smoke_test);

FIXTURE_SETUP(vfio_smoke_test)
{
	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	if (!pci_driver_is(edu_bdf, "vfio-pci")) {
		TERN_SKIP_UNLESS_DESTRUCTIVE("binds edu device %s to vfio-pci",
					     edu_bdf);
		ASSERT_EQ(0, pci_bind_driver(edu_bdf, "vfio-pci"));
	}
	self->iommu = iommu_init(variant->iommu_mode);
	self->device = vfio_pci_device_init(edu_bdf, self->iommu);
	vfio_pci_cmd_set(self->device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

FIXTURE_TEARDOWN(vfio_smoke_test)
{
	if (self->device)
		vfio_pci_device_cleanup(self->device);
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

/* BAR0 through the device fd, as a VMM's trapped access goes */
static ssize_t edu_write(struct vfio_pci_device *device, u64 reg,
			 const void *val, size_t len)
{
	return pwrite(device->fd, val, len,
		      device->bars[0].info.offset + reg);
}

static u32 edu_read32(struct vfio_pci_device *device, u64 reg)
{
	u32 val = ~0u;

	VFIO_ASSERT_EQ(pread(device->fd, &val, 4,
			     device->bars[0].info.offset + reg), 4);
	return val;
}

static void edu_write32(struct vfio_pci_device *device, u64 reg, u32 val)
{
	VFIO_ASSERT_EQ(edu_write(device, reg, &val, 4), 4);
}

TEST_F(vfio_smoke_test, mmio)
{
	u32 id = edu_read32(self->device, EDU_REG_ID);

	/* 0xRRrr00ed: major/minor version, then the fixed 0xed */
	ASSERT_EQ(0xed, id & 0xff);
	edu_write32(self->device, EDU_REG_LIVENESS, 0x12345678);
	ASSERT_EQ(~0x12345678u, edu_read32(self->device, EDU_REG_LIVENESS));
}

static void edu_dma(struct __test_metadata *_metadata,
		    struct vfio_pci_device *device, u64 src, u64 dst, u32 cmd)
{
	struct pollfd pollfd = {
		.fd = device->msi_eventfds[0],
		.events = POLLIN,
	};
	u64 v;

	v = src;
	ASSERT_EQ(8, edu_write(device, EDU_REG_DMA_SRC, &v, 8));
	v = dst;
	ASSERT_EQ(8, edu_write(device, EDU_REG_DMA_DST, &v, 8));
	v = PAGE;
	ASSERT_EQ(8, edu_write(device, EDU_REG_DMA_COUNT, &v, 8));
	v = cmd | EDU_DMA_START | EDU_DMA_IRQ;
	ASSERT_EQ(8, edu_write(device, EDU_REG_DMA_CMD, &v, 8));
	/* completion is signalled by MSI, delivered to our eventfd */
	ASSERT_EQ(1, poll(&pollfd, 1, 10000));
	ASSERT_EQ(sizeof(v), read(pollfd.fd, &v, sizeof(v)));
	ASSERT_NE(0, v);
	ASSERT_EQ(EDU_DMA_IRQ_BIT,
		  edu_read32(device, EDU_REG_IRQ_STATUS) & EDU_DMA_IRQ_BIT);
	edu_write32(device, EDU_REG_IRQ_ACK, EDU_DMA_IRQ_BIT);
}

TEST_F(vfio_smoke_test, dma_through_iommu)
{
	struct dma_region src = { .iova = EDU_IOVA_SRC, .size = PAGE };
	struct dma_region dst = { .iova = EDU_IOVA_DST, .size = PAGE };
	u8 *s;
	int i;

	src.vaddr = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst.vaddr = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src.vaddr);
	ASSERT_NE(MAP_FAILED, dst.vaddr);
	s = src.vaddr;
	for (i = 0; i < PAGE; i++)
		s[i] = (u8)(i * 7 + 3);
	ASSERT_EQ(0, __iommu_map(self->iommu, &src));
	ASSERT_EQ(0, __iommu_map(self->iommu, &dst));
	vfio_pci_msi_enable(self->device, 0, 1);

	edu_dma(_metadata, self->device, EDU_IOVA_SRC, EDU_BUFFER, 0);
	edu_dma(_metadata, self->device, EDU_BUFFER, EDU_IOVA_DST,
		EDU_DMA_TO_RAM);
	ASSERT_EQ(0, memcmp(src.vaddr, dst.vaddr, PAGE));

	vfio_pci_msi_disable(self->device);
	ASSERT_EQ(0, __iommu_unmap(self->iommu, &src, NULL));
	ASSERT_EQ(0, __iommu_unmap(self->iommu, &dst, NULL));
	munmap(src.vaddr, PAGE);
	munmap(dst.vaddr, PAGE);
}

int main(int argc, char **argv)
{
	SELFTEST_DEVICE_OR_SKIP(&edu_id, &argc, argv, edu_bdf);
	return test_harness_run(argc, argv);
}
