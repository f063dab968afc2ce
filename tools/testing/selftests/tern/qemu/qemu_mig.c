// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU migration tests' shared pieces: the L2 guest's tern driver (played
 * over qtest) and the migration set-up (see qemu_mig.h).
 *
 * The L2 machine runs under the qtest accelerator: instead of booting a
 * guest OS under nested TCG (minutes), the test plays the guest driver
 * through the qtest protocol, writing and reading guest RAM and the VFs'
 * BARs and running engine jobs whose DMA targets guest RAM. That RAM is
 * written behind QEMU's back, so it reaches the destination only if QEMU
 * uses the VF's DMA dirty logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/wait.h>

#include <libvfio.h>

#include "qemu_mig.h"
#include "qemu_split.h"
#include "tern_setup.h"

/* L2 guest-physical layout (128 MiB of RAM, BARs in the 32-bit hole) */
#define L2_REGS(i)		(0xe0000000ull + (i) * 0x100000ull)
#define L2_MSIX(i)		(L2_REGS(i) + 0x10000)
#define L2_DEVMEM(i)		(0xc0000000ull + (i) * 0x4000000ull)
#define L2_RING(i)		(0x100000ull + (i) * 0x10000ull)
#define L2_CPL(i)		(L2_RING(i) + 0x8000)
#define L2_SRCBUF(i)		(0x200000ull + (i) * 0x100000ull)
#define L2_DMA_TARGET(i)	(0x1000000ull + (i) * 0x400000ull)
#define RING_SIZE		64
#define RING_MAX		512	/* the ring and completions fit 0x8000 */

#define MIB			(1024 * 1024ull)
#define ROUND_TIMEOUT_MS	60000
#define JOB_TIMEOUT_S		60

#define FAIL(ret, fmt, ...)						\
	do {								\
		fprintf(stderr, "# %s:%d: " fmt "\n", __FILE__, __LINE__, \
			##__VA_ARGS__);					\
		return ret;						\
	} while (0)
#define CHECK(cond, fmt, ...)						\
	do {								\
		if (!(cond))						\
			FAIL(-EIO, "%s: " fmt, #cond, ##__VA_ARGS__);	\
	} while (0)

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
	uint32_t idx = v->tail % v->ring_size;
	uint32_t next = (v->tail + 1) % v->ring_size;
	struct tern_desc_cpl cpl;
	time_t end = time(NULL) + JOB_TIMEOUT_S;

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

/* program the ring of @ring_size entries and enable the engine */
static int l2_engine_start(struct l2_vf *v, uint32_t ring_size)
{
	v->ring_size = ring_size;
	v->tail = 0;
	reg_write(v, TERN_VF_REG_RING_BASE_LO, (uint32_t)L2_RING(v->idx));
	reg_write(v, TERN_VF_REG_RING_BASE_HI, L2_RING(v->idx) >> 32);
	reg_write(v, TERN_VF_REG_CPL_BASE_LO, (uint32_t)L2_CPL(v->idx));
	reg_write(v, TERN_VF_REG_CPL_BASE_HI, L2_CPL(v->idx) >> 32);
	reg_write(v, TERN_VF_REG_RING_SIZE, ring_size);
	reg_write(v, TERN_VF_REG_ENGINE_CTRL, TERN_ENGINE_CTRL_ENABLE);
	CHECK(reg_read(v, TERN_VF_REG_ENGINE_STATUS) & TERN_ENGINE_STS_ENABLED,
	      "VF %d: engine not enabled", v->idx);
	return 0;
}

int l2_vf_init(struct l2_vf *v, struct vmm *vm, int idx)
{
	uint8_t page[PAGE];
	size_t p, npages;
	uint64_t size;
	int i, st;

	/* a fresh device: nothing of a previous one carries over */
	free(v->shadow);
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	v->idx = idx;
	v->regs = L2_REGS(idx);
	v->devmem = L2_DEVMEM(idx);
	size = vmm_pci_map_bar(vm, L2_DEVFN(idx), TERN_VF_BAR_REGS, v->regs);
	CHECK(size == TERN_VF_BAR_REGS_SIZE, "register BAR of %llu bytes",
	      (unsigned long long)size);
	v->size = vmm_pci_map_bar(vm, L2_DEVFN(idx), TERN_VF_BAR_DEVMEM,
				  v->devmem);
	/* at most the L2_DEVMEM() spacing */
	CHECK(v->size >= 4 * MIB && v->size <= 64 * MIB,
	      "device memory of %zu bytes", v->size);
	size = vmm_pci_map_bar(vm, L2_DEVFN(idx), TERN_VF_BAR_MSIX,
			       L2_MSIX(idx));
	CHECK(size == TERN_VF_BAR_MSIX_SIZE, "MSI-X BAR of %llu bytes",
	      (unsigned long long)size);
	/* memory decoding and bus mastering */
	vmm_pci_write(vm, L2_DEVFN(idx), 0x4,
		      (vmm_pci_read(vm, L2_DEVFN(idx), 0x4) & 0xffff) | 0x6);
	CHECK(reg_read(v, TERN_VF_REG_MAGIC) == TERN_MAGIC, "VF %d", idx);
	CHECK(reg_read(v, TERN_VF_REG_DEVMEM_SIZE_LO) == v->size, "VF %d", idx);

	v->shadow = malloc(v->size);
	if (!v->shadow)
		return -ENOMEM;
	memset(v->shadow, 0xa0 + idx, v->size);
	CHECK(!vmm_memset(vm, v->devmem, v->size, 0xa0 + idx), "VF %d", idx);
	npages = v->size / PAGE;
	for (i = 0; i < 32; i++) {
		p = (i * 131 + 7) % npages;
		fill_page(v->shadow + p * PAGE, idx, p, 0);
		CHECK(!vmm_memwrite(vm, v->devmem + p * PAGE,
				    v->shadow + p * PAGE, PAGE), "VF %d", idx);
	}
	for (i = 0; i < TERN_VF_CTX_REGS; i++) {
		v->ctx[i] = pattern_word(idx, 0, 0xc7c, i);
		reg_write(v, TERN_VF_REG_CTX_LO(i), (uint32_t)v->ctx[i]);
		reg_write(v, TERN_VF_REG_CTX_HI(i), v->ctx[i] >> 32);
	}
	if (l2_engine_start(v, RING_SIZE))
		return -EIO;

	/* DMA read from guest RAM into device memory */
	fill_page(page, idx, 0, 0xd3a);
	CHECK(!vmm_memwrite(vm, L2_SRCBUF(idx), page, PAGE), "VF %d", idx);
	memcpy(v->shadow + v->size - PAGE, page, PAGE);
	st = l2_job(v, TERN_DESC_OP_COPY, TERN_DESC_F_DST_DEVMEM, PAGE,
		    L2_SRCBUF(idx), v->size - PAGE, NULL);
	CHECK(st == TERN_DESC_ST_OK, "VF %d: COPY status %d", idx, st);
	return 0;
}

int l2_vf_dirty(struct l2_vf *v, unsigned int round)
{
	size_t npages = v->size / PAGE, p, off;
	uint64_t fill;
	int k, st;

	for (k = 0; k < 2; k++) {
		p = (round * 37 + k * 1009 + 3) % npages;
		fill_page(v->shadow + p * PAGE, v->idx, p, round);
		CHECK(!vmm_memwrite(v->vm, v->devmem + p * PAGE,
				    v->shadow + p * PAGE, PAGE), "VF %d", v->idx);
	}
	off = (round * 13 % (v->size / 65536)) * 65536;
	fill = pattern_word(v->idx, off, round, 0xf11);
	for (k = 0; k < 65536; k += 8)
		memcpy(v->shadow + off + k, &fill, 8);
	st = l2_job(v, TERN_DESC_OP_FILL, TERN_DESC_F_DST_DEVMEM, 65536, fill,
		    off, NULL);
	CHECK(st == TERN_DESC_ST_OK, "VF %d: FILL status %d", v->idx, st);
	fill = pattern_word(v->idx, round, round, 0xdd);
	st = l2_job(v, TERN_DESC_OP_FILL, 0, PAGE, fill,
		    L2_DMA_TARGET(v->idx) + round * PAGE, NULL);
	CHECK(st == TERN_DESC_ST_OK, "VF %d: FILL status %d", v->idx, st);
	v->ram_fills = round;
	return 0;
}

int l2_vf_resize_ring(struct l2_vf *v, uint32_t ring_size)
{
	int st;

	CHECK(ring_size && ring_size <= RING_MAX, "%u entries", ring_size);
	reg_write(v, TERN_VF_REG_ENGINE_CTRL, 0);
	if (l2_engine_start(v, ring_size))
		return -EIO;
	/* a job on the new ring: the guest goes on using the engine */
	st = l2_job(v, TERN_DESC_OP_FILL, 0, PAGE, pattern_word(v->idx, 0, 0, 1),
		    L2_SRCBUF(v->idx) + PAGE, NULL);
	CHECK(st == TERN_DESC_ST_OK, "VF %d: FILL status %d", v->idx, st);
	return 0;
}

int l2_vf_verify(struct l2_vf *v, struct vmm *vm)
{
	uint8_t page[PAGE], expect[PAGE];
	uint32_t crc = 0, expect_crc;
	size_t p, bad = 0;
	unsigned int r;
	uint64_t val;
	int i, st;

	v->vm = vm;
	CHECK(reg_read(v, TERN_VF_REG_MAGIC) == TERN_MAGIC, "VF %d", v->idx);
	for (i = 0; i < TERN_VF_CTX_REGS; i++) {
		val = reg_read(v, TERN_VF_REG_CTX_LO(i)) |
		      (uint64_t)reg_read(v, TERN_VF_REG_CTX_HI(i)) << 32;
		CHECK(val == v->ctx[i], "VF %d: context register %d", v->idx, i);
	}
	val = reg_read(v, TERN_VF_REG_JOBS_LO) |
	      (uint64_t)reg_read(v, TERN_VF_REG_JOBS_HI) << 32;
	CHECK(val == v->jobs, "VF %d: %llu jobs, expected %llu", v->idx,
	      (unsigned long long)val, (unsigned long long)v->jobs);
	CHECK(reg_read(v, TERN_VF_REG_RING_SIZE) == v->ring_size, "VF %d",
	      v->idx);
	CHECK(reg_read(v, TERN_VF_REG_ENGINE_STATUS) & TERN_ENGINE_STS_ENABLED,
	      "VF %d: engine not enabled", v->idx);

	/* guest RAM the engine wrote while QEMU was copying RAM */
	for (r = 1; r <= v->ram_fills; r++) {
		uint64_t fill = pattern_word(v->idx, r, r, 0xdd);

		CHECK(!vmm_memread(vm, L2_DMA_TARGET(v->idx) + r * PAGE, page,
				   PAGE), "VF %d", v->idx);
		for (i = 0; i < PAGE; i += 8)
			memcpy(expect + i, &fill, 8);
		if (memcmp(page, expect, PAGE)) {
			fprintf(stderr, "# VF %d: guest RAM page FILLed in round %u differs\n",
				v->idx, r);
			bad++;
		}
	}
	CHECK(!bad, "VF %d: %zu guest RAM pages differ", v->idx, bad);

	/* device memory: the engine checksums it all on the destination ... */
	st = l2_job(v, TERN_DESC_OP_CHECKSUM, TERN_DESC_F_SRC_DEVMEM, v->size,
		    0, 0, &crc);
	CHECK(st == TERN_DESC_ST_OK, "VF %d: CHECKSUM status %d", v->idx, st);
	expect_crc = crc32c(v->shadow, v->size);
	if (crc == expect_crc)
		return 0;
	/* ... and on a mismatch the test finds the pages */
	for (p = 0; p < v->size / PAGE; p++) {
		CHECK(!vmm_memread(vm, v->devmem + p * PAGE, page, PAGE),
		      "VF %d", v->idx);
		if (memcmp(page, v->shadow + p * PAGE, PAGE) && bad++ < 8)
			fprintf(stderr, "# VF %d: device memory page %zu differs\n",
				v->idx, p);
	}
	FAIL(-EIO, "VF %d: %zu pages differ (crc %08x, expected %08x)", v->idx,
	     bad, crc, expect_crc);
}

const char *qemu_mig_binary(const char *env, const char *fallback)
{
	const char *path = getenv(env);

	return path && *path ? path : fallback;
}

int qemu_binary_version(const char *qemu)
{
	char out[256] = "";
	int pipefd[2], status, major, minor;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (!pid) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		execl(qemu, qemu, "--version", (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (len < sizeof(out) - 1 &&
	       (n = read(pipefd[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -ENOEXEC;
	if (sscanf(out, "QEMU emulator version %d.%d", &major, &minor) != 2)
		return -EPROTO;
	return major * 100 + minor;
}

int qemu_mig_version(struct vmm *vm, char *buf, size_t len)
{
	const char *r = vmm_qmp(vm, "{\"execute\": \"query-version\"}");
	const char *q = r ? strstr(r, "\"qemu\"") : NULL;

	if (!q)
		return -EIO;
	snprintf(buf, len, "%llu.%llu.%llu",
		 (unsigned long long)json_u64(q, "major"),
		 (unsigned long long)json_u64(q, "minor"),
		 (unsigned long long)json_u64(q, "micro"));
	return 0;
}

int qemu_mig_start_vmm(struct qemu_mig *m, struct vmm *vm, const char *name,
		       int first, const char *incoming)
{
	static char dev[MIG_MAX_VFS][192];
	/* -object iommufd, a -device per VF, NULL */
	const char *args[2 + 2 * MIG_MAX_VFS + 1];
	int i, n = 0;

	if (!m->container) {
		args[n++] = "-object";
		args[n++] = "iommufd,id=i0";
	}
	for (i = 0; i < m->nvfs; i++) {
		/*
		 * Without the VF's DMA logging QEMU counts type1's dirty
		 * tracking (every pinned page dirty) as none and blocks
		 * migration unless it is enabled explicitly.
		 */
		snprintf(dev[i], sizeof(dev[i]),
			 "vfio-pci,host=%s%s%s%s,addr=0x%x,id=vf%d",
			 m->bdf[first + i],
			 m->container ? "" : ",iommufd=i0",
			 m->dma_logging ? "" : ",enable-migration=on",
			 m->multifd ? ",x-migration-multifd-transfer=on" : "",
			 L2_SLOT(i), i);
		args[n++] = "-device";
		args[n++] = dev[i];
	}
	args[n] = NULL;
	return vmm_start(vm, m->qemu, name, args, incoming);
}

/* whether QEMU will find DMA logging on the VF (the kernel may lack it) */
static int vf_offers_dma_logging(const char *bdf, bool *offers)
{
	struct vfio_pci_device *device;
	struct iommu *iommu;

	iommu = iommu_init(MODE_VFIO_TYPE1V2_IOMMU);
	device = vfio_pci_device_init(bdf, iommu);
	*offers = vfio_pci_device_feature_probe(device, VFIO_DEVICE_FEATURE_SET,
						VFIO_DEVICE_FEATURE_DMA_LOGGING_START);
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
	return 0;
}

/* multifd on one end: the capability and the channels, before migrating */
static int enable_multifd(struct vmm *vm, int channels)
{
	if (vmm_qmp_ok(vm, "{\"execute\": \"migrate-set-capabilities\", "
		       "\"arguments\": {\"capabilities\": [{\"capability\": "
		       "\"multifd\", \"state\": true}]}}") ||
	    vmm_qmp_ok(vm, "{\"execute\": \"migrate-set-parameters\", "
		       "\"arguments\": {\"multifd-channels\": %d}}", channels))
		return -EIO;
	return 0;
}

int qemu_mig_start_dst(struct qemu_mig *m)
{
	int ret;

	if (m->dst.pid)
		vmm_stop(&m->dst);
	/* multifd is set on the destination before it listens */
	ret = qemu_mig_start_vmm(m, &m->dst, "dst", m->nvfs,
				 m->multifd ? "defer" : MIG_URI);
	if (ret)
		FAIL(ret, "destination QEMU: %s", strerror(-ret));
	if (m->multifd &&
	    (enable_multifd(&m->dst, m->multifd) ||
	     vmm_qmp_ok(&m->dst, "{\"execute\": \"migrate-incoming\", "
			"\"arguments\": {\"uri\": \"%s\"}}", MIG_URI)))
		return -EIO;
	return 0;
}

int qemu_mig_start(struct qemu_mig *m, int nvfs)
{
	int i, n, ret;

	m->nvfs = nvfs;
	snprintf(m->pf, sizeof(m->pf), "%s", tern_pf);
	if (tern_pf_other[0] && !m->same_pf) {
		n = tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, nvfs,
				     m->bdf);
		if (n == -EPERM)
			return n;
		CHECK(n == nvfs, "%d VFs on %s", n, tern_pf);
		n = tern_prepare_pf_vfs(tern_pf_other, TERN_PF_DRIVER,
					TERN_VF_DRIVER, nvfs, m->bdf + nvfs);
		if (n == -EPERM)
			return n;
		CHECK(n == nvfs, "%d VFs on %s", n, tern_pf_other);
	} else {
		n = tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2 * nvfs,
				     m->bdf);
		if (n == -EPERM)
			return n;
		CHECK(n == 2 * nvfs, "%d VFs", n);
	}
	ret = vf_offers_dma_logging(m->bdf[0], &m->dma_logging);
	if (ret)
		return ret;
	ret = qemu_mig_start_dst(m);
	if (ret)
		return ret;
	ret = qemu_mig_start_vmm(m, &m->src, "src", 0, NULL);
	if (ret)
		FAIL(ret, "source QEMU: %s", strerror(-ret));
	for (i = 0; i < nvfs; i++) {
		ret = l2_vf_init(&m->vf[i], &m->src, i);
		if (ret)
			return ret;
	}
	if (m->multifd && enable_multifd(&m->src, m->multifd))
		return -EIO;
	return 0;
}

int qemu_mig_migrate(struct qemu_mig *m)
{
	int ret;

	/*
	 * Hold the switchover until the test has dirtied the device: QEMU
	 * switches over when what is left (with the device's MIG_DATA_SIZE,
	 * never below its REGS/ENGINE/END records) fits in downtime-limit
	 * times the bandwidth it assumes: 1 ms at 100 kB/s is 100 bytes.
	 */
	m->src.last_event[0] = 0;
	if (vmm_qmp_ok(&m->src, "{\"execute\": \"migrate-set-parameters\", "
		       "\"arguments\": {\"downtime-limit\": 1, "
		       "\"avail-switchover-bandwidth\": 100000}}") ||
	    vmm_qmp_ok(&m->src, "{\"execute\": \"migrate\", \"arguments\": "
		       "{\"uri\": \"%s\"}}", MIG_URI))
		return -EIO;
	/*
	 * The rounds tell a running migration by its status: wait until
	 * set-up (dirty tracking started, devices in PRE_COPY) is over.
	 */
	ret = vmm_wait_migration(&m->src, "active|completed|failed",
				 MIG_TIMEOUT_MS);
	CHECK(!ret && !strcmp(m->src.last_event, "active"),
	      "migration status %s", m->src.last_event);
	return 0;
}

int qemu_mig_setup(struct qemu_mig *m, int nvfs)
{
	int ret = qemu_mig_start(m, nvfs);

	return ret ? ret : qemu_mig_migrate(m);
}

/* the firmware corrupts the next chunk any VF of the PF saves */
static int arm_corrupt_chunk(struct qemu_mig *m)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/debug/tern_core/%s/fw_fault",
		 m->pf);
	return sysfs_write(path, "corrupt 1");
}

/* device bytes QEMU has sent so far; *active: migration still running */
static uint64_t vfio_sent(struct vmm *vm, bool *active)
{
	const char *r = vmm_qmp(vm, "{\"execute\": \"query-migrate\"}");

	*active = r && strstr(r, "\"status\": \"active\"");
	return r ? json_u64(strstr(r, "\"vfio\"") ?: "", "transferred") : 0;
}

int qemu_mig_dirty_rounds(struct qemu_mig *m, int rounds, int corrupt_round)
{
	uint64_t before, after;
	int round, resent = 0, i, ret;
	bool active = true;
	int64_t end;

	for (round = 1; round <= rounds && active; round++) {
		if (round == corrupt_round)
			CHECK(!arm_corrupt_chunk(m), "fw_fault");
		for (i = 0; i < m->nvfs; i++) {
			ret = l2_vf_dirty(&m->vf[i], round);
			if (ret)
				return ret;
		}
		before = vfio_sent(&m->src, &active);
		end = vmm_now_ms() + ROUND_TIMEOUT_MS;
		/* progress is only visible by polling QEMU */
		do {
			poll(NULL, 0, 20);
			after = vfio_sent(&m->src, &active);
		} while (active && after == before && vmm_now_ms() < end);
		if (active) {
			CHECK(before < after, "round %d: nothing sent", round);
			resent++;
		}
	}
	if (!active && !corrupt_round) {
		/*
		 * Ended before its rounds with no fault injected: the source's
		 * reason (query-migrate's error-desc, its log and trace), as
		 * the destination only says that its load failed.
		 */
		fprintf(stderr, "# %s: migration no longer active in round %d of %d\n",
			m->src.name, round - 1, rounds);
		vmm_report(&m->src, 20);
	}
	if (corrupt_round == MIG_CORRUPT_STOP_COPY) {
		/* wait for an iteration that left nothing to send */
		long from = vmm_trace_size(&m->src);

		end = vmm_now_ms() + ROUND_TIMEOUT_MS;
		while (vmm_trace_find(&m->src, from, "vfio_save_iterate ",
				      "initial size 0 precopy dirty size 0",
				      NULL) < 0) {
			CHECK(vmm_now_ms() < end, "pre-copy never drained");
			poll(NULL, 0, 20);
		}
		CHECK(!arm_corrupt_chunk(m), "fw_fault");
	}
	return resent;
}

int qemu_mig_release(struct qemu_mig *m)
{
	/*
	 * type1 reports every page it pinned dirty at every sync, so without
	 * the VF's DMA logging all guest RAM is left at every iteration and
	 * pre-copy never converges: allow QEMU's longest downtime instead.
	 */
	return vmm_qmp_ok(&m->src, "{\"execute\": \"migrate-set-parameters\", "
			  "\"arguments\": {\"downtime-limit\": %d, "
			  "\"avail-switchover-bandwidth\": 0}}",
			  m->dma_logging ? 300 : 2000000);
}

int qemu_mig_wait_completed(struct qemu_mig *m)
{
	struct vmm *vm[] = { &m->src, &m->dst };
	int i, ret;

	for (i = 0; i < 2; i++) {
		ret = vmm_wait_migration(vm[i], "completed|failed",
					 MIG_TIMEOUT_MS);
		if (ret || strcmp(vm[i]->last_event, "completed"))
			vmm_report(vm[i], 40);
		CHECK(!ret && !strcmp(vm[i]->last_event, "completed"),
		      "%s: migration %s", vm[i]->name,
		      ret ? "timed out" : vm[i]->last_event);
	}
	return 0;
}

int qemu_mig_verify(struct qemu_mig *m, struct vmm *vm)
{
	int i, ret;

	for (i = 0; i < m->nvfs; i++) {
		ret = l2_vf_verify(&m->vf[i], vm);
		if (ret)
			return ret;
	}
	return 0;
}

void qemu_mig_teardown(struct qemu_mig *m)
{
	int i;

	if (m->src.pid)
		vmm_stop(&m->src);
	if (m->dst.pid)
		vmm_stop(&m->dst);
	qemu_split_stop();
	for (i = 0; i < MIG_MAX_VFS; i++) {
		free(m->vf[i].shadow);
		m->vf[i].shadow = NULL;
	}
}

void qemu_mig_trace_device_bytes(struct vmm *vm, long *pre, long *stop)
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
		const char *ev = vmm_trace_event(line, NULL);
		const char *d = strstr(ev, "data_size ");

		if (strncmp(ev, "vfio_save_block ", 16) || !d)
			continue;
		if (split < 0 || ftell(f) <= split)
			*pre += atol(d + 10);
		else
			*stop += atol(d + 10);
	}
	fclose(f);
}

void qemu_mig_print_stats(struct vmm *src, const char *test)
{
	const char *r = vmm_qmp(src, "{\"execute\": \"query-migrate\"}");
	unsigned long long total, downtime, stream, device;
	char version[32] = "?";
	long pre, stop;

	if (!r)
		return;
	total = json_u64(r, "total-time");
	downtime = json_u64(r, "downtime");
	/* QEMU counts every byte of the stream under "ram" */
	stream = json_u64(strstr(r, "\"ram\"") ?: "", "transferred");
	device = json_u64(strstr(r, "\"vfio\"") ?: "", "transferred");
	qemu_mig_trace_device_bytes(src, &pre, &stop);
	qemu_mig_version(src, version, sizeof(version));
	printf("# QEMU: %-22s %s\n", "version", version);
	printf("# QEMU: %-22s %s\n", "migration", src->last_event);
	printf("# QEMU: %-22s %llu ms\n", "total time", total);
	printf("# QEMU: %-22s %llu ms\n", "downtime", downtime);
	printf("# QEMU: %-22s %llu KiB\n", "stream sent (all)", stream >> 10);
	printf("# QEMU: %-22s %llu KiB\n", "device data sent", device >> 10);
	printf("# QEMU: %-22s %ld KiB\n", "  in pre-copy", pre >> 10);
	printf("# QEMU: %-22s %ld bytes\n", "  in stop-copy", stop);
	printf("# STATS qemu=%s test=%s downtime_ms=%llu total_ms=%llu "
	       "precopy_bytes=%ld stopcopy_bytes=%ld\n",
	       version, test, downtime, total, pre, stop);
}

int kmsg_records(int fd)
{
	char msg[1024];
	int n = 0;

	while (kmsg_next(fd, msg, sizeof(msg))) {
		printf("# kernel: %s\n", msg);
		n++;
	}
	close(fd);
	return n;
}
