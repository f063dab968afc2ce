// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU as the consumer: two QEMU 10.0 processes in this (L1) machine act as
 * source and destination VMMs of an L2 machine with tern VFs assigned
 * through vfio-pci and iommufd (or the legacy container, the only path of
 * a kernel without iommufd), and migrate it over a unix socket with QMP.
 *
 * The L2 machine runs under the qtest accelerator: instead of booting a
 * guest OS under nested TCG (minutes), the test plays the guest driver
 * through the qtest protocol, writing and reading guest RAM and the VFs'
 * BARs and running engine jobs whose DMA targets guest RAM. That RAM is
 * written behind QEMU's back, so it reaches the destination only if QEMU
 * uses the VF's DMA dirty logging. QEMU's vfio trace events show the
 * states and pre-copy iterations it went through.
 *
 * The kernel's mtty sample is migrated the same way as the baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tern_if.h"
#include "qemu_vmm.h"
#include "tern_lib.h"
#include "tern_setup.h"
#include "vfio_util.h"

#define MIG_URI			"unix:/tmp/vmm-mig.sock"
#define MAX_VFS			2

/* L2 guest-physical layout (128 MiB of RAM, BARs in the 32-bit hole) */
#define L2_SLOT(i)		(4 + (i))
#define L2_DEVFN(i)		(L2_SLOT(i) << 3)
#define L2_REGS(i)		(0xe0000000ull + (i) * 0x100000ull)
#define L2_MSIX(i)		(L2_REGS(i) + 0x10000)
#define L2_DEVMEM(i)		(0xc0000000ull + (i) * 0x4000000ull)
#define L2_RING(i)		(0x100000ull + (i) * 0x10000ull)
#define L2_CPL(i)		(L2_RING(i) + 0x8000)
#define L2_SRCBUF(i)		(0x200000ull + (i) * 0x100000ull)
#define L2_DMA_TARGET(i)	(0x1000000ull + (i) * 0x400000ull)
#define RING_SIZE		64
#define PAGE			4096

#define MIB			(1024 * 1024ull)
#define DIRTY_ROUNDS		4
#define ROUND_TIMEOUT_MS	60000
#define MIG_TIMEOUT_MS		300000
#define CORRUPT_STOP_COPY	(DIRTY_ROUNDS + 1)

struct l2_vf {
	struct vmm *vm;
	int idx;
	uint64_t regs, devmem;
	size_t size;		/* device memory bytes */
	uint32_t tail;		/* next ring index */
	uint64_t jobs;		/* descriptors completed, as the test counts */
	uint8_t *shadow;	/* device memory as the test wrote it */
	uint64_t ctx[TERN_VF_CTX_REGS];
	uint64_t ram_fills;	/* pages FILLed into L2 RAM by the engine */
};

static uint64_t pattern_word(int vf, size_t page, unsigned int gen, int word)
{
	uint64_t x = ((uint64_t)vf << 56 | (uint64_t)page << 20 | gen) *
		     0x9e3779b97f4a7c15ull + word;

	return x ^ x >> 29;
}

static void fill_page(uint8_t *p, int vf, size_t page, unsigned int gen)
{
	int w;

	for (w = 0; w < PAGE / 8; w++) {
		uint64_t v = pattern_word(vf, page, gen, w);

		memcpy(p + 8 * w, &v, 8);
	}
}

static uint32_t reg_read(struct l2_vf *v, uint32_t reg)
{
	return vmm_readl(v->vm, v->regs + reg);
}

static void reg_write(struct l2_vf *v, uint32_t reg, uint32_t val)
{
	vmm_writel(v->vm, v->regs + reg, val);
}

/* one engine job, queued and waited for; returns the completion status */
static int l2_job(struct l2_vf *v, uint8_t op, uint8_t flags, uint32_t len,
		  uint64_t src, uint64_t dst, uint32_t *result)
{
	struct tern_desc d = {
		.op = op, .flags = flags, .len = htole32(len),
		.src = htole64(src), .dst = htole64(dst),
		.cookie = htole64(v->jobs + 1),
	};
	uint32_t idx = v->tail % RING_SIZE, next = (v->tail + 1) % RING_SIZE;
	struct tern_desc_cpl cpl;
	time_t end = time(NULL) + 60;

	if (vmm_memwrite(v->vm, L2_RING(v->idx) + idx * sizeof(d), &d,
			 sizeof(d)))
		return -EIO;
	v->tail++;
	reg_write(v, TERN_VF_REG_RING_TAIL, next);
	/* the device's progress is only visible by polling in this guest */
	while (reg_read(v, TERN_VF_REG_RING_DONE) != next)
		if (time(NULL) > end)
			return -ETIMEDOUT;
	if (vmm_memread(v->vm, L2_CPL(v->idx) + idx * sizeof(cpl), &cpl,
			sizeof(cpl)))
		return -EIO;
	if (le64toh(cpl.cookie) != v->jobs + 1)
		return -EPROTO;
	v->jobs++;
	if (result)
		*result = le32toh(cpl.result);
	return le16toh(cpl.status);
}

/*
 * Play the guest driver on a fresh source: place the BARs, enable decoding
 * and bus mastering, give device memory a background byte and 32 distinct
 * pages, set the context registers, start the engine and COPY a buffer
 * from guest RAM into device memory.
 */
static void l2_vf_init(struct __test_metadata *_metadata, struct l2_vf *v,
		       struct vmm *vm, int idx)
{
	uint8_t page[PAGE];
	size_t p, npages;
	int i;

	v->vm = vm;
	v->idx = idx;
	v->regs = L2_REGS(idx);
	v->devmem = L2_DEVMEM(idx);
	ASSERT_EQ(TERN_VF_BAR_REGS_SIZE,
		  vmm_pci_map_bar(vm, L2_DEVFN(idx), TERN_VF_BAR_REGS, v->regs));
	v->size = vmm_pci_map_bar(vm, L2_DEVFN(idx), TERN_VF_BAR_DEVMEM,
				  v->devmem);
	ASSERT_LE(4 * MIB, v->size);
	ASSERT_GE(64 * MIB, v->size);	/* the L2_DEVMEM() spacing */
	ASSERT_EQ(TERN_VF_BAR_MSIX_SIZE,
		  vmm_pci_map_bar(vm, L2_DEVFN(idx), TERN_VF_BAR_MSIX,
				  L2_MSIX(idx)));
	/* memory decoding and bus mastering */
	vmm_pci_write(vm, L2_DEVFN(idx), 0x4,
		      (vmm_pci_read(vm, L2_DEVFN(idx), 0x4) & 0xffff) | 0x6);
	ASSERT_EQ(TERN_MAGIC, reg_read(v, TERN_VF_REG_MAGIC));
	ASSERT_EQ(v->size, reg_read(v, TERN_VF_REG_DEVMEM_SIZE_LO));

	v->shadow = malloc(v->size);
	ASSERT_NE(NULL, v->shadow);
	memset(v->shadow, 0xa0 + idx, v->size);
	ASSERT_EQ(0, vmm_memset(vm, v->devmem, v->size, 0xa0 + idx));
	npages = v->size / PAGE;
	for (i = 0; i < 32; i++) {
		p = (i * 131 + 7) % npages;
		fill_page(v->shadow + p * PAGE, idx, p, 0);
		ASSERT_EQ(0, vmm_memwrite(vm, v->devmem + p * PAGE,
					  v->shadow + p * PAGE, PAGE));
	}
	for (i = 0; i < TERN_VF_CTX_REGS; i++) {
		v->ctx[i] = pattern_word(idx, 0, 0xc7c, i);
		reg_write(v, TERN_VF_REG_CTX_LO(i), (uint32_t)v->ctx[i]);
		reg_write(v, TERN_VF_REG_CTX_HI(i), v->ctx[i] >> 32);
	}

	reg_write(v, TERN_VF_REG_RING_BASE_LO, (uint32_t)L2_RING(idx));
	reg_write(v, TERN_VF_REG_RING_BASE_HI, L2_RING(idx) >> 32);
	reg_write(v, TERN_VF_REG_CPL_BASE_LO, (uint32_t)L2_CPL(idx));
	reg_write(v, TERN_VF_REG_CPL_BASE_HI, L2_CPL(idx) >> 32);
	reg_write(v, TERN_VF_REG_RING_SIZE, RING_SIZE);
	reg_write(v, TERN_VF_REG_ENGINE_CTRL, TERN_ENGINE_CTRL_ENABLE);
	ASSERT_TRUE(reg_read(v, TERN_VF_REG_ENGINE_STATUS) &
		    TERN_ENGINE_STS_ENABLED);

	/* DMA read from guest RAM into device memory */
	fill_page(page, idx, 0, 0xd3a);
	ASSERT_EQ(0, vmm_memwrite(vm, L2_SRCBUF(idx), page, PAGE));
	memcpy(v->shadow + v->size - PAGE, page, PAGE);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  l2_job(v, TERN_DESC_OP_COPY, TERN_DESC_F_DST_DEVMEM, PAGE,
			 L2_SRCBUF(idx), v->size - PAGE, NULL));
}

/*
 * One round of a running guest: CPU writes to two pages of device memory,
 * an engine FILL of 64 KiB of device memory and an engine FILL of one page
 * of guest RAM (DMA the VMM only learns about from the VF's dirty log).
 */
static void l2_vf_dirty(struct __test_metadata *_metadata, struct l2_vf *v,
			unsigned int round)
{
	size_t npages = v->size / PAGE, p, off;
	uint64_t fill;
	int k;

	for (k = 0; k < 2; k++) {
		p = (round * 37 + k * 1009 + 3) % npages;
		fill_page(v->shadow + p * PAGE, v->idx, p, round);
		ASSERT_EQ(0, vmm_memwrite(v->vm, v->devmem + p * PAGE,
					  v->shadow + p * PAGE, PAGE));
	}
	off = (round * 13 % (v->size / 65536)) * 65536;
	fill = pattern_word(v->idx, off, round, 0xf11);
	for (k = 0; k < 65536; k += 8)
		memcpy(v->shadow + off + k, &fill, 8);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  l2_job(v, TERN_DESC_OP_FILL, TERN_DESC_F_DST_DEVMEM, 65536,
			 fill, off, NULL));
	fill = pattern_word(v->idx, round, round, 0xdd);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  l2_job(v, TERN_DESC_OP_FILL, 0, PAGE, fill,
			 L2_DMA_TARGET(v->idx) + round * PAGE, NULL));
	v->ram_fills = round;
}

/* everything the source's guest put into the VF and RAM is on @vm now */
static void l2_vf_verify(struct __test_metadata *_metadata, struct l2_vf *v,
			 struct vmm *vm)
{
	uint8_t page[PAGE], expect[PAGE];
	uint32_t crc = 0, expect_crc;
	size_t p, bad = 0;
	unsigned int r;
	int i;

	v->vm = vm;
	ASSERT_EQ(TERN_MAGIC, reg_read(v, TERN_VF_REG_MAGIC));
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ASSERT_EQ(v->ctx[i],
			  reg_read(v, TERN_VF_REG_CTX_LO(i)) |
			  (uint64_t)reg_read(v, TERN_VF_REG_CTX_HI(i)) << 32);
	ASSERT_EQ(v->jobs, reg_read(v, TERN_VF_REG_JOBS_LO) |
		  (uint64_t)reg_read(v, TERN_VF_REG_JOBS_HI) << 32);
	ASSERT_TRUE(reg_read(v, TERN_VF_REG_ENGINE_STATUS) &
		    TERN_ENGINE_STS_ENABLED);

	/* guest RAM the engine wrote while QEMU was copying RAM */
	for (r = 1; r <= v->ram_fills; r++) {
		uint64_t fill = pattern_word(v->idx, r, r, 0xdd);

		ASSERT_EQ(0, vmm_memread(vm, L2_DMA_TARGET(v->idx) + r * PAGE,
					 page, PAGE));
		for (i = 0; i < PAGE; i += 8)
			memcpy(expect + i, &fill, 8);
		if (memcmp(page, expect, PAGE)) {
			TH_LOG("VF %d: guest RAM page FILLed in round %u differs",
			       v->idx, r);
			bad++;
		}
	}
	ASSERT_EQ(0, bad);

	/* device memory: the engine checksums it all on the destination ... */
	ASSERT_EQ(TERN_DESC_ST_OK,
		  l2_job(v, TERN_DESC_OP_CHECKSUM, TERN_DESC_F_SRC_DEVMEM,
			 v->size, 0, 0, &crc));
	expect_crc = tern_crc32c(v->shadow, v->size);
	if (crc != expect_crc) {
		/* ... and on a mismatch the test finds the pages */
		for (p = 0; p < v->size / PAGE; p++) {
			ASSERT_EQ(0, vmm_memread(vm, v->devmem + p * PAGE, page,
						 PAGE));
			if (memcmp(page, v->shadow + p * PAGE, PAGE) &&
			    bad++ < 8)
				TH_LOG("VF %d: device memory page %zu differs",
				       v->idx, p);
		}
		TH_LOG("VF %d: %zu pages differ", v->idx, bad);
	}
	ASSERT_EQ(expect_crc, crc);
}

/* /dev/kmsg positioned at its end: what the kernel logs from now on */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* kernel log records since kmsg_open(), printed */
static int kmsg_records(int fd)
{
	char rec[1024];
	int n = 0;
	ssize_t len;

	while ((len = read(fd, rec, sizeof(rec) - 1)) > 0 || errno == EPIPE) {
		if (len <= 0)
			continue;
		rec[len] = 0;
		/* "level,seq,usec,flags;message\n" then key=value lines */
		rec[strcspn(rec, "\n")] = 0;
		printf("# kernel: %s\n", strchr(rec, ';') ? strchr(rec, ';') + 1 : rec);
		n++;
	}
	close(fd);
	return n;
}

FIXTURE(qemu)
{
	struct vmm src, dst;
	char bdf[2 * MAX_VFS][16];
	char pf[16];
	struct l2_vf vf[MAX_VFS];
	int nvfs;
	bool container;		/* legacy group/container instead of iommufd */
	bool dma_logging;	/* the VFs offer DMA logging (else: type1's) */
};

FIXTURE_SETUP(qemu)
{
	ASSERT_EQ(0, access(VMM_QEMU, X_OK)) TH_LOG("no QEMU in this machine");
}

FIXTURE_TEARDOWN(qemu)
{
	int i;

	if (self->src.pid)
		vmm_stop(&self->src);
	if (self->dst.pid)
		vmm_stop(&self->dst);
	for (i = 0; i < MAX_VFS; i++)
		free(self->vf[i].shadow);
}

/* start a VMM with VFs @first .. @first + nvfs - 1 at the fixed slots */
static int start_tern_vmm(FIXTURE_DATA(qemu) *self, struct vmm *vm,
			  const char *name, int first, const char *incoming)
{
	static char dev[MAX_VFS][160];
	const char *args[2 * MAX_VFS + 3];
	int i, n = 0;

	if (!self->container) {
		args[n++] = "-object";
		args[n++] = "iommufd,id=i0";
	}
	for (i = 0; i < self->nvfs; i++) {
		/*
		 * Without the VF's DMA logging QEMU counts type1's dirty
		 * tracking (every pinned page dirty) as none and blocks
		 * migration unless it is enabled explicitly.
		 */
		snprintf(dev[i], sizeof(dev[i]),
			 "vfio-pci,host=%s%s%s,addr=0x%x,id=vf%d",
			 self->bdf[first + i],
			 self->container ? "" : ",iommufd=i0",
			 self->dma_logging ? "" : ",enable-migration=on",
			 L2_SLOT(i), i);
		args[n++] = "-device";
		args[n++] = dev[i];
	}
	args[n] = NULL;
	return vmm_start(vm, name, args, incoming);
}

/* whether QEMU will find DMA logging on the VF (the kernel may lack it) */
static bool vf_offers_dma_logging(struct __test_metadata *_metadata,
				  const char *bdf)
{
	struct vfio_dev dev;
	char sysfs[64];
	bool ret;

	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf);
	ASSERT_EQ(0, vfio_dev_open(&dev, sysfs, VFIO_PATH_LEGACY));
	ret = vfio_dma_logging_available(&dev);
	vfio_dev_close(&dev);
	return ret;
}

/*
 * Start both VMMs, play the source's guest driver and start migrating.
 * Returns false when the test SKIPs: the VFs are not there to take.
 */
static bool setup_migration(struct __test_metadata *_metadata,
			    FIXTURE_DATA(qemu) *self, int nvfs)
{
	int i, n;

	self->nvfs = nvfs;
	n = tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2 * nvfs,
			     self->bdf, self->pf);
	if (n == -EPERM)
		SKIP(return false, "%s", tern_setup_reason());
	ASSERT_EQ(2 * nvfs, n);
	self->dma_logging = vf_offers_dma_logging(_metadata, self->bdf[0]);
	ASSERT_EQ(0, start_tern_vmm(self, &self->dst, "dst", nvfs, MIG_URI));
	ASSERT_EQ(0, start_tern_vmm(self, &self->src, "src", 0, NULL));
	for (i = 0; i < nvfs; i++)
		l2_vf_init(_metadata, &self->vf[i], &self->src, i);
	/*
	 * Hold the switchover until the test has dirtied the device: QEMU
	 * switches over when what is left (with the device's MIG_DATA_SIZE,
	 * never below its REGS/ENGINE/END records) fits in downtime-limit
	 * times the bandwidth it assumes: 1 ms at 100 kB/s is 100 bytes.
	 */
	ASSERT_EQ(0, vmm_qmp_ok(&self->src,
		"{\"execute\": \"migrate-set-parameters\", \"arguments\": "
		"{\"downtime-limit\": 1, \"avail-switchover-bandwidth\": 100000}}"));
	ASSERT_EQ(0, vmm_qmp_ok(&self->src,
		"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"%s\"}}",
		MIG_URI));
	/*
	 * The rounds below tell a running migration by its status: wait
	 * until setup (dirty tracking started, devices in PRE_COPY) is over.
	 */
	ASSERT_EQ(0, vmm_wait_migration(&self->src, "active|completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("active", self->src.last_event);
	return true;
}

/* the firmware corrupts the next chunk any VF of the PF saves */
static void arm_corrupt_chunk(struct __test_metadata *_metadata,
			      FIXTURE_DATA(qemu) *self)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/tern_core/%s/fw_fault",
		 self->pf);
	ASSERT_EQ(0, sysfs_write(path, "corrupt 1"));
}

/* device bytes QEMU has sent so far; *active: migration still running */
static uint64_t vfio_sent(struct vmm *vm, bool *active)
{
	const char *r = vmm_qmp(vm, "{\"execute\": \"query-migrate\"}");

	*active = r && strstr(r, "\"status\": \"active\"");
	return r ? json_u64(strstr(r, "\"vfio\"") ?: "", "transferred") : 0;
}

/*
 * Dirty device memory and guest RAM while the migration is in pre-copy,
 * DIRTY_ROUNDS times, each time until QEMU's next pre-copy iteration has
 * sent device data again. With @corrupt_round, the firmware corrupts the
 * next saved chunk from that round on; CORRUPT_STOP_COPY: once pre-copy
 * has nothing left, so that the next chunk with data is the stop-copy one.
 * Then lift the switchover hold.
 * Returns the number of rounds whose changes QEMU went on to send.
 */
static int dirty_during_migration(struct __test_metadata *_metadata,
				  FIXTURE_DATA(qemu) *self, int corrupt_round)
{
	uint64_t before, after;
	int round, resent = 0, i;
	bool active = true;
	int64_t end;

	for (round = 1; round <= DIRTY_ROUNDS && active; round++) {
		if (round == corrupt_round)
			arm_corrupt_chunk(_metadata, self);
		for (i = 0; i < self->nvfs; i++)
			l2_vf_dirty(_metadata, &self->vf[i], round);
		before = vfio_sent(&self->src, &active);
		end = vmm_now_ms() + ROUND_TIMEOUT_MS;
		/* progress is only visible by polling QEMU */
		do {
			poll(NULL, 0, 20);
			after = vfio_sent(&self->src, &active);
		} while (active && after == before && vmm_now_ms() < end);
		if (active) {
			ASSERT_LT(before, after);
			resent++;
		}
	}
	if (corrupt_round == CORRUPT_STOP_COPY) {
		/* wait for an iteration that left nothing to send */
		long from = vmm_trace_size(&self->src);

		end = vmm_now_ms() + ROUND_TIMEOUT_MS;
		while (vmm_trace_find(&self->src, from, "vfio_save_iterate ",
				      "initial size 0 precopy dirty size 0",
				      NULL) < 0) {
			ASSERT_GT(end, vmm_now_ms());
			poll(NULL, 0, 20);
		}
		arm_corrupt_chunk(_metadata, self);
	}
	/*
	 * type1 reports every page it pinned dirty at every sync, so without
	 * the VF's DMA logging all guest RAM is left at every iteration and
	 * pre-copy never converges: allow QEMU's longest downtime instead.
	 */
	ASSERT_EQ(0, vmm_qmp_ok(&self->src,
		"{\"execute\": \"migrate-set-parameters\", \"arguments\": "
		"{\"downtime-limit\": %d, \"avail-switchover-bandwidth\": 0}}",
		self->dma_logging ? 300 : 2000000));
	return resent;
}

/* device bytes QEMU read before and after the switchover, from its trace */
static void trace_device_bytes(struct vmm *vm, long *pre, long *stop)
{
	long split = vmm_trace_find(vm, 0, "vfio_save_complete_precopy_start",
				    NULL);
	char path[96], line[512];
	FILE *f;

	*pre = *stop = 0;
	snprintf(path, sizeof(path), "%s/trace.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *d = strstr(line, "data_size ");

		if (strncmp(line, "vfio_save_block ", 16) || !d)
			continue;
		if (split < 0 || ftell(f) <= split)
			*pre += atol(d + 10);
		else
			*stop += atol(d + 10);
	}
	fclose(f);
}

/* QEMU's own account of the migration, for the log and the demo */
static void print_stats(struct vmm *src)
{
	const char *r = vmm_qmp(src, "{\"execute\": \"query-migrate\"}");
	long pre, stop;

	trace_device_bytes(src, &pre, &stop);
	if (!r)
		return;
	printf("# QEMU: %-22s %s\n", "migration", src->last_event);
	printf("# QEMU: %-22s %llu ms\n", "total time",
	       (unsigned long long)json_u64(r, "total-time"));
	printf("# QEMU: %-22s %llu ms\n", "downtime",
	       (unsigned long long)json_u64(r, "downtime"));
	/* QEMU counts every byte of the stream under "ram" */
	printf("# QEMU: %-22s %llu KiB\n", "stream sent (all)",
	       (unsigned long long)json_u64(strstr(r, "\"ram\"") ?: "",
					    "transferred") >> 10);
	printf("# QEMU: %-22s %llu KiB\n", "device data sent",
	       (unsigned long long)json_u64(strstr(r, "\"vfio\"") ?: "",
					    "transferred") >> 10);
	printf("# QEMU: %-22s %ld KiB\n", "  in pre-copy", pre >> 10);
	printf("# QEMU: %-22s %ld bytes\n", "  in stop-copy", stop);
}

/* the states each VF went through, from QEMU's vfio trace */
static void check_trace(struct __test_metadata *_metadata,
			FIXTURE_DATA(qemu) *self)
{
	long stop_copy_first = -1, p2p, pos, pre, stop;
	int i;

	/*
	 * Migratable, no blocker. Guest RAM the VFs write is tracked by their
	 * DMA logging where the kernel offers it, else by the IOMMU (type1).
	 */
	ASSERT_EQ(self->nvfs, vmm_trace_count(&self->src,
					      "vfio_migration_realize", NULL));
	if (self->dma_logging) {
		ASSERT_LE(1, vmm_trace_count(&self->src,
					     "vfio_device_dirty_tracking_start",
					     NULL));
	} else {
		ASSERT_TRUE(self->container);
		ASSERT_EQ(0, vmm_trace_count(&self->src,
					     "vfio_device_dirty_tracking_start",
					     NULL));
		ASSERT_LE(1, vmm_trace_count(&self->src, "vfio_get_dirty_bitmap",
					     NULL));
	}
	/* pre-copy iterations that carried device data */
	ASSERT_LE(1, vmm_trace_count(&self->src, "vfio_save_iterate ", NULL));
	pos = vmm_trace_find(&self->src, 0, "vfio_save_complete_precopy_start",
			     NULL);
	ASSERT_LT(0, pos);
	trace_device_bytes(&self->src, &pre, &stop);
	ASSERT_LT(0, pre);
	ASSERT_LT(0, stop);

	for (i = 0; i < self->nvfs; i++) {
		const char *bdf = self->bdf[i], *dbdf = self->bdf[self->nvfs + i];

		ASSERT_LE(1, vmm_trace_count(&self->src, "set_state ", bdf,
					     "new state PRE_COPY,", NULL));
		ASSERT_LE(1, vmm_trace_count(&self->src, "set_state ", bdf,
					     "new state STOP_COPY", NULL));
		pos = vmm_trace_find(&self->src, 0, "set_state ", bdf,
				     "new state STOP_COPY", NULL);
		if (stop_copy_first < 0 || pos < stop_copy_first)
			stop_copy_first = pos;
		ASSERT_LE(1, vmm_trace_count(&self->dst, "set_state ", dbdf,
					     "new state RESUMING", NULL));
		ASSERT_LE(1, vmm_trace_count(&self->dst, "set_state ", dbdf,
					     "new state RUNNING,", NULL));
	}
	/* every VF is in a P2P state before the first one stops */
	for (i = 0; i < self->nvfs; i++) {
		p2p = vmm_trace_find(&self->src, 0, "set_state ", self->bdf[i],
				     "new state PRE_COPY_P2P", NULL);
		if (p2p < 0)
			p2p = vmm_trace_find(&self->src, 0, "set_state ",
					     self->bdf[i],
					     "new state RUNNING_P2P", NULL);
		ASSERT_LE(0, p2p);
		ASSERT_LT(p2p, stop_copy_first);
	}
}

static void migrate_and_verify(struct __test_metadata *_metadata,
			       FIXTURE_DATA(qemu) *self, int nvfs)
{
	int i;

	if (!setup_migration(_metadata, self, nvfs))
		return;
	ASSERT_EQ(DIRTY_ROUNDS, dirty_during_migration(_metadata, self, 0));
	ASSERT_EQ(0, vmm_wait_migration(&self->src, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("completed", self->src.last_event);
	ASSERT_EQ(0, vmm_wait_migration(&self->dst, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("completed", self->dst.last_event);
	print_stats(&self->src);

	for (i = 0; i < nvfs; i++)
		l2_vf_verify(_metadata, &self->vf[i], &self->dst);
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->dst)));
	check_trace(_metadata, self);
}

TEST_F_TIMEOUT(qemu, one_vf, 600)
{
	SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
	migrate_and_verify(_metadata, self, 1);
}

/* QEMU moves both VFs to a P2P state before either stops */
TEST_F_TIMEOUT(qemu, two_vfs, 600)
{
	SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
	migrate_and_verify(_metadata, self, 2);
}

/*
 * QEMU's default path, the legacy group/container, which every kernel has:
 * on a kernel without iommufd (Debian's stock 6.12) the VF offers no DMA
 * logging, and QEMU tracks what it writes into guest RAM through type1.
 */
TEST_F_TIMEOUT(qemu, one_vf_container, 600)
{
	self->container = true;
	migrate_and_verify(_metadata, self, 1);
}

/*
 * The firmware corrupts one chunk of the source's stream, in pre-copy or
 * in stop-copy: the destination's device rejects it, QEMU fails the
 * migration, the source VM keeps (or goes back to) running with a working
 * VF, and the kernel logs nothing from the first chunk on.
 */
static void dest_rejects(struct __test_metadata *_metadata,
			 FIXTURE_DATA(qemu) *self, bool stop_copy)
{
	const char *r;
	long stop;
	int kmsg;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects a fault on PF %s, seen by all its VFs",
				     tern_pf);
	if (!setup_migration(_metadata, self, 1))
		return;
	/* from the first chunk on: VF set-up and QEMU's opens log at info */
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	dirty_during_migration(_metadata, self,
			       stop_copy ? CORRUPT_STOP_COPY : 1);
	ASSERT_EQ(0, vmm_wait_migration(&self->src, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("failed", self->src.last_event);
	/* the destination QEMU gives up on the incoming stream and exits */
	ASSERT_TRUE(vmm_exited(&self->dst, MIG_TIMEOUT_MS));
	ASSERT_NE(0, WEXITSTATUS(self->dst.exit_status));
	ASSERT_LE(1, vmm_trace_count(&self->dst, "set_state ", self->bdf[1],
				     "new state RESUMING", NULL));

	r = vmm_qmp(&self->src, "{\"execute\": \"query-status\"}");
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, strstr(r, "\"status\": \"running\""));
	stop = vmm_trace_find(&self->src, 0, "set_state ", self->bdf[0],
			      "new state STOP_COPY", NULL);
	if (stop_copy) {
		ASSERT_LE(0, stop);
	} else {
		ASSERT_EQ(-1, stop);
	}
	ASSERT_LE(2, vmm_trace_count(&self->src, "set_state ", self->bdf[0],
				     "new state RUNNING,", NULL));
	/* the source VF still holds its state and runs jobs */
	l2_vf_verify(_metadata, &self->vf[0], &self->src);
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->src)));
	ASSERT_EQ(0, kmsg_records(kmsg));
}

TEST_F_TIMEOUT(qemu, dest_rejects_precopy_chunk, 600)
{
	SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
	dest_rejects(_metadata, self, false);
}

TEST_F_TIMEOUT(qemu, dest_rejects_stopcopy_chunk, 600)
{
	SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
	dest_rejects(_metadata, self, true);
}

/* ---- baseline: the kernel's mtty sample -------------------------------- */

#define MTTY_CREATE "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create"
#define MTTY_IO(bar)	(0xc000 + 0x100 * (bar))
#define UART_SCR	7

static const char *const mtty_uuid[2] = {
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0b01",
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0b02",
};

static int start_mtty_vmm(struct vmm *vm, const char *name, int i,
			  const char *incoming)
{
	char dev[160];
	const char *args[] = { "-object", "iommufd,id=i0", "-device", dev, NULL };

	/* mtty has no dirty tracking (it does no DMA): migrate regardless */
	snprintf(dev, sizeof(dev),
		 "vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s,iommufd=i0,addr=0x%x,enable-migration=on",
		 mtty_uuid[i], L2_SLOT(0));
	return vmm_start(vm, name, args, incoming);
}

TEST_F_TIMEOUT(qemu, mtty_baseline, 300)
{
	char path[128];
	int i, bar;

	SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
	SKIP_UNLESS_KERNEL_HAS(!access(MTTY_CREATE, F_OK), "mtty");
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s",
			 mtty_uuid[i]);
		if (access(path, F_OK))
			ASSERT_EQ(0, sysfs_write(MTTY_CREATE, mtty_uuid[i]));
	}
	ASSERT_EQ(0, start_mtty_vmm(&self->dst, "dst", 1, MIG_URI));
	ASSERT_EQ(0, start_mtty_vmm(&self->src, "src", 0, NULL));
	for (bar = 0; bar < 2; bar++) {
		ASSERT_EQ(8, vmm_pci_map_bar(&self->src, L2_DEVFN(0), bar,
					     MTTY_IO(bar)));
	}
	vmm_pci_write(&self->src, L2_DEVFN(0), 0x4, 0x1);	/* I/O decode */
	for (bar = 0; bar < 2; bar++) {
		vmm_outb(&self->src, MTTY_IO(bar) + UART_SCR, 0x5a + bar);
		ASSERT_EQ(0x5a + bar, vmm_inb(&self->src, MTTY_IO(bar) + UART_SCR));
	}
	ASSERT_EQ(0, vmm_qmp_ok(&self->src,
		"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"%s\"}}",
		MIG_URI));
	ASSERT_EQ(0, vmm_wait_migration(&self->src, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("completed", self->src.last_event);
	ASSERT_EQ(0, vmm_wait_migration(&self->dst, "completed|failed",
					MIG_TIMEOUT_MS));
	for (bar = 0; bar < 2; bar++)
		ASSERT_EQ(0x5a + bar, vmm_inb(&self->dst, MTTY_IO(bar) + UART_SCR));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->dst)));
	ASSERT_LE(1, vmm_trace_count(&self->src, "set_state ", mtty_uuid[0],
				     "new state PRE_COPY,", NULL));
	ASSERT_LE(1, vmm_trace_count(&self->src, "set_state ", mtty_uuid[0],
				     "new state STOP_COPY", NULL));
	ASSERT_LE(1, vmm_trace_count(&self->dst, "set_state ", mtty_uuid[1],
				     "new state RESUMING", NULL));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove",
			 mtty_uuid[i]);
		sysfs_write(path, "1");
	}
}

TERN_TEST_HARNESS_MAIN
