// SPDX-License-Identifier: GPL-2.0
/*
 * tern-migrate: migrate a tern VF's state to another VF through the VFIO
 * migration v2 uAPI, the way a VMM does: PRE_COPY passes while the source
 * runs, until the dirty data converges below a threshold or a pass bound
 * is hit, then STOP_COPY, and the destination is resumed.
 *
 * With --check it migrates nothing: it says whether SRC's stream would
 * load on DST, from both VFs' migration_compat attributes.
 *
 * The options, their defaults and the exit status: tern-migrate --help
 * (the text is below, in usage[]).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvfio.h>
#include <tern/tern_if.h>

#define CLI_PROG	"tern-migrate"
#include "cli.h"
#include "mig.h"


struct opts {
	const char *iommu_mode;
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

/*
 * One side of the migration: a VF opened by libvfio on an IOMMU of its own,
 * as the VMMs at both ends have theirs; libvfio maps its BARs.
 */
struct vf {
	struct iommu *iommu;
	struct vfio_pci_device *device;
	uint64_t *devmem;
	size_t devmem_size;
};

static void open_vf(struct vf *vf, const char *bdf, const char *iommu_mode)
{
	struct vfio_pci_bar *bar;

	vf->iommu = iommu_init(iommu_mode);
	vf->device = vfio_pci_device_init(bdf, vf->iommu);
	bar = &vf->device->bars[TERN_VF_BAR_DEVMEM];
	vf->devmem = bar->vaddr;
	vf->devmem_size = bar->info.size;
}

static void close_vf(struct vf *vf)
{
	vfio_pci_device_cleanup(vf->device);
	iommu_cleanup(vf->iommu);
}

/* Move what read() gives now from @src_fd to @dst_fd; returns the count. */
static uint64_t pump(int src_fd, int dst_fd, int *end)
{
	static struct vfio_mig_stream buf;
	uint64_t moved;

	*end = mig_pump(src_fd, dst_fd, &buf, UINT64_MAX, &moved);
	if (*end && *end != -ENOMSG)
		cli_die("migration data", *end);
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

static void migrate(struct vfio_pci_device *src, struct vfio_pci_device *dst,
		    const struct opts *o, pid_t *workload, struct totals *t)
{
	struct vfio_precopy_info info;
	double start = monotonic_s(), stop;
	int sfd, rfd, end, ret;

	mig_set_state(dst, VFIO_DEVICE_STATE_RESUMING, &rfd,
		      "destination RESUMING");
	if (o->precopy) {
		mig_set_state(src, VFIO_DEVICE_STATE_PRE_COPY, &sfd,
			      "source PRE_COPY");
		for (;;) {
			t->precopy_bytes += pump(sfd, rfd, &end);
			t->passes++;
			ret = __vfio_mig_precopy_info(sfd, 0, &info);
			if (ret)
				cli_die("PRECOPY_INFO", ret);
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
	mig_set_state(src, VFIO_DEVICE_STATE_STOP_COPY,
		      o->precopy ? NULL : &sfd, "source STOP_COPY");
	t->stopcopy_bytes = pump(sfd, rfd, &end);
	if (end)
		cli_die("stop-copy read", end);
	mig_set_state(src, VFIO_DEVICE_STATE_STOP, NULL, "source STOP");
	mig_set_state(dst, VFIO_DEVICE_STATE_RUNNING, NULL,
		      "destination RUNNING (stream refused)");
	t->stopcopy_s = monotonic_s() - stop;
	t->total_s = monotonic_s() - start;
	close(sfd);
	close(rfd);
}

/* A VF's migration_compat attribute (Documentation/tern/drivers.rst). */
struct compat {
	unsigned int vendor, device;
	unsigned long long devmem_size;
	unsigned int stream, loads_min, loads_max;
};

static void read_compat(const char *bdf, struct compat *c)
{
	char path[128], line[256] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/migration_compat",
		 bdf);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, CLI_PROG ": %s: %s (is the VF bound to tern_vfio_pci?)\n",
			path, strerror(errno));
		exit(CLI_EXIT_USAGE);
	}
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "device=%x:%x devmem_size=%llu stream=%u loads=%u-%u",
		   &c->vendor, &c->device, &c->devmem_size, &c->stream,
		   &c->loads_min, &c->loads_max) != 6) {
		fprintf(stderr, CLI_PROG ": %s: cannot parse '%s'\n", path,
			strtok(line, "\n") ?: "");
		exit(CLI_EXIT_USAGE);
	}
	fclose(f);
}

/*
 * The rule: SRC's stream loads on DST iff the device and the device memory
 * size are equal and DST loads SRC's stream version. A refusal is said as
 * tern-vfio-pci logs it when RESUMING meets the stream's header, with the
 * checks in the same order.
 */
static int check(const char *src_bdf, const char *dst_bdf)
{
	struct compat s, d;

	read_compat(src_bdf, &s);
	read_compat(dst_bdf, &d);
	if (s.stream < d.loads_min || s.stream > d.loads_max)
		printf("incompatible: stream version %u is %s than this VF loads (%u..%u)\n",
		       s.stream, s.stream > d.loads_max ? "newer" : "older",
		       d.loads_min, d.loads_max);
	else if (s.vendor != d.vendor)
		printf("incompatible: vendor_id is 0x%04x in the stream, 0x%04x on this VF\n",
		       s.vendor, d.vendor);
	else if (s.device != d.device)
		printf("incompatible: device_id is 0x%04x in the stream, 0x%04x on this VF\n",
		       s.device, d.device);
	else if (s.devmem_size != d.devmem_size)
		printf("incompatible: devmem_size is %llu in the stream, %llu on this VF\n",
		       s.devmem_size, d.devmem_size);
	else {
		printf("compatible\n");
		return 0;
	}
	return CLI_EXIT_FAIL;
}

static const char usage[] =
"usage: tern-migrate [options] SRC_BDF DST_BDF\n"
"       tern-migrate --check SRC_BDF DST_BDF\n"
"\n"
"Migrate the state of tern VF SRC_BDF to tern VF DST_BDF through the VFIO\n"
"migration v2 uAPI, as a VMM does: pre-copy passes while the source runs,\n"
"then STOP_COPY, then the destination is resumed. Both are full PCI\n"
"addresses (e.g. 0000:01:00.1 and 0000:01:00.2) of VFs bound to\n"
"tern-vfio-pci.\n"
"\n"
"With --check nothing is migrated: it prints 'compatible' if a stream\n"
"saved from SRC_BDF would load on DST_BDF, else 'incompatible: ' and the\n"
"reason, in the words tern-vfio-pci logs when it refuses one (from both\n"
"VFs' migration_compat attributes; no option of a migration goes\n"
"with it).\n"
"\n"
"options:\n"
"  --legacy          open the VFs through the VFIO group and a type1\n"
"                    container, /dev/vfio/<group> (default: the iommufd\n"
"                    cdev, /dev/vfio/devices/vfioN); needed on a kernel\n"
"                    without CONFIG_VFIO_DEVICE_CDEV, such as Debian's 6.12\n"
"  --max-passes N    end pre-copy after at most N passes (default 8, N >= 1)\n"
"  --threshold SIZE  end pre-copy once the initial data is sent and at most\n"
"                    SIZE bytes are dirty (default 64K)\n"
"  --no-precopy      go straight to STOP_COPY; contradicts --max-passes,\n"
"                    --threshold and --workload, which only act in pre-copy\n"
"  --workload R      while pre-copy runs, rewrite R pages (4 KiB) of the\n"
"                    source's device memory per millisecond from a second\n"
"                    process (default 0: none)\n"
"  --fill SEED       first fill the source's device memory with a pattern\n"
"                    made from SEED (default: leave it as it is)\n"
"  --verify          compare both VFs' device memory afterwards\n"
"  --check           migrate nothing: say whether SRC_BDF's stream would\n"
"                    load on DST_BDF (see above)\n"
"  -h, --help        print this help and exit\n"
"\n"
"SIZE is a decimal number of bytes, optionally with a binary suffix: K, M,\n"
"G, T or KiB, MiB, GiB, TiB (e.g. 4096, 64K, 1M). N, R and SEED are\n"
"decimal whole numbers without suffix.\n"
"\n"
"Prints the passes, bytes per phase, stop-copy time (the device's share of\n"
"the downtime) and total time on stdout, pre-copy progress on stderr.\n"
"\n"
"exit status:\n"
"  0  migrated (and, with --verify, device memory identical); --check:\n"
"     compatible\n"
"  1  failed: no such PCI device, a VFIO or migration error, or --verify\n"
"     found the device memory differing; --check: incompatible\n"
"  2  usage error: unknown option, bad value, contradictory options or\n"
"     missing arguments; nothing was done; --check: an attribute that\n"
"     cannot be read (no such VF, or not bound to tern-vfio-pci)\n";

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
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ }
	};
	struct opts o = {
		.iommu_mode = MODE_IOMMUFD, .max_passes = 8,
		.threshold = 65536, .precopy = true,
	};
	const char *precopy_opt = NULL;	/* an option only pre-copy uses */
	const char *migrate_opt = NULL;	/* an option only a migration uses */
	bool check_only = false;
	struct totals t = { };
	struct vf src, dst;
	pid_t workload = 0;
	int c, ret = 0;
	size_t i;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o.iommu_mode = MODE_VFIO_TYPE1V2_IOMMU;
			break;
		case 'p':
			o.max_passes = cli_count("--max-passes", optarg, 1,
						 UINT_MAX);
			precopy_opt = "--max-passes";
			break;
		case 't':
			o.threshold = cli_size("--threshold", optarg);
			precopy_opt = "--threshold";
			break;
		case 'n':
			o.precopy = false;
			migrate_opt = "--no-precopy";
			break;
		case 'w':
			o.workload = cli_count("--workload", optarg, 0,
					       UINT_MAX);
			precopy_opt = "--workload";
			break;
		case 'f':
			o.fill = true;
			migrate_opt = "--fill";
			o.fill_seed = cli_count("--fill", optarg, 0,
						UINT64_MAX);
			break;
		case 'v':
			o.verify = true;
			migrate_opt = "--verify";
			break;
		case 'c':
			check_only = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			cli_bad_option(c, argv);
		}
	}
	/* silently ignoring one of them would measure something else */
	if (!o.precopy && precopy_opt)
		cli_usage_error("%s only acts in pre-copy: it contradicts --no-precopy",
				precopy_opt);
	cli_src_dst(argc, argv);
	if (check_only) {
		if (migrate_opt || precopy_opt)
			cli_usage_error("%s contradicts --check, which migrates nothing",
					migrate_opt ?: precopy_opt);
		return check(argv[optind], argv[optind + 1]);
	}
	cli_pci_present(argv[optind]);
	cli_pci_present(argv[optind + 1]);

	open_vf(&src, argv[optind], o.iommu_mode);
	open_vf(&dst, argv[optind + 1], o.iommu_mode);
	if (!src.devmem || !dst.devmem || src.devmem_size != dst.devmem_size)
		cli_die("device memory mmap", -EINVAL);
	if (o.fill)
		for (i = 0; i < src.devmem_size / 8; i++)
			src.devmem[i] = o.fill_seed * 0x9e3779b97f4a7c15ull + i;
	if (o.workload && o.precopy)
		workload = start_workload(src.devmem, src.devmem_size,
					  o.workload);

	migrate(src.device, dst.device, &o, &workload, &t);

	printf("%-28s %s -> %s\n", "migrated", argv[optind], argv[optind + 1]);
	printf("%-28s %u\n", "pre-copy passes", t.passes);
	printf("%-28s %s\n", "pre-copy bytes", cli_human(t.precopy_bytes).s);
	printf("%-28s %s\n", "stop-copy bytes", cli_human(t.stopcopy_bytes).s);
	printf("%-28s %.1f ms\n", "stop-copy time (downtime)",
	       t.stopcopy_s * 1e3);
	printf("%-28s %.1f ms\n", "total time", t.total_s * 1e3);
	if (o.verify) {
		bool same = !memcmp(src.devmem, dst.devmem, src.devmem_size);

		printf("%-28s %s\n", "device memory",
		       same ? "identical on both VFs" : "DIFFERS");
		if (!same)
			ret = CLI_EXIT_FAIL;
	}
	close_vf(&src);
	close_vf(&dst);
	return ret;
}
