// SPDX-License-Identifier: GPL-2.0
/*
 * Rig smoke test: QEMU's stock "edu" PCI device, bound to vfio-pci behind
 * the emulated intel-iommu, is opened through both the iommufd cdev path and
 * the legacy group/container path; MMIO, DMA through IOMMU mappings and MSI
 * delivery to an eventfd are checked on each.
 *
 * The edu device is named like the tern PF (tern_setup.h): its address as
 * the last argument, or TERN_SELFTESTS_EDU=segment:bus:device.function.
 * Binding it to vfio-pci needs TERN_SELFTESTS_DESTRUCTIVE=1.
 */
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "vfio_util.h"

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
#define PAGE			4096

static const struct pci_selftest_id edu_id = {
	.what = "edu device",
	.env = "TERN_SELFTESTS_EDU",
	.vendor = EDU_VENDOR,
	.device = EDU_DEVICE,
};
static char edu_bdf[16];

FIXTURE(edu)
{
	struct vfio_dev dev;
};

FIXTURE_VARIANT(edu)
{
	enum vfio_access_path path;
};

FIXTURE_VARIANT_ADD(edu, cdev)
{
	.path = VFIO_PATH_CDEV,
};

FIXTURE_VARIANT_ADD(edu, legacy)
{
	.path = VFIO_PATH_LEGACY,
};

FIXTURE_SETUP(edu)
{
	char sysfs[64];

	SKIP_UNLESS_PATH_AVAILABLE(variant->path);
	if (!pci_driver_is(edu_bdf, "vfio-pci")) {
		TERN_SKIP_UNLESS_DESTRUCTIVE("binds edu device %s to vfio-pci",
					     edu_bdf);
		ASSERT_EQ(0, pci_bind_driver(edu_bdf, "vfio-pci"));
	}
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", edu_bdf);
	ASSERT_EQ(0, vfio_dev_open(&self->dev, sysfs, variant->path));
	ASSERT_EQ(0, vfio_pci_enable_master(&self->dev));
}

FIXTURE_TEARDOWN(edu)
{
	vfio_dev_close(&self->dev);
}

TEST_F(edu, mmio)
{
	uint32_t id = vfio_read32(&self->dev, VFIO_PCI_BAR0_REGION_INDEX,
				  EDU_REG_ID);

	/* 0xRRrr00ed: major/minor version, then the fixed 0xed */
	ASSERT_EQ(0xed, id & 0xff);
	vfio_write32(&self->dev, VFIO_PCI_BAR0_REGION_INDEX, EDU_REG_LIVENESS,
		     0x12345678);
	ASSERT_EQ(~0x12345678u, vfio_read32(&self->dev,
					    VFIO_PCI_BAR0_REGION_INDEX,
					    EDU_REG_LIVENESS));
}

static void edu_dma(struct __test_metadata *_metadata, struct vfio_dev *dev,
		    int efd, uint64_t src, uint64_t dst, uint32_t cmd)
{
	uint64_t v;

	v = src;
	ASSERT_EQ(8, vfio_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
				       EDU_REG_DMA_SRC, &v, 8));
	v = dst;
	ASSERT_EQ(8, vfio_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
				       EDU_REG_DMA_DST, &v, 8));
	v = PAGE;
	ASSERT_EQ(8, vfio_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
				       EDU_REG_DMA_COUNT, &v, 8));
	v = cmd | EDU_DMA_START | EDU_DMA_IRQ;
	ASSERT_EQ(8, vfio_region_write(dev, VFIO_PCI_BAR0_REGION_INDEX,
				       EDU_REG_DMA_CMD, &v, 8));
	/* completion is signalled by MSI, delivered to our eventfd */
	ASSERT_NE(0, vfio_eventfd_wait(efd, 10000));
	ASSERT_EQ(EDU_DMA_IRQ_BIT,
		  vfio_read32(dev, VFIO_PCI_BAR0_REGION_INDEX,
			      EDU_REG_IRQ_STATUS) & EDU_DMA_IRQ_BIT);
	vfio_write32(dev, VFIO_PCI_BAR0_REGION_INDEX, EDU_REG_IRQ_ACK,
		     EDU_DMA_IRQ_BIT);
}

TEST_F(edu, dma_through_iommu)
{
	uint8_t *src = vfio_alloc_dma_buffer(PAGE);
	uint8_t *dst = vfio_alloc_dma_buffer(PAGE);
	int efd, i;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	for (i = 0; i < PAGE; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	ASSERT_EQ(0, vfio_dma_map(&self->dev, src, PAGE, EDU_IOVA_SRC));
	ASSERT_EQ(0, vfio_dma_map(&self->dev, dst, PAGE, EDU_IOVA_DST));
	ASSERT_EQ(0, vfio_irq_enable(&self->dev, VFIO_PCI_MSI_IRQ_INDEX, 1,
				     &efd));

	edu_dma(_metadata, &self->dev, efd, EDU_IOVA_SRC, EDU_BUFFER, 0);
	edu_dma(_metadata, &self->dev, efd, EDU_BUFFER, EDU_IOVA_DST,
		EDU_DMA_TO_RAM);
	ASSERT_EQ(0, memcmp(src, dst, PAGE));

	ASSERT_EQ(0, vfio_irq_disable(&self->dev, VFIO_PCI_MSI_IRQ_INDEX));
	close(efd);
	ASSERT_EQ(0, vfio_dma_unmap(&self->dev, PAGE, EDU_IOVA_SRC));
	ASSERT_EQ(0, vfio_dma_unmap(&self->dev, PAGE, EDU_IOVA_DST));
}

int main(int argc, char **argv)
{
	SELFTEST_DEVICE_OR_SKIP(&edu_id, &argc, argv, edu_bdf);
	return test_harness_run(argc, argv);
}
