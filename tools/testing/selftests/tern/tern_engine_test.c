// SPDX-License-Identifier: GPL-2.0
/*
 * The tern VF's DMA engine driven from userspace through VFIO, with
 * libvfio's tern driver: copy, fill, checksum, host <-> device memory
 * jobs verified byte for byte, completion signalled by the MSI-X eventfd.
 *
 * Variants: the PF on pci-pf-stub with the VF on stock vfio-pci (the
 * device alone, no tern driver involved), and the PF on tern_core with the
 * VF on tern_vfio_pci; each in both IOMMU modes (the type1 group/container
 * path, and iommufd with the vfio cdev).
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

/* Ring entries the fixture runs the engine on. */
#define ENGINE_RING_SIZE	64

FIXTURE(tern_engine_test)
{
	char bdf[2][16];
	struct iommu *iommu;
	struct tern_arena arena;
	struct vfio_pci_device *device;
};

FIXTURE_VARIANT(tern_engine_test)
{
	const char *iommu_mode;
	const char *pf_driver;
	const char *vf_driver;
};

#define FIXTURE_VARIANT_ADD_IOMMU_MODE(_iommu_mode, _name, _pf_driver,	\
				       _vf_driver)			\
FIXTURE_VARIANT_ADD(tern_engine_test, _iommu_mode ## _ ## _name)	\
{									\
	.iommu_mode = #_iommu_mode,					\
	.pf_driver = _pf_driver,					\
	.vf_driver = _vf_driver,					\
}

/* stock drivers first: the tern variants leave the PF on tern_core */
FIXTURE_VARIANT_ADD_TERN_IOMMU_MODES(stub, "pci-pf-stub", "vfio-pci");
FIXTURE_VARIANT_ADD_TERN_IOMMU_MODES(tern, TERN_PF_DRIVER, TERN_VF_DRIVER);

#undef FIXTURE_VARIANT_ADD_IOMMU_MODE

FIXTURE_SETUP(tern_engine_test)
{
	/*
	 * The stub variants need the opt-in on a PF on tern_core. With it, a
	 * driver or device that is missing is a failure, never a skip.
	 */
	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	TERN_PREPARE_OR_SKIP(variant->pf_driver, variant->vf_driver, 2,
			     self->bdf);
	self->iommu = iommu_init(variant->iommu_mode);
	tern_arena_init(&self->arena, self->iommu, SZ_16M);
	self->device = tern_vf_init(self->bdf[0], self->iommu, &self->arena);
	ASSERT_EQ(0, __tern_engine_start(self->device, ENGINE_RING_SIZE));
}

FIXTURE_TEARDOWN(tern_engine_test)
{
	if (self->device)
		tern_vf_cleanup(self->device, &self->arena);
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

static void pattern(u8 *p, size_t len, u32 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (u8)((i * 131 + seed) ^ (i >> 9));
}

static u8 *devmem(struct vfio_pci_device *device)
{
	return device->bars[TERN_VF_BAR_DEVMEM].vaddr;
}

static size_t devmem_size(struct vfio_pci_device *device)
{
	return device->bars[TERN_VF_BAR_DEVMEM].info.size;
}

TEST_F(tern_engine_test, copy_host_to_host)
{
	struct vfio_pci_device *device = self->device;
	struct tern_arena *arena = &self->arena;
	size_t len = SZ_256K + 123;
	u8 *src = tern_arena_alloc(arena, len, PAGE);
	u8 *dst = tern_arena_alloc(arena, len + PAGE, PAGE);

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, len, 1);
	memset(dst, 0xee, len + PAGE);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_COPY, 0, len,
			   tern_arena_iova(arena, src),
			   tern_arena_iova(arena, dst), NULL));
	ASSERT_EQ(0, memcmp(src, dst, len));
	/* not one byte more */
	ASSERT_EQ(0xee, dst[len]);
	ASSERT_EQ(1, tern_readq(device, TERN_VF_REG_JOBS_LO));
	ASSERT_EQ(len, tern_readq(device, TERN_VF_REG_BYTES_LO));
	ASSERT_EQ(TERN_VF_INTR_JOB,
		  tern_readl(device, TERN_VF_REG_INTR_STATUS));
}

TEST_F(tern_engine_test, fill_host)
{
	struct vfio_pci_device *device = self->device;
	struct tern_arena *arena = &self->arena;
	u64 pat = 0x0123456789abcdefull;
	size_t len = 3 * PAGE + 5;
	u8 *dst = tern_arena_alloc(arena, len + 8, PAGE);
	size_t i;

	ASSERT_NE(NULL, dst);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_FILL, 0, len, pat,
			   tern_arena_iova(arena, dst), NULL));
	for (i = 0; i < len; i++)
		ASSERT_EQ((u8)(pat >> (8 * (i % 8))), dst[i])
			TH_LOG("byte %zu", i);
	for (i = len; i < len + 8; i++)
		ASSERT_EQ(0, dst[i]);
}

TEST_F(tern_engine_test, host_devmem_round_trip)
{
	struct vfio_pci_device *device = self->device;
	struct tern_arena *arena = &self->arena;
	size_t len = SZ_64K, off = devmem_size(device) - len;
	u8 *src = tern_arena_alloc(arena, len, PAGE);
	u8 *dst = tern_arena_alloc(arena, len, PAGE);
	u8 *mem = devmem(device);

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, len, 7);
	/* host -> devmem, seen through the mmap'ed BAR */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_COPY, TERN_DESC_F_DST_DEVMEM,
			   len, tern_arena_iova(arena, src), off, NULL));
	ASSERT_EQ(0, memcmp(src, mem + off, len));
	/* CPU writes into devmem, devmem -> host */
	pattern(mem + PAGE, len, 9);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_COPY, TERN_DESC_F_SRC_DEVMEM,
			   len, PAGE, tern_arena_iova(arena, dst), NULL));
	ASSERT_EQ(0, memcmp(mem + PAGE, dst, len));
	/* fill in devmem */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_FILL, TERN_DESC_F_DST_DEVMEM,
			   100, 0x5a5a5a5a5a5a5a5aull, 3, NULL));
	ASSERT_EQ(0x5a, mem[3]);
	ASSERT_EQ(0x5a, mem[102]);
}

TEST_F(tern_engine_test, checksum)
{
	struct vfio_pci_device *device = self->device;
	struct tern_arena *arena = &self->arena;
	size_t len = 100000;
	u8 *buf = tern_arena_alloc(arena, len, PAGE);
	u32 crc = 0;

	ASSERT_NE(NULL, buf);
	pattern(buf, len, 3);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_CHECKSUM, 0, len,
			   tern_arena_iova(arena, buf), 0, &crc));
	ASSERT_EQ(crc32c(buf, len), crc);
	ASSERT_EQ(crc, tern_readl(device, TERN_VF_REG_LAST_CSUM));

	memcpy(devmem(device), buf, len);
	crc = 0;
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_CHECKSUM,
			   TERN_DESC_F_SRC_DEVMEM, len, 0, 0, &crc));
	ASSERT_EQ(crc32c(buf, len), crc);
}

/* Many jobs in flight, several passes over a small ring. */
TEST_F(tern_engine_test, batches_wrap_the_ring)
{
	struct vfio_pci_device *device = self->device;
	struct tern_arena *arena = &self->arena;
	u8 *dst = tern_arena_alloc(arena, 200 * 64, PAGE);
	struct tern_desc_cpl cpl;
	int i, j, n = 0;

	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, __tern_engine_start(device, 16));
	for (i = 0; i < 20; i++) {
		for (j = 0; j < 10; j++, n++)
			ASSERT_EQ(0, __tern_queue(device, TERN_DESC_OP_FILL,
						  j == 9 ? TERN_DESC_F_INTR : 0,
						  64, 0x0101010101010101ull * n,
						  tern_arena_iova(arena,
								  dst + n * 64),
						  n));
		tern_doorbell(device);
		for (j = 0; j < 10; j++) {
			ASSERT_EQ(0, __tern_reap(device, &cpl,
						 TERN_JOB_TIMEOUT_MS));
			ASSERT_EQ(n - 10 + j, le64toh(cpl.cookie));
			ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
		}
	}
	for (n = 0; n < 200; n++)
		for (j = 0; j < 64; j++)
			ASSERT_EQ((u8)n, dst[n * 64 + j]);
	ASSERT_EQ(200, tern_readq(device, TERN_VF_REG_JOBS_LO));
	/* at most size - 1 outstanding */
	for (i = 0; i < 15; i++)
		ASSERT_EQ(0, __tern_queue(device, TERN_DESC_OP_NOP, 0, 0, 0, 0,
					  i));
	ASSERT_EQ(-ENOSPC,
		  __tern_queue(device, TERN_DESC_OP_NOP, 0, 0, 0, 0, 0));
}

TEST_F(tern_engine_test, errors_raise_the_error_vector)
{
	struct vfio_pci_device *device = self->device;

	ASSERT_EQ(TERN_DESC_ST_BAD_OP,
		  tern_job(device, 0x42, 0, 8, 0, 0, NULL));
	ASSERT_EQ(TERN_DESC_ST_BAD_LEN,
		  tern_job(device, TERN_DESC_OP_COPY, 0, 0, 0, 0, NULL));
	ASSERT_EQ(TERN_DESC_ST_DEVMEM_RANGE,
		  tern_job(device, TERN_DESC_OP_FILL, TERN_DESC_F_DST_DEVMEM,
			   2 * PAGE, 0, devmem_size(device) - PAGE, NULL));
	/*
	 * (An unmapped IOVA would fail with TERN_DESC_ST_DMA_WRITE, but the
	 * rig counts the DMAR fault it logs as a kernel splat.)
	 */
	ASSERT_NE(0, tern_irq_wait(device, TERN_VF_VEC_ERROR, 1000));
	ASSERT_EQ(3, tern_readq(device, TERN_VF_REG_ERRORS_LO));
	ASSERT_NE(0, tern_readl(device, TERN_VF_REG_INTR_STATUS) &
		  TERN_VF_INTR_ERROR);
	/* the engine keeps going */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_NOP, 0, 0, 0, 0, NULL));
}

TEST_F(tern_engine_test, context_registers)
{
	struct vfio_pci_device *device = self->device;
	int n;

	for (n = 0; n < TERN_VF_CTX_REGS; n++)
		tern_writeq(device, TERN_VF_REG_CTX_LO(n),
			    0x1000000000000001ull * (n + 1));
	for (n = 0; n < TERN_VF_CTX_REGS; n++)
		ASSERT_EQ(0x1000000000000001ull * (n + 1),
			  tern_readq(device, TERN_VF_REG_CTX_LO(n)));
}

/*
 * BAR4 holds only the MSI-X table and PBA, which a VMM emulates:
 * tern_vfio_pci offers no mmap of it (Documentation/tern/drivers.rst),
 * where stock vfio-pci maps the whole BAR.
 */
TEST_F(tern_engine_test, msix_bar_mmap)
{
	struct vfio_region_info info = {
		.argsz = sizeof(info),
		.index = VFIO_PCI_BAR0_REGION_INDEX + TERN_VF_BAR_MSIX,
	};
	bool tern = !strcmp(variant->vf_driver, TERN_VF_DRIVER);
	void *map;

	ASSERT_EQ(0, ioctl(self->device->fd, VFIO_DEVICE_GET_REGION_INFO,
			   &info));
	ASSERT_EQ(TERN_VF_BAR_MSIX_SIZE, info.size);
	ASSERT_EQ(tern ? 0 : VFIO_REGION_INFO_FLAG_MMAP,
		  info.flags & VFIO_REGION_INFO_FLAG_MMAP);
	map = mmap(NULL, info.size, PROT_READ, MAP_SHARED, self->device->fd,
		   info.offset);
	if (!tern) {
		ASSERT_NE(MAP_FAILED, map);
		ASSERT_EQ(0, munmap(map, info.size));
		return;
	}
	ASSERT_EQ(MAP_FAILED, map);
	ASSERT_EQ(EINVAL, errno);
}

static int iommu_group(const char *bdf)
{
	char path[96], link[128];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return -1;
	link[n] = 0;
	return atoi(strrchr(link, '/') + 1);
}

/*
 * ACS on the PF puts every VF in an IOMMU group of its own. With the
 * opt-in on the stock drivers; without it, any two VFs show it.
 */
TEST(vfs_have_their_own_iommu_groups)
{
	char bdf[2][16], *pf = tern_pf;

	if (tern_selftests_destructive()) {
		ASSERT_EQ(2, tern_prepare_vfs("pci-pf-stub", "vfio-pci", 2,
					      bdf));
	} else if (tern_pf_vfs(bdf, 2) < 2) {
		SKIP(return, "PF %s has fewer than 2 VFs enabled", pf);
	}
	ASSERT_GE(iommu_group(pf), 0);
	ASSERT_GE(iommu_group(bdf[0]), 0);
	ASSERT_GE(iommu_group(bdf[1]), 0);
	ASSERT_NE(iommu_group(bdf[0]), iommu_group(bdf[1]));
	ASSERT_NE(iommu_group(pf), iommu_group(bdf[0]));
	ASSERT_NE(iommu_group(pf), iommu_group(bdf[1]));
}

TERN_TEST_HARNESS_MAIN
