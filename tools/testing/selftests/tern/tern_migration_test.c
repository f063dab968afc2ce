// SPDX-License-Identifier: GPL-2.0
/*
 * Live migration of tern VFs through the VFIO migration v2 uAPI, driven the
 * way a VMM drives it, for what only tern does: the device memory and
 * context registers that must arrive, its exact PRECOPY_INFO and
 * MIG_DATA_SIZE accounting, the files' ring of chunk buffers in every
 * shape, non-blocking and split resumes, the streams its firmware refuses,
 * what a reset or a closed data_fd leaves behind, its debugfs counters.
 * The rules every migratable device follows (the state machine's arcs, the
 * data transfer rules, resets in every state) are
 * ../vfio/vfio_pci_migration_test.c's, which runs on tern VFs too.
 *
 * Two VFs are used: A is the source, B the destination, on another PF
 * where one is named (TERN_SELFTESTS_PF_OTHER, tern_setup.h), as between
 * two hosts, else on A's PF; stop_copy_round_trip also loads A's stream
 * into a VF of A's own PF. Device memory (BAR2, mmap'ed) and the context
 * registers carry the state that must arrive.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <linux/pci_regs.h>
#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

static const u32 all_states[] = {
	VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
	VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
	VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY,
	VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

#define DEPTH_PARAM	"/sys/module/tern_vfio_pci/parameters/depth"
#define CHUNK_PARAM	"/sys/module/tern_vfio_pci/parameters/chunk_kb"

FIXTURE(tern_migration_test)
{
	struct tern_mig_vfs vfs;
	struct iommu *iommu;
	struct vfio_pci_device *vf[2];
	char depth[16];
	char chunk_kb[16];
};

TERN_FIXTURE_IOMMU_MODES(tern_migration_test);

static u64 *devmem(struct vfio_pci_device *vf)
{
	return vf->bars[TERN_VF_BAR_DEVMEM].vaddr;
}

static size_t devmem_size(struct vfio_pci_device *vf)
{
	return vf->bars[TERN_VF_BAR_DEVMEM].info.size;
}

/* Open VF @bdf for a migration: memory decoding, bus mastering. */
static struct vfio_pci_device *open_vf(const char *bdf, struct iommu *iommu)
{
	struct vfio_pci_device *vf = vfio_pci_device_init(bdf, iommu);

	vfio_pci_cmd_set(vf, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	return vf;
}

FIXTURE_SETUP(tern_migration_test)
{
	int i;

	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	TERN_PREPARE_MIGRATION_OR_SKIP(&self->vfs);
	self->iommu = iommu_init(variant->iommu_mode);
	self->vf[0] = open_vf(self->vfs.src, self->iommu);
	self->vf[1] = open_vf(self->vfs.dst, self->iommu);
	for (i = 0; i < 2; i++)
		ASSERT_NE(NULL, devmem(self->vf[i]));
	ASSERT_EQ(devmem_size(self->vf[0]), devmem_size(self->vf[1]));
	ASSERT_EQ(0, sysfs_read(DEPTH_PARAM, self->depth, sizeof(self->depth)));
	ASSERT_EQ(0, sysfs_read(CHUNK_PARAM, self->chunk_kb,
				sizeof(self->chunk_kb)));
}

FIXTURE_TEARDOWN(tern_migration_test)
{
	int i;

	if (self->depth[0])
		sysfs_write(DEPTH_PARAM, self->depth);
	if (self->chunk_kb[0])
		sysfs_write(CHUNK_PARAM, self->chunk_kb);

	for (i = 0; i < 2; i++) {
		if (self->vf[i])
			vfio_pci_device_cleanup(self->vf[i]);
	}
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

static u64 pattern(u64 seed, u64 i)
{
	u64 x = seed * 0x9e3779b97f4a7c15ull + i;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill_devmem(struct vfio_pci_device *vf, u64 seed)
{
	u64 *mem = devmem(vf);
	size_t i;

	for (i = 0; i < devmem_size(vf) / 8; i++)
		mem[i] = pattern(seed, i);
}

/* index of the first mismatching word, or -1 */
static long check_devmem(struct vfio_pci_device *vf, u64 seed)
{
	u64 *mem = devmem(vf);
	size_t i;

	for (i = 0; i < devmem_size(vf) / 8; i++)
		if (mem[i] != pattern(seed, i))
			return i;
	return -1;
}

static void set_ctx(struct vfio_pci_device *vf, u64 seed)
{
	int n;

	for (n = 0; n < TERN_VF_CTX_REGS; n++)
		tern_writeq(vf, TERN_VF_REG_CTX_LO(n), pattern(seed, 1000 + n));
}

/* index of the first mismatching context register, or -1 */
static int check_ctx(struct vfio_pci_device *vf, u64 seed)
{
	int n;

	for (n = 0; n < TERN_VF_CTX_REGS; n++)
		if (tern_readq(vf, TERN_VF_REG_CTX_LO(n)) !=
		    pattern(seed, 1000 + n))
			return n;
	return -1;
}

/*
 * read() @data_fd into @stream until the end of the stream: 0, or the
 * -errno that stopped it (-ENOMSG at the temporary end of PRE_COPY).
 */
static int read_to_end(int data_fd, struct vfio_mig_stream *stream)
{
	ssize_t n;

	while ((n = __vfio_mig_read(data_fd, stream, SZ_1M)) > 0)
		;
	return n;
}

/* tern offers every optional state: STOP_COPY, P2P and PRE_COPY. */
TEST_F(tern_migration_test, migration_flags)
{
	u64 flags = 0;

	ASSERT_EQ(0, __vfio_pci_mig_flags_get(self->vf[0], &flags));
	ASSERT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY, flags);
}

/*
 * Leaving RESUMING needs a valid stream: with none (the data_fd closed
 * unwritten), the arc to any other state fails into ERROR, where every
 * SET_STATE fails until a reset. (The arcs themselves, and ERROR as a
 * target, are vfio_pci_migration_state_test's.)
 */
TEST_F(tern_migration_test, leave_resuming_without_stream)
{
	struct vfio_pci_device *dev = self->vf[0];
	unsigned int i;
	int fd;

	for (i = 0; i < ARRAY_SIZE(all_states); i++) {
		u32 to = all_states[i];

		if (to == VFIO_DEVICE_STATE_RESUMING)
			continue;
		ASSERT_EQ(0, __vfio_pci_device_reset(dev));
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(dev));
		fd = vfio_pci_mig_state_set(dev, VFIO_DEVICE_STATE_RESUMING);
		ASSERT_LE(0, fd);
		close(fd);
		ASSERT_NE(0, tern_mig_state_set(dev, to))
			TH_LOG("RESUMING -> %s", vfio_mig_state_name(to));
		ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(dev));
		ASSERT_EQ(-EINVAL,
			  tern_mig_state_set(dev, VFIO_DEVICE_STATE_RUNNING));
		ASSERT_EQ(-EINVAL,
			  tern_mig_state_set(dev, VFIO_DEVICE_STATE_ERROR));
	}
	ASSERT_EQ(0, __vfio_pci_device_reset(dev));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(dev));
}

/*
 * A STOP_COPY migration A -> B carries device memory and the context
 * registers: the stream holds at least the filled device memory. The same
 * stream loads into a VF of A's own PF too (when B is on another PF: the
 * one migration of this fixture that stays on one PF).
 */
TEST_F(tern_migration_test, stop_copy_round_trip)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1], *c;
	struct vfio_mig_stream s = {};

	fill_devmem(a, 1);
	set_ctx(a, 1);
	fill_devmem(b, 2);
	set_ctx(b, 2);

	vfio_pci_mig_save(a, &s, false);
	ASSERT_GT(s.len, devmem_size(a));
	vfio_pci_mig_resume(b, &s);
	ASSERT_EQ(-1, check_devmem(b, 1));
	ASSERT_EQ(-1, check_ctx(b, 1));
	if (self->vfs.cross_pf) {
		c = open_vf(self->vfs.same_pf, self->iommu);
		vfio_pci_mig_resume(c, &s);
		ASSERT_EQ(-1, check_devmem(c, 1));
		ASSERT_EQ(-1, check_ctx(c, 1));
		vfio_pci_device_cleanup(c);
	}
	vfio_mig_stream_free(&s);
}

/* The save sessions PF @pf's firmware began: SAVE_BEGINs sent to it. */
static long pf_save_sessions(const char *pf)
{
	return tern_pf_op_stat(pf, "SAVE_BEGIN", 1);
}

/* The link @name of PCI device @bdf, its last component, into @buf. */
static const char *pci_link(const char *bdf, const char *name, char *buf,
			    size_t len)
{
	char path[128], link[128] = "";

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", bdf, name);
	if (readlink(path, link, sizeof(link) - 1) <= 0)
		return "";
	snprintf(buf, len, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 :
		 link);
	return buf;
}

/*
 * The stream carries nothing of the PF it was saved on: A (VF 1 of its
 * PF) migrates to B (VF 0 of the other PF) after the other PF's firmware
 * did work of its own first, so that every PF-local value differs between
 * the two sides: the VF index, the PF and its bus, the VF's IOMMU group,
 * the firmware sessions and loads each PF's firmware has seen, the PF's
 * own chunk buffers. B ends up as A was, registers and device memory, and
 * keeps what is its own: its VF index (VF_INDEX, read-only, not in the
 * stream, like the VF's PCI address).
 */
TEST_F(tern_migration_test, stream_carries_no_pf_local_state)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	const char *pf_a = tern_pf, *pf_b = tern_pf_other;
	struct vfio_mig_stream s = {};
	long sessions_a, sessions_b;
	char link_a[64], link_b[64];
	int i;

	if (!self->vfs.cross_pf)
		SKIP(return, "needs a second tern PF: set %s",
		     TERN_SELFTESTS_PF_OTHER_ENV);
	/* A is VF 1 of its PF, B VF 0 of the other, in other IOMMU groups */
	ASSERT_STREQ(self->vfs.src, pci_link(pf_a, "virtfn1", link_a,
					     sizeof(link_a)));
	ASSERT_STREQ(self->vfs.dst, pci_link(pf_b, "virtfn0", link_b,
					     sizeof(link_b)));
	ASSERT_EQ(1, tern_readl(a, TERN_VF_REG_VF_INDEX));
	ASSERT_EQ(0, tern_readl(b, TERN_VF_REG_VF_INDEX));
	ASSERT_STRNE(pci_link(self->vfs.src, "iommu_group", link_a,
			      sizeof(link_a)),
		     pci_link(self->vfs.dst, "iommu_group", link_b,
			      sizeof(link_b)));
	/* B's firmware: save sessions and loads of its own, counts unlike A's */
	for (i = 0; i < 8; i++) {
		if (i >= 2 &&
		    pf_save_sessions(pf_a) != pf_save_sessions(pf_b) &&
		    tern_pf_op_stat(pf_a, "LOAD_BEGIN", 1) !=
		    tern_pf_op_stat(pf_b, "LOAD_BEGIN", 1))
			break;
		fill_devmem(b, 20 + i);
		vfio_pci_mig_save(b, &s, false);
		vfio_pci_mig_resume(b, &s);
		vfio_mig_stream_free(&s);
	}
	sessions_a = pf_save_sessions(pf_a);
	sessions_b = pf_save_sessions(pf_b);
	ASSERT_LE(0, sessions_a);
	ASSERT_NE(sessions_a, sessions_b);
	ASSERT_NE(tern_pf_op_stat(pf_a, "LOAD_BEGIN", 1),
		  tern_pf_op_stat(pf_b, "LOAD_BEGIN", 1));

	fill_devmem(a, 14);
	set_ctx(a, 14);
	fill_devmem(b, 15);
	set_ctx(b, 15);
	vfio_pci_mig_save(a, &s, false);
	vfio_pci_mig_resume(b, &s);
	ASSERT_EQ(-1, check_devmem(b, 14));
	ASSERT_EQ(-1, check_ctx(b, 14));
	/* B is still its PF's VF 0: the stream does not carry A's index */
	ASSERT_EQ(0, tern_readl(b, TERN_VF_REG_VF_INDEX));
	ASSERT_EQ(sessions_a + 1, pf_save_sessions(pf_a));
	ASSERT_EQ(sessions_b, pf_save_sessions(pf_b));
	vfio_mig_stream_free(&s);
}

/*
 * O_NONBLOCK on a resume fd: write() takes what fits in the ring and fails
 * with -EAGAIN only when every chunk is still with the firmware; poll()
 * reports POLLOUT once one is free. A small ring (2 x 4 KiB) fills often.
 * The stream loads exactly as with blocking writes.
 */
TEST_F(tern_migration_test, nonblocking_resume)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	struct vfio_mig_stream s = {};
	struct pollfd pfd;
	unsigned int again = 0;
	size_t off = 0;
	int fd;

	fill_devmem(a, 8);
	set_ctx(a, 8);
	vfio_pci_mig_save(a, &s, false);
	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "2"));
	ASSERT_EQ(0, sysfs_write(CHUNK_PARAM, "4"));
	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	while (off < s.len) {
		size_t n = s.len - off < SZ_1M ? s.len - off : SZ_1M;
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
	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_STOP));
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(-1, check_devmem(b, 8));
	ASSERT_EQ(-1, check_ctx(b, 8));
	vfio_mig_stream_free(&s);
}

/*
 * The resume fd takes the stream in any split, down to single bytes. Small
 * splits cover the stream header, the first record boundary (a PAGES record
 * is at most 256 KiB) and the REGS/ENGINE/END tail; the middle goes in
 * 4096 + 13 byte pieces, because millions of tiny writes take longer under
 * TCG than the harness allows a test.
 */
TEST_F(tern_migration_test, resume_accepts_any_split)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	static const struct {
		size_t split, head;
	} runs[] = {
		{ 1, 64 << 10 },
		{ 7, 320 << 10 },
		{ 4096 + 13, 0 },
		{ 1 << 20, 0 },
	};
	const size_t tail = 1024;
	struct vfio_mig_stream s = {};
	size_t k, head;

	fill_devmem(a, 3);
	set_ctx(a, 3);
	vfio_pci_mig_save(a, &s, false);
	ASSERT_GT(s.len, runs[1].head + tail);
	for (k = 0; k < ARRAY_SIZE(runs); k++) {
		size_t split = runs[k].split;
		size_t mid = runs[k].head ? s.len - tail : s.len;
		int fd;

		head = runs[k].head;
		ASSERT_EQ(0, __vfio_pci_device_reset(b));
		fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, __vfio_mig_write(fd, s.data, head, split));
		ASSERT_EQ(0, __vfio_mig_write(fd, s.data + head, mid - head,
					      head ? 4096 + 13 : split));
		ASSERT_EQ(0, __vfio_mig_write(fd, s.data + mid, s.len - mid,
					      split));
		ASSERT_EQ(-1, vfio_pci_mig_state_set(b,
						     VFIO_DEVICE_STATE_RUNNING));
		close(fd);
		ASSERT_EQ(-1, check_devmem(b, 3));
		ASSERT_EQ(-1, check_ctx(b, 3));
	}
	vfio_mig_stream_free(&s);
}

/*
 * A pre-copy migration A -> B with exact sizes along the way: the first
 * pass, a temporary end, N rewritten pages seen as exactly N dirty pages,
 * one more change carried by stop-copy. (That PRECOPY_INFO is refused in
 * STOP_COPY, and that the temporary end is ENOMSG, are
 * vfio_pci_migration_test's pre_copy_stream.)
 */
static void pre_copy_round_trip(struct __test_metadata *_metadata,
				struct vfio_pci_device *a,
				struct vfio_pci_device *b)
{
	struct vfio_mig_stream s = {};
	struct vfio_precopy_info info;
	u64 *mem_a = devmem(a), *mem_b = devmem(b);
	u64 last_initial;
	const int rewrite = 5;
	int fd, i;

	fill_devmem(a, 4);
	set_ctx(a, 4);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_GE(info.initial_bytes, devmem_size(a));
	ASSERT_EQ(0, info.dirty_bytes);

	/*
	 * The driver reads ahead of userspace; what it holds still counts
	 * as initial data, to the byte.
	 */
	last_initial = info.initial_bytes;
	ASSERT_EQ(PAGE, __vfio_mig_read(fd, &s, PAGE));
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(last_initial - PAGE, info.initial_bytes);
	ASSERT_EQ(0, info.dirty_bytes);

	/* initial_bytes only decreases as the first pass is read */
	last_initial = info.initial_bytes;
	while (last_initial) {
		ASSERT_EQ(-ENOMSG, read_to_end(fd, &s));
		ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
		ASSERT_LT(info.initial_bytes, last_initial);
		last_initial = info.initial_bytes;
	}
	ASSERT_EQ(0, info.dirty_bytes);

	/* the VF keeps running: rewrite N pages, see exactly N pages dirty */
	for (i = 0; i < rewrite; i++)
		mem_a[(size_t)i * 3 * PAGE / 8] = pattern(5, i);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, info.initial_bytes);
	ASSERT_EQ((u64)rewrite * PAGE, info.dirty_bytes);
	ASSERT_EQ(-ENOMSG, read_to_end(fd, &s));
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, info.dirty_bytes);

	/* one more change after the last pre-copy read travels in stop-copy */
	mem_a[7] = pattern(6, 7);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP_COPY));
	vfio_mig_read_stop_copy(fd, &s);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP));
	close(fd);

	vfio_pci_mig_resume(b, &s);
	for (i = 0; i < rewrite; i++) {
		ASSERT_EQ(pattern(5, i), mem_b[(size_t)i * 3 * PAGE / 8]);
		mem_b[(size_t)i * 3 * PAGE / 8] =
			pattern(4, (size_t)i * 3 * PAGE / 8);
	}
	ASSERT_EQ(pattern(6, 7), mem_b[7]);
	mem_b[7] = pattern(4, 7);
	ASSERT_EQ(-1, check_devmem(b, 4));
	ASSERT_EQ(-1, check_ctx(b, 4));
	vfio_mig_stream_free(&s);
}

TEST_F(tern_migration_test, pre_copy_round_trip)
{
	pre_copy_round_trip(_metadata, self->vf[0], self->vf[1]);
}

/*
 * The same migration with the files' ring of chunk buffers in other
 * shapes: one command in flight at a time, many small chunks in flight
 * (a record spans several), the most buffers. The sizes PRECOPY_INFO
 * reports count what the ring holds, whatever its shape.
 */
TEST_F(tern_migration_test, pre_copy_ring_shapes)
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
		pre_copy_round_trip(_metadata, self->vf[0], self->vf[1]);
		ASSERT_EQ(0, tern_mig_state_set(self->vf[0],
						VFIO_DEVICE_STATE_RUNNING));
		ASSERT_EQ(0, __vfio_pci_device_reset(self->vf[1]));
	}
}

/*
 * MIG_DATA_SIZE is what QEMU plans its switchover with: in STOP_COPY it
 * must cover everything read() still returns, including what the file's
 * ring read ahead during pre-copy (the firmware no longer counts that).
 */
TEST_F(tern_migration_test, data_size_counts_what_the_ring_holds)
{
	struct vfio_pci_device *a = self->vf[0];
	struct vfio_mig_stream s = {};
	char first[4096];
	u64 size;
	int fd;

	fill_devmem(a, 11);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	/* one small read: the ring asks for its depth of chunks behind it */
	ASSERT_EQ(sizeof(first), read(fd, first, sizeof(first)));
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP_COPY));
	ASSERT_EQ(0, __vfio_pci_mig_data_size(a, &size));
	vfio_mig_read_stop_copy(fd, &s);
	TH_LOG("MIG_DATA_SIZE %llu, read to the end %zu",
	       (unsigned long long)size, s.len);
	ASSERT_LE(s.len, size);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_STOP));
	close(fd);
	vfio_mig_stream_free(&s);
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
TEST_F(tern_migration_test, pre_copy_poll_wakes_on_dirty_data)
{
	struct vfio_pci_device *a = self->vf[0];
	struct poll_arg arg = { .revents = -1 };
	struct vfio_mig_stream s = {};
	struct pollfd pfd;
	pthread_t t;
	int fd;

	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	vfio_mig_read_precopy(fd, &s);
	pfd.fd = fd;
	pfd.events = POLLIN;
	ASSERT_EQ(0, poll(&pfd, 1, 0));

	arg.fd = fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, poll_thread, &arg));
	devmem(a)[100] ^= 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_TRUE(arg.revents & POLLIN);

	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING));
	/* leaving the saving group ends the session: the fd is dead */
	ASSERT_EQ(-ENODEV, read_to_end(fd, &s));
	close(fd);
	vfio_mig_stream_free(&s);
}

/*
 * tern's resume fd answers VFIO_MIG_GET_PRECOPY_INFO, refusing it as in
 * every state but the PRE_COPY ones, where the uAPI also allows a file
 * without the ioctl (ENOTTY). (A saving fd in STOP_COPY is
 * vfio_pci_migration_test's stop_copy_stream and precopy_info.)
 */
TEST_F(tern_migration_test, precopy_info_only_in_pre_copy)
{
	struct vfio_pci_device *b = self->vf[1];
	struct vfio_precopy_info info;
	int fd;

	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-EINVAL, __vfio_mig_precopy_info(fd, 0, &info));
	close(fd);
}

/*
 * MIG_DATA_SIZE: what STOP_COPY would transfer now. The device sends no
 * all-zero pages, so the size tracks the content: filled memory costs at
 * least its size, and the estimate equals the stream a stop-copy sends.
 */
TEST_F(tern_migration_test, mig_data_size)
{
	struct vfio_pci_device *a = self->vf[0];
	struct vfio_mig_stream s = {};
	u64 size;
	int fd;

	ASSERT_EQ(0, __vfio_pci_device_reset(a));
	ASSERT_EQ(0, __vfio_pci_mig_data_size(a, &size));
	ASSERT_LT(size, devmem_size(a) / 64);
	fill_devmem(a, 8);
	ASSERT_EQ(0, __vfio_pci_mig_data_size(a, &size));
	ASSERT_GE(size, devmem_size(a));
	vfio_pci_mig_save(a, &s, false);
	/* the estimate taken while running is the stream a stop-copy sent */
	ASSERT_EQ(size, s.len);
	vfio_mig_stream_free(&s);

	/* RESUMING has no save to ask about: the most the format allows */
	ASSERT_EQ(0, __vfio_pci_device_reset(a));
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_pci_mig_data_size(a, &size));
	ASSERT_GT(size, devmem_size(a));
	close(fd);
	ASSERT_EQ(0, __vfio_pci_device_reset(a));
}

/* Re-seal the stream header after editing it. */
static void seal_header(u8 *stream)
{
	struct tern_stream_hdr *h = (void *)stream;

	h->crc = htole32(crc32c(h, offsetof(struct tern_stream_hdr, crc)));
}

/* Re-seal the record at @off: CRC over header bytes 0..11, then payload. */
static void seal_record(u8 *stream, size_t off)
{
	struct tern_rec_hdr *r = (void *)(stream + off);
	u32 crc = crc32c(r, offsetof(struct tern_rec_hdr, crc));

	r->crc = htole32(crc32c_update(crc, r + 1, le32toh(r->len)));
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
static u8 *corrupt(const struct vfio_mig_stream *s, enum corruption c,
		   size_t *len, u64 devmem_size)
{
	u8 *d = malloc(s->len + 64);
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
TEST_F(tern_migration_test, resume_rejects_bad_streams)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	struct vfio_mig_stream s = {};
	int c;

	fill_devmem(a, 9);
	set_ctx(a, 9);
	vfio_pci_mig_save(a, &s, false);
	ASSERT_EQ(TERN_REC_PAGES,
		  le16toh(((struct tern_rec_hdr *)(s.data + 64))->type));

	for (c = 0; c < NR_CORRUPTIONS; c++) {
		size_t len;
		u8 *bad = corrupt(&s, c, &len, devmem_size(a));
		int ret, fd;

		ASSERT_EQ(0, __vfio_pci_device_reset(b));
		fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
		ASSERT_LE(0, fd);
		/* write() may refuse at once; the commit must refuse anyway */
		__vfio_mig_write(fd, bad, len, SZ_64K);
		free(bad);
		ret = tern_mig_state_set(b, VFIO_DEVICE_STATE_STOP);
		close(fd);
		ASSERT_NE(0, ret) TH_LOG("%s accepted", corruption_name[c]);
		ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(b))
			TH_LOG("%s", corruption_name[c]);
		ASSERT_EQ(0, __vfio_pci_device_reset(b));
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(b));
		/* nothing of the refused stream is visible */
		ASSERT_EQ(0, devmem(b)[0]) TH_LOG("%s", corruption_name[c]);
	}
	vfio_pci_mig_resume(b, &s);
	ASSERT_EQ(-1, check_devmem(b, 9));
	ASSERT_EQ(-1, check_ctx(b, 9));
	vfio_mig_stream_free(&s);
}

/*
 * A damaged record fails the write() that completes it, not only the state
 * change after it: a VMM such as QEMU treats a stream whose writes all
 * succeeded as delivered, and leaves RESUMING only once the VM starts.
 */
TEST_F(tern_migration_test, resume_write_rejects_last_record)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	struct vfio_mig_stream s = {};
	int fd;

	fill_devmem(a, 12);
	vfio_pci_mig_save(a, &s, false);
	s.data[s.len - 1] ^= 0xff;	/* the END record */
	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(-1, write(fd, s.data, s.len));
	ASSERT_EQ(EINVAL, errno);
	close(fd);
	ASSERT_NE(0, tern_mig_state_set(b, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, __vfio_pci_device_reset(b));
	vfio_mig_stream_free(&s);
}

/*
 * A reset in PRE_COPY, with the file's ring reading ahead, ends the
 * session: the fd is dead, and a new session starts cleanly. (That the
 * device is RUNNING after a reset in any state is
 * vfio_pci_migration_state_test's reset.)
 */
TEST_F(tern_migration_test, reset_during_pre_copy)
{
	struct vfio_pci_device *a = self->vf[0];
	struct vfio_mig_stream s = {};
	char byte;
	int fd;

	fill_devmem(a, 10);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, read(fd, &byte, 1));
	ASSERT_EQ(0, __vfio_pci_device_reset(a));
	ASSERT_EQ(-ENODEV, read_to_end(fd, &s));
	close(fd);
	vfio_mig_stream_free(&s);
	/* a new session starts cleanly */
	vfio_pci_mig_save(a, &s, false);
	vfio_mig_stream_free(&s);
}

/*
 * A reset in RESUMING, halfway through the stream, ends the session: the
 * fd is dead, nothing of the half stream is visible, and the whole stream
 * then loads. (That the device is RUNNING after a reset in any state is
 * vfio_pci_migration_state_test's reset.)
 */
TEST_F(tern_migration_test, reset_during_resuming)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	struct vfio_mig_stream s = {};
	int fd;

	fill_devmem(a, 11);
	vfio_pci_mig_save(a, &s, false);
	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_write(fd, s.data, s.len / 2, SZ_1M));
	ASSERT_EQ(0, __vfio_pci_device_reset(b));
	ASSERT_EQ(-ENODEV, __vfio_mig_write(fd, s.data, 16, 16));
	close(fd);
	ASSERT_EQ(0, devmem(b)[0]);
	vfio_pci_mig_resume(b, &s);
	ASSERT_EQ(-1, check_devmem(b, 11));
	vfio_mig_stream_free(&s);
}

/*
 * Closing the data fd mid-stream, or dying with it open, loses nothing
 * the device needs: the state machine still works and the next session
 * carries the full state.
 */
TEST_F(tern_migration_test, close_data_fd_mid_stream)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	struct vfio_mig_stream s = {};
	char buf[4096];
	pid_t pid;
	int fd, status;

	fill_devmem(a, 12);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(buf), read(fd, buf, sizeof(buf)));
	close(fd);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING));

	/* a child that dies mid-migration with the fd open */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		if (__vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY,
					     &fd) ||
		    read(fd, buf, sizeof(buf)) <= 0)
			_exit(1);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(VFIO_DEVICE_STATE_PRE_COPY, tern_mig_state(a));

	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING));
	vfio_pci_mig_save(a, &s, false);
	vfio_pci_mig_resume(b, &s);
	ASSERT_EQ(-1, check_devmem(b, 12));
	vfio_mig_stream_free(&s);
}

/* One value of the VF's "counters" debugfs file, or -1. */
static long long mig_counter(struct vfio_pci_device *vf, const char *name)
{
	char path[256], key[32];
	long long val, ret = -1;
	FILE *f;

	tern_vf_debugfs_path(path, sizeof(path), vf->bdf, "counters");
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
TEST_F(tern_migration_test, debugfs_counters)
{
	struct vfio_pci_device *a = self->vf[0], *b = self->vf[1];
	long long saves, stopcopy, loads, loaded, passes;
	struct vfio_mig_stream s = {};
	int fd;

	saves = mig_counter(a, "save_sessions");
	stopcopy = mig_counter(a, "stopcopy_bytes");
	passes = mig_counter(a, "precopy_passes");
	loads = mig_counter(b, "load_sessions");
	loaded = mig_counter(b, "loaded_bytes");
	ASSERT_GE(saves, 0);
	ASSERT_GE(loads, 0);

	fill_devmem(a, 13);
	fd = vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, fd);
	vfio_mig_read_precopy(fd, &s);
	vfio_mig_read_precopy(fd, &s);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING));
	close(fd);
	vfio_mig_stream_free(&s);
	ASSERT_EQ(passes + 2, mig_counter(a, "precopy_passes"));

	vfio_pci_mig_save(a, &s, false);
	ASSERT_EQ(saves + 2, mig_counter(a, "save_sessions"));
	ASSERT_EQ(stopcopy + (long long)s.len,
		  mig_counter(a, "stopcopy_bytes"));
	vfio_pci_mig_resume(b, &s);
	ASSERT_EQ(loads + 1, mig_counter(b, "load_sessions"));
	ASSERT_EQ(loaded + (long long)s.len, mig_counter(b, "loaded_bytes"));
	vfio_mig_stream_free(&s);
}

/*
 * The counters live in the vfio core's per-device directory, beside the
 * core's migration state, and the driver keeps no debugfs root or state
 * file of its own there.
 */
TEST_F(tern_migration_test, debugfs_beside_core_state)
{
	struct vfio_pci_device *a = self->vf[0];
	char path[256], buf[32];
	struct stat st;

	SKIP_UNLESS_KERNEL_HAS(!stat("/sys/kernel/debug/vfio", &st),
			       "vfio_debugfs");
	snprintf(path, sizeof(path),
		 "/sys/kernel/debug/vfio/%s/migration/state", a->bdf);
	ASSERT_EQ(0, sysfs_read(path, buf, sizeof(buf)));
	ASSERT_STREQ("RUNNING", buf);
	tern_vf_debugfs_path(path, sizeof(path), a->bdf, "counters");
	ASSERT_NE(NULL, strstr(path, "/vfio/"));
	ASSERT_EQ(0, stat(path, &st));
	ASSERT_EQ(-1, mig_counter(a, "state"));
	ASSERT_EQ(-1, stat("/sys/kernel/debug/tern_vfio_pci", &st));
}

TERN_TEST_HARNESS_MAIN
