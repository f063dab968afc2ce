// SPDX-License-Identifier: GPL-2.0
/*
 * Every VF of a PF at once: `make bench`'s N-VF row
 * (Documentation/tern/performance.rst, "Every VF of a PF at once"), not
 * part of make check (the Makefile builds it as TEST_GEN_PROGS_EXTENDED,
 * which the kselftest runner does not run).
 *
 * One L2 machine with N tern VFs (N = 1, 2, 4, 7 by default) is migrated
 * by QEMU from VFs of the PF to VFs of the other PF, as qemu_migration_test
 * does with one and two, once without and once with device state over
 * multifd, while the test plays the guest: DMA and device-memory writes
 * during pre-copy (qemu_mig_dirty_rounds()). The kernel's mtty sample is
 * migrated in the same repetition, as the baseline the downtimes are
 * divided by. Repetition 0 is the warm-up, reported apart; then
 * TERN_NVF_REPS (default 5) repetitions, each going through mtty and every
 * (N, multifd) point in the same order, so that the points of a
 * repetition are measured side by side.
 *
 * Every migration must complete and the destination must hold every VF's
 * state (qemu_mig_verify()). Each prints one line for tools/tern/nvf.py:
 *
 *   # NVF qemu=10.0 test=tern n=4 multifd=4 rep=1 downtime_ms=D
 *     total_ms=T vf_ms=A,B,C,D src_window_ms=S sync_ms=Y dst_window_ms=W
 *
 * vf_ms is each VF's device time inside the downtime, from QEMU's trace
 * with times (-msg timestamp=on): on the source the arcs to PRE_COPY_P2P
 * and STOP_COPY (the set_state trace to the set_device_state trace after
 * the ioctl) and the read of its stop-copy data (save start to save end,
 * in the migration thread or, over multifd, the VF's save thread); on the
 * destination the arcs from RESUMING to RUNNING_P2P and RUNNING. The
 * line ends with the windows of nvf_windows(): src_window_ms (the first
 * VF's stop to the last one's saved data), sync_ms (within it, to the last
 * DMA-log report of the final RAM sync) and dst_window_ms (the first VF's
 * arc out of RESUMING to the last one RUNNING).
 *
 * TERN_NVF_COUNTS (default "1,2,4,7") chooses the VF counts; a count above
 * the PF's sriov_totalvfs fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "qemu_mig_fixture.h"
#include "tern_vf.h"

#define NVF_MULTIFD_CHANNELS	4
#define NVF_TRACE_LINE		512

QEMU_MIG_FIXTURE(qemu_migration_nvf_test);

/* the times (seconds) of one VMM's trace lines, read once after it quit */
struct nvf_trace {
	char (*line)[NVF_TRACE_LINE];	/* events, without the time */
	double *t;
	int n;
};

static int nvf_trace_read(struct vmm *vm, struct nvf_trace *tr)
{
	char path[96], buf[NVF_TRACE_LINE];
	int cap = 0;
	FILE *f;

	memset(tr, 0, sizeof(*tr));
	snprintf(path, sizeof(path), "%s/trace.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(buf, sizeof(buf), f)) {
		int64_t us;
		const char *event = vmm_trace_event(buf, &us);

		if (us < 0)
			continue;
		if (tr->n == cap) {
			cap = cap ? 2 * cap : 1024;
			tr->line = realloc(tr->line, cap * sizeof(*tr->line));
			tr->t = realloc(tr->t, cap * sizeof(*tr->t));
			if (!tr->line || !tr->t) {
				fclose(f);
				return -ENOMEM;
			}
		}
		snprintf(tr->line[tr->n], NVF_TRACE_LINE, "%s", event);
		tr->line[tr->n][strcspn(tr->line[tr->n], "\n")] = 0;
		tr->t[tr->n++] = us / 1e6;
	}
	fclose(f);
	return 0;
}

static void nvf_trace_free(struct nvf_trace *tr)
{
	free(tr->line);
	free(tr->t);
	memset(tr, 0, sizeof(*tr));
}

/*
 * The first line from @from on of @event for @dev ("@event  (@dev) ...":
 * QEMU's log backend puts a space before the format, which starts with
 * one) that ends with @tail (NULL: anything); -1 if none.
 */
static int nvf_trace_find(struct nvf_trace *tr, int from, const char *event,
			  const char *dev, const char *tail)
{
	size_t el = strlen(event), dl = strlen(dev);
	size_t tl = tail ? strlen(tail) : 0;
	int i;

	for (i = from < 0 ? 0 : from; i < tr->n; i++) {
		const char *p = tr->line[i];
		size_t l = strlen(p);

		if (strncmp(p, event, el) || p[el] != ' ')
			continue;
		p += el + strspn(p + el, " ");
		if (*p != '(' || strncmp(p + 1, dev, dl) || p[1 + dl] != ')')
			continue;
		if (tail && (l < tl || strcmp(tr->line[i] + l - tl, tail)))
			continue;
		return i;
	}
	return -1;
}

/* the line of @dev's first set_state to @state; -1 if none */
static int nvf_set_state(struct nvf_trace *tr, const char *dev,
			 const char *state)
{
	char want[64];
	int a;

	snprintf(want, sizeof(want), " new state %s,", state);
	a = nvf_trace_find(tr, 0, "vfio_migration_set_state", dev, NULL);
	while (a >= 0 && !strstr(tr->line[a], want))
		a = nvf_trace_find(tr, a + 1, "vfio_migration_set_state", dev,
				   NULL);
	return a;
}

/* the line that says @dev reached @state, after line @from; -1 if none */
static int nvf_reached(struct nvf_trace *tr, int from, const char *dev,
		       const char *state)
{
	char done[64];

	snprintf(done, sizeof(done), " state %s", state);
	return from < 0 ? -1 :
	       nvf_trace_find(tr, from, "vfio_migration_set_device_state", dev,
			      done);
}

/*
 * The seconds of @dev's arc to @state: from the set_state trace (before
 * the ioctl) to the set_device_state trace (after it); -1 if not traced.
 */
static double nvf_arc(struct nvf_trace *tr, const char *dev,
		      const char *state)
{
	int a = nvf_set_state(tr, dev, state);
	int b = nvf_reached(tr, a, dev, state);

	return b < 0 ? -1 : tr->t[b] - tr->t[a];
}

/* seconds from the first @start of @dev to the next @end; -1 if none */
static double nvf_span(struct nvf_trace *tr, const char *dev,
		       const char *start, const char *end)
{
	int a = nvf_trace_find(tr, 0, start, dev, NULL);
	int b = a < 0 ? -1 : nvf_trace_find(tr, a, end, dev, NULL);

	return b < 0 ? -1 : tr->t[b] - tr->t[a];
}

/* why a device time is missing: the lines of its migration arcs */
static void nvf_trace_dump(struct nvf_trace *tr, const char *name,
			   const char *dev)
{
	int i;

	for (i = 0; i < tr->n; i++)
		if (strstr(tr->line[i], dev) &&
		    (strstr(tr->line[i], "state") ||
		     strstr(tr->line[i], "complete_precopy")))
			fprintf(stderr, "# %s trace: %.10f %s\n", name, tr->t[i],
				tr->line[i]);
}

/* @src's device @sdev and @dst's @ddev: milliseconds inside the downtime */
static double nvf_device_ms(struct nvf_trace *src, struct nvf_trace *dst,
			    const char *sdev, const char *ddev, bool multifd)
{
	double part[5], sum = 0;
	int i;

	/* the P2P arcs are 0 where QEMU had none to make (no P2P support) */
	part[0] = nvf_arc(src, sdev, "PRE_COPY_P2P");
	part[1] = nvf_arc(src, sdev, "STOP_COPY");
	part[2] = multifd ?
		  nvf_span(src, sdev, "vfio_save_complete_precopy_thread_start",
			   "vfio_save_complete_precopy_thread_end") :
		  nvf_span(src, sdev, "vfio_save_complete_precopy_start",
			   "vfio_save_complete_precopy");
	part[3] = nvf_arc(dst, ddev, "RUNNING_P2P");
	part[4] = nvf_arc(dst, ddev, "RUNNING");
	part[0] = part[0] < 0 ? 0 : part[0];
	part[3] = part[3] < 0 ? 0 : part[3];
	for (i = 0; i < 5; i++) {
		if (part[i] < 0)
			return -1;
		sum += part[i];
	}
	return sum * 1000;
}

/*
 * Where the rest of the downtime goes, for the @n devices together, in
 * milliseconds: on the source from the first device's stop (its arc to
 * PRE_COPY_P2P, else STOP_COPY) to the last one's saved stop-copy data
 * (@win[0]), and within that to the last report of the devices' DMA logs
 * of the final RAM sync (@win[1]); on the destination from the first
 * device's arc out of RESUMING to the last one RUNNING (@win[2]).
 */
static void nvf_windows(struct nvf_trace *src, struct nvf_trace *dst, int n,
			const char (*sdev)[40], const char (*ddev)[40],
			bool multifd, double *win)
{
	double s0 = 1e300, s1 = 0, sync = 0, d0 = 1e300, d1 = 0;
	int i, a, b;

	for (i = 0; i < n; i++) {
		a = nvf_set_state(src, sdev[i], "PRE_COPY_P2P");
		if (a < 0)
			a = nvf_set_state(src, sdev[i], "STOP_COPY");
		b = nvf_trace_find(src, a, multifd ?
				   "vfio_save_complete_precopy_thread_end" :
				   "vfio_save_complete_precopy", sdev[i], NULL);
		if (a >= 0 && src->t[a] < s0)
			s0 = src->t[a];
		if (b >= 0 && src->t[b] > s1)
			s1 = src->t[b];
		a = nvf_set_state(dst, ddev[i], "RUNNING_P2P");
		if (a < 0)
			a = nvf_set_state(dst, ddev[i], "RUNNING");
		b = nvf_reached(dst, a, ddev[i], "RUNNING");
		if (a >= 0 && dst->t[a] < d0)
			d0 = dst->t[a];
		if (b >= 0 && dst->t[b] > d1)
			d1 = dst->t[b];
	}
	/* the report's trace was renamed in QEMU 10.1 */
	for (i = 0; i < src->n; i++)
		if (src->t[i] >= s0 && src->t[i] <= s1 &&
		    (!strncmp(src->line[i], "vfio_get_dirty_bitmap ", 22) ||
		     !strncmp(src->line[i], "vfio_container_query_dirty_bitmap ",
			      34)))
			sync = src->t[i] - s0;
	win[0] = s1 > s0 ? (s1 - s0) * 1000 : 0;
	win[1] = sync * 1000;
	win[2] = d1 > d0 ? (d1 - d0) * 1000 : 0;
}

/* the VM's downtime and total time from the source's query-migrate */
static void nvf_times(struct vmm *src, unsigned long long *downtime,
		      unsigned long long *total)
{
	const char *r = vmm_qmp(src, "{\"execute\": \"query-migrate\"}");

	*downtime = r ? json_u64(r, "downtime") : 0;
	*total = r ? json_u64(r, "total-time") : 0;
}

/*
 * Print the NVF line of a migration whose VMMs have quit; -EIO if a
 * device's time is not in the traces.
 */
static int nvf_report(struct qemu_mig *m, const char *test, int n,
		      const char (*sdev)[40], const char (*ddev)[40], int rep,
		      unsigned long long downtime, unsigned long long total)
{
	struct nvf_trace src = { 0 }, dst = { 0 };
	char version[32] = "?", vf_ms[MIG_MAX_VFS * 12] = "";
	double win[3];
	int i, ret;

	snprintf(version, sizeof(version), "%d.%d", m->qemu_version / 100,
		 m->qemu_version % 100);
	ret = nvf_trace_read(&m->src, &src);
	if (!ret)
		ret = nvf_trace_read(&m->dst, &dst);
	for (i = 0; !ret && i < n; i++) {
		double ms = nvf_device_ms(&src, &dst, sdev[i], ddev[i],
					  m->multifd);

		if (ms < 0) {
			fprintf(stderr, "# %s: no device time of %s/%s in the traces\n",
				test, sdev[i], ddev[i]);
			nvf_trace_dump(&src, "src", sdev[i]);
			nvf_trace_dump(&dst, "dst", ddev[i]);
			ret = -EIO;
			break;
		}
		snprintf(vf_ms + strlen(vf_ms), sizeof(vf_ms) - strlen(vf_ms),
			 "%s%.2f", i ? "," : "", ms);
	}
	if (!ret)
		nvf_windows(&src, &dst, n, sdev, ddev, m->multifd, win);
	nvf_trace_free(&src);
	nvf_trace_free(&dst);
	if (ret)
		return ret;
	printf("# NVF qemu=%s test=%s n=%d multifd=%d rep=%d ", version, test,
	       n, m->multifd, rep);
	printf("downtime_ms=%llu total_ms=%llu vf_ms=%s ", downtime, total,
	       vf_ms);
	printf("src_window_ms=%.2f sync_ms=%.2f dst_window_ms=%.2f\n", win[0],
	       win[1], win[2]);
	fflush(stdout);
	return 0;
}

/* one migration of an L2 machine with @n VFs, as qemu_migration_test's */
static void migrate_tern(struct __test_metadata *_metadata, struct qemu_mig *m,
			 int n, int multifd, int rep)
{
	char sdev[MIG_MAX_VFS][40], ddev[MIG_MAX_VFS][40];
	unsigned long long downtime, total;
	int i;

	m->multifd = multifd;
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, n));
	ASSERT_EQ(MIG_DIRTY_ROUNDS,
		  qemu_mig_dirty_rounds(m, MIG_DIRTY_ROUNDS, 0));
	ASSERT_EQ(0, qemu_mig_release(m));
	ASSERT_EQ(0, qemu_mig_wait_completed(m));
	nvf_times(&m->src, &downtime, &total);
	ASSERT_LT(0, total);
	ASSERT_EQ(0, qemu_mig_verify(m, &m->dst));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->dst)));
	/* over multifd, each VF's stop-copy data went through a save thread */
	if (multifd)
		ASSERT_EQ(n, vmm_trace_count(&m->src, "vfio_save_complete_precopy_thread_start",
					     NULL));
	for (i = 0; i < n; i++) {
		snprintf(sdev[i], sizeof(sdev[i]), "%s", m->bdf[i]);
		snprintf(ddev[i], sizeof(ddev[i]), "%s", m->bdf[n + i]);
	}
	ASSERT_EQ(0, nvf_report(m, "tern", n, (const char (*)[40])sdev,
				(const char (*)[40])ddev, rep, downtime, total));
}

/* ---- the baseline: the kernel's mtty sample, as in qemu_migration_test */

#define MTTY_CREATE "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create"
#define MTTY_IO(bar)	(0xc000 + 0x100 * (bar))
#define UART_SCR	7

static const char mtty_uuid[2][40] = {
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0c01",
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0c02",
};

static int start_mtty_vmm(const char *qemu, struct vmm *vm, const char *name,
			  int i, const char *incoming)
{
	char dev[160];
	const char *args[] = { "-msg", "timestamp=on", "-object",
			       "iommufd,id=i0", "-device", dev, NULL };

	/* mtty has no dirty tracking (it does no DMA): migrate regardless */
	snprintf(dev, sizeof(dev),
		 "vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s,iommufd=i0,addr=0x%x,enable-migration=on",
		 mtty_uuid[i], L2_SLOT(0));
	return vmm_start(vm, qemu, name, args, incoming);
}

static void migrate_mtty(struct __test_metadata *_metadata, struct qemu_mig *m,
			 int rep)
{
	unsigned long long downtime, total;
	int bar;

	m->multifd = 0;
	ASSERT_EQ(0, start_mtty_vmm(m->qemu, &m->dst, "dst", 1, MIG_URI));
	ASSERT_EQ(0, start_mtty_vmm(m->qemu, &m->src, "src", 0, NULL));
	for (bar = 0; bar < 2; bar++)
		ASSERT_EQ(8, vmm_pci_map_bar(&m->src, L2_DEVFN(0), bar,
					     MTTY_IO(bar)));
	vmm_pci_write(&m->src, L2_DEVFN(0), 0x4, 0x1);	/* I/O decode */
	for (bar = 0; bar < 2; bar++)
		vmm_outb(&m->src, MTTY_IO(bar) + UART_SCR, 0x5a + bar + rep);
	ASSERT_EQ(0, vmm_qmp_ok(&m->src,
				"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"%s\"}}",
				MIG_URI));
	ASSERT_EQ(0, qemu_mig_wait_completed(m));
	for (bar = 0; bar < 2; bar++)
		ASSERT_EQ(0x5a + bar + rep,
			  vmm_inb(&m->dst, MTTY_IO(bar) + UART_SCR));
	nvf_times(&m->src, &downtime, &total);
	ASSERT_LT(0, total);
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->dst)));
	ASSERT_EQ(0, nvf_report(m, "mtty", 1, &mtty_uuid[0], &mtty_uuid[1],
				rep, downtime, total));
}

/* TERN_NVF_COUNTS, "1,2,4,7" by default, into @counts; how many */
static int nvf_counts(int *counts)
{
	const char *env = getenv("TERN_NVF_COUNTS");
	char *end;
	int n = 0;

	if (!env || !*env)
		env = "1,2,4,7";
	while (*env && n < MIG_MAX_VFS) {
		long c = strtol(env, &end, 10);

		if (end == env || c < 1 || c > MIG_MAX_VFS)
			return -EINVAL;
		counts[n++] = c;
		env = *end == ',' ? end + 1 : end;
	}
	return *env ? -EINVAL : n;
}

TEST_F_TIMEOUT(qemu_migration_nvf_test, every_vf_of_a_pf, 7200)
{
	const char *reps_env = getenv("TERN_NVF_REPS");
	int counts[MIG_MAX_VFS], ncounts, reps, rep, c, mf, i;
	char path[128];

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_SKIP_UNLESS_VERSION(&self->m, 1000, "device state over multifd");
	SKIP_UNLESS_KERNEL_HAS(!access(MTTY_CREATE, F_OK), "mtty");
	ncounts = nvf_counts(counts);
	ASSERT_LT(0, ncounts) TH_LOG("TERN_NVF_COUNTS: counts from 1 to %d, comma-separated",
				     MIG_MAX_VFS);
	reps = reps_env && *reps_env ? atoi(reps_env) : 5;
	ASSERT_LT(0, reps) TH_LOG("TERN_NVF_REPS: at least 1");
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s",
			 mtty_uuid[i]);
		if (access(path, F_OK))
			ASSERT_EQ(0, sysfs_write(MTTY_CREATE, mtty_uuid[i]));
	}
	/* repetition 0 is the warm-up */
	for (rep = 0; rep <= reps; rep++) {
		migrate_mtty(_metadata, &self->m, rep);
		for (c = 0; c < ncounts; c++)
			for (mf = 0; mf < 2; mf++)
				migrate_tern(_metadata, &self->m, counts[c],
					     mf ? NVF_MULTIFD_CHANNELS : 0, rep);
	}
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove",
			 mtty_uuid[i]);
		sysfs_write(path, "1");
	}
}

TERN_TEST_HARNESS_MAIN
