// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency torture: on two VFs at once, threads do what VMMs, guests
 * and faults do, at random and all at the same time, for a bounded time:
 *
 * - a VMM thread per VF: state changes to any state (the driver walks the
 *   arcs), VFIO_DEVICE_RESET, closing the data fd;
 * - an I/O thread per VF: read() and write() on the current data fd,
 *   PRECOPY_INFO, MIG_DATA_SIZE;
 * - a guest thread per VF: engine jobs (queued and rung, never waited
 *   for), DMA logging start, report and stop, engine restarts;
 * - a firmware thread: FAIL rules on random opcodes, STALLs answered late
 *   (RELEASE) or aborted (CLEAR), with a 200 ms command timeout.
 *
 * Every call must fail, if it fails, with an errno of the uAPI's set for
 * it. Afterwards both VFs must come back with VFIO_DEVICE_RESET: RUNNING,
 * a working engine, DMA logging that sees a write, and a save of one
 * loading on the other. The kernel log must show no splat (the rig judges
 * it: lockdep, DEBUG_OBJECTS, kmemleak; KASAN in make check-kasan).
 *
 * The two VFs share one IOMMU address space, as in one VM: iommufd where
 * the kernel has it (DMA logging needs it), else a type1 container. The
 * threads use only the calls of libvfio and its tern driver that return
 * an error rather than assert on it.
 *
 * TERN_TORTURE_SECONDS (default 60) and TERN_TORTURE_SEED (default: the
 * time, printed). The seed fixes each thread's choices, not the
 * interleaving.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

#define NVF		2
#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"
#define LOG_SPAN	(64 * PAGE)
#define ARENA_SIZE	SZ_4M

static const enum vfio_device_mig_state states[] = {
	VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
	VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
	VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY,
	VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

/* firmware opcodes the rules pick from */
static const u8 opcodes[] = {
	TERN_OP_VF_QUIESCE, TERN_OP_VF_FREEZE, TERN_OP_VF_RUN,
	TERN_OP_SAVE_BEGIN, TERN_OP_SAVE_QUERY, TERN_OP_SAVE_READ,
	TERN_OP_SAVE_END, TERN_OP_LOAD_BEGIN, TERN_OP_LOAD_WRITE,
	TERN_OP_LOAD_COMMIT, TERN_OP_DIRTY_START, TERN_OP_DIRTY_READ_CLEAR,
	TERN_OP_DIRTY_STOP,
};

struct torture;

struct vf_slot {
	struct torture *t;
	int idx;
	struct vfio_pci_device *device;
	struct tern_arena arena;
	pthread_mutex_t lock;	/* data_fd */
	int data_fd;		/* current migration data fd, or -1 */
	u8 *dma;		/* LOG_SPAN bytes of DMA memory */
	iova_t iova;
	u64 *bitmap;
	bool logging;		/* the kernel offers DMA logging */
	pthread_t threads[3];
};

struct torture {
	struct vf_slot slot[NVF];
	char fault_path[128];
	atomic_bool stop;
	atomic_ulong ops, faults;
	pthread_mutex_t fail_lock;
	char failure[256];	/* the first unexpected errno, "" if none */
	u64 seed;
	pthread_t firmware;
};

static u64 rnd(u64 *r)
{
	*r ^= *r >> 12;
	*r ^= *r << 25;
	*r ^= *r >> 27;
	return *r * 0x2545f4914f6cdd1dull;
}

static u64 thread_rng(struct torture *t, int n)
{
	return ((t->seed + 1) * 0x9e3779b97f4a7c15ull ^
		(u64)n * 0xbf58476d1ce4e5b9ull) | 1;
}

/* @err (a positive errno, 0 for success) must be one of @allowed */
static void check(struct torture *t, const char *op, int vf, int err,
		  const int *allowed)
{
	atomic_fetch_add(&t->ops, 1);
	if (!err)
		return;
	for (; *allowed; allowed++)
		if (*allowed == err)
			return;
	pthread_mutex_lock(&t->fail_lock);
	if (!t->failure[0])
		snprintf(t->failure, sizeof(t->failure), "VF %d: %s: %s (%d)",
			 vf, op, strerror(err), err);
	pthread_mutex_unlock(&t->fail_lock);
}

/* a firmware status (ABORTED: ECANCELED), a timeout, a reset or ERROR */
#define FW_ERRNOS	EIO, ETIMEDOUT, EBUSY, ENODEV, ENOMEM, EFAULT, EPROTO, \
			ECANCELED, EAGAIN, EINVAL
static const int set_state_errnos[] = { FW_ERRNOS, 0 };
static const int reset_errnos[] = { EIO, EBUSY, ETIMEDOUT, EAGAIN, 0 };
/* read() of a resume fd, write() of a save fd: not that file's */
static const int io_errnos[] = { FW_ERRNOS, ENOMSG, EBADF, 0 };
static const int info_errnos[] = { FW_ERRNOS, ENOTTY, 0 };
static const int log_errnos[] = { FW_ERRNOS, EOPNOTSUPP, ENOTTY, 0 };

static int take_fd(struct vf_slot *s)
{
	int fd = -1;

	pthread_mutex_lock(&s->lock);
	if (s->data_fd >= 0)
		fd = dup(s->data_fd);
	pthread_mutex_unlock(&s->lock);
	return fd;
}

static void put_data_fd(struct vf_slot *s, int fd)
{
	pthread_mutex_lock(&s->lock);
	if (s->data_fd >= 0)
		close(s->data_fd);
	s->data_fd = fd;
	pthread_mutex_unlock(&s->lock);
}

static void *vmm_thread(void *arg)
{
	struct vf_slot *s = arg;
	struct torture *t = s->t;
	u64 r = thread_rng(t, 3 * s->idx);
	int fd, ret;

	while (!atomic_load(&t->stop)) {
		switch (rnd(&r) % 16) {
		case 0:
			ret = -__vfio_pci_device_reset(s->device);
			check(t, "VFIO_DEVICE_RESET", s->idx, ret, reset_errnos);
			break;
		case 1:
			put_data_fd(s, -1);
			break;
		default:
			ret = -__vfio_pci_mig_state_set(s->device,
							states[rnd(&r) % 7],
							&fd);
			check(t, "SET_STATE", s->idx, ret, set_state_errnos);
			if (fd >= 0)
				put_data_fd(s, fd);
			break;
		}
	}
	return NULL;
}

static void *io_thread(void *arg)
{
	struct vf_slot *s = arg;
	struct torture *t = s->t;
	u64 r = thread_rng(t, 3 * s->idx + 1);
	static __thread u8 buf[65536];
	struct vfio_precopy_info info;
	u64 length;
	ssize_t n;
	int fd;

	while (!atomic_load(&t->stop)) {
		unsigned int op = rnd(&r) % 8;

		if (op == 7) {
			check(t, "MIG_DATA_SIZE", s->idx,
			      -__vfio_pci_mig_data_size(s->device, &length),
			      info_errnos);
			continue;
		}
		fd = take_fd(s);
		if (fd < 0) {
			usleep(1000);	/* nothing to do until a data fd exists */
			continue;
		}
		if (op < 4) {
			n = read(fd, buf, 1 + rnd(&r) % sizeof(buf));
			check(t, "read", s->idx, n < 0 ? errno : 0, io_errnos);
		} else if (op < 6) {
			size_t len = 1 + rnd(&r) % 4096, i;

			for (i = 0; i < len; i++)
				buf[i] = rnd(&r);
			n = write(fd, buf, len);
			check(t, "write", s->idx, n < 0 ? errno : 0, io_errnos);
		} else {
			check(t, "PRECOPY_INFO", s->idx,
			      -__vfio_mig_precopy_info(fd, 0, &info),
			      info_errnos);
			if (info.flags & ~VFIO_PRECOPY_INFO_REINIT)
				check(t, "PRECOPY_INFO flags", s->idx, EPROTO,
				      (const int[]){ 0 });
		}
		close(fd);
	}
	return NULL;
}

static void *guest_thread(void *arg)
{
	struct vf_slot *s = arg;
	struct torture *t = s->t;
	struct vfio_pci_device *device = s->device;
	u64 r = thread_rng(t, 3 * s->idx + 2), psz = PAGE;
	struct vfio_device_feature_dma_logging_range range = {
		.iova = s->iova,
		.length = LOG_SPAN,
	};
	struct tern_desc_cpl cpl;

	while (!atomic_load(&t->stop)) {
		switch (rnd(&r) % 8) {
		case 0:
			/* a reset disables the engine: the guest starts it */
			__tern_engine_start(device, 64);
			break;
		case 1:
		case 2:
			while (!__tern_reap(device, &cpl, 0))
				;
			if (!__tern_queue(device, TERN_DESC_OP_FILL, 0, PAGE,
					  rnd(&r), s->iova + PAGE * (rnd(&r) % 64),
					  rnd(&r)))
				tern_doorbell(device);
			break;
		case 3:
			if (!s->logging)
				break;
			check(t, "DMA_LOGGING_START", s->idx,
			      -__vfio_pci_dma_logging_start(device, &range, 1,
							    &psz),
			      log_errnos);
			break;
		case 4:
		case 5:
			if (!s->logging)
				break;
			check(t, "DMA_LOGGING_REPORT", s->idx,
			      -__vfio_pci_dma_logging_report(device, s->iova,
							     LOG_SPAN, PAGE,
							     s->bitmap),
			      log_errnos);
			break;
		case 6:
			if (!s->logging)
				break;
			check(t, "DMA_LOGGING_STOP", s->idx,
			      -__vfio_pci_dma_logging_stop(device), log_errnos);
			break;
		default:
			usleep(rnd(&r) % 2000);
			break;
		}
	}
	return NULL;
}

static void *firmware_thread(void *arg)
{
	struct torture *t = arg;
	u64 r = thread_rng(t, 99);
	char rule[64];

	while (!atomic_load(&t->stop)) {
		u8 op = opcodes[rnd(&r) % sizeof(opcodes)];

		if (rnd(&r) & 1)
			snprintf(rule, sizeof(rule), "fail 0x%02x 1", op);
		else
			snprintf(rule, sizeof(rule), "stall 0x%02x 1", op);
		if (!sysfs_write(t->fault_path, rule))
			atomic_fetch_add(&t->faults, 1);
		usleep(50000 + rnd(&r) % 200000);
		/* stalled commands are answered late, or aborted */
		sysfs_write(t->fault_path, rnd(&r) & 1 ? "release" : "clear");
	}
	sysfs_write(t->fault_path, "clear");
	return NULL;
}

FIXTURE(tern_torture_test)
{
	struct iommu *iommu;
	char bdf[NVF][16];
	struct torture t;
	char timeout[32];
};

FIXTURE_SETUP(tern_torture_test)
{
	const char *iommu_mode = vfio_iommu_mode_available(MODE_IOMMUFD, NULL) ?
				 MODE_IOMMUFD : MODE_VFIO_TYPE1V2_IOMMU;
	int i;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects faults on PF %s, seen by all its VFs",
				     tern_pf);
	TERN_PREPARE_OR_SKIP(TERN_PF_DRIVER, TERN_VF_DRIVER, NVF, self->bdf);
	pthread_mutex_init(&self->t.fail_lock, NULL);
	snprintf(self->t.fault_path, sizeof(self->t.fault_path),
		 "/sys/kernel/debug/tern_core/%s/fw_fault", tern_pf);
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, self->timeout,
				sizeof(self->timeout)));
	self->iommu = iommu_init(iommu_mode);
	for (i = 0; i < NVF; i++) {
		struct vf_slot *s = &self->t.slot[i];

		s->t = &self->t;
		s->idx = i;
		s->data_fd = -1;
		pthread_mutex_init(&s->lock, NULL);
		tern_arena_init(&s->arena, self->iommu, ARENA_SIZE);
		s->device = tern_vf_init(self->bdf[i], self->iommu, &s->arena);
		s->logging = tern_dma_logging_available(s->device);
		/* without it (a kernel that lacks it) the rest still runs */
		if (!s->logging)
			ASSERT_TRUE(kernel_may_lack("dma_logging"));
		s->dma = tern_arena_alloc(&s->arena, LOG_SPAN, PAGE);
		ASSERT_NE(NULL, s->dma);
		s->iova = tern_arena_iova(&s->arena, s->dma);
		s->bitmap = calloc(1, LOG_SPAN / PAGE / 8);
		ASSERT_NE(NULL, s->bitmap);
		ASSERT_EQ(0, __tern_engine_start(s->device, 64));
	}
}

FIXTURE_TEARDOWN(tern_torture_test)
{
	int i;

	sysfs_write(self->t.fault_path, "clear");
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	/* B's engine may hold A's ring addresses, from A's saved state */
	for (i = NVF - 1; i >= 0; i--) {
		struct vf_slot *s = &self->t.slot[i];

		if (s->data_fd >= 0)
			close(s->data_fd);
		if (s->device)
			tern_vf_cleanup(s->device, &s->arena);
		free(s->bitmap);
	}
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

/* after the storm: the VF recovers by reset and works in every respect */
static void recovers(struct __test_metadata *_metadata, struct vf_slot *s)
{
	struct vfio_pci_device *device = s->device;
	struct vfio_device_feature_dma_logging_range range = {
		.iova = s->iova,
		.length = LOG_SPAN,
	};
	struct tern_desc_cpl cpl;
	u64 psz = PAGE;
	u32 result, state;

	put_data_fd(s, -1);
	ASSERT_EQ(0, __vfio_pci_device_reset(device));
	ASSERT_EQ(0, __vfio_pci_mig_state_get(device, &state));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, state);
	ASSERT_EQ(0, __tern_engine_start(device, 64));
	while (!__tern_reap(device, &cpl, 0))
		;
	if (s->logging) {
		ASSERT_EQ(0, __vfio_pci_dma_logging_stop(device));
		ASSERT_EQ(0, __vfio_pci_dma_logging_start(device, &range, 1,
							  &psz));
	}
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(device, TERN_DESC_OP_FILL, 0, PAGE, 0x5a,
			   s->iova + 7 * PAGE, &result));
	if (s->logging) {
		memset(s->bitmap, 0, LOG_SPAN / PAGE / 8);
		ASSERT_EQ(0, __vfio_pci_dma_logging_report(device, s->iova,
							   LOG_SPAN, PAGE,
							   s->bitmap));
		ASSERT_TRUE(s->bitmap[0] & 1ull << 7);
		ASSERT_EQ(0, __vfio_pci_dma_logging_stop(device));
	}
}

TEST_F_TIMEOUT(tern_torture_test, two_vfs, 14400)
{
	struct torture *t = &self->t;
	const char *env = getenv("TERN_TORTURE_SECONDS");
	long seconds = env ? strtol(env, NULL, 0) : 60;
	struct vf_slot *a = &t->slot[0], *b = &t->slot[1];
	void *(*fn[3])(void *) = { vmm_thread, io_thread, guest_thread };
	struct vfio_pci_bar *devmem_a = &a->device->bars[TERN_VF_BAR_DEVMEM];
	struct vfio_pci_bar *devmem_b = &b->device->bars[TERN_VF_BAR_DEVMEM];
	struct vfio_mig_stream stream = {};
	ssize_t n;
	int i, k, fd;

	env = getenv("TERN_TORTURE_SEED");
	t->seed = env ? strtoull(env, NULL, 0) : (u64)time(NULL);
	printf("# seed %llu (TERN_TORTURE_SEED), %ld s on two VFs\n",
	       (unsigned long long)t->seed, seconds);
	ASSERT_LT(0, seconds);
	/* stalled commands time out fast, and are then answered late */
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "200"));
	ASSERT_EQ(0, pthread_create(&t->firmware, NULL, firmware_thread, t));
	for (i = 0; i < NVF; i++)
		for (k = 0; k < 3; k++)
			ASSERT_EQ(0, pthread_create(&t->slot[i].threads[k], NULL,
						    fn[k], &t->slot[i]));
	sleep(seconds);		/* the bounded run time, not a synchronisation */
	atomic_store(&t->stop, true);
	for (i = 0; i < NVF; i++)
		for (k = 0; k < 3; k++)
			pthread_join(t->slot[i].threads[k], NULL);
	pthread_join(t->firmware, NULL);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, self->timeout));
	printf("# %lu calls, %lu firmware faults injected\n",
	       atomic_load(&t->ops), atomic_load(&t->faults));
	EXPECT_STREQ("", t->failure);

	for (i = 0; i < NVF; i++)
		recovers(_metadata, &t->slot[i]);
	/* and a save of one loads on the other */
	memset(devmem_a->vaddr, 0x3c, 64 * PAGE);
	ASSERT_EQ(0, __vfio_pci_mig_state_set(a->device,
					      VFIO_DEVICE_STATE_STOP_COPY, &fd));
	while ((n = __vfio_mig_read(fd, &stream, SZ_1M)) > 0)
		;
	ASSERT_EQ(0, n);
	close(fd);
	ASSERT_EQ(0, tern_mig_state_set(a->device, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(b->device,
					      VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_EQ(0, __vfio_mig_write(fd, stream.data, stream.len, SZ_1M));
	close(fd);
	ASSERT_EQ(0, tern_mig_state_set(b->device, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, memcmp(devmem_a->vaddr, devmem_b->vaddr,
			    devmem_b->info.size));
	vfio_mig_stream_free(&stream);
}

TERN_TEST_HARNESS_MAIN
