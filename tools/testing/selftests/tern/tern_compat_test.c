// SPDX-License-Identifier: GPL-2.0
/*
 * Migration between VFs that differ: another firmware version, another
 * device memory size, another device ID. What the stream format cannot
 * bridge is refused at the write() that carries the stream header (EINVAL,
 * one kernel log line naming the field and both values); what it can (an
 * older stream version) loads. For every pair, the VFs' migration_compat
 * attributes, compared by the documented rule, give the answer RESUMING
 * then gives, in the same words as the kernel log; and so does
 * `tern-migrate --check SRC DST` where the runner names the tool
 * (TERN_SELFTESTS_TERN_MIGRATE, as the rig does).
 *
 * Streams recorded by earlier releases (streams/, made by
 * tools/qemu/tern-qtest/record_streams.py) load forever: each is loaded on
 * a VF of the 1 MiB PF, its device memory, registers and pending engine
 * jobs checked against the descriptor recorded with it.
 *
 * The VFs: one of the PF named (TERN_SELFTESTS_PF, current firmware), one
 * of a PF with firmware 1.0 and the same device memory
 * (TERN_SELFTESTS_PF_FW10), one of a PF with 1 MiB of device memory
 * (TERN_SELFTESTS_PF_DEVMEM1M); see lib/tern_setup.h. They share one
 * type1 container and one arena, as a VM's memory is mapped at the same
 * IOVAs on both sides of a migration: the type1 container is the IOMMU
 * mode every kernel has, and the stream does not depend on the mode.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/wait.h>

#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

#define ARENA_SIZE	SZ_16M

enum { PF0, FW10, DEVMEM1M, NR_PFS };

static const char *const pf_env[NR_PFS] = {
	[PF0] = TERN_SELFTESTS_PF_ENV,
	[FW10] = TERN_SELFTESTS_PF_FW10_ENV,
	[DEVMEM1M] = TERN_SELFTESTS_PF_DEVMEM1M_ENV,
};

/* A VF's migration_compat attribute, parsed. */
struct compat {
	unsigned int vendor, device;
	unsigned long long devmem_size;
	unsigned int stream, loads_min, loads_max;
};

static int compat_read(const char *bdf, struct compat *c)
{
	char path[128], line[256];
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/migration_compat",
		 bdf);
	ret = sysfs_read(path, line, sizeof(line));
	if (ret)
		return ret;
	if (sscanf(line, "device=%x:%x devmem_size=%llu stream=%u loads=%u-%u",
		   &c->vendor, &c->device, &c->devmem_size, &c->stream,
		   &c->loads_min, &c->loads_max) != 6)
		return -EINVAL;
	return 0;
}

/*
 * The documented rule (drivers.rst, "Before migrating"): 0 if a stream
 * saved from @src loads on @dst, else -EINVAL with the reason in @why, in
 * the words of the kernel's "resume refused: " line.
 */
static int compat_check(const struct compat *src, const struct compat *dst,
			char *why, size_t len)
{
	if (src->stream < dst->loads_min || src->stream > dst->loads_max)
		snprintf(why, len,
			 "stream version %u is %s than this VF loads (%u..%u)",
			 src->stream,
			 src->stream > dst->loads_max ? "newer" : "older",
			 dst->loads_min, dst->loads_max);
	else if (src->vendor != dst->vendor)
		snprintf(why, len,
			 "vendor_id is 0x%04x in the stream, 0x%04x on this VF",
			 src->vendor, dst->vendor);
	else if (src->device != dst->device)
		snprintf(why, len,
			 "device_id is 0x%04x in the stream, 0x%04x on this VF",
			 src->device, dst->device);
	else if (src->devmem_size != dst->devmem_size)
		snprintf(why, len,
			 "devmem_size is %llu in the stream, %llu on this VF",
			 src->devmem_size, dst->devmem_size);
	else
		return 0;
	return -EINVAL;
}

/*
 * tern-migrate --check @src @dst, if TERN_SELFTESTS_TERN_MIGRATE names the
 * tool: its exit status, and its output's first line in @out; -ENOENT
 * when no tool is named.
 */
static int tool_check(const char *src, const char *dst, char *out, size_t len)
{
	const char *tool = getenv("TERN_SELFTESTS_TERN_MIGRATE");
	char cmd[PATH_MAX + 64];
	FILE *p;
	int st;

	if (!tool || !*tool)
		return -ENOENT;
	snprintf(cmd, sizeof(cmd), "%s --check %s %s", tool, src, dst);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	if (!fgets(out, len, p))
		out[0] = 0;
	out[strcspn(out, "\n")] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -EIO;
}

/* Records logged since kmsg_open() whose message contains @a and @b. */
static int kmsg_count(int fd, const char *a, const char *b)
{
	char msg[2048];
	int n = 0;

	while (kmsg_next(fd, msg, sizeof(msg)))
		if (strstr(msg, a) && strstr(msg, b))
			n++;
	return n;
}

FIXTURE(tern_compat_test)
{
	char pf[NR_PFS][16];
	char bdf[NR_PFS][16];
	bool have[NR_PFS];
	struct iommu *iommu;
	struct tern_arena arena;
	struct vfio_pci_device *vf[NR_PFS];
	struct compat compat[NR_PFS];
};

FIXTURE_SETUP(tern_compat_test)
{
	static const struct pci_selftest_id ids[NR_PFS] = {
		[FW10] = { "tern PF with firmware 1.0",
			   TERN_SELFTESTS_PF_FW10_ENV, TERN_PCI_VENDOR_ID,
			   TERN_PCI_PF_DEVICE_ID },
		[DEVMEM1M] = { "tern PF with 1 MiB of device memory",
			       TERN_SELFTESTS_PF_DEVMEM1M_ENV,
			       TERN_PCI_VENDOR_ID, TERN_PCI_PF_DEVICE_ID },
	};
	char pf[16], why[256];
	int i, none = 0;

	TERN_PREPARE_OR_SKIP(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, &self->bdf[PF0]);
	strcpy(self->pf[PF0], tern_pf);
	self->have[PF0] = true;
	for (i = FW10; i < NR_PFS; i++) {
		int ret = pci_selftest_device(&ids[i], &none, NULL, pf, why,
					      sizeof(why));
		int n;

		if (ret == -ENOENT)
			continue;	/* not named: the tests that need it SKIP */
		ASSERT_EQ(0, ret) TH_LOG("%s", why);
		n = tern_prepare_pf_vfs(pf, TERN_PF_DRIVER, TERN_VF_DRIVER, 1,
					&self->bdf[i]);
		if (n == -EPERM)
			SKIP(return, "%s", tern_setup_reason());
		ASSERT_EQ(1, n) TH_LOG("%s: %s", pf, strerror(-n));
		strcpy(self->pf[i], pf);
		self->have[i] = true;
	}
	self->iommu = iommu_init(MODE_VFIO_TYPE1V2_IOMMU);
	tern_arena_init(&self->arena, self->iommu, ARENA_SIZE);
	for (i = 0; i < NR_PFS; i++) {
		if (!self->have[i])
			continue;
		self->vf[i] = tern_vf_init(self->bdf[i], self->iommu,
					   &self->arena);
		ASSERT_EQ(0, compat_read(self->bdf[i], &self->compat[i]))
			TH_LOG("%s: no migration_compat", self->bdf[i]);
	}
}

FIXTURE_TEARDOWN(tern_compat_test)
{
	int i;

	for (i = 0; i < NR_PFS; i++) {
		if (self->vf[i] && self->vf[i]->driver.initialized)
			vfio_pci_driver_remove(self->vf[i]);
	}
	if (self->iommu)
		tern_arena_cleanup(&self->arena, self->iommu);
	for (i = 0; i < NR_PFS; i++) {
		if (self->vf[i])
			vfio_pci_device_cleanup(self->vf[i]);
	}
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

#define NEED_PF(which)							\
	do {								\
		if (!self->have[which])					\
			SKIP(return, "no %s named", pf_env[which]);	\
	} while (0)

static u8 *devmem(struct vfio_pci_device *vf)
{
	return vf->bars[TERN_VF_BAR_DEVMEM].vaddr;
}

static size_t devmem_size(struct vfio_pci_device *vf)
{
	return vf->bars[TERN_VF_BAR_DEVMEM].info.size;
}

/* A pattern on some pages of device memory, zeroes elsewhere. */
static void fill_devmem(struct vfio_pci_device *vf, u8 seed)
{
	size_t size = devmem_size(vf), i;
	u8 *p = devmem(vf);

	memset(p, 0, size);
	for (i = 0; i < 8 * PAGE; i++)
		p[i] = (u8)(i * 31 + seed);
	for (i = 0; i < PAGE; i++)
		p[size - PAGE + i] = (u8)(i * 7 + seed);
}

/* Save @vf from RUNNING through STOP_COPY; it is left in STOP. */
static void save(struct vfio_pci_device *vf, struct vfio_mig_stream *s)
{
	vfio_pci_mig_save(vf, s, false);
}

/*
 * Resume @s into @vf (in STOP) with the header in a write() of its own,
 * then the rest: the header's write() result, or the first failure after
 * it; *@commit gets the RESUMING -> STOP result.
 */
static int resume(struct vfio_pci_device *vf, const struct vfio_mig_stream *s,
		  int *commit)
{
	int fd, ret, stop_fd;

	fd = vfio_pci_mig_state_set(vf, VFIO_DEVICE_STATE_RESUMING);
	VFIO_ASSERT_GE(fd, 0);
	ret = __vfio_mig_write(fd, s->data, sizeof(struct tern_stream_hdr),
			       SZ_1M);
	if (!ret)
		ret = __vfio_mig_write(fd, s->data + sizeof(struct tern_stream_hdr),
				       s->len - sizeof(struct tern_stream_hdr),
				       SZ_1M);
	close(fd);
	*commit = __vfio_pci_mig_state_set(vf, VFIO_DEVICE_STATE_STOP,
					   &stop_fd);
	return ret;
}

/*
 * A refused pair: the write() of the header fails with EINVAL before the
 * firmware saw any of the stream (no LOAD_WRITE), the state change after
 * it fails too, the kernel logs the reason once for @dst, and the
 * attribute rule gives the same reason.
 */
static void expect_refused(struct __test_metadata *_metadata,
			   FIXTURE_DATA(tern_compat_test) *self,
			   const struct compat *src_compat, int dst,
			   const struct vfio_mig_stream *s)
{
	struct vfio_pci_device *vf = self->vf[dst];
	char why[256], line[300];
	int kmsg, commit;
	long writes;

	ASSERT_EQ(-EINVAL, compat_check(src_compat, &self->compat[dst], why,
					sizeof(why)));
	snprintf(line, sizeof(line), "resume refused: %s", why);
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	writes = tern_pf_op_stat(self->pf[dst], "LOAD_WRITE", 1);
	ASSERT_LE(0, writes);
	ASSERT_EQ(-EINVAL, resume(vf, s, &commit));
	ASSERT_NE(0, commit);
	ASSERT_EQ(writes, tern_pf_op_stat(self->pf[dst], "LOAD_WRITE", 1));
	ASSERT_EQ(1, kmsg_count(kmsg, self->bdf[dst], line))
		TH_LOG("%s: no \"%s\" in the kernel log", self->bdf[dst], line);
	close(kmsg);
	/* the VF is in ERROR; a reset gives it back, running */
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(vf));
	ASSERT_EQ(0, tern_device_reset(vf));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(vf));
}

/* Save the VF of @src and refuse it on the VF of @dst. */
static void pair_refused(struct __test_metadata *_metadata,
			 FIXTURE_DATA(tern_compat_test) *self, int src, int dst)
{
	struct vfio_mig_stream s = {};
	char why[256], want[300], out[300];
	int ret;

	/* the tool, on the two VFs, says what the rule and RESUMING say */
	ASSERT_EQ(-EINVAL, compat_check(&self->compat[src], &self->compat[dst],
					why, sizeof(why)));
	snprintf(want, sizeof(want), "incompatible: %s", why);
	ret = tool_check(self->bdf[src], self->bdf[dst], out, sizeof(out));
	if (ret != -ENOENT) {
		ASSERT_EQ(1, ret) TH_LOG("tern-migrate --check: %s", out);
		ASSERT_STREQ(want, out);
	}
	fill_devmem(self->vf[src], 3);
	save(self->vf[src], &s);
	expect_refused(_metadata, self, &self->compat[src], dst, &s);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(self->vf[src],
					     VFIO_DEVICE_STATE_RUNNING));
	vfio_mig_stream_free(&s);
}

/* The attributes themselves: what the PFs are made of. */
TEST_F(tern_compat_test, attributes_describe_the_vfs)
{
	const struct compat *c = self->compat;

	ASSERT_EQ(TERN_PCI_VENDOR_ID, c[PF0].vendor);
	ASSERT_EQ(TERN_PCI_VF_DEVICE_ID, c[PF0].device);
	ASSERT_EQ(devmem_size(self->vf[PF0]), c[PF0].devmem_size);
	ASSERT_EQ(TERN_STREAM_VERSION, c[PF0].stream);
	ASSERT_EQ(TERN_STREAM_VERSION_MIN, c[PF0].loads_min);
	ASSERT_EQ(TERN_STREAM_VERSION, c[PF0].loads_max);
	if (self->have[FW10]) {
		ASSERT_EQ(1, c[FW10].stream);
		ASSERT_EQ(1, c[FW10].loads_min);
		ASSERT_EQ(1, c[FW10].loads_max);
		ASSERT_EQ(c[PF0].devmem_size, c[FW10].devmem_size);
	}
	if (self->have[DEVMEM1M]) {
		ASSERT_EQ(SZ_1M, c[DEVMEM1M].devmem_size);
		ASSERT_EQ(SZ_1M, devmem_size(self->vf[DEVMEM1M]));
	}
}

/* Firmware 1.1 -> 1.0: stream version 2 is refused at its header. */
TEST_F(tern_compat_test, newer_stream_refused)
{
	NEED_PF(FW10);
	pair_refused(_metadata, self, PF0, FW10);
}

/* 1 MiB of device memory and the PF's size: refused both ways. */
TEST_F(tern_compat_test, devmem_size_refused_both_ways)
{
	NEED_PF(DEVMEM1M);
	pair_refused(_metadata, self, PF0, DEVMEM1M);
	pair_refused(_metadata, self, DEVMEM1M, PF0);
}

/*
 * A header that names another device, its CRC made valid again: refused
 * by the driver (a damaged CRC is the firmware's verdict), named.
 */
TEST_F(tern_compat_test, other_device_id_refused)
{
	struct vfio_pci_device *vf = self->vf[PF0];
	struct compat forged = self->compat[PF0];
	struct vfio_mig_stream s = {};
	struct tern_stream_hdr *h;

	save(vf, &s);
	h = (void *)s.data;
	h->device_id = htole16(TERN_PCI_VF_DEVICE_ID + 1);
	h->crc = htole32(crc32c(h, offsetof(struct tern_stream_hdr, crc)));
	forged.device = TERN_PCI_VF_DEVICE_ID + 1;
	expect_refused(_metadata, self, &forged, PF0, &s);
	vfio_mig_stream_free(&s);
}

/*
 * Firmware 1.0 -> 1.1: the older stream loads, on another PF: device
 * memory, context registers, counters, and jobs pending on the source
 * complete on the destination in the source's rings.
 */
TEST_F(tern_compat_test, older_stream_loads)
{
	struct vfio_pci_device *a, *b = self->vf[PF0];
	u8 *src = tern_arena_alloc(&self->arena, 2 * PAGE, PAGE);
	u8 *dst = tern_arena_alloc(&self->arena, 2 * PAGE, PAGE);
	u64 jobs, ctx[TERN_VF_CTX_REGS];
	struct vfio_mig_stream s = {};
	struct tern_desc_cpl cpl;
	char why[256], out[300];
	int i, commit, ret;

	NEED_PF(FW10);
	a = self->vf[FW10];
	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, compat_check(&self->compat[FW10], &self->compat[PF0], why,
				  sizeof(why))) TH_LOG("%s", why);
	ret = tool_check(self->bdf[FW10], self->bdf[PF0], out, sizeof(out));
	if (ret != -ENOENT) {
		ASSERT_EQ(0, ret) TH_LOG("tern-migrate --check: %s", out);
		ASSERT_STREQ("compatible", out);
	}
	for (i = 0; i < 2 * PAGE; i++)
		src[i] = (u8)(i * 13 + 5);
	fill_devmem(a, 11);
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		tern_writeq(a, TERN_VF_REG_CTX_LO(i), 0xf10000ull + i);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_RUNNING_P2P));
	ASSERT_EQ(0, __tern_queue(a, TERN_DESC_OP_COPY, 0, PAGE,
				  tern_arena_iova(&self->arena, src),
				  tern_arena_iova(&self->arena, dst), 1));
	ASSERT_EQ(0, __tern_queue(a, TERN_DESC_OP_COPY,
				  TERN_DESC_F_DST_DEVMEM | TERN_DESC_F_INTR,
				  PAGE, tern_arena_iova(&self->arena, src + PAGE),
				  20 * PAGE, 2));
	tern_doorbell(a);
	jobs = tern_readq(a, TERN_VF_REG_JOBS_LO);
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ctx[i] = tern_readq(a, TERN_VF_REG_CTX_LO(i));
	save(a, &s);
	ASSERT_EQ(1, le16toh(((struct tern_stream_hdr *)s.data)->version));

	/*
	 * The destination takes over the source's rings, as in
	 * tern_migration_engine_test: the load replaces its engine state.
	 */
	b->driver = a->driver;
	a->driver.initialized = false;
	ASSERT_EQ(0, resume(b, &s, &commit));
	ASSERT_EQ(0, commit);
	ASSERT_EQ(jobs, tern_readq(b, TERN_VF_REG_JOBS_LO));
	for (i = 0; i < TERN_VF_CTX_REGS; i++)
		ASSERT_EQ(ctx[i], tern_readq(b, TERN_VF_REG_CTX_LO(i)));
	ASSERT_EQ(0, memcmp(devmem(a), devmem(b), devmem_size(b)));
	ASSERT_EQ(-1, vfio_pci_mig_state_set(b, VFIO_DEVICE_STATE_RUNNING));
	for (i = 1; i <= 2; i++) {
		ASSERT_EQ(0, __tern_reap(b, &cpl, TERN_JOB_TIMEOUT_MS));
		ASSERT_EQ(TERN_DESC_ST_OK, le16toh(cpl.status));
		ASSERT_EQ(i, le64toh(cpl.cookie));
	}
	ASSERT_EQ(0, memcmp(dst, src, PAGE));
	ASSERT_EQ(0, memcmp(devmem(b) + 20 * PAGE, src + PAGE, PAGE));
	ASSERT_EQ(jobs + 2, tern_readq(b, TERN_VF_REG_JOBS_LO));
	vfio_mig_stream_free(&s);
}

/* A recorded stream and what it must do (streams/README.rst). */
struct recorded {
	struct compat compat;
	u64 iova, mem_size, ctx, jobs, jobs_after;
	u32 devmem_crc, mem_crc_after, devmem_crc_after;
	struct vfio_mig_stream stream, mem;
};

/* The recorded streams beside the binary, decompressed at build time. */
static void streams_dir(char *dir, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = 0;
	snprintf(dir, len, "%s/tern_streams", dirname(exe));
}

static int read_file(const char *path, struct vfio_mig_stream *s)
{
	FILE *f = fopen(path, "r");
	long len;

	if (!f)
		return -errno;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	s->data = malloc(len);
	s->len = s->size = len;
	if (!s->data || fread(s->data, 1, len, f) != (size_t)len) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return 0;
}

static int recorded_read(int version, struct recorded *r)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], line[256];
	int ret, found = 0;
	FILE *f;

	memset(r, 0, sizeof(*r));
	streams_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/v%d.stream", dir, version);
	ret = read_file(path, &r->stream);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/v%d.mem", dir, version);
	ret = read_file(path, &r->mem);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s/v%d.txt", dir, version);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *v = strchr(line, '=');
		u64 val;

		if (line[0] == '#' || !v)
			continue;
		*v++ = 0;
		val = strtoull(v, NULL, 0);
		if (!strcmp(line, "compat")) {
			found += sscanf(v, "device=%x:%x devmem_size=%llu stream=%u loads=%u-%u",
					&r->compat.vendor, &r->compat.device,
					&r->compat.devmem_size,
					&r->compat.stream,
					&r->compat.loads_min,
					&r->compat.loads_max) == 6;
			continue;
		}
#define RECORDED_FIELD(name)				\
		if (!strcmp(line, #name)) {		\
			r->name = val;			\
			found++;			\
			continue;			\
		}
		RECORDED_FIELD(iova);
		RECORDED_FIELD(mem_size);
		RECORDED_FIELD(ctx);
		RECORDED_FIELD(jobs);
		RECORDED_FIELD(jobs_after);
		RECORDED_FIELD(devmem_crc);
		RECORDED_FIELD(mem_crc_after);
		RECORDED_FIELD(devmem_crc_after);
#undef RECORDED_FIELD
	}
	fclose(f);
	return found == 9 && r->mem.len == r->mem_size ? 0 : -EINVAL;
}

static void recorded_free(struct recorded *r)
{
	vfio_mig_stream_free(&r->stream);
	vfio_mig_stream_free(&r->mem);
}

/*
 * Every stream version this release loads was recorded, and each loads
 * on a VF of the 1 MiB PF: the attribute rule agrees, device memory and
 * registers are the source's at its stop point, and the jobs pending on
 * the source complete in the recorded rings once the VF runs.
 */
TEST_F(tern_compat_test, recorded_streams_load)
{
	struct vfio_pci_device *vf;
	u32 version;

	NEED_PF(DEVMEM1M);
	vf = self->vf[DEVMEM1M];
	for (version = TERN_STREAM_VERSION_MIN; version <= TERN_STREAM_VERSION;
	     version++) {
		struct dma_region window = {};
		struct recorded r;
		char why[256];
		int i, commit;
		double end;

		ASSERT_EQ(0, recorded_read(version, &r))
			TH_LOG("recorded stream version %u: missing or malformed",
			       version);
		ASSERT_EQ(version, r.compat.stream);
		ASSERT_EQ(0, compat_check(&r.compat, &self->compat[DEVMEM1M],
					  why, sizeof(why))) TH_LOG("%s", why);

		/* the host memory the engine state points at, where it was */
		window.size = r.mem_size;
		window.iova = r.iova;
		window.vaddr = mmap(NULL, r.mem_size, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		ASSERT_NE(MAP_FAILED, window.vaddr);
		memcpy(window.vaddr, r.mem.data, r.mem_size);
		iommu_map(self->iommu, &window);

		ASSERT_EQ(-1, vfio_pci_mig_state_set(vf, VFIO_DEVICE_STATE_STOP));
		ASSERT_EQ(0, resume(vf, &r.stream, &commit));
		ASSERT_EQ(0, commit);
		ASSERT_EQ(r.devmem_crc, crc32c(devmem(vf), devmem_size(vf)));
		for (i = 0; i < TERN_VF_CTX_REGS; i++)
			ASSERT_EQ(r.ctx + i, tern_readq(vf, TERN_VF_REG_CTX_LO(i)));
		ASSERT_EQ(r.jobs, tern_readq(vf, TERN_VF_REG_JOBS_LO));

		ASSERT_EQ(-1, vfio_pci_mig_state_set(vf,
						     VFIO_DEVICE_STATE_RUNNING));
		end = monotonic_s() + TERN_JOB_TIMEOUT_MS / 1000.0;
		while (tern_readq(vf, TERN_VF_REG_JOBS_LO) < r.jobs_after &&
		       monotonic_s() < end)
			usleep(1000);	/* polling the counter, not waiting */
		ASSERT_EQ(r.jobs_after, tern_readq(vf, TERN_VF_REG_JOBS_LO));
		ASSERT_EQ(r.mem_crc_after, crc32c(window.vaddr, r.mem_size));
		ASSERT_EQ(r.devmem_crc_after,
			  crc32c(devmem(vf), devmem_size(vf)));

		/* the engine leaves the recorded rings before they go */
		ASSERT_EQ(0, tern_device_reset(vf));
		iommu_unmap(self->iommu, &window);
		munmap(window.vaddr, r.mem_size);
		recorded_free(&r);
	}
}

/* A recorded version 2 stream on firmware 1.0: refused, as the rule says. */
TEST_F(tern_compat_test, recorded_v2_refused_by_fw10)
{
	struct recorded r;

	NEED_PF(FW10);
	ASSERT_EQ(0, recorded_read(2, &r));
	expect_refused(_metadata, self, &r.compat, FW10, &r.stream);
	recorded_free(&r);
}

TERN_TEST_HARNESS_MAIN
