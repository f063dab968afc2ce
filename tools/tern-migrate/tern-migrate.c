// SPDX-License-Identifier: GPL-2.0
/*
 * tern-migrate: migrate a tern VF's state to another VF through the VFIO
 * migration v2 uAPI, the way a VMM does: PRE_COPY passes while the source
 * runs, until the dirty data converges below a threshold or a pass bound
 * is hit, then STOP_COPY, and the destination is resumed.
 *
 * usage: tern-migrate [options] SRC_BDF DST_BDF
 *   --legacy          use the group/container path (default: iommufd cdev)
 *   --max-passes N    bound on pre-copy passes (default 8)
 *   --threshold B     stop pre-copy when dirty bytes <= B (default 64 KiB)
 *   --no-precopy      go straight to STOP_COPY
 *   --workload R      rewrite R device-memory pages per millisecond of the
 *                     source from a second process while pre-copy runs
 *   --fill SEED       fill the source's device memory with a pattern first
 *   --verify          compare source and destination device memory after
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/tern/tern_if.h>

#include "vfio_util.h"

#define CHUNK		(1 << 20)
#define PAGE		4096

struct opts {
	enum vfio_access_path path;
	unsigned int max_passes;
	uint64_t threshold;
	bool precopy;
	unsigned int workload;
	uint64_t fill_seed;
	bool fill;
	bool verify;
};

struct totals {
	unsigned int passes;
	uint64_t precopy_bytes;
	uint64_t stopcopy_bytes;
	double stopcopy_s;
	double total_s;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "tern-migrate: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void open_vf(struct vfio_dev *dev, const char *bdf,
		    enum vfio_access_path path)
{
	char sysfs[64];
	int ret;

	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf);
	ret = vfio_dev_open(dev, sysfs, path);
	if (ret)
		die(bdf, ret);
}

/* Move what read() gives now from @src_fd to @dst_fd; returns the count. */
static uint64_t pump(int src_fd, int dst_fd, int *end)
{
	static uint8_t buf[CHUNK];
	uint64_t moved = 0;

	*end = mig_stream_pump(src_fd, dst_fd, buf, sizeof(buf), &moved);
	if (*end && *end != -ENOMSG)
		die("migration data", *end);
	return moved;
}

static pid_t start_workload(uint64_t *devmem, size_t size, unsigned int rate)
{
	pid_t pid = fork();
	uint64_t i = 0, pages = size / PAGE;

	if (pid)
		return pid;
	for (;;) {
		struct timespec ms = { 0, 1000000 };
		unsigned int k;

		for (k = 0; k < rate; k++, i++)
			devmem[(i * 7919 % pages) * (PAGE / 8)] = i;
		nanosleep(&ms, NULL);
	}
}

static void migrate(struct vfio_dev *src, struct vfio_dev *dst,
		    const struct opts *o, pid_t *workload, struct totals *t)
{
	struct vfio_precopy_info info;
	double start = monotonic_s(), stop;
	int sfd, rfd, end, ret;

	ret = vfio_mig_set_state(dst, VFIO_DEVICE_STATE_RESUMING, &rfd);
	if (ret)
		die("destination RESUMING", ret);
	if (o->precopy) {
		ret = vfio_mig_set_state(src, VFIO_DEVICE_STATE_PRE_COPY, &sfd);
		if (ret)
			die("source PRE_COPY", ret);
		for (;;) {
			t->precopy_bytes += pump(sfd, rfd, &end);
			t->passes++;
			ret = vfio_mig_precopy_info(sfd, &info);
			if (ret)
				die("PRECOPY_INFO", ret);
			fprintf(stderr,
				"\rpre-copy pass %u: %8.1f MiB sent, %8llu KiB dirty",
				t->passes, t->precopy_bytes / 1048576.0,
				(unsigned long long)info.dirty_bytes >> 10);
			if ((!info.initial_bytes &&
			     info.dirty_bytes <= o->threshold) ||
			    t->passes >= o->max_passes)
				break;
		}
		fputc('\n', stderr);
	}
	if (*workload > 0) {
		/* the guest stops: nothing may write device memory any more */
		kill(*workload, SIGKILL);
		waitpid(*workload, NULL, 0);
		*workload = 0;
	}

	stop = monotonic_s();
	if (o->precopy) {
		ret = vfio_mig_set_state(src, VFIO_DEVICE_STATE_STOP_COPY, NULL);
	} else {
		ret = vfio_mig_set_state(src, VFIO_DEVICE_STATE_STOP_COPY,
					 &sfd);
	}
	if (ret)
		die("source STOP_COPY", ret);
	t->stopcopy_bytes = pump(sfd, rfd, &end);
	if (end)
		die("stop-copy read", end);
	ret = vfio_mig_set_state(src, VFIO_DEVICE_STATE_STOP, NULL);
	if (ret)
		die("source STOP", ret);
	ret = vfio_mig_set_state(dst, VFIO_DEVICE_STATE_RUNNING, NULL);
	if (ret)
		die("destination RUNNING (stream refused)", ret);
	t->stopcopy_s = monotonic_s() - stop;
	t->total_s = monotonic_s() - start;
	close(sfd);
	close(rfd);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "legacy", no_argument, NULL, 'l' },
		{ "max-passes", required_argument, NULL, 'p' },
		{ "threshold", required_argument, NULL, 't' },
		{ "no-precopy", no_argument, NULL, 'n' },
		{ "workload", required_argument, NULL, 'w' },
		{ "fill", required_argument, NULL, 'f' },
		{ "verify", no_argument, NULL, 'v' },
		{ }
	};
	struct opts o = {
		.path = VFIO_PATH_CDEV, .max_passes = 8, .threshold = 65536,
		.precopy = true,
	};
	struct vfio_dev src, dst;
	struct totals t = { };
	uint64_t *smem, *dmem;
	size_t ssize, dsize, i;
	pid_t workload = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.path = VFIO_PATH_LEGACY; break;
		case 'p': o.max_passes = strtoul(optarg, NULL, 0); break;
		case 't': o.threshold = strtoull(optarg, NULL, 0); break;
		case 'n': o.precopy = false; break;
		case 'w': o.workload = strtoul(optarg, NULL, 0); break;
		case 'f': o.fill = true; o.fill_seed = strtoull(optarg, NULL, 0); break;
		case 'v': o.verify = true; break;
		default: return 2;
		}
	}
	if (argc - optind != 2 || !o.max_passes) {
		fprintf(stderr, "usage: tern-migrate [options] SRC_BDF DST_BDF (see the source)\n");
		return 2;
	}
	open_vf(&src, argv[optind], o.path);
	open_vf(&dst, argv[optind + 1], o.path);
	smem = vfio_region_mmap(&src, TERN_VF_BAR_DEVMEM, &ssize);
	dmem = vfio_region_mmap(&dst, TERN_VF_BAR_DEVMEM, &dsize);
	if (!smem || !dmem || ssize != dsize)
		die("device memory mmap", -EINVAL);
	if (o.fill)
		for (i = 0; i < ssize / 8; i++)
			smem[i] = o.fill_seed * 0x9e3779b97f4a7c15ull + i;
	if (o.workload && o.precopy)
		workload = start_workload(smem, ssize, o.workload);

	migrate(&src, &dst, &o, &workload, &t);

	printf("%-28s %s -> %s\n", "migrated", argv[optind], argv[optind + 1]);
	printf("%-28s %u\n", "pre-copy passes", t.passes);
	printf("%-28s %.2f MiB\n", "pre-copy bytes", t.precopy_bytes / 1048576.0);
	printf("%-28s %.2f KiB\n", "stop-copy bytes", t.stopcopy_bytes / 1024.0);
	printf("%-28s %.1f ms\n", "stop-copy time (downtime)", t.stopcopy_s * 1e3);
	printf("%-28s %.1f ms\n", "total time", t.total_s * 1e3);
	if (o.verify) {
		int same = !memcmp(smem, dmem, ssize);

		printf("%-28s %s\n", "device memory",
		       same ? "identical on both VFs" : "DIFFERS");
		if (!same)
			return 1;
	}
	return 0;
}
