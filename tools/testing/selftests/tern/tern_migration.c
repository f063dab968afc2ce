// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration of tern VFs through the VFIO migration v2 uAPI, driven the
 * way a VMM drives it: state arcs, save and resume streams with and without
 * PRE_COPY, VFIO_MIG_GET_PRECOPY_INFO, rejected streams, resets.
 *
 * Two VFs of one PF are used: A is the source, B the destination. Device
 * memory (BAR2, mmap'ed) and the context registers carry the state that
 * must arrive.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <endian.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tern_if.h"
#include "tern_lib.h"
#include "tern_setup.h"
#include "vfio_util.h"

#define PAGE 4096

static const enum vfio_device_mig_state all_states[] = {
	VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
	VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
	VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY,
	VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

struct vf {
	struct vfio_dev dev;
	uint64_t *devmem;
	size_t devmem_size;
};

#define DEPTH_PARAM	"/sys/module/tern_vfio_pci/parameters/depth"
#define CHUNK_PARAM	"/sys/module/tern_vfio_pci/parameters/chunk_kb"

FIXTURE(mig)
{
	struct vf vf[2];
	char depth[16];
	char chunk_kb[16];
};

FIXTURE_VARIANT(mig)
{
	enum vfio_access_path path;
};

FIXTURE_VARIANT_ADD(mig, cdev)
{
	.path = VFIO_PATH_CDEV,
};

FIXTURE_VARIANT_ADD(mig, legacy)
{
	.path = VFIO_PATH_LEGACY,
};

FIXTURE_SETUP(mig)
{
	char bdf[2][16], sysfs[64];
	int i;

	SKIP_UNLESS_PATH_AVAILABLE(variant->path);
	TERN_PREPARE_OR_SKIP(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER,
						 2, bdf, NULL));
	for (i = 0; i < 2; i++) {
		struct vf *vf = &self->vf[i];

		snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s",
			 bdf[i]);
		ASSERT_EQ(0, vfio_dev_open(&vf->dev, sysfs, variant->path));
		ASSERT_EQ(0, vfio_pci_enable_master(&vf->dev));
		vf->devmem = vfio_region_mmap(&vf->dev, TERN_VF_BAR_DEVMEM,
					      &vf->devmem_size);
		ASSERT_NE(NULL, vf->devmem);
	}
	ASSERT_EQ(self->vf[0].devmem_size, self->vf[1].devmem_size);
	ASSERT_EQ(0, sysfs_read(DEPTH_PARAM, self->depth, sizeof(self->depth)));
	ASSERT_EQ(0, sysfs_read(CHUNK_PARAM, self->chunk_kb,
				sizeof(self->chunk_kb)));
}

FIXTURE_TEARDOWN(mig)
{
	int i;

	if (self->depth[0])
		sysfs_write(DEPTH_PARAM, self->depth);
	if (self->chunk_kb[0])
		sysfs_write(CHUNK_PARAM, self->chunk_kb);

	for (i = 0; i < 2; i++) {
		if (self->vf[i].devmem)
			munmap(self->vf[i].devmem, self->vf[i].devmem_size);
		vfio_dev_close(&self->vf[i].dev);
	}
}

static uint64_t pattern(uint64_t seed, uint64_t i)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ull + i;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill_devmem(struct vf *vf, uint64_t seed)
{
	size_t i;

	for (i = 0; i < vf->devmem_size / 8; i++)
		vf->devmem[i] = pattern(seed, i);
}

/* index of the first mismatching word, or -1 */
static long check_devmem(struct vf *vf, uint64_t seed)
{
	size_t i;

	for (i = 0; i < vf->devmem_size / 8; i++)
		if (vf->devmem[i] != pattern(seed, i))
			return i;
	return -1;
}

static void set_ctx(struct vf *vf, uint64_t seed)
{
	int n;

	for (n = 0; n < TERN_VF_CTX_REGS; n++) {
		uint64_t v = pattern(seed, 1000 + n);

		vfio_write32(&vf->dev, TERN_VF_BAR_REGS, TERN_VF_REG_CTX_LO(n),
			     (uint32_t)v);
		vfio_write32(&vf->dev, TERN_VF_BAR_REGS, TERN_VF_REG_CTX_HI(n),
			     v >> 32);
	}
}

static int check_ctx(struct vf *vf, uint64_t seed)
{
	int n;

	for (n = 0; n < TERN_VF_CTX_REGS; n++) {
		uint64_t v = pattern(seed, 1000 + n);

		if (vfio_read32(&vf->dev, TERN_VF_BAR_REGS,
				TERN_VF_REG_CTX_LO(n)) != (uint32_t)v ||
		    vfio_read32(&vf->dev, TERN_VF_BAR_REGS,
				TERN_VF_REG_CTX_HI(n)) != v >> 32)
			return n;
	}
	return -1;
}

static int device_reset(struct vfio_dev *dev)
{
	return ioctl(dev->device_fd, VFIO_DEVICE_RESET) ? -errno : 0;
}

/* Save A with STOP_COPY only: RUNNING -> STOP_COPY, read to the end. */
static void save_stop_copy(struct __test_metadata *_metadata, struct vf *src,
			   struct mig_stream *s)
{
	int fd;

	ASSERT_EQ(0, vfio_mig_set_state(&src->dev, VFIO_DEVICE_STATE_STOP_COPY,
					&fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, mig_stream_read(fd, s, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(&src->dev, VFIO_DEVICE_STATE_STOP,
					NULL));
	close(fd);
}

/* RESUMING, write in pieces of @split, then STOP; returns the arc's errno. */
static int load(struct __test_metadata *_metadata, struct vf *dst,
		const void *data, size_t len, size_t split)
{
	int fd, ret;

	ret = vfio_mig_set_state(&dst->dev, VFIO_DEVICE_STATE_RESUMING, &fd);
	if (ret)
		return ret;
	ret = mig_stream_write(fd, data, len, split);
	if (!ret)
		ret = vfio_mig_set_state(&dst->dev, VFIO_DEVICE_STATE_STOP,
					 NULL);
	close(fd);
	return ret;
}

TEST_F(mig, migration_flags)
{
	uint64_t flags = 0;

	ASSERT_EQ(0, vfio_mig_get_flags(&self->vf[0].dev, &flags));
	ASSERT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY, flags);
}

/* The arcs vfio_mig_get_next_state() refuses (besides ERROR as target). */
static bool arc_refused(enum vfio_device_mig_state from,
			enum vfio_device_mig_state to)
{
	return from == VFIO_DEVICE_STATE_STOP_COPY &&
	       (to == VFIO_DEVICE_STATE_PRE_COPY ||
		to == VFIO_DEVICE_STATE_PRE_COPY_P2P);
}

/*
 * Every state reaches every other through SET_STATE (the core walks the
 * arcs) unless the core refuses the pair, and leaving RESUMING needs a
 * valid stream: with none it fails into ERROR, where every SET_STATE fails
 * until a reset. ERROR is never a valid target.
 */
TEST_F(mig, every_state_to_every_state)
{
	struct vfio_dev *dev = &self->vf[0].dev;
	unsigned int i, j;
	int fd;

	for (i = 0; i < ARRAY_SIZE(all_states); i++) {
		for (j = 0; j < ARRAY_SIZE(all_states); j++) {
			enum vfio_device_mig_state from = all_states[i];
			enum vfio_device_mig_state to = all_states[j];
			int ret;

			ASSERT_EQ(0, device_reset(dev));
			ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(dev));
			ASSERT_EQ(0, vfio_mig_set_state(dev, from, &fd));
			ASSERT_EQ(from, tern_mig_state(dev));
			if (fd >= 0)
				close(fd);
			ret = vfio_mig_set_state(dev, to, &fd);
			if (arc_refused(from, to)) {
				ASSERT_EQ(-EINVAL, ret) TH_LOG("%u -> %u", from, to);
				ASSERT_EQ(from, tern_mig_state(dev));
				continue;
			}
			if (from == VFIO_DEVICE_STATE_RESUMING && from != to) {
				ASSERT_NE(0, ret) TH_LOG("RESUMING -> %u", to);
				ASSERT_EQ(VFIO_DEVICE_STATE_ERROR,
					  tern_mig_state(dev));
				ASSERT_EQ(-EINVAL, vfio_mig_set_state(dev,
						VFIO_DEVICE_STATE_RUNNING, NULL));
				continue;
			}
			ASSERT_EQ(0, ret) TH_LOG("%u -> %u", from, to);
			ASSERT_EQ(to, tern_mig_state(dev));
			if (fd >= 0)
				close(fd);
		}
		ASSERT_EQ(-EINVAL, vfio_mig_set_state(dev,
						      VFIO_DEVICE_STATE_ERROR,
						      NULL));
	}
	ASSERT_EQ(0, device_reset(dev));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(dev));
}

TEST_F(mig, stop_copy_round_trip)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct mig_stream s = {};

	fill_devmem(a, 1);
	set_ctx(a, 1);
	fill_devmem(b, 2);
	set_ctx(b, 2);

	save_stop_copy(_metadata, a, &s);
	ASSERT_GT(s.len, a->devmem_size);
	ASSERT_EQ(0, load(_metadata, b, s.data, s.len, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(-1, check_devmem(b, 1));
	ASSERT_EQ(-1, check_ctx(b, 1));
	mig_stream_free(&s);
}

/*
 * O_NONBLOCK on a resume fd: write() takes what fits in the ring and fails
 * with -EAGAIN only when every chunk is still with the firmware; poll()
 * reports POLLOUT once one is free. A small ring (2 x 4 KiB) fills often.
 * The stream loads exactly as with blocking writes.
 */
TEST_F(mig, nonblocking_resume)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct pollfd pfd;
	struct mig_stream s = {};
	unsigned int again = 0;
	size_t off = 0;
	int fd;

	fill_devmem(a, 8);
	set_ctx(a, 8);
	save_stop_copy(_metadata, a, &s);
	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "2"));
	ASSERT_EQ(0, sysfs_write(CHUNK_PARAM, "4"));
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	while (off < s.len) {
		size_t n = s.len - off < (1 << 20) ? s.len - off : 1 << 20;
		ssize_t w = write(fd, s.data + off, n);

		if (w < 0) {
			ASSERT_EQ(EAGAIN, errno);
			again++;
			ASSERT_EQ(1, poll(&pfd, 1, 5000));
			ASSERT_TRUE(pfd.revents & POLLOUT);
			continue;
		}
		ASSERT_LT(0, w);
		off += w;
	}
	TH_LOG("%u writes found the ring full", again);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_STOP,
					NULL));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(-1, check_devmem(b, 8));
	ASSERT_EQ(-1, check_ctx(b, 8));
	mig_stream_free(&s);
}

/*
 * The resume fd takes the stream in any split, down to single bytes. Small
 * splits cover the stream header, the first record boundary (a PAGES record
 * is at most 256 KiB) and the REGS/ENGINE/END tail; the middle goes in
 * 4096 + 13 byte pieces, because millions of tiny writes take longer under
 * TCG than the harness allows a test.
 */
TEST_F(mig, resume_accepts_any_split)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	static const struct {
		size_t split, head;
	} runs[] = {
		{ 1, 64 << 10 },
		{ 7, 320 << 10 },
		{ 4096 + 13, 0 },
		{ 1 << 20, 0 },
	};
	const size_t tail = 1024;
	struct mig_stream s = {};
	size_t k, head;

	fill_devmem(a, 3);
	set_ctx(a, 3);
	save_stop_copy(_metadata, a, &s);
	ASSERT_GT(s.len, runs[1].head + tail);
	for (k = 0; k < ARRAY_SIZE(runs); k++) {
		size_t split = runs[k].split;
		size_t mid = runs[k].head ? s.len - tail : s.len;
		int fd;

		head = runs[k].head;
		ASSERT_EQ(0, device_reset(&b->dev));
		ASSERT_EQ(0, vfio_mig_set_state(&b->dev,
						VFIO_DEVICE_STATE_RESUMING,
						&fd));
		ASSERT_EQ(0, mig_stream_write(fd, s.data, head, split));
		ASSERT_EQ(0, mig_stream_write(fd, s.data + head, mid - head,
					      head ? 4096 + 13 : split));
		ASSERT_EQ(0, mig_stream_write(fd, s.data + mid, s.len - mid,
					      split));
		ASSERT_EQ(0, vfio_mig_set_state(&b->dev,
						VFIO_DEVICE_STATE_RUNNING,
						NULL));
		close(fd);
		ASSERT_EQ(-1, check_devmem(b, 3));
		ASSERT_EQ(-1, check_ctx(b, 3));
	}
	mig_stream_free(&s);
}

/*
 * A pre-copy migration A -> B with exact sizes along the way: the first
 * pass, a temporary end, N rewritten pages seen as exactly N dirty pages,
 * one more change carried by stop-copy.
 */
static void pre_copy_round_trip(struct __test_metadata *_metadata,
				struct vf *a, struct vf *b)
{
	struct vfio_precopy_info info;
	struct mig_stream s = {};
	uint64_t last_initial;
	const int rewrite = 5;
	int fd, i;

	fill_devmem(a, 4);
	set_ctx(a, 4);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &info));
	ASSERT_GE(info.initial_bytes, a->devmem_size);
	ASSERT_EQ(0, info.dirty_bytes);

	/*
	 * The driver reads ahead of userspace; what it holds still counts
	 * as initial data, to the byte.
	 */
	last_initial = info.initial_bytes;
	s.data = malloc(PAGE);
	ASSERT_NE(NULL, s.data);
	ASSERT_EQ(PAGE, read(fd, s.data, PAGE));
	s.len = PAGE;
	s.cap = PAGE;
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &info));
	ASSERT_EQ(last_initial - PAGE, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);

	/* initial_bytes only decreases as the first pass is read */
	last_initial = info.initial_bytes;
	while (last_initial) {
		struct mig_stream piece = {};
		int ret = mig_stream_read(fd, &piece, 1 << 20);

		ASSERT_TRUE(ret == -ENOMSG || ret == 0);
		ASSERT_EQ(-ENOMSG, ret);
		ASSERT_EQ(0, vfio_mig_precopy_info(fd, &info));
		ASSERT_LT(info.initial_bytes, last_initial);
		last_initial = info.initial_bytes;
		s.data = realloc(s.data, s.len + piece.len);
		memcpy(s.data + s.len, piece.data, piece.len);
		s.len += piece.len;
		s.cap = s.len;
		mig_stream_free(&piece);
	}
	ASSERT_EQ(0, info.dirty_bytes);
	/* the temporary end of stream is -ENOMSG, never 0 */
	ASSERT_EQ(-ENOMSG, mig_stream_read(fd, &s, 4096));

	/* the VF keeps running: rewrite N pages, see exactly N pages dirty */
	for (i = 0; i < rewrite; i++)
		a->devmem[(size_t)i * 3 * PAGE / 8] = pattern(5, i);
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &info));
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ((uint64_t)rewrite * PAGE, info.dirty_bytes);
	ASSERT_EQ(-ENOMSG, mig_stream_read(fd, &s, 1 << 20));
	ASSERT_EQ(0, vfio_mig_precopy_info(fd, &info));
	ASSERT_EQ(0, info.dirty_bytes);

	/* one more change after the last pre-copy read travels in stop-copy */
	a->devmem[7] = pattern(6, 7);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					NULL));
	ASSERT_EQ(-EINVAL, vfio_mig_precopy_info(fd, &info));
	ASSERT_EQ(0, mig_stream_read(fd, &s, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP, NULL));
	close(fd);

	ASSERT_EQ(0, load(_metadata, b, s.data, s.len, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	for (i = 0; i < rewrite; i++) {
		ASSERT_EQ(pattern(5, i), b->devmem[(size_t)i * 3 * PAGE / 8]);
		b->devmem[(size_t)i * 3 * PAGE / 8] =
			pattern(4, (size_t)i * 3 * PAGE / 8);
	}
	ASSERT_EQ(pattern(6, 7), b->devmem[7]);
	b->devmem[7] = pattern(4, 7);
	ASSERT_EQ(-1, check_devmem(b, 4));
	ASSERT_EQ(-1, check_ctx(b, 4));
	mig_stream_free(&s);
}

TEST_F(mig, pre_copy_round_trip)
{
	pre_copy_round_trip(_metadata, &self->vf[0], &self->vf[1]);
}

/*
 * The same migration with the files' ring of chunk buffers in other
 * shapes: one command in flight at a time, many small chunks in flight
 * (a record spans several), the most buffers. The sizes PRECOPY_INFO
 * reports count what the ring holds, whatever its shape.
 */
TEST_F(mig, pre_copy_ring_shapes)
{
	static const struct {
		const char *depth, *chunk_kb;
	} shapes[] = {
		{ "1", "1024" }, { "2", "4" }, { "16", "64" }, { "16", "1024" },
	};
	size_t k;

	for (k = 0; k < ARRAY_SIZE(shapes); k++) {
		TH_LOG("depth %s, chunk %s KiB", shapes[k].depth,
		       shapes[k].chunk_kb);
		ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, shapes[k].depth));
		ASSERT_EQ(0, sysfs_write(CHUNK_PARAM, shapes[k].chunk_kb));
		pre_copy_round_trip(_metadata, &self->vf[0], &self->vf[1]);
		ASSERT_EQ(0, vfio_mig_set_state(&self->vf[0].dev,
						VFIO_DEVICE_STATE_RUNNING,
						NULL));
		ASSERT_EQ(0, device_reset(&self->vf[1].dev));
	}
}

/*
 * MIG_DATA_SIZE is what QEMU plans its switchover with: in STOP_COPY it
 * must cover everything read() still returns, including what the file's
 * ring read ahead during pre-copy (the firmware no longer counts that).
 */
TEST_F(mig, data_size_counts_what_the_ring_holds)
{
	struct vfio_device_feature_mig_data_size size = {};
	struct vf *a = &self->vf[0];
	struct mig_stream s = {};
	char first[4096];
	int fd;

	fill_devmem(a, 11);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	/* one small read: the ring asks for its depth of chunks behind it */
	ASSERT_EQ(sizeof(first), read(fd, first, sizeof(first)));
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					NULL));
	ASSERT_EQ(0, vfio_device_feature(&a->dev, VFIO_DEVICE_FEATURE_GET |
					 VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
					 &size, sizeof(size)));
	ASSERT_EQ(0, mig_stream_read(fd, &s, 1 << 20));
	TH_LOG("MIG_DATA_SIZE %llu, read to the end %zu",
	       (unsigned long long)size.stop_copy_length, s.len);
	ASSERT_LE(s.len, size.stop_copy_length);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP, NULL));
	close(fd);
	mig_stream_free(&s);
}

struct poll_arg {
	int fd;
	int revents;
};

static void *poll_thread(void *p)
{
	struct poll_arg *arg = p;
	struct pollfd pfd = { .fd = arg->fd, .events = POLLIN };

	arg->revents = poll(&pfd, 1, 20000) == 1 ? pfd.revents : 0;
	return NULL;
}

/* After the temporary end of stream, poll() wakes when new data appears. */
TEST_F(mig, pre_copy_poll_wakes_on_dirty_data)
{
	struct vf *a = &self->vf[0];
	struct poll_arg arg = { .revents = -1 };
	struct mig_stream s = {};
	struct pollfd pfd;
	pthread_t t;
	int fd;

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_EQ(-ENOMSG, mig_stream_read(fd, &s, 1 << 20));
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));

	arg.fd = fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &arg));
	a->devmem[100] ^= 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_TRUE(arg.revents & POLLIN);

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	/* leaving the saving group ends the session: the fd is dead */
	ASSERT_EQ(-ENODEV, mig_stream_read(fd, &s, 4096));
	close(fd);
	mig_stream_free(&s);
}

TEST_F(mig, precopy_info_only_in_pre_copy)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct vfio_precopy_info info;
	struct mig_stream s = {};
	int fd;

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					&fd));
	ASSERT_EQ(-EINVAL, vfio_mig_precopy_info(fd, &info));
	/* STOP_COPY never reports a temporary end: data, then 0 */
	ASSERT_EQ(0, mig_stream_read(fd, &s, 1 << 20));
	close(fd);

	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(-EINVAL, vfio_mig_precopy_info(fd, &info));
	close(fd);
	mig_stream_free(&s);
}

/*
 * MIG_DATA_SIZE: what STOP_COPY would transfer now. The device sends no
 * all-zero pages, so the size tracks the content: filled memory costs at
 * least its size, and the estimate equals the stream a stop-copy sends.
 */
TEST_F(mig, mig_data_size)
{
	const uint32_t get_size = VFIO_DEVICE_FEATURE_GET |
				  VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
	struct vfio_device_feature_mig_data_size size = {};
	struct vf *a = &self->vf[0];
	struct mig_stream s = {};
	int fd;

	ASSERT_EQ(0, device_reset(&a->dev));
	ASSERT_EQ(0, vfio_device_feature(&a->dev, get_size, &size,
					 sizeof(size)));
	ASSERT_LT(size.stop_copy_length, a->devmem_size / 64);
	fill_devmem(a, 8);
	ASSERT_EQ(0, vfio_device_feature(&a->dev, get_size, &size,
					 sizeof(size)));
	ASSERT_GE(size.stop_copy_length, a->devmem_size);
	save_stop_copy(_metadata, a, &s);
	/* the estimate taken while running is the stream a stop-copy sent */
	ASSERT_EQ(size.stop_copy_length, s.len);
	mig_stream_free(&s);

	/* the uAPI allows the query in every state; RESUMING has no save */
	ASSERT_EQ(0, device_reset(&a->dev));
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(0, vfio_device_feature(&a->dev, get_size, &size,
					 sizeof(size)));
	ASSERT_GT(size.stop_copy_length, a->devmem_size);
	close(fd);
	ASSERT_EQ(0, device_reset(&a->dev));
}

/* Re-seal the stream header after editing it. */
static void seal_header(uint8_t *stream)
{
	struct tern_stream_hdr *h = (void *)stream;

	h->crc = htole32(tern_crc32c(h, offsetof(struct tern_stream_hdr, crc)));
}

/* Re-seal the record at @off: CRC over header bytes 0..11, then payload. */
static void seal_record(uint8_t *stream, size_t off)
{
	struct tern_rec_hdr *r = (void *)(stream + off);
	uint32_t crc = tern_crc32c(r, offsetof(struct tern_rec_hdr, crc));

	r->crc = htole32(tern_crc32c_update(crc, r + 1, le32toh(r->len)));
}

enum corruption {
	BAD_MAGIC, BAD_VERSION, OTHER_DEVMEM_SIZE, BAD_CRC, TRUNCATED,
	PAGE_OUT_OF_RANGE, TRAILING_GARBAGE, CUT_BEFORE_STOP, NR_CORRUPTIONS
};

static const char *const corruption_name[] = {
	"bad magic", "bad version", "other devmem size", "bad CRC",
	"truncated", "page out of range", "trailing garbage",
	"cut before STOP",
};

/* A copy of @s damaged one way; *len gets its length. */
static uint8_t *corrupt(const struct mig_stream *s, enum corruption c,
			size_t *len, uint64_t devmem_size)
{
	uint8_t *d = malloc(s->len + 64);
	struct tern_stream_hdr *h = (void *)d;
	struct tern_rec_hdr *r = (void *)(d + sizeof(*h));
	struct tern_rec_pages *pages = (void *)(r + 1);

	memcpy(d, s->data, s->len);
	*len = s->len;
	switch (c) {
	case BAD_MAGIC:
		d[0] ^= 0xff;
		break;
	case BAD_VERSION:
		h->version = htole16(TERN_STREAM_VERSION + 1);
		seal_header(d);
		break;
	case OTHER_DEVMEM_SIZE:
		h->devmem_size = htole64(devmem_size * 2);
		seal_header(d);
		break;
	case BAD_CRC:
		d[s->len / 2] ^= 0x01;
		break;
	case TRUNCATED:
	case CUT_BEFORE_STOP:
		*len = s->len - (c == TRUNCATED ? 10 : s->len / 2);
		break;
	case PAGE_OUT_OF_RANGE:
		/* the first record of a filled device is a PAGES record */
		pages->first = htole32(devmem_size / PAGE);
		seal_record(d, sizeof(*h));
		break;
	case TRAILING_GARBAGE:
		memset(d + s->len, 0x5a, 16);
		*len = s->len + 16;
		break;
	default:
		break;
	}
	return d;
}

/*
 * Every damaged stream is refused, by write() or by RESUMING -> STOP; the
 * device is then in ERROR (never presented as loaded), and after
 * VFIO_DEVICE_RESET it runs and accepts a good stream.
 */
TEST_F(mig, resume_rejects_bad_streams)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct mig_stream s = {};
	int c;

	fill_devmem(a, 9);
	set_ctx(a, 9);
	save_stop_copy(_metadata, a, &s);
	ASSERT_EQ(TERN_REC_PAGES,
		  le16toh(((struct tern_rec_hdr *)(s.data + 64))->type));

	for (c = 0; c < NR_CORRUPTIONS; c++) {
		size_t len;
		uint8_t *bad = corrupt(&s, c, &len, a->devmem_size);
		int ret, fd;

		ASSERT_EQ(0, device_reset(&b->dev));
		ASSERT_EQ(0, vfio_mig_set_state(&b->dev,
						VFIO_DEVICE_STATE_RESUMING,
						&fd));
		/* write() may refuse at once; the commit must refuse anyway */
		mig_stream_write(fd, bad, len, 1 << 16);
		free(bad);
		ret = vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_STOP, NULL);
		close(fd);
		ASSERT_NE(0, ret) TH_LOG("%s accepted", corruption_name[c]);
		ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(&b->dev))
			TH_LOG("%s", corruption_name[c]);
		ASSERT_EQ(0, device_reset(&b->dev));
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&b->dev));
		/* nothing of the refused stream is visible */
		ASSERT_EQ(0, b->devmem[0]) TH_LOG("%s", corruption_name[c]);
	}
	ASSERT_EQ(0, load(_metadata, b, s.data, s.len, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(-1, check_devmem(b, 9));
	ASSERT_EQ(-1, check_ctx(b, 9));
	mig_stream_free(&s);
}

/*
 * A damaged record fails the write() that completes it, not only the state
 * change after it: a VMM such as QEMU treats a stream whose writes all
 * succeeded as delivered, and leaves RESUMING only once the VM starts.
 */
TEST_F(mig, resume_write_rejects_last_record)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct mig_stream s = {};
	int fd;

	fill_devmem(a, 12);
	save_stop_copy(_metadata, a, &s);
	s.data[s.len - 1] ^= 0xff;	/* the END record */
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(-1, write(fd, s.data, s.len));
	ASSERT_EQ(EINVAL, errno);
	close(fd);
	ASSERT_NE(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_STOP, NULL));
	ASSERT_EQ(0, device_reset(&b->dev));
	mig_stream_free(&s);
}

/* A reset in PRE_COPY ends the session: RUNNING, and the fd is dead. */
TEST_F(mig, reset_during_pre_copy)
{
	struct vf *a = &self->vf[0];
	struct mig_stream s = {};
	char byte;
	int fd;

	fill_devmem(a, 10);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_EQ(1, read(fd, &byte, 1));
	ASSERT_EQ(0, device_reset(&a->dev));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&a->dev));
	ASSERT_EQ(-ENODEV, mig_stream_read(fd, &s, 4096));
	close(fd);
	/* a new session starts cleanly */
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_STOP_COPY,
					&fd));
	ASSERT_EQ(0, mig_stream_read(fd, &s, 1 << 20));
	close(fd);
	mig_stream_free(&s);
}

TEST_F(mig, reset_during_resuming)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct mig_stream s = {};
	int fd;

	fill_devmem(a, 11);
	save_stop_copy(_metadata, a, &s);
	ASSERT_EQ(0, vfio_mig_set_state(&b->dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(0, mig_stream_write(fd, s.data, s.len / 2, 1 << 20));
	ASSERT_EQ(0, device_reset(&b->dev));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&b->dev));
	ASSERT_EQ(-ENODEV, mig_stream_write(fd, s.data, 16, 16));
	close(fd);
	ASSERT_EQ(0, b->devmem[0]);
	ASSERT_EQ(0, load(_metadata, b, s.data, s.len, 1 << 20));
	ASSERT_EQ(-1, check_devmem(b, 11));
	mig_stream_free(&s);
}

/*
 * Closing the data fd mid-stream, or dying with it open, loses nothing
 * the device needs: the state machine still works and the next session
 * carries the full state.
 */
TEST_F(mig, close_data_fd_mid_stream)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	struct mig_stream s = {};
	char buf[4096];
	pid_t pid;
	int fd, status;

	fill_devmem(a, 12);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));

	/* a child that dies mid-migration with the fd open */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
				       &fd) || read(fd, buf, sizeof(buf)) <= 0)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(VFIO_DEVICE_STATE_PRE_COPY, tern_mig_state(&a->dev));

	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	save_stop_copy(_metadata, a, &s);
	ASSERT_EQ(0, load(_metadata, b, s.data, s.len, 1 << 20));
	ASSERT_EQ(-1, check_devmem(b, 12));
	mig_stream_free(&s);
}

/* One value of the VF's "counters" debugfs file, or -1. */
static long long mig_counter(struct vf *vf, const char *name)
{
	char path[256], key[32];
	long long val, ret = -1;
	FILE *f;

	tern_vf_debugfs_path(path, sizeof(path), vf->dev.name, "counters");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%31s %lld", key, &val) == 2)
		if (!strcmp(key, name))
			ret = val;
	fclose(f);
	return ret;
}

/* debugfs counts finished sessions and their bytes per phase. */
TEST_F(mig, debugfs_counters)
{
	struct vf *a = &self->vf[0], *b = &self->vf[1];
	long long saves, stopcopy, loads, loaded, passes;
	struct mig_stream s = {};
	int fd;

	saves = mig_counter(a, "save_sessions");
	stopcopy = mig_counter(a, "stopcopy_bytes");
	passes = mig_counter(a, "precopy_passes");
	loads = mig_counter(b, "load_sessions");
	loaded = mig_counter(b, "loaded_bytes");
	ASSERT_GE(saves, 0);
	ASSERT_GE(loads, 0);

	fill_devmem(a, 13);
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_PRE_COPY,
					&fd));
	ASSERT_EQ(-ENOMSG, mig_stream_read(fd, &s, 1 << 20));
	ASSERT_EQ(-ENOMSG, mig_stream_read(fd, &s, 1 << 20));
	ASSERT_EQ(0, vfio_mig_set_state(&a->dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	close(fd);
	mig_stream_free(&s);
	ASSERT_EQ(passes + 2, mig_counter(a, "precopy_passes"));

	save_stop_copy(_metadata, a, &s);
	ASSERT_EQ(saves + 2, mig_counter(a, "save_sessions"));
	ASSERT_EQ(stopcopy + (long long)s.len,
		  mig_counter(a, "stopcopy_bytes"));
	ASSERT_EQ(0, load(_metadata, b, s.data, s.len, 1 << 20));
	ASSERT_EQ(loads + 1, mig_counter(b, "load_sessions"));
	ASSERT_EQ(loaded + (long long)s.len, mig_counter(b, "loaded_bytes"));
	mig_stream_free(&s);
}

/*
 * The counters live in the vfio core's per-device directory, beside the
 * core's migration state, and the driver keeps no debugfs root or state
 * file of its own there.
 */
TEST_F(mig, debugfs_beside_core_state)
{
	struct vf *a = &self->vf[0];
	char path[256], buf[32];
	struct stat st;

	SKIP_UNLESS_KERNEL_HAS(!stat("/sys/kernel/debug/vfio", &st),
			       "vfio_debugfs");
	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/vfio/%s/migration/state", a->dev.name);
	ASSERT_EQ(0, sysfs_read(path, buf, sizeof(buf)));
	ASSERT_STREQ("RUNNING", buf);
	tern_vf_debugfs_path(path, sizeof(path), a->dev.name, "counters");
	ASSERT_NE(NULL, strstr(path, "/vfio/"));
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(-1, mig_counter(a, "state"));
	ASSERT_EQ(-1, stat("/sys/kernel/debug/tern_vfio_pci", &st));
}

TERN_TEST_HARNESS_MAIN
