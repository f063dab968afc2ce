// SPDX-License-Identifier: GPL-2.0
/*
 * DMA dirty-page logging of tern VFs (VFIO_DEVICE_FEATURE_DMA_LOGGING_*),
 * driven as a VMM drives it, with the VF's DMA engine (libvfio's tern
 * driver) as the writer: exact reports, page size negotiation, merged
 * ranges, sparse spans, sub-range and unaligned reports, error paths,
 * reports racing with DMA, and logging across a PRE_COPY -> STOP_COPY
 * migration, whose stream loads on a VF of another PF where one is named
 * (TERN_SELFTESTS_PF_OTHER, tern_setup.h), as between two hosts.
 *
 * The engine writes host memory only in the data area of its DMA arena
 * (and its rings, below the data, outside every range); ranges are placed
 * relative to the data's IOVA, which libvfio's IOVA allocator chose, so
 * that exactly the pages a test writes are expected.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <linux/pci_regs.h>
#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

#define DATA_SIZE	SZ_8M
/* The span of the sparse and large tests: far beyond any mapping. */
#define GAP		(64ull * SZ_1G)
#define CORE_DEBUGFS	"/sys/kernel/debug/tern_core"
#define CORE_TIMEOUT	"/sys/module/tern_core/parameters/cmd_timeout_ms"

typedef struct vfio_device_feature_dma_logging_range range_t;

/* Ring entries the fixture runs the engine on. */
#define DIRTY_RING_SIZE	64

FIXTURE(tern_dirty_test)
{
	struct tern_mig_vfs vfs;
	struct iommu *iommu;
	struct tern_arena arena;
	struct vfio_pci_device *device;
	u8 *data;		/* DATA_SIZE bytes, 2 MiB aligned */
	u64 iova;		/* IOVA of data */
	bool fail_cmd_set;	/* a fail_cmd rule to remove at the end */
};

TERN_FIXTURE_IOMMU_MODES(tern_dirty_test);

FIXTURE_SETUP(tern_dirty_test)
{
	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	TERN_PREPARE_MIGRATION_OR_SKIP(&self->vfs);
	self->iommu = iommu_init(variant->iommu_mode);
	/* the VF's rings (2 MiB) first, then the data, 2 MiB aligned */
	tern_arena_init(&self->arena, self->iommu, SZ_16M);
	self->device = tern_vf_init(self->vfs.src, self->iommu, &self->arena);
	SKIP_UNLESS_KERNEL_HAS(tern_dma_logging_available(self->device),
			       "dma_logging");
	ASSERT_EQ(0, __tern_engine_start(self->device, DIRTY_RING_SIZE));
	self->data = tern_arena_alloc(&self->arena, DATA_SIZE, SZ_2M);
	ASSERT_NE(NULL, self->data);
	self->iova = tern_arena_iova(&self->arena, self->data);
	/*
	 * The ranges start at the data's IOVA, and the kernel takes only
	 * ranges aligned to the page size asked for (up to 2 MiB here).
	 */
	ASSERT_EQ(0, self->iova % SZ_2M)
		TH_LOG("data at IOVA 0x%llx", (unsigned long long)self->iova);
}

FIXTURE_TEARDOWN(tern_dirty_test)
{
	/* a test that failed midway leaves no fault rule to the next */
	if (self->fail_cmd_set)
		sysfs_write(CORE_DEBUGFS "/fail_cmd/probability", "0");
	if (self->device)
		tern_vf_cleanup(self->device, &self->arena);
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

/* ---- uAPI helpers ------------------------------------------------------- */

static int log_start(struct vfio_pci_device *device, const range_t *ranges,
		     int n, u64 *page_size)
{
	return __vfio_pci_dma_logging_start(device, ranges, n, page_size);
}

static int log_stop(struct vfio_pci_device *device)
{
	return __vfio_pci_dma_logging_stop(device);
}

/* REPORT into @bitmap, which is cleared first (the kernel only sets bits). */
static int log_report(struct vfio_pci_device *device, u64 iova, u64 length,
		      u64 page_size, u64 *bitmap)
{
	u64 bits = (length + page_size - 1) / page_size;

	memset(bitmap, 0, (bits + 63) / 64 * 8);
	return __vfio_pci_dma_logging_report(device, iova, length, page_size,
					     bitmap);
}

static int log_probe(struct vfio_pci_device *device)
{
	return __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
					 VFIO_DEVICE_FEATURE_SET |
					 VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
					 NULL, 0);
}

/* A counter of the VF's dirty/ debugfs directory, or UINT64_MAX. */
static u64 dbg(struct vfio_pci_device *device, const char *name)
{
	char path[256], file[64], buf[32];

	snprintf(file, sizeof(file), "dirty/%s", name);
	tern_vf_debugfs_path(path, sizeof(path), device->bdf, file);
	if (sysfs_read(path, buf, sizeof(buf)))
		return UINT64_MAX;
	return strtoull(buf, NULL, 0);
}

static bool test_bit64(const u64 *bm, u64 i)
{
	return bm[i / 64] >> (i % 64) & 1;
}

static u64 count_bits(const u64 *bm, u64 nbits)
{
	u64 i, n = 0;

	for (i = 0; i < nbits; i++)
		n += test_bit64(bm, i);
	return n;
}

static u64 *bitmap_new(u64 nbits)
{
	return calloc((nbits + 63) / 64, 8);
}

/* ---- engine jobs -------------------------------------------------------- */

/* The engine writes @len bytes at @iova. */
static int dma_write(struct vfio_pci_device *device, u64 iova, u32 len)
{
	return tern_job(device, TERN_DESC_OP_FILL, 0, len,
			0x5a5aa5a55a5aa5a5ull, iova, NULL);
}

/* The engine writes @len bytes at data offset @off. */
#define WRITE_AT(off, len)						\
	ASSERT_EQ(TERN_DESC_ST_OK,					\
		  dma_write(self->device, self->iova + (off), (len)))

/*
 * Several ranges; writes of a few bytes, of a page, across a page boundary;
 * a checksum and a host -> device-memory copy that only read. The report
 * holds exactly the written pages; a second report is empty; new writes
 * show up in the next one.
 */
TEST_F(tern_dirty_test, exact_report)
{
	struct vfio_pci_device *device = self->device;
	const u64 npages = 260;
	range_t ranges[] = {
		{ self->iova, 64 * PAGE },
		{ self->iova + 128 * PAGE, 64 * PAGE },
		{ self->iova + 256 * PAGE, 4 * PAGE },
	};
	static const u64 first[] = { 0, 5, 10, 11, 63, 130, 257 };
	static const u64 second[] = { 1, 191, 259 };
	u64 *bm = bitmap_new(npages), psz = PAGE, i, j;

	ASSERT_EQ(0, log_probe(device));
	ASSERT_EQ(0, log_start(device, ranges, 3, &psz));
	ASSERT_EQ(PAGE, psz);
	ASSERT_EQ(1, dbg(device, "starts") > 0);

	WRITE_AT(0, 8);
	WRITE_AT(5 * PAGE, PAGE);
	WRITE_AT(10 * PAGE + 4000, 200);	/* pages 10 and 11 */
	WRITE_AT(63 * PAGE + PAGE - 1, 1);
	WRITE_AT(130 * PAGE + 17, 100);
	WRITE_AT(257 * PAGE, PAGE);
	/* reads only: never logged */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_CHECKSUM, 0, 64 * PAGE,
			   self->iova, 0, NULL));
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_COPY,
			   TERN_DESC_F_DST_DEVMEM, 64 * PAGE,
			   self->iova + 128 * PAGE, 0, NULL));

	/* one report over the whole span, gaps included */
	ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE, PAGE, bm));
	for (i = 0, j = 0; i < npages; i++) {
		bool want = j < ARRAY_SIZE(first) && first[j] == i;

		ASSERT_EQ(want, test_bit64(bm, i)) TH_LOG("page %lu", (long)i);
		j += want;
	}
	ASSERT_EQ(ARRAY_SIZE(first), count_bits(bm, npages));

	/* read and clear: nothing again */
	ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE, PAGE, bm));
	ASSERT_EQ(0, count_bits(bm, npages));

	for (i = 0; i < ARRAY_SIZE(second); i++)
		WRITE_AT(second[i] * PAGE + 64, 64);
	ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE, PAGE, bm));
	ASSERT_EQ(ARRAY_SIZE(second), count_bits(bm, npages));
	for (i = 0; i < ARRAY_SIZE(second); i++)
		ASSERT_TRUE(test_bit64(bm, second[i]));

	/* a report page of 16 KiB: bit i covers pages 4i .. 4i + 3 */
	WRITE_AT(9 * PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, 4 * PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 16));
	ASSERT_TRUE(test_bit64(bm, 2));

	ASSERT_EQ(0, log_stop(device));
	ASSERT_EQ(0, dbg(device, "bitmap_bytes"));
	free(bm);
}

/*
 * The device tracks at 4 KiB, 2 MiB and 1 GiB: the driver answers with the
 * nearest (in powers of two, the smaller on a tie), and then tracks at it.
 */
TEST_F(tern_dirty_test, page_size_negotiation)
{
	struct vfio_pci_device *device = self->device;
	static const struct {
		u64 ask, get;
	} cases[] = {
		{ 4096, 4096 }, { 8192, 4096 }, { 64 << 10, 4096 },
		{ 512 << 10, SZ_2M }, { 1 << 20, SZ_2M }, { SZ_2M, SZ_2M },
		{ 32 << 20, SZ_2M }, { 64 << 20, SZ_1G }, { SZ_1G, SZ_1G },
		{ SZ_4G, SZ_1G },
	};
	range_t far = { SZ_4G, SZ_4G };
	range_t two_m = { self->iova, SZ_2M };
	u64 *bm = bitmap_new(512), psz;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		psz = cases[i].ask;
		ASSERT_EQ(0, log_start(device, &far, 1, &psz));
		ASSERT_EQ(cases[i].get, psz) TH_LOG("asked %lu",
						     (long)cases[i].ask);
		ASSERT_EQ(0, log_stop(device));
	}

	/* tracking at 2 MiB: one byte written dirties the whole 2 MiB */
	psz = 1 << 20;
	ASSERT_EQ(0, log_start(device, &two_m, 1, &psz));
	ASSERT_EQ(SZ_2M, psz);
	WRITE_AT(300 * PAGE, 1);
	ASSERT_EQ(0, log_report(device, self->iova, SZ_2M, PAGE, bm));
	ASSERT_EQ(512, count_bits(bm, 512));
	ASSERT_EQ(0, log_report(device, self->iova, SZ_2M, PAGE, bm));
	ASSERT_EQ(0, count_bits(bm, 512));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * More ranges than the device tracks (8): the driver merges them, so every
 * write into any of them is still reported. With 8 ranges nothing is
 * merged and a write into a gap is not reported.
 */
TEST_F(tern_dirty_test, more_ranges_than_supported)
{
	struct vfio_pci_device *device = self->device;
	const int nranges = 13;
	range_t ranges[13];
	u64 *bm = bitmap_new(1024), psz = PAGE;
	int i;

	/* range i: 2 pages at page 40 * i + i (gaps of different sizes) */
	for (i = 0; i < nranges; i++) {
		ranges[i].iova = self->iova + (40ull * i + i) * PAGE;
		ranges[i].length = 2 * PAGE;
	}
	ASSERT_EQ(0, log_start(device, ranges, TERN_DIRTY_MAX_RANGES, &psz));
	WRITE_AT(20 * PAGE, 8);			/* a gap */
	WRITE_AT(41 * PAGE, 8);			/* range 1 */
	/* the span: range 0 to the end of range 7 */
	ASSERT_EQ(0, log_report(device, self->iova, 289 * PAGE, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 289));
	ASSERT_TRUE(test_bit64(bm, 41));
	ASSERT_EQ(0, log_stop(device));

	ASSERT_EQ(0, log_start(device, ranges, nranges, &psz));
	ASSERT_EQ(PAGE, psz);
	for (i = 0; i < nranges; i++)
		WRITE_AT((40ull * i + i + (i & 1)) * PAGE, 8);
	for (i = 0; i < nranges; i++) {
		u64 page = 40ull * i + i + (i & 1);

		/* each range on its own: its page is there */
		ASSERT_EQ(0, log_report(device, ranges[i].iova, 2 * PAGE,
					PAGE, bm));
		ASSERT_EQ(1, count_bits(bm, 2)) TH_LOG("range %d", i);
		ASSERT_TRUE(test_bit64(bm, page - (40ull * i + i)));
	}
	ASSERT_EQ(0, log_report(device, self->iova, 494 * PAGE, PAGE, bm));
	ASSERT_EQ(0, count_bits(bm, 494));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * Two ranges 64 GiB apart cost the kernel no more than two adjacent ones,
 * and a report over the whole span reads the ranges, not the gap. One
 * 64 GiB range is read in chunks of one command's bitmap (1 MiB, 2^23
 * pages) through a buffer of that size.
 */
TEST_F(tern_dirty_test, large_sparse_span)
{
	struct vfio_pci_device *device = self->device;
	const u64 gap = GAP;
	range_t sparse[] = {
		{ self->iova, 16 * PAGE },
		{ self->iova + gap, SZ_2M },
	};
	range_t big = { self->iova, gap };
	const u64 span = gap + SZ_2M, nbits = span / PAGE;
	u64 *bm = bitmap_new(nbits), psz = PAGE, reads;

	ASSERT_NE(NULL, bm);
	ASSERT_EQ(0, log_start(device, sparse, 2, &psz));
	/* 2 MiB at 4 KiB pages: 64 bytes of bitmap, one page of buffer */
	ASSERT_EQ(PAGE, dbg(device, "bitmap_bytes"));
	WRITE_AT(3 * PAGE, 8);
	WRITE_AT(15 * PAGE, 8);
	reads = dbg(device, "reads");
	ASSERT_EQ(0, log_report(device, self->iova, span, PAGE, bm));
	ASSERT_EQ(reads + 2, dbg(device, "reads"));
	ASSERT_EQ(2, count_bits(bm, nbits));
	ASSERT_TRUE(test_bit64(bm, 3));
	ASSERT_TRUE(test_bit64(bm, 15));
	ASSERT_EQ(0, log_stop(device));

	ASSERT_EQ(0, log_start(device, &big, 1, &psz));
	ASSERT_EQ(1 << 20, dbg(device, "bitmap_bytes"));
	WRITE_AT(DATA_SIZE - 8, 8);
	reads = dbg(device, "reads");
	ASSERT_EQ(0, log_report(device, self->iova, gap, PAGE, bm));
	ASSERT_EQ(reads + gap / PAGE / (8 << 20), dbg(device, "reads"));
	ASSERT_EQ(1, count_bits(bm, gap / PAGE));
	ASSERT_TRUE(test_bit64(bm, DATA_SIZE / PAGE - 1));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * A report of a sub-range reads and clears that sub-range only. A report
 * that covers a tracking page in part sets the covered bits and keeps the
 * page for later reports, until one covers it whole.
 */
TEST_F(tern_dirty_test, sub_range_and_unaligned)
{
	struct vfio_pci_device *device = self->device;
	range_t r = { self->iova, SZ_2M };
	u64 *bm = bitmap_new(512), psz = PAGE;

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	WRITE_AT(2 * PAGE, 8);
	WRITE_AT(7 * PAGE, 8);
	WRITE_AT(40 * PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova + 4 * PAGE, 8 * PAGE,
				PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 8));
	ASSERT_TRUE(test_bit64(bm, 3));
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(2, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 2));
	ASSERT_TRUE(test_bit64(bm, 40));

	/*
	 * Unaligned: bit i covers [base + i * 4K, base + (i + 1) * 4K) with
	 * base 512 bytes into page 20: page 20 meets bit 0 and lies partly
	 * before the report, page 23 meets bit 2 and lies partly beyond it.
	 */
	WRITE_AT(20 * PAGE, 8);
	WRITE_AT(23 * PAGE + 2048, 8);
	ASSERT_EQ(0, log_report(device, self->iova + 20 * PAGE + 512,
				3 * PAGE, PAGE, bm));
	ASSERT_EQ(2, count_bits(bm, 3));
	ASSERT_TRUE(test_bit64(bm, 0));
	ASSERT_TRUE(test_bit64(bm, 2));
	ASSERT_EQ(2, dbg(device, "carried"));
	/* the parts not yet reported are not lost */
	ASSERT_EQ(0, log_report(device, self->iova + 16 * PAGE, 16 * PAGE,
				PAGE, bm));
	ASSERT_EQ(2, count_bits(bm, 16));
	ASSERT_TRUE(test_bit64(bm, 4));
	ASSERT_TRUE(test_bit64(bm, 7));
	ASSERT_EQ(0, dbg(device, "carried"));
	ASSERT_EQ(0, log_report(device, self->iova + 16 * PAGE, 16 * PAGE,
				PAGE, bm));
	ASSERT_EQ(0, count_bits(bm, 16));
	ASSERT_EQ(0, log_stop(device));

	/* tracking at 2 MiB, reported at 4 KiB in two halves */
	psz = SZ_2M;
	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(SZ_2M, psz);
	WRITE_AT(400 * PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova, SZ_2M / 2, PAGE, bm));
	ASSERT_EQ(256, count_bits(bm, 256));
	ASSERT_EQ(0, log_report(device, self->iova + SZ_2M / 2, SZ_2M / 2,
				PAGE, bm));
	ASSERT_EQ(256, count_bits(bm, 256));
	ASSERT_EQ(0, log_report(device, self->iova, SZ_2M, PAGE, bm));
	ASSERT_EQ(512, count_bits(bm, 512));
	ASSERT_EQ(0, log_report(device, self->iova, SZ_2M, PAGE, bm));
	ASSERT_EQ(0, count_bits(bm, 512));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

static int set_fail_cmd(const char *opcode, const char *probability)
{
	int ret = sysfs_write(CORE_DEBUGFS "/fail_cmd/verbose", "0");

	if (!ret)
		ret = sysfs_write(CORE_DEBUGFS "/fail_cmd_opcode", opcode);
	if (!ret)
		ret = sysfs_write(CORE_DEBUGFS "/fail_cmd/times", "1");
	if (!ret)
		ret = sysfs_write(CORE_DEBUGFS "/fail_cmd/probability",
				  probability);
	return ret;
}

/* The errnos of the uAPI and of the vfio core, and failed commands. */
TEST_F(tern_dirty_test, errnos)
{
	struct vfio_pci_device *device = self->device;
	range_t r = { self->iova, 64 * PAGE };
	range_t overlap[] = { { self->iova, 2 * PAGE }, { self->iova + PAGE, PAGE } };
	range_t top = { -PAGE, PAGE };
	u64 *bm = bitmap_new(128), psz = PAGE;

	ASSERT_EQ(-EINVAL, log_report(device, self->iova, PAGE, PAGE, bm));
	ASSERT_EQ(0, log_stop(device));	/* stop when stopped: fine */
	ASSERT_EQ(-EINVAL, log_start(device, &r, 0, &psz));
	ASSERT_EQ(-EINVAL, log_start(device, overlap, 2, &psz));
	ASSERT_EQ(-EOVERFLOW, log_start(device, &top, 1, &psz));

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(-EINVAL, log_start(device, &r, 1, &psz));
	/* outside the tracked ranges */
	ASSERT_EQ(-EINVAL, log_report(device, self->iova + 64 * PAGE, PAGE,
				      PAGE, bm));
	ASSERT_EQ(-EINVAL, log_report(device, self->iova - PAGE, 2 * PAGE,
				      PAGE, bm));
	ASSERT_EQ(-EINVAL, log_report(device, self->iova, 128 * PAGE,
				      PAGE, bm));

	/* a failed DIRTY_READ_CLEAR fails the report and loses nothing */
	TERN_SKIP_UNLESS_DESTRUCTIVE("the rest injects fail_cmd faults, seen by every VF");
	self->fail_cmd_set = true;
	WRITE_AT(6 * PAGE, 8);
	ASSERT_EQ(0, set_fail_cmd("0x31", "100"));
	ASSERT_EQ(-EIO, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(0, set_fail_cmd("0xff", "0"));
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 6));

	/*
	 * A failed DIRTY_STOP stays owed: a start is refused while it is, the
	 * VF's migration state stands, a VF reset (tracking outlives it)
	 * keeps the debt, and the next call pays it before anything else.
	 */
	ASSERT_EQ(0, set_fail_cmd("0x32", "100"));
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/fail_cmd/times", "-1"));
	ASSERT_EQ(-EIO, log_stop(device));
	ASSERT_EQ(-EBUSY, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, tern_device_reset(device));
	ASSERT_EQ(-EBUSY, log_start(device, &r, 1, &psz));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(device));
	ASSERT_EQ(0, set_fail_cmd("0xff", "0"));
	ASSERT_EQ(-EINVAL, log_report(device, self->iova, PAGE, PAGE, bm));
	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * A DIRTY_START that times out may still run late, and the firmware then
 * tracks for a session the driver failed: the driver owes it a DIRTY_STOP
 * and pays before the next start (which the firmware would refuse BUSY).
 */
TEST_F(tern_dirty_test, timed_out_start_is_stopped)
{
	struct vfio_pci_device *device = self->device;
	char fault[128], timeout[32];
	range_t r = { self->iova, 64 * PAGE };
	u64 *bm = bitmap_new(64), psz = PAGE;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects a firmware stall on PF %s",
				     tern_pf);
	snprintf(fault, sizeof(fault), CORE_DEBUGFS "/%s/fw_fault", tern_pf);
	ASSERT_EQ(0, sysfs_read(CORE_TIMEOUT, timeout, sizeof(timeout)));
	ASSERT_EQ(0, sysfs_write(CORE_TIMEOUT, "300"));
	ASSERT_EQ(0, sysfs_write(fault, "stall 0x30 1"));
	ASSERT_EQ(-ETIMEDOUT, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, sysfs_write(fault, "release"));
	/* commands are answered in order: this one after the late one */
	ASSERT_EQ(0, sysfs_write(fault, "clear"));
	ASSERT_EQ(0, sysfs_write(CORE_TIMEOUT, timeout));

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	WRITE_AT(3 * PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 3));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * A DIRTY_START that timed out can run after the DIRTY_STOP the driver
 * owed it (a stalled command is set aside; RELEASE runs it last): the
 * firmware then tracks for a session the driver does not know, and its
 * next start finds the firmware busy. The driver ends the stray session
 * and starts again.
 */
TEST_F(tern_dirty_test, start_that_runs_after_its_stop)
{
	struct vfio_pci_device *device = self->device;
	char fault[128], timeout[32];
	range_t r = { self->iova, 64 * PAGE };
	u64 *bm = bitmap_new(64), psz = PAGE;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects a firmware stall on PF %s",
				     tern_pf);
	snprintf(fault, sizeof(fault), CORE_DEBUGFS "/%s/fw_fault", tern_pf);
	ASSERT_EQ(0, sysfs_read(CORE_TIMEOUT, timeout, sizeof(timeout)));
	ASSERT_EQ(0, sysfs_write(CORE_TIMEOUT, "300"));
	ASSERT_EQ(0, sysfs_write(fault, "stall 0x30 1"));
	ASSERT_EQ(-ETIMEDOUT, log_start(device, &r, 1, &psz));
	/* the owed DIRTY_STOP goes out first; the stalled start waits */
	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, log_stop(device));
	ASSERT_EQ(0, sysfs_write(fault, "release"));
	/* commands are answered in order: this one after the late one */
	ASSERT_EQ(0, sysfs_write(fault, "clear"));
	ASSERT_EQ(0, sysfs_write(CORE_TIMEOUT, timeout));

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	WRITE_AT(5 * PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 5));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * A report over a large span is many commands; a VMM killed meanwhile
 * does not wait for all of them. The first DIRTY_READ_CLEAR of a 64 GiB
 * report (two commands) stalls; the reporter is killed, the stall
 * released: the report ends after that command, and logging goes on.
 */
TEST_F(tern_dirty_test, killed_reporter_stops)
{
	struct vfio_pci_device *device = self->device;
	const u64 gap = GAP;
	range_t big = { self->iova, gap };
	u64 psz = PAGE, reads, *bm;
	char fault[128], timeout[32];
	long sent;
	int status;
	pid_t pid;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects a firmware stall on PF %s",
				     tern_pf);
	snprintf(fault, sizeof(fault), CORE_DEBUGFS "/%s/fw_fault", tern_pf);
	ASSERT_EQ(0, sysfs_read(CORE_TIMEOUT, timeout, sizeof(timeout)));
	ASSERT_EQ(0, sysfs_write(CORE_TIMEOUT, "60000"));
	ASSERT_EQ(0, log_start(device, &big, 1, &psz));
	bm = bitmap_new(gap / PAGE);
	ASSERT_NE(NULL, bm);
	ASSERT_EQ(0, sysfs_write(fault, "stall 0x31 1"));
	reads = dbg(device, "reads");
	sent = tern_pf_op_stat(tern_pf, "DIRTY_READ_CLEAR", 1);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(log_report(device, self->iova, gap, PAGE, bm) ? 1 : 0);
	/* wait (bounded by the test timeout) for the command to be queued */
	while (tern_pf_op_stat(tern_pf, "DIRTY_READ_CLEAR", 1) == sent)
		ASSERT_EQ(0, sched_yield());
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(0, sysfs_write(fault, "release"));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ(0, sysfs_write(fault, "clear"));
	ASSERT_EQ(0, sysfs_write(CORE_TIMEOUT, timeout));
	ASSERT_EQ(reads + 1, dbg(device, "reads"));

	WRITE_AT(PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova, gap, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, gap / PAGE));
	ASSERT_TRUE(test_bit64(bm, 1));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * The firmware's count of dirty pages is not trusted: a DIRTY_READ_CLEAR
 * that counts none while its bitmap holds pages still reports them all.
 */
TEST_F(tern_dirty_test, miscounted_read_loses_nothing)
{
	struct vfio_pci_device *device = self->device;
	range_t r = { self->iova, 64 * PAGE };
	u64 *bm = bitmap_new(64), psz = PAGE;
	char fault[128];

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects a firmware fault on PF %s",
				     tern_pf);
	snprintf(fault, sizeof(fault), CORE_DEBUGFS "/%s/fw_fault", tern_pf);
	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	WRITE_AT(3 * PAGE, 8);
	WRITE_AT(40 * PAGE, 8);
	ASSERT_EQ(0, sysfs_write(fault, "miscount 1"));
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(0, sysfs_write(fault, "clear"));
	ASSERT_EQ(2, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 3));
	ASSERT_TRUE(test_bit64(bm, 40));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/*
 * Logging goes on across a reset (a guest that reboots mid-migration):
 * a page written before it and not yet reported is reported after it,
 * then what the VF writes once it runs again, and nothing else.
 */
TEST_F(tern_dirty_test, logging_survives_reset)
{
	struct vfio_pci_device *device = self->device;
	range_t r = { self->iova, 64 * PAGE };
	u64 *bm = bitmap_new(64), psz = PAGE;
	u64 bitmap_bytes;

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	WRITE_AT(PAGE, 8);
	bitmap_bytes = dbg(device, "bitmap_bytes");
	ASSERT_NE(0, bitmap_bytes);
	ASSERT_EQ(0, __vfio_pci_device_reset(device));
	ASSERT_EQ(bitmap_bytes, dbg(device, "bitmap_bytes"));
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 1));

	/* the reset disabled the engine */
	ASSERT_EQ(0, __tern_engine_start(device, DIRTY_RING_SIZE));
	WRITE_AT(2 * PAGE, 8);
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(1, count_bits(bm, 64));
	ASSERT_TRUE(test_bit64(bm, 2));
	/* a started log still needs its stop */
	ASSERT_EQ(-EINVAL, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/* Closing the device ends logging and frees its memory. */
TEST_F(tern_dirty_test, close_while_logging)
{
	struct vfio_pci_device *device = self->device;
	range_t r = { self->iova, 64 * PAGE };
	u64 *bm = bitmap_new(64), psz = PAGE;

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	WRITE_AT(PAGE, 8);
	/*
	 * Closed as the fixture closes it, arena and all (a type1 container
	 * drops its mappings with its last VF); reopened on a new arena. The
	 * ranges below are at the old data's IOVA: nothing writes there.
	 */
	tern_vf_cleanup(device, &self->arena);
	self->device = NULL;
	self->data = NULL;
	tern_arena_init(&self->arena, self->iommu, SZ_16M);
	device = tern_vf_init(self->vfs.src, self->iommu, &self->arena);
	self->device = device;
	ASSERT_EQ(0, dbg(device, "bitmap_bytes"));
	ASSERT_EQ(-EINVAL, log_report(device, self->iova, 64 * PAGE, PAGE,
				      bm));
	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(0, count_bits(bm, 64));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

/* In ERROR the log is worth nothing: reports and starts fail with -EIO. */
TEST_F(tern_dirty_test, error_state_ends_logging)
{
	struct vfio_pci_device *device = self->device;
	range_t r = { self->iova, 64 * PAGE };
	u64 *bm = bitmap_new(64), psz = PAGE;
	int fd;

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	/* RESUMING -> STOP without a stream fails into ERROR */
	ASSERT_EQ(0, __vfio_pci_mig_state_set(device,
					      VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_NE(0, tern_mig_state_set(device, VFIO_DEVICE_STATE_STOP));
	close(fd);
	ASSERT_EQ(-EIO, log_report(device, self->iova, 64 * PAGE, PAGE, bm));
	ASSERT_EQ(0, dbg(device, "bitmap_bytes"));
	ASSERT_EQ(-EIO, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, log_stop(device));
	ASSERT_EQ(0, __vfio_pci_device_reset(device));
	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, log_stop(device));
	free(bm);
}

struct reporter {
	struct vfio_pci_device *device;
	u64 iova, npages;
	u64 *sum;		/* union of all reports */
	int stop;
	int reports;
	int err;
};

static void *report_loop(void *p)
{
	struct reporter *r = p;
	u64 *bm = bitmap_new(r->npages), i;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		r->err = log_report(r->device, r->iova, r->npages * PAGE, PAGE,
				    bm);
		if (r->err)
			break;
		for (i = 0; i < (r->npages + 63) / 64; i++)
			r->sum[i] |= bm[i];
		__atomic_add_fetch(&r->reports, 1, __ATOMIC_RELEASE);
	}
	free(bm);
	return NULL;
}

/*
 * Reports in a loop while the engine writes: every page written appears
 * in some report, counting a final report after the engine is idle.
 */
TEST_F(tern_dirty_test, report_races_with_dma)
{
	struct vfio_pci_device *device = self->device;
	const u64 npages = 512;
	range_t r = { self->iova, npages * PAGE };
	struct reporter rep = {
		.device = device, .iova = self->iova, .npages = npages,
		.sum = bitmap_new(npages),
	};
	u64 *bm = bitmap_new(npages), *want = bitmap_new(npages), psz = PAGE;
	struct tern_desc_cpl cpl;
	pthread_t t;
	int b, j, seen;

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, pthread_create(&t, NULL, report_loop, &rep));
	for (b = 0; b < 16; b++) {
		/* let a report run between batches: the two interleave */
		seen = __atomic_load_n(&rep.reports, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&rep.reports, __ATOMIC_ACQUIRE) == seen &&
		       !rep.err)
			sched_yield();
		for (j = 0; j < 16; j++) {
			u64 page = (b * 16 + j) * 97 % npages;
			u8 flags = j == 15 ? TERN_DESC_F_INTR : 0;

			want[page / 64] |= 1ull << (page % 64);
			ASSERT_EQ(0, __tern_queue(device, TERN_DESC_OP_FILL,
						  flags, 64, b,
						  self->iova + page * PAGE, j));
		}
		tern_doorbell(device);
		for (j = 0; j < 16; j++) {
			ASSERT_EQ(0, __tern_reap(device, &cpl,
						 TERN_JOB_TIMEOUT_MS));
			ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
		}
	}
	__atomic_store_n(&rep.stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, rep.err);
	ASSERT_GE(rep.reports, 16);
	ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE, PAGE, bm));
	for (j = 0; j < (int)(npages / 64); j++)
		ASSERT_EQ(want[j], rep.sum[j] | bm[j]) TH_LOG("word %d", j);
	ASSERT_EQ(0, log_stop(device));
	free(bm);
	free(want);
	free(rep.sum);
}

/*
 * The stream of a stopped source @a loads on VF @bdf: its counters and
 * ring are @a's at the stop point. The destination is reset and closed
 * without running: it would run @a's parked jobs into @a's rings.
 */
static void load_elsewhere(struct __test_metadata *_metadata,
			   struct iommu *iommu, struct vfio_pci_device *a,
			   const char *bdf, const struct vfio_mig_stream *s)
{
	static const u32 ring[] = {
		TERN_VF_REG_RING_HEAD, TERN_VF_REG_RING_DONE,
		TERN_VF_REG_RING_TAIL,
	};
	struct vfio_pci_device *b = vfio_pci_device_init(bdf, iommu);
	unsigned int i;
	int fd;

	vfio_pci_cmd_set(b, PCI_COMMAND_MEMORY);
	fd = vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, __vfio_mig_write(fd, s->data, s->len, SZ_1M));
	ASSERT_EQ(0, tern_mig_state_set(b, VFIO_DEVICE_STATE_STOP));
	close(fd);
	ASSERT_EQ(tern_readq(a, TERN_VF_REG_JOBS_LO),
		  tern_readq(b, TERN_VF_REG_JOBS_LO));
	ASSERT_EQ(tern_readq(a, TERN_VF_REG_BYTES_LO),
		  tern_readq(b, TERN_VF_REG_BYTES_LO));
	for (i = 0; i < ARRAY_SIZE(ring); i++)
		ASSERT_EQ(tern_readl(a, ring[i]), tern_readl(b, ring[i]))
			TH_LOG("register 0x%x", ring[i]);
	ASSERT_EQ(0, __vfio_pci_device_reset(b));
	vfio_pci_device_cleanup(b);
}

/*
 * Logging stays on across PRE_COPY -> STOP_COPY while the VF keeps
 * writing: the union of the reports is exactly what the VF wrote. Jobs
 * queued just before the quiesce either ran (and are reported) or are
 * parked until RUNNING (and are reported then). The stream loads on the
 * migration's destination (another PF's VF where one is named).
 */
TEST_F(tern_dirty_test, logging_across_migration)
{
	struct vfio_pci_device *device = self->device;
	const u64 npages = 256;
	range_t r = { self->iova, npages * PAGE };
	u64 *bm = bitmap_new(npages), *sum = bitmap_new(npages);
	u64 *want = bitmap_new(npages), psz = PAGE, page, i;
	struct vfio_mig_stream s = {};
	struct tern_desc_cpl cpl;
	int fd, pass, queued = 0, done;

	ASSERT_EQ(0, log_start(device, &r, 1, &psz));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	for (pass = 0; pass < 4; pass++) {
		for (i = 0; i < 8; i++) {
			page = (pass * 8 + i) * 37 % npages;
			want[page / 64] |= 1ull << (page % 64);
			WRITE_AT(page * PAGE, 16);
		}
		/* to the temporary end of the stream (ENOMSG) */
		vfio_mig_read_precopy(fd, &s);
		ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE,
					PAGE, bm));
		for (i = 0; i < npages / 64; i++)
			sum[i] |= bm[i];
	}
	/* in flight at the quiesce */
	for (i = 0; i < 8; i++) {
		page = 200 + i;
		ASSERT_EQ(0, __tern_queue(device, TERN_DESC_OP_FILL, 0, 8, i,
					  self->iova + page * PAGE, i));
		queued++;
	}
	tern_doorbell(device);
	ASSERT_EQ(0, tern_mig_state_set(device, VFIO_DEVICE_STATE_STOP_COPY));
	/* to the end of the stream (read() returns 0) */
	vfio_mig_read_stop_copy(fd, &s);
	ASSERT_EQ(0, tern_mig_state_set(device, VFIO_DEVICE_STATE_STOP));
	close(fd);
	load_elsewhere(_metadata, self->iommu, device, self->vfs.dst, &s);
	for (done = 0; done < queued && !__tern_reap(device, &cpl, 0); done++) {
		page = 200 + le64toh(cpl.cookie);
		want[page / 64] |= 1ull << (page % 64);
	}
	ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE, PAGE, bm));
	for (i = 0; i < npages / 64; i++) {
		ASSERT_EQ(want[i], sum[i] | bm[i]) TH_LOG("word %lu", (long)i);
		sum[i] |= bm[i];
	}

	/* parked jobs run at RUNNING; their writes are logged then */
	ASSERT_EQ(0, tern_mig_state_set(device, VFIO_DEVICE_STATE_RUNNING));
	for (; done < queued; done++) {
		ASSERT_EQ(0, __tern_reap(device, &cpl, TERN_JOB_TIMEOUT_MS));
		page = 200 + le64toh(cpl.cookie);
		want[page / 64] |= 1ull << (page % 64);
	}
	ASSERT_EQ(0, log_report(device, self->iova, npages * PAGE, PAGE, bm));
	for (i = 0; i < npages / 64; i++)
		sum[i] |= bm[i];
	for (i = 0; i < npages / 64; i++)
		ASSERT_EQ(want[i], sum[i]) TH_LOG("word %lu", (long)i);
	ASSERT_EQ(0, log_stop(device));
	vfio_mig_stream_free(&s);
	free(bm);
	free(sum);
	free(want);
}

TERN_TEST_HARNESS_MAIN
