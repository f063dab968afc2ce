// SPDX-License-Identifier: GPL-2.0
/*
 * tern-bench: what pre-copy, the save/resume stream path and DMA dirty
 * logging achieve, measured side by side in one run on two tern VFs.
 * Every figure is a ratio of two measurements taken in the same VM (TCG
 * makes absolute times meaningless), repeated and reported as median
 * [min, max]. Prints a table on stdout and the same figures as JSON to
 * the file given with --json, followed there by each repetition's absolute
 * figures: every pre-copy migration pass by pass, and every timed save and
 * resume (Documentation/tern/performance.rst describes the shape).
 *
 * usage: tern-bench [options] SRC_BDF DST_BDF; options and exit status in
 * usage[] below (tern-bench --help).
 *
 * The rewrite workload of the pre-copy rows runs on the source VF's own
 * engine: FILL jobs into its device memory, queued on the engine ring as
 * the wall clock makes them due, so that the given fraction of device
 * memory is rewritten per second. The rate the engine really achieved is
 * counted from the completions and reported next to the nominal one.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#define CLI_PROG	"tern-bench"
#include "cli.h"
#include "mig.h"

#define CHUNK		MIG_CHUNK	/* read() and write() size */
#define MAX_REPS	32
#define MAX_PASSES	16

/* DMA memory of each VF: its driver region, the engine row's buffers */
#define ARENA_SIZE	SZ_16M
/* the part of the arena that holds libvfio's tern driver state */
#define DRIVER_REGION_SIZE	SZ_2M

/*
 * A tern VF as tern-bench drives it: opened by libvfio through the
 * iommufd cdev on an IOMMU of its own, as the VMMs at both ends of a
 * migration have theirs; its engine driven by libvfio's tern driver
 * (<tern/tern.h>), whose state lives in the arena. Both VFs have their
 * arena at the same IOVA: after a migration the destination's engine
 * carries on with the source's ring addresses.
 */
struct bench_vf {
	struct iommu *iommu;
	struct vfio_pci_device *device;
	struct dma_region arena;
	size_t arena_used;
	uint8_t *devmem;
	size_t devmem_size;
};

struct bench {
	struct bench_vf src, dst;
	struct iova_allocator *iovas;	/* of the source's IOMMU */
	unsigned int reps;
	struct vfio_mig_stream buf;	/* one chunk of read() data */
	FILE *json;
	bool json_first;
	/*
	 * The JSON members that follow "rows": each repetition's absolute
	 * figures, collected while the rows are written and appended at the
	 * end (an open_memstream() into extra_buf).
	 */
	FILE *extra;
	char *extra_buf;
	size_t extra_len;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Print one row as median [min, max] and append it to the JSON array. */
static void row(struct bench *b, const char *name, const char *unit,
		double *v, unsigned int n)
{
	double med;
	unsigned int i;

	qsort(v, n, sizeof(*v), cmp_double);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	printf("%-52s %12.4g [%.4g, %.4g] %s\n", name, med, v[0], v[n - 1],
	       unit);
	fflush(stdout);
	if (!b->json)
		return;
	fprintf(b->json, "%s\n  {\"name\": \"%s\", \"unit\": \"%s\", ",
		b->json_first ? "" : ",", name, unit);
	fprintf(b->json, "\"median\": %.6g, \"min\": %.6g, \"max\": %.6g, ",
		med, v[0], v[n - 1]);
	fprintf(b->json, "\"samples\": [");
	for (i = 0; i < n; i++)
		fprintf(b->json, "%s%.6g", i ? ", " : "", v[i]);
	fprintf(b->json, "]}");
	b->json_first = false;
}

/* A JSON number, or null for what JSON cannot hold (inf, nan). */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.6g", v);
	else
		fputs("null", f);
}

/* ---- the VFs ------------------------------------------------------------- */

/* Open VF @bdf through the iommufd cdev, on an IOMMU of its own. */
static void vf_open(struct bench_vf *vf, const char *bdf)
{
	struct vfio_pci_bar *bar;

	vf->iommu = iommu_init(MODE_IOMMUFD);
	vf->device = vfio_pci_device_init(bdf, vf->iommu);
	if (!vf->device->driver.ops ||
	    strcmp(vf->device->driver.ops->name, "tern"))
		cli_die(bdf, ENODEV);	/* not a tern VF */
	bar = &vf->device->bars[TERN_VF_BAR_DEVMEM];
	vf->devmem = bar->vaddr;
	vf->devmem_size = bar->info.size;
	if (!vf->devmem ||
	    tern_readq(vf->device, TERN_VF_REG_DEVMEM_SIZE_LO) != vf->devmem_size)
		cli_die(bdf, ENXIO);
}

/* @size zeroed bytes of the VF's arena at a multiple of @align; NULL if full. */
static void *arena_alloc(struct bench_vf *vf, size_t size, size_t align)
{
	size_t off = (vf->arena_used + align - 1) & ~(align - 1);
	uint8_t *p = vf->arena.vaddr;

	if (off + size > vf->arena.size)
		return NULL;
	vf->arena_used = off + size;
	memset(p + off, 0, size);
	return p + off;
}

static iova_t arena_iova(struct bench_vf *vf, const void *p)
{
	return vf->arena.iova + ((const uint8_t *)p -
				 (const uint8_t *)vf->arena.vaddr);
}

/*
 * Map the VF's arena at @iova, give libvfio's tern driver its region at
 * the start of it and start the driver: bus mastering on, both MSI-X
 * vectors on eventfds, the engine running on a ring of TERN_RING_SIZE.
 */
static void vf_start(struct bench_vf *vf, iova_t iova)
{
	struct vfio_pci_device *device = vf->device;
	void *vaddr, *region;
	int ret;

	vaddr = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (vaddr == MAP_FAILED)
		cli_die("arena", errno);
	vf->arena = (struct dma_region) {
		.vaddr = vaddr,
		.iova = iova,
		.size = ARENA_SIZE,
	};
	ret = __iommu_map(vf->iommu, &vf->arena);
	if (ret)
		cli_die("arena DMA map", ret);
	region = arena_alloc(vf, DRIVER_REGION_SIZE, SZ_4K);
	device->driver.region = (struct dma_region) {
		.vaddr = region,
		.iova = arena_iova(vf, region),
		.size = DRIVER_REGION_SIZE,
	};
	vfio_pci_driver_init(device);
}

/* Stop the engine, close the VF and give its memory back. */
static void vf_close(struct bench_vf *vf)
{
	vfio_pci_device_cleanup(vf->device);
	iommu_unmap(vf->iommu, &vf->arena);
	iommu_cleanup(vf->iommu);
	munmap(vf->arena.vaddr, vf->arena.size);
}

/* ---- rewrite workload: engine FILL jobs into device memory --------------- */

#define WL_RING		TERN_RING_SIZE	/* engine ring entries */
#define WL_RUN_PAGES	4	/* pages one FILL job rewrites (16 KiB) */
#define WL_STRIDE	7919	/* runs between consecutive jobs (prime) */
#define WL_TICK_NS	2000000	/* pacing period: 2 ms */

/*
 * A thread that rewrites @pct percent of the VF's device memory per second
 * through the VF's own engine: FILL descriptors with TERN_DESC_F_DST_DEVMEM,
 * each over WL_RUN_PAGES pages, queued on the engine ring whenever the wall
 * clock says they are due (the engine runs them asynchronously) and reaped
 * without waiting. Pages rewritten are counted from the completions, so
 * the rate the device really achieved can be reported next to the nominal
 * one: if the engine falls behind, the ring fills and the rate drops.
 */
struct workload {
	struct bench_vf *vf;
	pthread_t thread;
	double pct;		/* nominal, % of device memory per second */
	double jobs_per_s;	/* the same in FILL jobs */
	double t0;		/* start, CLOCK_MONOTONIC seconds */
	uint64_t queued;	/* jobs queued so far */
	uint64_t pages;		/* pages rewritten: OK completions x run */
	uint64_t failed;	/* completions with an error status */
	uint64_t bytes0;	/* engine BYTES counter at the start */
	bool stop;		/* accessed with __atomic builtins */
};

static uint64_t fill_pattern(uint64_t k)
{
	return (k + 1) * 0x9e3779b97f4a7c15ull | 1;
}

/* Consume every completion that is there now, without waiting. */
static void wl_reap(struct workload *w)
{
	struct tern_desc_cpl cpl;

	while (!__tern_reap(w->vf->device, &cpl, 0)) {
		if (le16toh(cpl.status) == TERN_DESC_ST_OK)
			w->pages += WL_RUN_PAGES;
		else
			w->failed++;
	}
}

static void *wl_thread(void *arg)
{
	struct workload *w = arg;
	struct vfio_pci_device *device = w->vf->device;
	uint64_t nruns = w->vf->devmem_size / PAGE / WL_RUN_PAGES;
	struct timespec tick = { 0, WL_TICK_NS };

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		double due = (monotonic_s() - w->t0) * w->jobs_per_s;
		uint64_t queued = w->queued;

		wl_reap(w);
		while (w->queued < due) {
			uint64_t run = w->queued * WL_STRIDE % nruns;

			/* a full ring means the engine is behind: retry later */
			if (__tern_queue(device, TERN_DESC_OP_FILL,
					 TERN_DESC_F_DST_DEVMEM,
					 WL_RUN_PAGES * PAGE,
					 fill_pattern(w->queued),
					 run * WL_RUN_PAGES * PAGE, w->queued))
				break;
			w->queued++;
		}
		if (w->queued != queued)
			tern_doorbell(device);
		nanosleep(&tick, NULL);
	}
	return NULL;
}

static void start_workload(struct workload *w, struct bench_vf *vf,
			   double pct)
{
	memset(w, 0, sizeof(*w));
	w->vf = vf;
	w->pct = pct;
	w->jobs_per_s = vf->devmem_size / PAGE * pct / 100 / WL_RUN_PAGES;
	w->bytes0 = tern_readq(vf->device, TERN_VF_REG_BYTES_LO);
	w->t0 = monotonic_s();
	if (pct > 0 && pthread_create(&w->thread, NULL, wl_thread, w))
		cli_die("workload thread", EAGAIN);
}

/* The guest stops: no more jobs are queued (queued ones still run). */
static void stop_workload(struct workload *w)
{
	if (w->pct <= 0)
		return;
	__atomic_store_n(&w->stop, true, __ATOMIC_RELEASE);
	pthread_join(w->thread, NULL);
}

/*
 * Once the VF is frozen: count the jobs completed before the freeze and
 * return the achieved rewrite rate in % of device memory per second over
 * the window from the workload's start to @t_end.
 */
static double workload_rate(struct workload *w, double t_end)
{
	uint64_t bytes;

	if (w->pct <= 0)
		return 0;
	wl_reap(w);
	bytes = tern_readq(w->vf->device, TERN_VF_REG_BYTES_LO) - w->bytes0;
	if (w->failed || bytes != w->pages * PAGE)
		fprintf(stderr,
			"workload: %llu pages completed, BYTES counter %llu, %llu failed\n",
			(unsigned long long)w->pages, (unsigned long long)bytes,
			(unsigned long long)w->failed);
	return w->pages * PAGE * 100.0 / w->vf->devmem_size / (t_end - w->t0);
}

/* Once the VF runs again: let the jobs left on its ring complete. */
static void drain_workload(struct workload *w)
{
	struct tern_desc_cpl cpl;

	while (tern_pending(w->vf->device))
		if (__tern_reap(w->vf->device, &cpl, TERN_JOB_TIMEOUT_MS))
			cli_die("workload drain", ETIMEDOUT);
}

/* ---- migration ----------------------------------------------------------- */

/* Move what read() gives now from @sfd to @rfd; *end = 0 or -ENOMSG. */
static uint64_t pump(struct bench *b, int sfd, int rfd, int *end)
{
	uint64_t moved;

	*end = mig_pump(sfd, rfd, &b->buf, UINT64_MAX, &moved);
	if (*end && *end != -ENOMSG)
		cli_die("migration data", -*end);
	return moved;
}

/*
 * One pre-copy pass: move at least @want bytes (what PRECOPY_INFO said was
 * pending when the pass began) or until read() has nothing now (ENOMSG).
 * Data that becomes dirty during the pass is left for the next one.
 */
static uint64_t pump_pass(struct bench *b, int sfd, int rfd, uint64_t want)
{
	uint64_t moved;
	int ret;

	ret = mig_pump(sfd, rfd, &b->buf, want, &moved);
	if (ret && ret != -ENOMSG)
		cli_die("pre-copy data", ret);
	return moved;
}

/* One pre-copy pass: what PRECOPY_INFO said at its start, what it moved. */
struct pass_result {
	uint64_t initial_bytes;
	uint64_t dirty_bytes;
	uint64_t bytes;		/* read from src (and written to dst) */
	double s;		/* from that PRECOPY_INFO to the last write */
};

struct mig_result {
	bool precopy;
	uint64_t differ;	/* pages differing between src and dst after */
	uint64_t pre_bytes;	/* moved by the pre-copy passes */
	uint64_t stop_bytes;
	double stop_s;
	double rate;		/* achieved rewrite rate, %/s */
	double gap_s;		/* last PRECOPY_INFO to STOP_COPY */
	double precopy_s;	/* PRE_COPY transition to STOP_COPY */
	unsigned int passes;
	struct pass_result pass[MAX_PASSES];
	struct pass_result end;	/* the PRECOPY_INFO that ended pre-copy */
};

static void set_state(struct bench_vf *vf, u32 state, int *fd,
		      const char *what)
{
	mig_set_state(vf->device, state, fd, what);
}

/*
 * Migrate src -> dst with or without pre-copy while the workload rewrites
 * @pct percent of the source's device memory per second. Pre-copy runs
 * passes, as a VMM does: each reads the initial_bytes + dirty_bytes that
 * PRECOPY_INFO reports at its start, until dirty_bytes stops shrinking or
 * reaches 0 (at most MAX_PASSES passes). Stop-copy time
 * runs from STOP_COPY until the destination is RUNNING; the device memory
 * of both VFs is compared while both are stopped (the destination would
 * otherwise run the FILL jobs that were parked in the source's engine).
 */
static void migrate(struct bench *b, bool precopy, double pct,
		    struct mig_result *r)
{
	struct vfio_precopy_info info;
	uint64_t last_dirty = UINT64_MAX;
	int sfd = -1, rfd, end;
	struct workload wl;
	double t, t_run, t_info = 0, t_pre = 0;
	size_t pg;

	memset(r, 0, sizeof(*r));
	r->precopy = precopy;
	set_state(&b->dst, VFIO_DEVICE_STATE_RESUMING, &rfd, "dst RESUMING");
	start_workload(&wl, &b->src, pct);
	/* let the workload dirty memory for a moment in both modes */
	usleep(200000);
	if (precopy) {
		t_pre = monotonic_s();
		set_state(&b->src, VFIO_DEVICE_STATE_PRE_COPY, &sfd,
			  "src PRE_COPY");
		for (;;) {
			int ret = __vfio_mig_precopy_info(sfd, 0, &info);
			struct pass_result *pass;

			t_info = monotonic_s();
			if (ret)
				cli_die("PRECOPY_INFO", ret);
			r->end.initial_bytes = info.initial_bytes;
			r->end.dirty_bytes = info.dirty_bytes;
			if (!info.initial_bytes &&
			    (info.dirty_bytes >= last_dirty || !info.dirty_bytes))
				break;
			if (r->passes >= MAX_PASSES)
				break;
			if (!info.initial_bytes)
				last_dirty = info.dirty_bytes;
			pass = &r->pass[r->passes++];
			pass->initial_bytes = info.initial_bytes;
			pass->dirty_bytes = info.dirty_bytes;
			pass->bytes = pump_pass(b, sfd, rfd, info.initial_bytes +
						info.dirty_bytes);
			pass->s = monotonic_s() - t_info;
			r->pre_bytes += pass->bytes;
		}
	}
	stop_workload(&wl);	/* the guest stops */
	t = monotonic_s();
	set_state(&b->src, VFIO_DEVICE_STATE_STOP_COPY,
		  precopy ? NULL : &sfd, "src STOP_COPY");
	r->rate = workload_rate(&wl, t);
	r->gap_s = precopy ? t - t_info : 0;
	r->precopy_s = precopy ? t - t_pre : 0;
	r->stop_bytes = pump(b, sfd, rfd, &end);
	if (end)
		cli_die("stop-copy read", end);
	set_state(&b->src, VFIO_DEVICE_STATE_STOP, NULL, "src STOP");
	set_state(&b->dst, VFIO_DEVICE_STATE_STOP, NULL,
		  "dst STOP (stream refused)");
	r->stop_s = monotonic_s() - t;
	for (pg = 0; pg < b->src.devmem_size / PAGE; pg++)
		if (memcmp(b->src.devmem + pg * PAGE, b->dst.devmem + pg * PAGE,
			   PAGE))
			r->differ++;
	t_run = monotonic_s();
	set_state(&b->dst, VFIO_DEVICE_STATE_RUNNING, NULL, "dst RUNNING");
	r->stop_s += monotonic_s() - t_run;
	set_state(&b->src, VFIO_DEVICE_STATE_RUNNING, NULL, "src RUNNING");
	drain_workload(&wl);
	close(sfd);
	close(rfd);
}

/* Fill all of the VF's device memory through its engine: no zero page. */
static void fill_devmem(struct bench_vf *vf)
{
	uint64_t off;
	int st;

	for (off = 0; off < vf->devmem_size; off += TERN_DESC_MAX_LEN) {
		st = tern_job(vf->device, TERN_DESC_OP_FILL,
			      TERN_DESC_F_DST_DEVMEM,
			      vf->devmem_size - off < TERN_DESC_MAX_LEN ?
			      vf->devmem_size - off : TERN_DESC_MAX_LEN,
			      fill_pattern(off), off, NULL);
		if (st)
			cli_die("device memory FILL", st < 0 ? st : EIO);
	}
}

/* One migration as a JSON member: "@key": {...}, passes one per line. */
static void json_mig(FILE *f, const char *key, const struct mig_result *r)
{
	const struct pass_result *p;
	unsigned int k;

	fprintf(f, "\"%s\": {\"stop_bytes\": %llu, \"stop_s\": ", key,
		(unsigned long long)r->stop_bytes);
	json_num(f, r->stop_s);
	fputs(", \"rate_pct\": ", f);
	json_num(f, r->rate);
	fprintf(f, ", \"differ_pages\": %llu", (unsigned long long)r->differ);
	if (!r->precopy) {
		fputs(", \"precopy_s\": null, \"gap_s\": null", f);
		fputs(", \"pre_bytes\": 0, \"passes\": [], \"end_info\": null}", f);
		return;
	}
	fputs(", \"precopy_s\": ", f);
	json_num(f, r->precopy_s);
	fputs(", \"gap_s\": ", f);
	json_num(f, r->gap_s);
	fprintf(f, ", \"pre_bytes\": %llu, \"passes\": [",
		(unsigned long long)r->pre_bytes);
	for (k = 0; k < r->passes; k++) {
		p = &r->pass[k];
		fprintf(f,
			"%s\n      {\"initial_bytes\": %llu, \"dirty_bytes\": %llu, \"bytes\": %llu, \"s\": ",
			k ? "," : "", (unsigned long long)p->initial_bytes,
			(unsigned long long)p->dirty_bytes,
			(unsigned long long)p->bytes);
		json_num(f, p->s);
		fputc('}', f);
	}
	fprintf(f, "],\n      \"end_info\": {\"initial_bytes\": %llu, \"dirty_bytes\": %llu}}",
		(unsigned long long)r->end.initial_bytes,
		(unsigned long long)r->end.dirty_bytes);
}

static void bench_precopy(struct bench *b)
{
	static const double pcts[] = { 0, 1, 10 };
	double bytes[MAX_REPS], secs[MAX_REPS], passes[MAX_REPS],
	       full[MAX_REPS], left[MAX_REPS], differ[MAX_REPS],
	       rate[MAX_REPS], gap[MAX_REPS];
	struct mig_result with[MAX_REPS], without[MAX_REPS];
	FILE *f = b->extra;
	char name[96];
	unsigned int p, i;

	if (f)
		fputs(",\n\"precopy\": [", f);
	for (p = 0; p < ARRAY_SIZE(pcts); p++) {
		for (i = 0; i < b->reps; i++) {
			migrate(b, false, pcts[p], &without[i]);
			migrate(b, true, pcts[p], &with[i]);
			bytes[i] = (double)with[i].stop_bytes /
				   without[i].stop_bytes;
			secs[i] = with[i].stop_s / without[i].stop_s;
			passes[i] = with[i].passes;
			full[i] = without[i].stop_bytes / 1048576.0;
			left[i] = with[i].stop_bytes / 1048576.0;
			differ[i] = with[i].differ + without[i].differ;
			rate[i] = with[i].rate;
			gap[i] = with[i].gap_s * 1000;
			fprintf(stderr,
				"precopy %g%%/s rep %u: stop-copy %llu / %llu bytes, %.3f / %.3f s, %u passes of %llu bytes, gap %.1f ms, achieved %.3f / %.3f %%/s\n",
				pcts[p], i, (unsigned long long)with[i].stop_bytes,
				(unsigned long long)without[i].stop_bytes,
				with[i].stop_s, without[i].stop_s, with[i].passes,
				(unsigned long long)with[i].pre_bytes, gap[i],
				with[i].rate, without[i].rate);
		}
		if (f) {
			fprintf(f, "%s\n {\"rewrite_pct\": %g, \"reps\": [",
				p ? "," : "", pcts[p]);
			for (i = 0; i < b->reps; i++) {
				fprintf(f, "%s\n  {\"rep\": %u,\n   ",
					i ? "," : "", i);
				json_mig(f, "without", &without[i]);
				fputs(",\n   ", f);
				json_mig(f, "with", &with[i]);
				fputc('}', f);
			}
			fputs("]}", f);
		}
		snprintf(name, sizeof(name),
			 "stop-copy bytes, pre-copy/none, %g%%/s rewrite", pcts[p]);
		row(b, name, "ratio", bytes, b->reps);
		snprintf(name, sizeof(name),
			 "stop-copy time, pre-copy/none, %g%%/s rewrite", pcts[p]);
		row(b, name, "ratio", secs, b->reps);
		snprintf(name, sizeof(name),
			 "achieved rewrite rate, nominal %g%%/s", pcts[p]);
		row(b, name, "%/s", rate, b->reps);
		snprintf(name, sizeof(name),
			 "pre-copy passes, %g%%/s rewrite", pcts[p]);
		row(b, name, "passes", passes, b->reps);
		snprintf(name, sizeof(name),
			 "last PRECOPY_INFO to STOP_COPY, %g%%/s rewrite", pcts[p]);
		row(b, name, "ms", gap, b->reps);
		snprintf(name, sizeof(name),
			 "stop-copy MiB without pre-copy, %g%%/s rewrite", pcts[p]);
		row(b, name, "MiB", full, b->reps);
		snprintf(name, sizeof(name),
			 "stop-copy MiB with pre-copy, %g%%/s rewrite", pcts[p]);
		row(b, name, "MiB", left, b->reps);
		snprintf(name, sizeof(name),
			 "pages differing src/dst after, %g%%/s rewrite", pcts[p]);
		row(b, name, "pages", differ, b->reps);
	}
	if (f)
		fputs("\n]", f);
}

/* ---- stream throughput and kernel memory ------------------------------- */

struct meminfo {
	long avail, slab, vmalloc;	/* KiB */
};

static void read_meminfo(struct meminfo *m)
{
	char line[128];
	FILE *f = fopen("/proc/meminfo", "r");

	memset(m, 0, sizeof(*m));
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long v;

		if (sscanf(line, "MemAvailable: %ld", &v) == 1)
			m->avail = v;
		else if (sscanf(line, "Slab: %ld", &v) == 1)
			m->slab = v;
		else if (sscanf(line, "VmallocUsed: %ld", &v) == 1)
			m->vmalloc = v;
	}
	fclose(f);
}

struct sampler {
	pthread_t thread;
	bool stop;		/* accessed with __atomic builtins */
	struct meminfo base;
	long max_avail_drop, max_kern_rise;	/* KiB */
};

static void *sampler_fn(void *arg)
{
	struct sampler *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
		struct meminfo m;
		long drop, rise;

		read_meminfo(&m);
		drop = s->base.avail - m.avail;
		rise = (m.slab + m.vmalloc) - (s->base.slab + s->base.vmalloc);
		if (drop > s->max_avail_drop)
			s->max_avail_drop = drop;
		if (rise > s->max_kern_rise)
			s->max_kern_rise = rise;
		usleep(1000);
	}
	return NULL;
}

/* memcpy of @size bytes, 1 MiB at a time, from @src to @dst: seconds. */
static double time_memcpy(uint8_t *dst, const uint8_t *src, size_t size)
{
	double t = monotonic_s();
	size_t off;

	for (off = 0; off < size; off += CHUNK)
		memcpy(dst + off, src + off, CHUNK);
	__asm__ volatile("" : : "r"(dst) : "memory");
	return monotonic_s() - t;
}

static void bench_stream(struct bench *b)
{
	double save[MAX_REPS], resume[MAX_REPS], avail[MAX_REPS],
	       kern[MAX_REPS];
	struct vfio_mig_stream s = { };
	FILE *f = b->extra;
	uint8_t *m1, *m2;
	unsigned int i;

	if (f)
		fputs(",\n\"stream\": {\"reps\": [", f);
	for (i = 0; i < b->reps; i++) {
		struct sampler smp = { };
		double t_save, t_res, t_cpy;
		uint64_t total = 0;
		int sfd, rfd, end, ret;
		ssize_t n;

		/* save: STOP_COPY, 1 MiB reads into one reused buffer */
		set_state(&b->src, VFIO_DEVICE_STATE_STOP, NULL, "src STOP");
		read_meminfo(&smp.base);
		pthread_create(&smp.thread, NULL, sampler_fn, &smp);
		usleep(5000);
		t_save = monotonic_s();
		set_state(&b->src, VFIO_DEVICE_STATE_STOP_COPY, &sfd,
			  "src STOP_COPY");
		total = pump(b, sfd, -1, &end);
		t_save = monotonic_s() - t_save;
		__atomic_store_n(&smp.stop, true, __ATOMIC_RELEASE);
		pthread_join(smp.thread, NULL);
		close(sfd);
		set_state(&b->src, VFIO_DEVICE_STATE_STOP, NULL, "src STOP");

		/* a stream to resume from (not timed) */
		set_state(&b->src, VFIO_DEVICE_STATE_STOP_COPY, &sfd,
			  "src STOP_COPY");
		while ((n = __vfio_mig_read(sfd, &s, CHUNK)) > 0)
			continue;
		if (n)
			cli_die("save for resume", n);
		close(sfd);
		set_state(&b->src, VFIO_DEVICE_STATE_STOP, NULL, "src STOP");
		set_state(&b->src, VFIO_DEVICE_STATE_RUNNING, NULL,
			  "src RUNNING");

		set_state(&b->dst, VFIO_DEVICE_STATE_STOP, NULL, "dst STOP");
		set_state(&b->dst, VFIO_DEVICE_STATE_RESUMING, &rfd,
			  "dst RESUMING");
		t_res = monotonic_s();
		ret = __vfio_mig_write(rfd, s.data, s.len, CHUNK);
		if (ret)
			cli_die("resume write", ret);
		set_state(&b->dst, VFIO_DEVICE_STATE_STOP, NULL,
			  "dst STOP (stream refused)");
		t_res = monotonic_s() - t_res;
		close(rfd);
		set_state(&b->dst, VFIO_DEVICE_STATE_RUNNING, NULL,
			  "dst RUNNING");
		/*
		 * free the stream before the memcpy's two buffers are
		 * allocated: at most twice its size in memory at once (1 GiB
		 * of device memory then fits a 3 GiB guest)
		 */
		vfio_mig_stream_free(&s);

		m1 = malloc(total + CHUNK);
		m2 = malloc(total + CHUNK);
		if (!m1 || !m2)
			cli_die("malloc", ENOMEM);
		memset(m1, 0x5a, total + CHUNK);
		memset(m2, 0xa5, total + CHUNK);
		t_cpy = time_memcpy(m2, m1, total);
		free(m1);
		free(m2);

		save[i] = t_cpy / t_save;	/* save MB/s over memcpy MB/s */
		resume[i] = t_cpy / t_res;
		avail[i] = smp.max_avail_drop / 1024.0;
		kern[i] = smp.max_kern_rise / 1024.0;
		fprintf(stderr, "stream rep %u: %s, save %.3fs resume %.3fs memcpy %.3fs\n",
			i, cli_human(total).s, t_save, t_res, t_cpy);
		if (!f)
			continue;
		fprintf(f, "%s\n  {\"rep\": %u, \"bytes\": %llu, \"save_s\": ",
			i ? "," : "", i, (unsigned long long)total);
		json_num(f, t_save);
		fputs(", \"resume_s\": ", f);
		json_num(f, t_res);
		fputs(", \"memcpy_s\": ", f);
		json_num(f, t_cpy);
		fputs(", \"avail_drop_mib\": ", f);
		json_num(f, avail[i]);
		fputs(", \"kern_rise_mib\": ", f);
		json_num(f, kern[i]);
		fputc('}', f);
	}
	if (f)
		fputs("\n]}", f);
	row(b, "save throughput (read, 1 MiB) / memcpy", "ratio", save,
	    b->reps);
	row(b, "resume throughput (write, 1 MiB) / memcpy", "ratio", resume,
	    b->reps);
	row(b, "peak MemAvailable drop during full save", "MiB", avail,
	    b->reps);
	row(b, "peak Slab+VmallocUsed rise during full save", "MiB", kern,
	    b->reps);
}

/* ---- DMA logging --------------------------------------------------------- */

static int log_start(struct bench_vf *vf, uint64_t iova, uint64_t len)
{
	struct vfio_device_feature_dma_logging_range r = { iova, len };
	uint64_t page_size = PAGE;

	return __vfio_pci_dma_logging_start(vf->device, &r, 1, &page_size);
}

static int log_stop(struct bench_vf *vf)
{
	return __vfio_pci_dma_logging_stop(vf->device);
}

static int log_report(struct bench_vf *vf, uint64_t iova, uint64_t len,
		      uint64_t *bm)
{
	return __vfio_pci_dma_logging_report(vf->device, iova, len, PAGE, bm);
}

/* Run @n queued-and-reaped jobs in batches that fit the ring. */
static void run_jobs(struct bench_vf *vf, unsigned int n, uint8_t op,
		     uint32_t len, uint64_t (*src)(unsigned int, void *),
		     uint64_t (*dst)(unsigned int, void *), void *ctx)
{
	struct vfio_pci_device *device = vf->device;
	unsigned int queued = 0, done = 0, batch;
	struct tern_desc_cpl cpl;

	while (done < n) {
		for (batch = 0; queued < n && batch < 32; batch++, queued++)
			if (__tern_queue(device, op, queued + 1 == n ||
					 batch == 31 ? TERN_DESC_F_INTR : 0,
					 len, src(queued, ctx),
					 dst(queued, ctx), queued))
				cli_die("tern_queue", ENOSPC);
		tern_doorbell(device);
		for (; done < queued; done++) {
			if (__tern_reap(device, &cpl, TERN_JOB_TIMEOUT_MS))
				cli_die("engine job", ETIMEDOUT);
			if (cpl.status != TERN_DESC_ST_OK)
				cli_die("engine job status", EIO);
		}
	}
}

#define LOG_SPAN	SZ_4G
#define DIRTY_BLOCK	SZ_1M		/* one FILL job, 256 pages */

/* The tracked span: LOG_SPAN bytes of IOVA, and the blocks made dirty. */
struct log_span {
	iova_t base;
	unsigned int nblocks;
	struct dma_region *blocks;
};

static uint64_t fill_src(unsigned int i, void *ctx)
{
	return 0x0101010101010101ull * (i + 1);
}

/* 41 blocks of 1 MiB spread evenly over the 4 GiB span: 1% of its pages */
static uint64_t block_iova(unsigned int i, void *ctx)
{
	const struct log_span *span = ctx;

	return span->base + (uint64_t)i *
	       (LOG_SPAN / span->nblocks & ~(DIRTY_BLOCK - 1));
}

static void unmap_blocks(struct bench *b, struct log_span *span,
			 unsigned int n)
{
	while (n--)
		iommu_unmap(b->src.iommu, &span->blocks[n]);
}

static void bench_log_report(struct bench *b)
{
	struct log_span span = {
		.nblocks = (LOG_SPAN / PAGE / 100 * PAGE + DIRTY_BLOCK - 1) /
			   DIRTY_BLOCK,
	};
	size_t bm_size = LOG_SPAN / PAGE / 8;
	uint64_t *bm = calloc(1, bm_size), *bm2 = calloc(1, bm_size);
	double ratio[MAX_REPS];
	unsigned int i, k, bits;
	uint8_t *block;
	int ret;

	block = mmap(NULL, DIRTY_BLOCK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	span.blocks = calloc(span.nblocks, sizeof(*span.blocks));
	if (!bm || !bm2 || block == MAP_FAILED || !span.blocks)
		cli_die("alloc", ENOMEM);
	/* a span of IOVA the source's IOMMU allows, above the arena */
	span.base = iova_allocator_alloc(b->iovas, LOG_SPAN);
	/* the same 1 MiB of memory behind every block's IOVA */
	for (k = 0; k < span.nblocks; k++) {
		span.blocks[k] = (struct dma_region) {
			.vaddr = block,
			.iova = block_iova(k, &span),
			.size = DIRTY_BLOCK,
		};
		ret = __iommu_map(b->src.iommu, &span.blocks[k]);
		if (ret) {
			fprintf(stderr,
				"tern-bench: DMA map at 0x%llx: %s: skipping the REPORT row\n",
				(unsigned long long)span.blocks[k].iova,
				strerror(-ret));
			unmap_blocks(b, &span, k);
			return;
		}
	}
	for (i = 0; i < b->reps; i++) {
		double t_rep, t_cpy;

		ret = log_start(&b->src, span.base, LOG_SPAN);
		if (ret)
			cli_die("DMA_LOGGING_START", ret);
		run_jobs(&b->src, span.nblocks, TERN_DESC_OP_FILL, DIRTY_BLOCK,
			 fill_src, block_iova, &span);
		memset(bm, 0, bm_size);
		t_rep = monotonic_s();
		ret = log_report(&b->src, span.base, LOG_SPAN, bm);
		t_rep = monotonic_s() - t_rep;
		if (ret)
			cli_die("DMA_LOGGING_REPORT", ret);
		for (bits = 0, k = 0; k < bm_size / 8; k++)
			bits += __builtin_popcountll(bm[k]);
		if (bits != span.nblocks * DIRTY_BLOCK / PAGE)
			fprintf(stderr, "tern-bench: REPORT found %u dirty pages, expected %llu\n",
				bits, span.nblocks * DIRTY_BLOCK / PAGE);
		ret = log_stop(&b->src);
		if (ret)
			cli_die("DMA_LOGGING_STOP", ret);
		t_cpy = monotonic_s();
		memcpy(bm2, bm, bm_size);
		__asm__ volatile("" : : "r"(bm2) : "memory");
		t_cpy = monotonic_s() - t_cpy;
		ratio[i] = t_rep / t_cpy;
		fprintf(stderr, "report rep %u: %u dirty pages, report %.6fs copy %.6fs\n",
			i, bits, t_rep, t_cpy);
	}
	row(b, "DMA-log REPORT 4 GiB@4 KiB, 1% dirty / bitmap copy", "ratio",
	    ratio, b->reps);
	unmap_blocks(b, &span, span.nblocks);
	munmap(block, DIRTY_BLOCK);
	free(span.blocks);
	free(bm);
	free(bm2);
}

struct copy_ctx {
	uint64_t src, dst;
	uint32_t len;
};

static uint64_t copy_src(unsigned int i, void *ctx)
{
	return ((struct copy_ctx *)ctx)->src;
}

static uint64_t copy_dst(unsigned int i, void *ctx)
{
	return ((struct copy_ctx *)ctx)->dst;
}

static void bench_engine(struct bench *b)
{
	const uint32_t len = 4 * SZ_1M;
	const unsigned int jobs = 16;
	struct copy_ctx c = { .len = len };
	uint8_t *s = arena_alloc(&b->src, len, PAGE);
	uint8_t *d = arena_alloc(&b->src, len, PAGE);
	double ratio[MAX_REPS];
	unsigned int i;
	int ret;

	if (!s || !d)
		cli_die("arena", ENOMEM);
	c.src = arena_iova(&b->src, s);
	c.dst = arena_iova(&b->src, d);
	for (i = 0; i < b->reps; i++) {
		double t_off, t_on;

		t_off = monotonic_s();
		run_jobs(&b->src, jobs, TERN_DESC_OP_COPY, len, copy_src,
			 copy_dst, &c);
		t_off = monotonic_s() - t_off;
		ret = log_start(&b->src, b->src.arena.iova, b->src.arena.size);
		if (ret)
			cli_die("DMA_LOGGING_START", ret);
		t_on = monotonic_s();
		run_jobs(&b->src, jobs, TERN_DESC_OP_COPY, len, copy_src,
			 copy_dst, &c);
		t_on = monotonic_s() - t_on;
		ret = log_stop(&b->src);
		if (ret)
			cli_die("DMA_LOGGING_STOP", ret);
		ratio[i] = t_off / t_on;	/* throughput on / off */
	}
	row(b, "engine COPY throughput, logging on / off", "ratio", ratio,
	    b->reps);
}

/* --only: bit i of the set that cli_list() returns is row_names[i] */
static const char *const row_names[] = { "precopy", "stream", "log", "engine" };
enum { ROW_PRECOPY = 1, ROW_STREAM = 2, ROW_LOG = 4, ROW_ENGINE = 8 };

static const char usage[] =
"usage: tern-bench [options] SRC_BDF DST_BDF\n"
"\n"
"Measure pre-copy, the save/resume stream path and DMA dirty logging on two\n"
"tern VFs bound to tern-vfio-pci (full PCI addresses, e.g. 0000:00:03.1;\n"
"opened through the iommufd cdev). Each figure is a ratio of two\n"
"measurements taken side by side, as median [min, max] over the\n"
"repetitions: a table on stdout, each repetition's figures on stderr.\n"
"\n"
"options:\n"
"  --reps N      repetitions of each figure, 1 to 32 (default 5)\n"
"  --json FILE   also write the figures as JSON to FILE (default: none)\n"
"  --only ROWS   run only these rows, comma-separated names out of\n"
"                precopy, stream, log, engine (default: all four)\n"
"  -h, --help    print this help and exit\n"
"\n"
"exit status:\n"
"  0  every chosen row was measured\n"
"  1  failed: no such PCI device, or a VFIO, engine or migration error\n"
"  2  usage error: unknown option, bad value or missing arguments;\n"
"     nothing was done\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "json", required_argument, NULL, 'j' },
		{ "only", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct bench b = { .reps = 5, .json_first = true };
	unsigned int rows = (1u << ARRAY_SIZE(row_names)) - 1;
	const char *json = NULL;
	iova_t arena_iova;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			b.reps = cli_count("--reps", optarg, 1, MAX_REPS);
			break;
		case 'j':
			if (!*optarg)
				cli_usage_error("--json: empty file name");
			json = optarg;
			break;
		case 'o':
			rows = cli_list("--only", optarg, row_names,
					ARRAY_SIZE(row_names));
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_bad_option(c, argv);
		}
	}
	cli_src_dst(argc, argv);
	cli_pci_present(argv[optind]);
	cli_pci_present(argv[optind + 1]);
	vf_open(&b.src, argv[optind]);
	vf_open(&b.dst, argv[optind + 1]);
	/* once a VF is attached: the IOVA ranges are the ones it allows */
	b.iovas = iova_allocator_init(b.src.iommu);
	arena_iova = iova_allocator_alloc(b.iovas, ARENA_SIZE);
	vf_start(&b.src, arena_iova);
	vf_start(&b.dst, arena_iova);
	if (b.src.devmem_size != b.dst.devmem_size)
		cli_die("device memory sizes differ", EINVAL);
	if (json) {
		b.json = fopen(json, "w");
		if (!b.json)
			cli_die(json, errno);
		fprintf(b.json, "{\"devmem_mib\": %zu, \"reps\": %u, \"rows\": [",
			b.src.devmem_size >> 20, b.reps);
		b.extra = open_memstream(&b.extra_buf, &b.extra_len);
		if (!b.extra)
			cli_die("open_memstream", errno);
	}
	printf("tern-bench: %zu MiB device memory per VF, %u repetitions, median [min, max]\n",
	       b.src.devmem_size >> 20, b.reps);
	/* the rewrite workload's ring, and a source with no zero page */
	tern_engine_start(b.src.device, WL_RING);
	fill_devmem(&b.src);
	if (rows & ROW_PRECOPY)
		bench_precopy(&b);
	if (rows & ROW_STREAM)
		bench_stream(&b);
	if (rows & (ROW_LOG | ROW_ENGINE))
		tern_engine_start(b.src.device, 64);
	if (rows & ROW_LOG)
		bench_log_report(&b);
	if (rows & ROW_ENGINE)
		bench_engine(&b);
	if (b.json) {
		fclose(b.extra);
		fprintf(b.json, "\n]%s}\n", b.extra_buf);
		free(b.extra_buf);
		fclose(b.json);
	}
	iova_allocator_cleanup(b.iovas);
	vf_close(&b.src);
	vf_close(&b.dst);
	vfio_mig_stream_free(&b.buf);
	return 0;
}
