// SPDX-License-Identifier: GPL-2.0
/*
 * The events of a migration's downtime window, on one clock (see
 * qemu_split.h): QEMU's trace lines carry the wall clock, the kernel's
 * events CLOCK_TAI, which is the wall clock plus the TAI offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "qemu_split.h"
#include "tern_setup.h"

#define SPLIT_INSTANCE		"tern_qemu_split"
#define SPLIT_MAX_EVENTS	4096
/* per CPU: a migration's pre-copy leaves the window far from the end */
#define SPLIT_BUFFER_KB		"2048"

static const char *const split_events[] = {
	"tern_core/tern_cmd_submit",
	"tern_core/tern_cmd_complete",
	"tern_vfio/tern_vf_arc",
	"tern_vfio/tern_vf_dirty_start",
	"tern_vfio/tern_vf_dirty_report",
	"tern_vfio/tern_vf_dirty_stop",
};

/* the instance while recording; "" when not */
static char split_dir[128];

struct split_event {
	int64_t us;		/* from src-downtime-start */
	int seq;		/* the order read in */
	const char *who;
	char *text;		/* "name args" */
};

struct split_events {
	struct split_event ev[SPLIT_MAX_EVENTS];
	int n;
	int dropped;
};

/* where tracefs is, mounting it if nobody has */
static int tracefs_root(char *buf, size_t len)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[160];
	unsigned int i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/instances", roots[i]);
		if (!access(path, F_OK)) {
			snprintf(buf, len, "%s", roots[i]);
			return 0;
		}
	}
	if (mount("nodev", roots[0], "tracefs", 0, NULL))
		return errno == ENODEV || errno == ENOENT ? -ENOENT : -errno;
	snprintf(buf, len, "%s", roots[0]);
	return 0;
}

static int split_write(const char *file, const char *val)
{
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "%s/%s", split_dir, file);
	ret = sysfs_write(path, val);
	if (ret)
		fprintf(stderr, "# split: %s: %s\n", path, strerror(-ret));
	return ret;
}

int qemu_split_start(void)
{
	char root[96], enable[128];
	unsigned int i;
	int ret;

	qemu_split_stop();
	ret = tracefs_root(root, sizeof(root));
	if (ret)
		return ret;
	snprintf(split_dir, sizeof(split_dir), "%s/instances/" SPLIT_INSTANCE,
		 root);
	/* one a test that died left behind */
	rmdir(split_dir);
	if (mkdir(split_dir, 0700)) {
		ret = -errno;
		split_dir[0] = 0;
		return ret;
	}
	ret = split_write("trace_clock", "tai");
	if (!ret)
		ret = split_write("buffer_size_kb", SPLIT_BUFFER_KB);
	for (i = 0; !ret && i < sizeof(split_events) / sizeof(*split_events);
	     i++) {
		snprintf(enable, sizeof(enable), "events/%s/enable",
			 split_events[i]);
		ret = split_write(enable, "1");
	}
	if (ret)
		qemu_split_stop();
	return ret;
}

void qemu_split_stop(void)
{
	if (!split_dir[0])
		return;
	/* an instance goes with its buffer and events */
	rmdir(split_dir);
	split_dir[0] = 0;
}

/* CLOCK_TAI - CLOCK_REALTIME in whole seconds: the kernel's TAI offset */
static long tai_offset_s(void)
{
	struct timespec tai, real;

	clock_gettime(CLOCK_REALTIME, &real);
	clock_gettime(CLOCK_TAI, &tai);
	return (long)((tai.tv_sec - real.tv_sec) +
		      (tai.tv_nsec - real.tv_nsec + 500000000L) / 1000000000L);
}

static void split_add(struct split_events *e, int64_t us, const char *who,
		      const char *text)
{
	struct split_event *ev;
	size_t len = strcspn(text, "\n");

	if (e->n == SPLIT_MAX_EVENTS) {
		e->dropped++;
		return;
	}
	ev = &e->ev[e->n];
	ev->text = strndup(text, len);
	if (!ev->text)
		return;
	ev->us = us;
	ev->seq = e->n;
	ev->who = who;
	e->n++;
}

/* the last src-downtime-start and the src-downtime-end after it */
static int qemu_window(struct vmm *src, int64_t *start, int64_t *end)
{
	char path[96], line[1024];
	int64_t us;
	FILE *f;

	*start = *end = -1;
	snprintf(path, sizeof(path), "%s/trace.log", src->dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *ev = vmm_trace_event(line, &us);

		if (strncmp(ev, "vmstate_downtime_checkpoint ", 28) || us < 0)
			continue;
		if (strstr(ev, " src-downtime-start")) {
			*start = us;
			*end = -1;
		} else if (strstr(ev, " src-downtime-end") && *start >= 0 &&
			   *end < 0) {
			*end = us;
		}
	}
	fclose(f);
	return *start >= 0 && *end >= *start ? 0 : -ENOENT;
}

/* @file's lines (trace.log, qemu.log) stamped inside the window */
static void qemu_events(struct split_events *e, struct vmm *vm,
			const char *file, const char *who, int64_t start,
			int64_t end)
{
	char path[96], line[1024];
	int64_t us;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", vm->dir, file);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		const char *ev = vmm_trace_event(line, &us);

		if (us >= start && us <= end)
			split_add(e, us - start, who, ev);
	}
	fclose(f);
}

/* @bdf is among @vfs[@first .. @first + @n) */
static bool bdf_in(char (*vfs)[16], int first, int n, const char *bdf)
{
	int i;

	for (i = first; i < first + n; i++)
		if (!strcmp(vfs[i], bdf))
			return true;
	return false;
}

/*
 * Whose event it is: "ksrc" or "kdst" for an event of one of the VFs (an
 * arc or DMA logging names the VF; a command names its PF and the VF's
 * index), "k" for any other.
 */
static const char *kernel_who(const char *name, const char *args,
			      char (*vfs)[16], int nvfs)
{
	char dev[32], link[160], target[160], vf[16] = "";
	const char *v;
	unsigned int index;
	ssize_t n;

	if (sscanf(args, "%31s", dev) != 1)
		return "k";
	snprintf(vf, sizeof(vf), "%s", dev);
	v = strstr(args, " vf=");
	if (!strncmp(name, "tern_cmd_", 9)) {
		vf[0] = 0;
		if (v && sscanf(v, " vf=%u", &index) == 1) {
			snprintf(link, sizeof(link),
				 "/sys/bus/pci/devices/%s/virtfn%u", dev, index);
			n = readlink(link, target, sizeof(target) - 1);
			if (n > 0) {
				target[n] = 0;
				snprintf(vf, sizeof(vf), "%s", basename(target));
			}
		}
	}
	if (bdf_in(vfs, 0, nvfs, vf))
		return "ksrc";
	if (bdf_in(vfs, nvfs, nvfs, vf))
		return "kdst";
	return "k";
}

/*
 * The kernel's events in the window; returns how many were arcs of the
 * VFs. A line of the trace file: "  comm-tid  [cpu] flags  SEC.USEC: name:
 * args".
 */
static int kernel_events(struct split_events *e, int64_t start, int64_t end,
			 long tai_s, char (*vfs)[16], int nvfs)
{
	char path[160], line[1024], name[64], text[1024];
	long long sec, usec;
	const char *who;
	int arcs = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", split_dir);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ']'), *tok, *save;
		int64_t us = -1;
		int n = 0;

		if (line[0] == '#' || !p)
			continue;
		/* the flags, if the kernel prints them, then the stamp */
		for (tok = strtok_r(p + 1, " ", &save); tok;
		     tok = strtok_r(NULL, " ", &save)) {
			if (sscanf(tok, "%lld.%lld:%n", &sec, &usec, &n) == 2 &&
			    n && tok[n] == 0) {
				us = (sec - tai_s) * 1000000 + usec;
				break;
			}
		}
		if (us < start || us > end)
			continue;
		p = strtok_r(NULL, "", &save);
		if (!p || sscanf(p, " %63[^:]: %n", name, &n) != 1 || !n)
			continue;
		p += n;
		snprintf(text, sizeof(text), "%s %s", name, p);
		who = kernel_who(name, p, vfs, nvfs);
		split_add(e, us - start, who, text);
		if (!strcmp(name, "tern_vf_arc") && strcmp(who, "k"))
			arcs++;
	}
	fclose(f);
	return arcs;
}

static int split_cmp(const void *a, const void *b)
{
	const struct split_event *x = a, *y = b;

	if (x->us != y->us)
		return x->us < y->us ? -1 : 1;
	/* same microsecond: keep the order they were read in */
	return x->seq - y->seq;
}

static void print_vfs(const char *key, char (*vfs)[16], int first, int n)
{
	int i;

	printf(" %s=", key);
	for (i = first; i < first + n; i++)
		printf("%s%s", i > first ? "," : "", vfs[i]);
	if (!n)
		printf("-");
}

int qemu_split_print(struct qemu_mig *m, const char *test)
{
	char version[32] = "?";
	struct split_events *e;
	int64_t start, end;
	long tai_s = tai_offset_s();
	int ret, i, k = 0;

	ret = qemu_window(&m->src, &start, &end);
	if (ret)
		return ret;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	qemu_mig_version(&m->src, version, sizeof(version));
	qemu_events(e, &m->src, "trace.log", "src", start, end);
	qemu_events(e, &m->dst, "trace.log", "dst", start, end);
	/* what QEMU reported meanwhile (warnings of a failed DMA map, ...) */
	qemu_events(e, &m->src, "qemu.log", "srclog", start, end);
	qemu_events(e, &m->dst, "qemu.log", "dstlog", start, end);
	if (split_dir[0])
		k = kernel_events(e, start, end, tai_s, m->bdf, m->nvfs);
	/* by time; the order read in breaks ties */
	qsort(e->ev, e->n, sizeof(*e->ev), split_cmp);
	printf("# SPLIT qemu=%s test=%s", version, test);
	print_vfs("src", m->bdf, 0, m->nvfs);
	print_vfs("dst", m->bdf, m->nvfs, m->nvfs);
	printf(" downtime_us=%lld tai_offset_s=%ld events=%d dropped=%d kernel=%s\n",
	       (long long)(end - start), tai_s, e->n, e->dropped,
	       split_dir[0] ? "yes" : "no");
	for (i = 0; i < e->n; i++) {
		printf("# EVENT %lld %s %s\n", (long long)e->ev[i].us,
		       e->ev[i].who, e->ev[i].text);
		free(e->ev[i].text);
	}
	fflush(stdout);
	free(e);
	return k;
}
