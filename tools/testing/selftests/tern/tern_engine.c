// SPDX-License-Identifier: GPL-2.0
/*
 * The tern VF's DMA engine driven from userspace through VFIO, with
 * tern_lib as the driver: copy, fill, checksum, host <-> device memory
 * jobs verified byte for byte, completion signalled by the MSI-X eventfd.
 *
 * Variants: the PF on pci-pf-stub with the VF on stock vfio-pci (the
 * device alone, no tern driver involved), and the PF on tern_core with the
 * VF on tern_vfio_pci; each through the iommufd cdev path and the legacy
 * group/container path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tern_lib.h"
#include "tern_setup.h"

#define PAGE	4096

FIXTURE(engine)
{
	struct tern_vf vf;
	bool open;
};

FIXTURE_VARIANT(engine)
{
	const char *pf_driver;
	const char *vf_driver;
	enum vfio_access_path path;
};

/* stock drivers first: the tern variants leave the PF on tern_core */
FIXTURE_VARIANT_ADD(engine, stub_cdev)
{
	.pf_driver = "pci-pf-stub",
	.vf_driver = "vfio-pci",
	.path = VFIO_PATH_CDEV,
};

FIXTURE_VARIANT_ADD(engine, stub_legacy)
{
	.pf_driver = "pci-pf-stub",
	.vf_driver = "vfio-pci",
	.path = VFIO_PATH_LEGACY,
};

FIXTURE_VARIANT_ADD(engine, tern_cdev)
{
	.pf_driver = TERN_PF_DRIVER,
	.vf_driver = TERN_VF_DRIVER,
	.path = VFIO_PATH_CDEV,
};

FIXTURE_VARIANT_ADD(engine, tern_legacy)
{
	.pf_driver = TERN_PF_DRIVER,
	.vf_driver = TERN_VF_DRIVER,
	.path = VFIO_PATH_LEGACY,
};

FIXTURE_SETUP(engine)
{
	char bdf[2][16];
	int n;

	/*
	 * The stub variants need the opt-in on a PF on tern_core. With it, a
	 * driver or device that is missing is a failure, never a skip.
	 */
	SKIP_UNLESS_PATH_AVAILABLE(variant->path);
	n = tern_lib_prepare(variant->pf_driver, variant->vf_driver, 2, bdf);
	if (n == -EPERM)
		SKIP(return, "%s", tern_setup_reason());
	ASSERT_EQ(2, n) TH_LOG("%s/%s: %s", variant->pf_driver,
			       variant->vf_driver, strerror(-n));
	ASSERT_EQ(0, tern_vf_open(&self->vf, bdf[0], variant->path));
	self->open = true;
	ASSERT_EQ(0, tern_engine_start(&self->vf, 64));
}

FIXTURE_TEARDOWN(engine)
{
	if (self->open)
		tern_vf_close(&self->vf);
}

static void pattern(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed) ^ (i >> 9));
}

TEST_F(engine, copy_host_to_host)
{
	struct tern_vf *vf = &self->vf;
	size_t len = 256 * 1024 + 123;
	uint8_t *src = tern_dma_alloc(vf, len, PAGE);
	uint8_t *dst = tern_dma_alloc(vf, len + PAGE, PAGE);

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, len, 1);
	memset(dst, 0xee, len + PAGE);
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(vf, TERN_DESC_OP_COPY, 0, len,
					    tern_iova(vf, src),
					    tern_iova(vf, dst), NULL));
	ASSERT_EQ(0, memcmp(src, dst, len));
	/* not one byte more */
	ASSERT_EQ(0xee, dst[len]);
	ASSERT_EQ(1, tern_vf_read64(vf, TERN_VF_REG_JOBS_LO));
	ASSERT_EQ(len, tern_vf_read64(vf, TERN_VF_REG_BYTES_LO));
	ASSERT_EQ(TERN_VF_INTR_JOB,
		  tern_vf_read(vf, TERN_VF_REG_INTR_STATUS));
}

TEST_F(engine, fill_host)
{
	struct tern_vf *vf = &self->vf;
	uint64_t pat = 0x0123456789abcdefull;
	size_t len = 3 * PAGE + 5;
	uint8_t *dst = tern_dma_alloc(vf, len + 8, PAGE);
	size_t i;

	ASSERT_NE(NULL, dst);
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(vf, TERN_DESC_OP_FILL, 0, len, pat,
					    tern_iova(vf, dst), NULL));
	for (i = 0; i < len; i++)
		ASSERT_EQ((uint8_t)(pat >> (8 * (i % 8))), dst[i])
			TH_LOG("byte %zu", i);
	for (i = len; i < len + 8; i++)
		ASSERT_EQ(0, dst[i]);
}

TEST_F(engine, host_devmem_round_trip)
{
	struct tern_vf *vf = &self->vf;
	size_t len = 64 * 1024, off = vf->devmem_size - len;
	uint8_t *src = tern_dma_alloc(vf, len, PAGE);
	uint8_t *dst = tern_dma_alloc(vf, len, PAGE);

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	pattern(src, len, 7);
	/* host -> devmem, seen through the mmap'ed BAR */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_run(vf, TERN_DESC_OP_COPY, TERN_DESC_F_DST_DEVMEM, len,
			   tern_iova(vf, src), off, NULL));
	ASSERT_EQ(0, memcmp(src, vf->devmem + off, len));
	/* CPU writes into devmem, devmem -> host */
	pattern(vf->devmem + PAGE, len, 9);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_run(vf, TERN_DESC_OP_COPY, TERN_DESC_F_SRC_DEVMEM, len,
			   PAGE, tern_iova(vf, dst), NULL));
	ASSERT_EQ(0, memcmp(vf->devmem + PAGE, dst, len));
	/* fill in devmem */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_run(vf, TERN_DESC_OP_FILL, TERN_DESC_F_DST_DEVMEM, 100,
			   0x5a5a5a5a5a5a5a5aull, 3, NULL));
	ASSERT_EQ(0x5a, vf->devmem[3]);
	ASSERT_EQ(0x5a, vf->devmem[102]);
}

TEST_F(engine, checksum)
{
	struct tern_vf *vf = &self->vf;
	size_t len = 100000;
	uint8_t *buf = tern_dma_alloc(vf, len, PAGE);
	uint32_t crc = 0;

	ASSERT_NE(NULL, buf);
	pattern(buf, len, 3);
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(vf, TERN_DESC_OP_CHECKSUM, 0, len,
					    tern_iova(vf, buf), 0, &crc));
	ASSERT_EQ(tern_crc32c(buf, len), crc);
	ASSERT_EQ(crc, tern_vf_read(vf, TERN_VF_REG_LAST_CSUM));

	memcpy(vf->devmem, buf, len);
	crc = 0;
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_run(vf, TERN_DESC_OP_CHECKSUM, TERN_DESC_F_SRC_DEVMEM,
			   len, 0, 0, &crc));
	ASSERT_EQ(tern_crc32c(buf, len), crc);
}

/* Many jobs in flight, several passes over a small ring. */
TEST_F(engine, batches_wrap_the_ring)
{
	struct tern_vf *vf = &self->vf;
	uint8_t *dst = tern_dma_alloc(vf, 200 * 64, PAGE);
	struct tern_desc_cpl cpl;
	int i, j, n = 0;

	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, tern_engine_start(vf, 16));
	for (i = 0; i < 20; i++) {
		for (j = 0; j < 10; j++, n++)
			ASSERT_EQ(0, tern_queue(vf, TERN_DESC_OP_FILL,
						j == 9 ? TERN_DESC_F_INTR : 0,
						64, 0x0101010101010101ull * n,
						tern_iova(vf, dst + n * 64), n));
		tern_doorbell(vf);
		for (j = 0; j < 10; j++) {
			ASSERT_EQ(0, tern_reap(vf, &cpl, TERN_LIB_TIMEOUT_MS));
			ASSERT_EQ(n - 10 + j, le64toh(cpl.cookie));
			ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
		}
	}
	for (n = 0; n < 200; n++)
		for (j = 0; j < 64; j++)
			ASSERT_EQ((uint8_t)n, dst[n * 64 + j]);
	ASSERT_EQ(200, tern_vf_read64(vf, TERN_VF_REG_JOBS_LO));
	/* at most size - 1 outstanding */
	for (i = 0; i < 15; i++)
		ASSERT_EQ(0, tern_queue(vf, TERN_DESC_OP_NOP, 0, 0, 0, 0, i));
	ASSERT_EQ(-ENOSPC, tern_queue(vf, TERN_DESC_OP_NOP, 0, 0, 0, 0, 0));
}

TEST_F(engine, errors_raise_the_error_vector)
{
	struct tern_vf *vf = &self->vf;

	ASSERT_EQ(TERN_DESC_ST_BAD_OP, tern_run(vf, 0x42, 0, 8, 0, 0, NULL));
	ASSERT_EQ(TERN_DESC_ST_BAD_LEN,
		  tern_run(vf, TERN_DESC_OP_COPY, 0, 0, 0, 0, NULL));
	ASSERT_EQ(TERN_DESC_ST_DEVMEM_RANGE,
		  tern_run(vf, TERN_DESC_OP_FILL, TERN_DESC_F_DST_DEVMEM,
			   2 * PAGE, 0, vf->devmem_size - PAGE, NULL));
	/*
	 * (An unmapped IOVA would fail with TERN_DESC_ST_DMA_WRITE, but the
	 * rig counts the DMAR fault it logs as a kernel splat.)
	 */
	ASSERT_NE(0, vfio_eventfd_wait(vf->efd[TERN_VF_VEC_ERROR], 1000));
	ASSERT_EQ(3, tern_vf_read64(vf, TERN_VF_REG_ERRORS_LO));
	ASSERT_NE(0, tern_vf_read(vf, TERN_VF_REG_INTR_STATUS) &
		  TERN_VF_INTR_ERROR);
	/* the engine keeps going */
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(vf, TERN_DESC_OP_NOP, 0, 0, 0, 0,
					    NULL));
}

TEST_F(engine, context_registers)
{
	struct tern_vf *vf = &self->vf;
	int n;

	for (n = 0; n < TERN_VF_CTX_REGS; n++)
		tern_vf_write64(vf, TERN_VF_REG_CTX_LO(n),
				0x1000000000000001ull * (n + 1));
	for (n = 0; n < TERN_VF_CTX_REGS; n++)
		ASSERT_EQ(0x1000000000000001ull * (n + 1),
			  tern_vf_read64(vf, TERN_VF_REG_CTX_LO(n)));
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
					      bdf, NULL));
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
