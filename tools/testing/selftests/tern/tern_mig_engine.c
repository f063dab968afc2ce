// SPDX-License-Identifier: GPL-2.0
/*
 * Migration with the DMA engine in the picture: RUNNING_P2P really stops
 * DMA while MMIO keeps working, and descriptors pending on the source when
 * it was quiesced complete on the destination once it runs, with the
 * registers and counters of the source at its stop point.
 *
 * The VFs' DMA arenas sit at the same IOVA; copying the source's arena to
 * the destination's stands in for the VMM migrating guest RAM.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tern_lib.h"
#include "tern_setup.h"

#define PAGE		4096
#define QUIET_MS	300	/* how long "nothing happens" is observed */

FIXTURE(engine_mig)
{
	struct tern_vf vf[2];
};

FIXTURE_VARIANT(engine_mig)
{
	enum vfio_access_path path;
};

FIXTURE_VARIANT_ADD(engine_mig, cdev)
{
	.path = VFIO_PATH_CDEV,
};

FIXTURE_VARIANT_ADD(engine_mig, legacy)
{
	.path = VFIO_PATH_LEGACY,
};

FIXTURE_SETUP(engine_mig)
{
	char bdf[2][16];

	SKIP_UNLESS_PATH_AVAILABLE(variant->path);
	TERN_PREPARE_OR_SKIP(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER,
						 2, bdf, NULL));
	ASSERT_EQ(0, tern_vf_open(&self->vf[0], bdf[0], variant->path));
	ASSERT_EQ(0, tern_vf_open(&self->vf[1], bdf[1], variant->path));
	ASSERT_EQ(0, tern_engine_start(&self->vf[0], 64));
}

FIXTURE_TEARDOWN(engine_mig)
{
	tern_vf_close(&self->vf[0]);
	tern_vf_close(&self->vf[1]);
}

static void fill(uint8_t *p, size_t len, uint8_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* Quiesced: a submitted job waits, MMIO works; RUNNING completes it. */
TEST_F(engine_mig, running_p2p_stops_dma)
{
	struct tern_vf *a = &self->vf[0];
	uint8_t *src = tern_dma_alloc(a, PAGE, PAGE);
	uint8_t *dst = tern_dma_alloc(a, PAGE, PAGE);
	uint8_t zero[PAGE] = {};
	struct tern_desc_cpl cpl;
	uint32_t done;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fill(src, PAGE, 1);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING_P2P,
					NULL));
	done = tern_vf_read(a, TERN_VF_REG_RING_DONE);
	ASSERT_EQ(0, tern_queue(a, TERN_DESC_OP_COPY, TERN_DESC_F_INTR, PAGE,
				tern_iova(a, src), tern_iova(a, dst), 1));
	tern_doorbell(a);

	/* MMIO is served while quiesced */
	tern_vf_write64(a, TERN_VF_REG_CTX_LO(3), 0x1234567890abcdefull);
	ASSERT_EQ(0x1234567890abcdefull,
		  tern_vf_read64(a, TERN_VF_REG_CTX_LO(3)));
	/* but no DMA and no interrupt */
	ASSERT_EQ(0, vfio_eventfd_wait(a->efd[TERN_VF_VEC_JOB], QUIET_MS));
	ASSERT_EQ(done, tern_vf_read(a, TERN_VF_REG_RING_DONE));
	ASSERT_EQ(0, memcmp(dst, zero, PAGE));

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(0, tern_reap(a, &cpl, TERN_LIB_TIMEOUT_MS));
	ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
	ASSERT_EQ(0, memcmp(src, dst, PAGE));
}

/* Mirror the source's software ring state onto the destination. */
static void adopt_ring(struct tern_vf *b, const struct tern_vf *a)
{
	memcpy(b->arena, a->arena, TERN_LIB_ARENA_SIZE);
	b->arena_used = a->arena_used;
	b->ring = (void *)(b->arena + ((uint8_t *)a->ring - a->arena));
	b->cpl = (void *)(b->arena + ((uint8_t *)a->cpl - a->arena));
	b->ring_size = a->ring_size;
	b->tail = a->tail;
	b->done = a->done;
	b->phase = a->phase;
}

TEST_F(engine_mig, pending_jobs_complete_on_destination)
{
	struct tern_vf *a = &self->vf[0], *b = &self->vf[1];
	uint8_t *src = tern_dma_alloc(a, 4 * PAGE, PAGE);
	uint8_t *dst = tern_dma_alloc(a, 4 * PAGE, PAGE);
	uint64_t jobs, bytes, ctx[TERN_VF_CTX_REGS];
	struct tern_desc_cpl cpl;
	struct mig_stream s = {};
	int fd, i;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	fill(src, 4 * PAGE, 7);
	/* some history: one job done, context registers, device memory */
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(a, TERN_DESC_OP_COPY, 0, PAGE,
					    tern_iova(a, src),
					    tern_iova(a, dst + 3 * PAGE),
					    NULL));
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		tern_vf_write64(a, TERN_VF_REG_CTX_LO(i), 0xc0de0000ull + i);
	fill(a->devmem, 8 * PAGE, 9);

	/* quiesce, then submit three jobs that must wait */
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING_P2P,
					NULL));
	ASSERT_EQ(0, tern_queue(a, TERN_DESC_OP_COPY, 0, PAGE,
				tern_iova(a, src), tern_iova(a, dst), 1));
	ASSERT_EQ(0, tern_queue(a, TERN_DESC_OP_FILL, 0, PAGE,
				0x0101010101010101ull,
				tern_iova(a, dst + PAGE), 2));
	ASSERT_EQ(0, tern_queue(a, TERN_DESC_OP_COPY,
				TERN_DESC_F_DST_DEVMEM | TERN_DESC_F_INTR,
				PAGE, tern_iova(a, src + PAGE), 16 * PAGE, 3));
	tern_doorbell(a);
	jobs = tern_vf_read64(a, TERN_VF_REG_JOBS_LO);
	bytes = tern_vf_read64(a, TERN_VF_REG_BYTES_LO);
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ctx[i] = tern_vf_read64(a, TERN_VF_REG_CTX_LO(i));
	ASSERT_EQ(1, jobs);

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					&fd));
	ASSERT_EQ(0, mig_stream_read(fd, &s, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP, NULL));
	/* the source did not run them either */
	ASSERT_EQ(jobs, tern_vf_read64(a, TERN_VF_REG_JOBS_LO));

	adopt_ring(b, a);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(0, mig_stream_write(fd, s.data, s.len, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_STOP, NULL));
	/* the stop point: registers and counters as the source had them */
	ASSERT_EQ(jobs, tern_vf_read64(b, TERN_VF_REG_JOBS_LO));
	ASSERT_EQ(bytes, tern_vf_read64(b, TERN_VF_REG_BYTES_LO));
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ASSERT_EQ(ctx[i], tern_vf_read64(b, TERN_VF_REG_CTX_LO(i)));
	ASSERT_EQ(0, memcmp(a->devmem, b->devmem, b->devmem_size));

	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	for (i = 1; i <= 3; i++) {
		ASSERT_EQ(0, tern_reap(b, &cpl, TERN_LIB_TIMEOUT_MS));
		ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
		ASSERT_EQ(i, le64toh(cpl.cookie));
	}
	dst = b->arena + (dst - a->arena);
	src = b->arena + (src - a->arena);
	ASSERT_EQ(0, memcmp(dst, src, PAGE));
	for (i = 0; i < PAGE; i++)
		ASSERT_EQ(0x01, dst[PAGE + i]);
	ASSERT_EQ(0, memcmp(b->devmem + 16 * PAGE, src + PAGE, PAGE));
	ASSERT_EQ(jobs + 3, tern_vf_read64(b, TERN_VF_REG_JOBS_LO));
	mig_stream_free(&s);
}

/* VFIO_MIG_GET_PRECOPY_INFO with the caller's @flags in the argument. */
static int precopy_info(int fd, uint32_t flags, struct vfio_precopy_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	info->flags = flags;
	return ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, info) ? -errno : 0;
}

/* Without the v2 opt-in the flags are reserved: never the caller's bits. */
TEST_F(engine_mig, precopy_info_flags_not_echoed)
{
	struct vfio_precopy_info info;
	int fd;

	ASSERT_EQ(0, vfio_mig_set_state(&self->vf[0].dev,
					VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, precopy_info(fd, 0xffffffff, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_NE(0, info.initial_bytes);
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&self->vf[0].dev,
					VFIO_DEVICE_STATE_RUNNING, NULL));
}

/* Pre-copy data until the temporary end; PRECOPY_INFO then reports none. */
static void read_pre_copy(struct __test_metadata *_metadata, int fd,
			  struct mig_stream *s)
{
	struct vfio_precopy_info info;

	ASSERT_EQ(-ENOMSG, mig_stream_read(fd, s, 1 << 20));
	ASSERT_EQ(0, precopy_info(fd, 0, &info));
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
			      FIXTURE_DATA(engine_mig) *self, bool v2)
{
	struct tern_vf *a = &self->vf[0], *b = &self->vf[1];
	const uint32_t ring_sizes[] = { 32, 128 };
	struct vfio_precopy_info info;
	struct mig_stream s = {};
	uint32_t result;
	int fd, i;

	if (v2)
		ASSERT_EQ(0, vfio_device_feature(&a->dev,
			VFIO_DEVICE_FEATURE_SET |
			VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0));
	fill(a->devmem, 64 * PAGE, 3);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_EQ(0, precopy_info(fd, 0, &info));
	ASSERT_EQ(0, info.flags);
	ASSERT_LT(64 * PAGE, info.initial_bytes);
	read_pre_copy(_metadata, fd, &s);

	/* a page the destination already holds is cleared: it travels too */
	memset(a->devmem + 5 * PAGE, 0, PAGE);
	for (i = 0; i < 2; i++) {
		tern_engine_stop(a);
		ASSERT_EQ(0, tern_engine_start(a, ring_sizes[i]));
		ASSERT_EQ(0, precopy_info(fd, 0, &info));
		ASSERT_EQ(v2 ? VFIO_PRECOPY_INFO_REINIT : 0, info.flags);
		if (v2) {
			ASSERT_LT(63 * PAGE, info.initial_bytes);
			ASSERT_EQ(0, info.dirty_bytes);
		} else {
			ASSERT_EQ(0, info.initial_bytes);
			ASSERT_LT(63 * PAGE, info.dirty_bytes);
		}
		/* once per event */
		ASSERT_EQ(0, precopy_info(fd, 0, &info));
		ASSERT_EQ(0, info.flags);
		ASSERT_LT(63 * PAGE, v2 ? info.initial_bytes : info.dirty_bytes);
		read_pre_copy(_metadata, fd, &s);
	}

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					NULL));
	ASSERT_EQ(0, mig_stream_read(fd, &s, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP, NULL));

	adopt_ring(b, a);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(0, mig_stream_write(fd, s.data, s.len, 65536));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(0, memcmp(a->devmem, b->devmem, b->devmem_size));
	ASSERT_EQ(ring_sizes[1], tern_vf_read(b, TERN_VF_REG_RING_SIZE));
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(b, TERN_DESC_OP_CHECKSUM,
					    TERN_DESC_F_SRC_DEVMEM, 64 * PAGE,
					    0, 0, &result));
	ASSERT_EQ(tern_crc32c(a->devmem, 64 * PAGE), result);
	mig_stream_free(&s);
}

TEST_F(engine_mig, reinit_precopy_info_v1)
{
	reinit_round_trip(_metadata, self, false);
}

TEST_F(engine_mig, reinit_precopy_info_v2)
{
	SKIP_UNLESS_KERNEL_HAS(vfio_precopy_info_v2_available(&self->vf[0].dev),
			       "precopy_info_v2");
	reinit_round_trip(_metadata, self, true);
}

/*
 * A write() to the resume file that faults after the driver took data
 * returns what it took, not -EFAULT: the caller then writes the rest from
 * there, and the stream loads whole.
 */
TEST_F(engine_mig, resume_write_fault_is_short)
{
	struct tern_vf *a = &self->vf[0], *b = &self->vf[1];
	const size_t chunk = 1 << 20;	/* chunk_kb's default */
	struct mig_stream s = {};
	uint8_t *buf;
	ssize_t n;
	int fd;

	fill(a->devmem, 2 * chunk, 5);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					&fd));
	ASSERT_EQ(0, mig_stream_read(fd, &s, chunk));
	close(fd);
	ASSERT_LT(chunk + 2 * PAGE, s.len);
	/* the stream's first chunk and a page, then a page that faults */
	buf = mmap(NULL, chunk + 2 * PAGE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, buf);
	memcpy(buf, s.data, chunk + PAGE);
	ASSERT_EQ(0, munmap(buf + chunk + PAGE, PAGE));

	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	n = write(fd, buf, chunk + 2 * PAGE);
	ASSERT_EQ((ssize_t)chunk, n) TH_LOG("write: %s", strerror(errno));
	ASSERT_EQ(0, mig_stream_write(fd, s.data + n, s.len - n, 65536));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(0, memcmp(a->devmem, b->devmem, b->devmem_size));
	munmap(buf, chunk + PAGE);
	mig_stream_free(&s);
}

TERN_TEST_HARNESS_MAIN
