// SPDX-License-Identifier: GPL-2.0
/*
 * Migration with the DMA engine in the picture: RUNNING_P2P really stops
 * DMA while MMIO keeps working, and descriptors pending on the source when
 * it was quiesced complete on the destination once it runs, with the
 * registers and counters of the source at its stop point.
 *
 * The source and the destination are VFs of two PFs where a second one is
 * named (TERN_SELFTESTS_PF_OTHER, tern_setup.h), as between two hosts,
 * else two VFs of one PF. They share one IOMMU address space, and the
 * arena holding the engine's rings and the buffers is mapped in it once,
 * as a VM's memory is mapped at the same IOVAs on the source and the
 * destination of a migration: the destination takes over the source's
 * rings where they are.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>

#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

#define QUIET_MS	300	/* how long "nothing happens" is observed */

/* Both VFs' driver regions (2 MiB each) and the buffers the tests copy. */
#define ARENA_SIZE	SZ_8M

FIXTURE(tern_migration_engine_test)
{
	struct tern_mig_vfs vfs;
	struct iommu *iommu;
	struct tern_arena arena;
	struct vfio_pci_device *vf[2];
};

TERN_FIXTURE_IOMMU_MODES(tern_migration_engine_test);

FIXTURE_SETUP(tern_migration_engine_test)
{
	int i;

	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	TERN_PREPARE_MIGRATION_OR_SKIP(&self->vfs);
	self->iommu = iommu_init(variant->iommu_mode);
	tern_arena_init(&self->arena, self->iommu, ARENA_SIZE);
	for (i = 0; i < 2; i++)
		self->vf[i] = tern_vf_init(i ? self->vfs.dst : self->vfs.src,
					   self->iommu, &self->arena);
	ASSERT_EQ(0, __tern_engine_start(self->vf[0], 64));
}

/*
 * The engines stopped, then the arena unmapped while the VFs' groups still
 * hold the type1 container's mappings, then the VFs closed.
 */
FIXTURE_TEARDOWN(tern_migration_engine_test)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (self->vf[i] && self->vf[i]->driver.initialized)
			vfio_pci_driver_remove(self->vf[i]);
	}
	if (self->iommu)
		tern_arena_cleanup(&self->arena, self->iommu);
	for (i = 0; i < 2; i++) {
		if (self->vf[i])
			vfio_pci_device_cleanup(self->vf[i]);
	}
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

static u8 *devmem(struct vfio_pci_device *vf)
{
	return vf->bars[TERN_VF_BAR_DEVMEM].vaddr;
}

static size_t devmem_size(struct vfio_pci_device *vf)
{
	return vf->bars[TERN_VF_BAR_DEVMEM].info.size;
}

static void fill(u8 *p, size_t len, u8 seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (u8)(i * 31 + seed);
}

/* Quiesced: a submitted job waits, MMIO works; RUNNING completes it. */
TEST_F(tern_migration_engine_test, running_p2p_stops_dma)
{
	struct vfio_pci_device *a = self->vf[0];
	u8 *src = tern_arena_alloc(&self->arena, PAGE, PAGE);
	u8 *dst = tern_arena_alloc(&self->arena, PAGE, PAGE);
	u8 zero[PAGE] = {};
	struct tern_desc_cpl cpl;
	u32 done;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fill(src, PAGE, 1);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING_P2P));
	done = tern_readl(a, TERN_VF_REG_RING_DONE);
	ASSERT_EQ(0, __tern_queue(a, TERN_DESC_OP_COPY, TERN_DESC_F_INTR, PAGE,
				  tern_arena_iova(&self->arena, src),
				  tern_arena_iova(&self->arena, dst), 1));
	tern_doorbell(a);

	/* MMIO is served while quiesced */
	tern_writeq(a, TERN_VF_REG_CTX_LO(3), 0x1234567890abcdefull);
	ASSERT_EQ(0x1234567890abcdefull, tern_readq(a, TERN_VF_REG_CTX_LO(3)));
	/* but no DMA and no interrupt */
	ASSERT_EQ(0, tern_irq_wait(a, TERN_VF_VEC_JOB, QUIET_MS));
	ASSERT_EQ(done, tern_readl(a, TERN_VF_REG_RING_DONE));
	ASSERT_EQ(0, memcmp(dst, zero, PAGE));

	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, __tern_reap(a, &cpl, TERN_JOB_TIMEOUT_MS));
	ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
	ASSERT_EQ(0, memcmp(src, dst, PAGE));
}

/*
 * Hand the source's engine driver over to the destination: its rings and
 * ring state are in the shared arena, where the destination, loaded from
 * the source's stream, goes on with them.
 */
static void adopt_ring(struct vfio_pci_device *b, struct vfio_pci_device *a)
{
	b->driver = a->driver;
	a->driver.initialized = false;
}

TEST_F(tern_migration_engine_test, pending_jobs_complete_on_destination)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	u8 *src = tern_arena_alloc(&self->arena, 4 * PAGE, PAGE);
	u8 *dst = tern_arena_alloc(&self->arena, 4 * PAGE, PAGE);
	u64 jobs, bytes, ctx[TERN_VF_CTX_REGS];
	struct vfio_mig_stream s = {};
	struct tern_desc_cpl cpl;
	int fd, i;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fill(src, 4 * PAGE, 7);
	/* some history: one job done, context registers, device memory */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(a, TERN_DESC_OP_COPY, 0, PAGE,
			   tern_arena_iova(&self->arena, src),
			   tern_arena_iova(&self->arena, dst + 3 * PAGE),
			   NULL));
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		tern_writeq(a, TERN_VF_REG_CTX_LO(i), 0xc0de0000ull + i);
	fill(devmem(a), 8 * PAGE, 9);

	/* quiesce, then submit three jobs that must wait */
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING_P2P));
	ASSERT_EQ(0, __tern_queue(a, TERN_DESC_OP_COPY, 0, PAGE,
				  tern_arena_iova(&self->arena, src),
				  tern_arena_iova(&self->arena, dst), 1));
	ASSERT_EQ(0, __tern_queue(a, TERN_DESC_OP_FILL, 0, PAGE,
				  0x0101010101010101ull,
				  tern_arena_iova(&self->arena, dst + PAGE),
				  2));
	ASSERT_EQ(0, __tern_queue(a, TERN_DESC_OP_COPY,
				  TERN_DESC_F_DST_DEVMEM | TERN_DESC_F_INTR,
				  PAGE,
				  tern_arena_iova(&self->arena, src + PAGE),
				  16 * PAGE, 3));
	tern_doorbell(a);
	jobs = tern_readq(a, TERN_VF_REG_JOBS_LO);
	bytes = tern_readq(a, TERN_VF_REG_BYTES_LO);
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ctx[i] = tern_readq(a, TERN_VF_REG_CTX_LO(i));
	ASSERT_EQ(1, jobs);

	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, fd);
	vfio_mig_read_stop_copy(fd, &s);
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP));
	/* the source did not run them either */
	ASSERT_EQ(jobs, tern_readq(a, TERN_VF_REG_JOBS_LO));

	adopt_ring(b, a);
	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_write(fd, s.data, s.len, SZ_1M));
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_STOP));
	/* the stop point: registers and counters as the source had them */
	ASSERT_EQ(jobs, tern_readq(b, TERN_VF_REG_JOBS_LO));
	ASSERT_EQ(bytes, tern_readq(b, TERN_VF_REG_BYTES_LO));
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ASSERT_EQ(ctx[i], tern_readq(b, TERN_VF_REG_CTX_LO(i)));
	ASSERT_EQ(0, memcmp(devmem(a), devmem(b), devmem_size(b)));

	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RUNNING));
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, __tern_reap(b, &cpl, TERN_JOB_TIMEOUT_MS));
		ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
		ASSERT_EQ(i, le64toh(cpl.cookie));
	}
	ASSERT_EQ(0, memcmp(dst, src, PAGE));
	for (i = 0; i < PAGE; i++)
		ASSERT_EQ(0x01, dst[PAGE + i]);
	ASSERT_EQ(0, memcmp(devmem(b) + 16 * PAGE, src + PAGE, PAGE));
	ASSERT_EQ(jobs + 3, tern_readq(b, TERN_VF_REG_JOBS_LO));
	vfio_mig_stream_free(&s);
}

/* Without the v2 opt-in the flags are reserved: never the caller's bits. */
TEST_F(tern_migration_engine_test, precopy_info_flags_not_echoed)
{
	struct vfio_precopy_info info;
	int fd;

	fd = vfio_pci_mig_state_set(self->vf[0], VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0xffffffff, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_NE(0, info.initial_bytes);
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(self->vf[0],
					     VFIO_DEVICE_STATE_RUNNING));
}

/* Pre-copy data until the temporary end; PRECOPY_INFO then reports none. */
static void read_pre_copy(struct __test_metadata *_metadata, int fd,
			  struct vfio_mig_stream *s)
{
	struct vfio_precopy_info info;

	vfio_mig_read_precopy(fd, s);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);
}

/*
 * The guest re-bases and resizes its engine ring during pre-copy, twice:
 * each time the device sends its initial data again. A v2 caller sees
 * REINIT exactly once per event and initial_bytes grow back to what
 * device memory holds; a v1 caller never sees REINIT, and so never sees
 * initial_bytes grow (the uAPI allows that only after the v2 opt-in):
 * the new pass is dirty data. The destination, loading a stream with
 * three first passes, ends up with the source's device memory and ring
 * and runs jobs.
 */
static void reinit_round_trip(struct __test_metadata *_metadata,
			      FIXTURE_DATA(tern_migration_engine_test) *self,
			      bool v2)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	const u32 ring_sizes[] = { 32, 128 };
	struct vfio_precopy_info info;
	struct vfio_mig_stream s = {};
	u32 result;
	int fd, i;

	if (v2)
		ASSERT_EQ(0, __vfio_pci_mig_precopy_info_v2_enable(a));
	fill(devmem(a), 64 * PAGE, 3);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_LT(64 * PAGE, info.initial_bytes);
	read_pre_copy(_metadata, fd, &s);

	/* a page the destination already holds is cleared: it travels too */
	memset(devmem(a) + 5 * PAGE, 0, PAGE);
	for (i = 0; i < 2; i++) {
		tern_engine_stop(a);
		ASSERT_EQ(0, __tern_engine_start(a, ring_sizes[i]));
		ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
		ASSERT_EQ(v2 ? VFIO_PRECOPY_INFO_REINIT : 0, info.flags);
		if (v2) {
			ASSERT_LT(63 * PAGE, info.initial_bytes);
			ASSERT_EQ(0, info.dirty_bytes);
		} else {
			ASSERT_EQ(0, info.initial_bytes);
			ASSERT_LT(63 * PAGE, info.dirty_bytes);
		}
		/* once per event */
		ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
		ASSERT_EQ(0, info.flags);
		ASSERT_LT(63 * PAGE, v2 ? info.initial_bytes : info.dirty_bytes);
		read_pre_copy(_metadata, fd, &s);
	}

	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP_COPY));
	vfio_mig_read_stop_copy(fd, &s);
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP));

	adopt_ring(b, a);
	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_write(fd, s.data, s.len, SZ_64K));
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, memcmp(devmem(a), devmem(b), devmem_size(b)));
	ASSERT_EQ(ring_sizes[1], tern_readl(b, TERN_VF_REG_RING_SIZE));
	ASSERT_EQ(TERN_DESC_ST_OK, tern_job(b, TERN_DESC_OP_CHECKSUM,
					    TERN_DESC_F_SRC_DEVMEM, 64 * PAGE,
					    0, 0, &result));
	ASSERT_EQ(crc32c(devmem(a), 64 * PAGE), result);
	vfio_mig_stream_free(&s);
}

TEST_F(tern_migration_engine_test, reinit_precopy_info_v1)
{
	reinit_round_trip(_metadata, self, false);
}

TEST_F(tern_migration_engine_test, reinit_precopy_info_v2)
{
	SKIP_UNLESS_KERNEL_HAS(tern_precopy_info_v2_available(self->vf[0]),
			       "precopy_info_v2");
	reinit_round_trip(_metadata, self, true);
}

/*
 * A write() to the resume file that faults after the driver took data
 * returns what it took, not -EFAULT: the caller then writes the rest from
 * there, and the stream loads whole.
 */
TEST_F(tern_migration_engine_test, resume_write_fault_is_short)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	const size_t chunk = SZ_1M;	/* chunk_kb's default */
	struct vfio_mig_stream s = {};
	u8 *buf;
	ssize_t n;
	int fd;

	fill(devmem(a), 2 * chunk, 5);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, fd);
	vfio_mig_read_stop_copy(fd, &s);
	close(fd);
	ASSERT_LT(chunk + 2 * PAGE, s.len);
	/* the stream's first chunk and a page, then a page that faults */
	buf = mmap(NULL, chunk + 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memcpy(buf, s.data, chunk + PAGE);
	ASSERT_EQ(0, munmap(buf + chunk + PAGE, PAGE));

	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	n = write(fd, buf, chunk + 2 * PAGE);
	ASSERT_EQ((ssize_t)chunk, n) TH_LOG("write: %s", strerror(errno));
	ASSERT_EQ(0, __vfio_mig_write(fd, s.data + n, s.len - n, SZ_64K));
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, memcmp(devmem(a), devmem(b), devmem_size(b)));
	munmap(buf, chunk + PAGE);
	vfio_mig_stream_free(&s);
}

TERN_TEST_HARNESS_MAIN
