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

#include "kselftest_harness.h"
#include "tern_if.h"
#include "tern_lib.h"
#include "tern_setup.h"
#include "vfio_util.h"

#define PAGE		4096ull
#define NVF		2
#define DEBUGFS		"/sys/kernel/debug/tern_core"
#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"
#define LOG_SPAN	(64 * PAGE)

typedef struct vfio_device_feature_dma_logging_range range_t;

static const enum vfio_device_mig_state states[] = {
	VFIO_DEVICE_STATE_RUNNING, VFIO_DEVICE_STATE_STOP,
	VFIO_DEVICE_STATE_STOP_COPY, VFIO_DEVICE_STATE_RESUMING,
	VFIO_DEVICE_STATE_RUNNING_P2P, VFIO_DEVICE_STATE_PRE_COPY,
	VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

/* firmware opcodes the rules pick from */
static const uint8_t opcodes[] = {
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
	struct tern_vf vf;
	bool open;
	pthread_mutex_t lock;	/* data_fd */
	int data_fd;		/* current migration data fd, or -1 */
	uint8_t *dma;		/* LOG_SPAN bytes of DMA memory */
	uint64_t iova;
	uint64_t *bitmap;
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
	uint64_t seed;
	pthread_t firmware;
};

static uint64_t rnd(uint64_t *r)
{
	*r ^= *r >> 12;
	*r ^= *r << 25;
	*r ^= *r >> 27;
	return *r * 0x2545f4914f6cdd1dull;
}

static uint64_t thread_rng(struct torture *t, int n)
{
	return ((t->seed + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)n * 0xbf58476d1ce4e5b9ull) | 1;
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
#define FW_ERRNOS	EIO, ETIMEDOUT, EBUSY, ENODEV, ENOMEM, EFAULT, EPROTO, ECANCELED, \
			EAGAIN, EINVAL
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
	uint64_t r = thread_rng(t, 3 * s->idx);
	int fd, ret;

	while (!atomic_load(&t->stop)) {
		switch (rnd(&r) % 16) {
		case 0:
			ret = ioctl(s->vf.dev.device_fd, VFIO_DEVICE_RESET) ?
			      errno : 0;
			check(t, "VFIO_DEVICE_RESET", s->idx, ret, reset_errnos);
			break;
		case 1:
			put_data_fd(s, -1);
			break;
		default:
			fd = -1;
			ret = -vfio_mig_set_state(&s->vf.dev,
						  states[rnd(&r) % 7], &fd);
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
	uint64_t r = thread_rng(t, 3 * s->idx + 1);
	struct vfio_precopy_info info;
	struct {
		struct vfio_device_feature f;
		struct vfio_device_feature_mig_data_size size;
	} ds;
	static __thread uint8_t buf[65536];
	ssize_t n;
	int fd;

	while (!atomic_load(&t->stop)) {
		unsigned int op = rnd(&r) % 8;

		if (op == 7) {
			memset(&ds, 0, sizeof(ds));
			ds.f.argsz = sizeof(ds);
			ds.f.flags = VFIO_DEVICE_FEATURE_GET |
				     VFIO_DEVICE_FEATURE_MIG_DATA_SIZE;
			check(t, "MIG_DATA_SIZE", s->idx,
			      ioctl(s->vf.dev.device_fd, VFIO_DEVICE_FEATURE,
				    &ds) ? errno : 0, info_errnos);
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
			memset(&info, 0, sizeof(info));
			info.argsz = sizeof(info);
			check(t, "PRECOPY_INFO", s->idx,
			      ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info) ?
			      errno : 0, info_errnos);
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
	uint64_t r = thread_rng(t, 3 * s->idx + 2), psz = PAGE;
	range_t range = { s->iova, LOG_SPAN };
	struct tern_desc_cpl cpl;

	while (!atomic_load(&t->stop)) {
		switch (rnd(&r) % 8) {
		case 0:
			/* a reset disables the engine: the guest starts it */
			tern_engine_start(&s->vf, 64);
			break;
		case 1:
		case 2:
			while (!tern_reap(&s->vf, &cpl, 0))
				;
			if (!tern_queue(&s->vf, TERN_DESC_OP_FILL, 0, PAGE,
					rnd(&r), s->iova + PAGE * (rnd(&r) % 64),
					rnd(&r)))
				tern_doorbell(&s->vf);
			break;
		case 3:
			if (!s->logging)
				break;
			check(t, "DMA_LOGGING_START", s->idx,
			      -vfio_dma_log_start(&s->vf.dev, &range, 1, &psz),
			      log_errnos);
			break;
		case 4:
		case 5:
			if (!s->logging)
				break;
			check(t, "DMA_LOGGING_REPORT", s->idx,
			      -vfio_dma_log_report(&s->vf.dev, s->iova, LOG_SPAN,
						   PAGE, s->bitmap), log_errnos);
			break;
		case 6:
			if (!s->logging)
				break;
			check(t, "DMA_LOGGING_STOP", s->idx,
			      -vfio_dma_log_stop(&s->vf.dev), log_errnos);
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
	uint64_t r = thread_rng(t, 99);
	char rule[64];

	while (!atomic_load(&t->stop)) {
		uint8_t op = opcodes[rnd(&r) % sizeof(opcodes)];

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

FIXTURE(torture)
{
	struct torture t;
	char timeout[32];
};

FIXTURE_SETUP(torture)
{
	char bdf[NVF][16];
	enum vfio_access_path path = vfio_cdev_available() ?
				     VFIO_PATH_CDEV : VFIO_PATH_LEGACY;
	int i;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects faults on PF %s, seen by all its VFs",
				     tern_pf);
	TERN_PREPARE_OR_SKIP(NVF, tern_lib_prepare(TERN_PF_DRIVER,
						   TERN_VF_DRIVER, NVF, bdf));
	pthread_mutex_init(&self->t.fail_lock, NULL);
	snprintf(self->t.fault_path, sizeof(self->t.fault_path),
		 DEBUGFS "/%s/fw_fault", tern_pf);
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, self->timeout,
				sizeof(self->timeout)));
	for (i = 0; i < NVF; i++) {
		struct vf_slot *s = &self->t.slot[i];

		s->t = &self->t;
		s->idx = i;
		s->data_fd = -1;
		pthread_mutex_init(&s->lock, NULL);
		ASSERT_EQ(0, tern_vf_open(&s->vf, bdf[i], path));
		s->open = true;
		s->logging = vfio_dma_logging_available(&s->vf.dev);
		/* without it (a kernel that lacks it) the rest still runs */
		if (!s->logging)
			ASSERT_TRUE(kernel_may_lack("dma_logging"));
		s->dma = tern_dma_alloc(&s->vf, LOG_SPAN, PAGE);
		ASSERT_NE(NULL, s->dma);
		s->iova = tern_iova(&s->vf, s->dma);
		s->bitmap = calloc(1, LOG_SPAN / PAGE / 8);
		ASSERT_NE(NULL, s->bitmap);
		ASSERT_EQ(0, tern_engine_start(&s->vf, 64));
	}
}

FIXTURE_TEARDOWN(torture)
{
	int i;

	sysfs_write(self->t.fault_path, "clear");
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	for (i = 0; i < NVF; i++) {
		struct vf_slot *s = &self->t.slot[i];

		if (s->data_fd >= 0)
			close(s->data_fd);
		if (s->open)
			tern_vf_close(&s->vf);
		free(s->bitmap);
	}
}

/* after the storm: the VF recovers by reset and works in every respect */
static void recovers(struct __test_metadata *_metadata, struct vf_slot *s)
{
	range_t range = { s->iova, LOG_SPAN };
	struct tern_desc_cpl cpl;
	uint64_t psz = PAGE;
	uint32_t result;
	enum vfio_device_mig_state state;

	put_data_fd(s, -1);
	ASSERT_EQ(0, ioctl(s->vf.dev.device_fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, vfio_mig_get_state(&s->vf.dev, &state));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, state);
	ASSERT_EQ(0, tern_engine_start(&s->vf, 64));
	while (!tern_reap(&s->vf, &cpl, 0))
		;
	if (s->logging) {
		ASSERT_EQ(0, vfio_dma_log_stop(&s->vf.dev));
		ASSERT_EQ(0, vfio_dma_log_start(&s->vf.dev, &range, 1, &psz));
	}
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_run(&s->vf, TERN_DESC_OP_FILL, 0, PAGE, 0x5a,
			   s->iova + 7 * PAGE, &result));
	if (s->logging) {
		memset(s->bitmap, 0, LOG_SPAN / PAGE / 8);
		ASSERT_EQ(0, vfio_dma_log_report(&s->vf.dev, s->iova, LOG_SPAN,
						 PAGE, s->bitmap));
		ASSERT_TRUE(s->bitmap[0] & 1ull << 7);
		ASSERT_EQ(0, vfio_dma_log_stop(&s->vf.dev));
	}
}

TEST_F_TIMEOUT(torture, two_vfs, 14400)
{
	struct torture *t = &self->t;
	const char *env = getenv("TERN_TORTURE_SECONDS");
	long seconds = env ? strtol(env, NULL, 0) : 60;
	struct vf_slot *a = &t->slot[0], *b = &t->slot[1];
	void *(*fn[3])(void *) = { vmm_thread, io_thread, guest_thread };
	struct mig_stream stream = {};
	int i, k, fd;

	env = getenv("TERN_TORTURE_SEED");
	t->seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL);
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
	memset(a->vf.devmem, 0x3c, 64 * PAGE);
	ASSERT_EQ(0, vfio_mig_set_state(&a->vf.dev, VFIO_DEVICE_STATE_STOP_COPY,
					&fd));
	ASSERT_EQ(0, mig_stream_read(fd, &stream, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&a->vf.dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(0, vfio_mig_set_state(&b->vf.dev, VFIO_DEVICE_STATE_RESUMING,
					&fd));
	ASSERT_EQ(0, mig_stream_write(fd, stream.data, stream.len, 1 << 20));
	close(fd);
	ASSERT_EQ(0, vfio_mig_set_state(&b->vf.dev, VFIO_DEVICE_STATE_RUNNING,
					NULL));
	ASSERT_EQ(0, memcmp(a->vf.devmem, b->vf.devmem, b->vf.devmem_size));
	mig_stream_free(&stream);
}

TERN_TEST_HARNESS_MAIN
