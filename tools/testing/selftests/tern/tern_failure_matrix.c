// SPDX-License-Identifier: GPL-2.0
/*
 * The failure matrix: every data path of a migration, each with its
 * firmware command in flight (stalled by the model's fault rule), meets
 * each failure a host sees. A variant is a data path (save read(), resume
 * write(), PRECOPY_INFO, MIG_DATA_SIZE, a DMA logging report); a test is
 * a failure (a VF reset, a PF FLR, a fatal AER error, the fd closed, the
 * PF driver unbound, a signal, a firmware timeout and then the late
 * answer). Each cell checks
 * that the call ends, with a result the cell allows (drivers.rst, "The
 * failure matrix"), that no firmware session is left behind (a new save
 * session starts and reads, no PF buffer is left over) and that the next
 * migration works. The rig fails the run on any kernel splat.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "tern_lib.h"
#include "tern_setup.h"

#define DEBUGFS		"/sys/kernel/debug/tern_core"
#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"
#define DEPTH_PARAM	"/sys/module/tern_vfio_pci/parameters/depth"
#define AER_INJECT	"/dev/aer_inject"

/* what a call ended with: bytes or 0, or -errno */
#define R_OK_		(1u << 0)	/* >= 0 */
#define R_ENODEV	(1u << 1)
#define R_ETIMEDOUT	(1u << 2)
#define R_EINVAL	(1u << 3)

enum path { SAVE_READ, RESUME_WRITE, PRECOPY_INFO, DATA_SIZE, LOG_REPORT };

FIXTURE(matrix)
{
	struct tern_vf vf;
	bool open;
	enum vfio_access_path access;
	char bdf[16];
	char pf[16];
	char timeout[32];
	char depth[16];
	long idle_bytes;
	int fd;
	/* the call in flight */
	pthread_t thread;
	bool running;
	long ret;
	struct vfio_device_feature_dma_logging_range range;
	uint64_t page_size;
	uint64_t bitmap[TERN_LIB_ARENA_SIZE / 4096 / 64];
};

FIXTURE_VARIANT(matrix)
{
	enum path path;
	const char *opname;	/* the command stalled, as tern_core names it */
	unsigned int opcode;
	/* what the call ends with when nothing goes wrong */
	unsigned int normal;
};

FIXTURE_VARIANT_ADD(matrix, save_read)
{
	.path = SAVE_READ, .opname = "SAVE_READ", .opcode = 0x12,
	.normal = R_OK_,
};

/* a stream header of zeros: the firmware refuses it once it runs */
FIXTURE_VARIANT_ADD(matrix, resume_write)
{
	.path = RESUME_WRITE, .opname = "LOAD_WRITE", .opcode = 0x21,
	.normal = R_EINVAL,
};

FIXTURE_VARIANT_ADD(matrix, precopy_info)
{
	.path = PRECOPY_INFO, .opname = "SAVE_QUERY", .opcode = 0x11,
	.normal = R_OK_,
};

FIXTURE_VARIANT_ADD(matrix, data_size)
{
	.path = DATA_SIZE, .opname = "SAVE_BEGIN", .opcode = 0x10,
	.normal = R_OK_,
};

FIXTURE_VARIANT_ADD(matrix, log_report)
{
	.path = LOG_REPORT, .opname = "DIRTY_READ_CLEAR", .opcode = 0x31,
	.normal = R_OK_,
};

static long buf_bytes(const char *pf)
{
	return tern_pf_value(pf, "buf_bytes");
}

static long pf_resets(const char *pf)
{
	return tern_pf_value(pf, "resets");
}

static int open_vf(FIXTURE_DATA(matrix) *self)
{
	int ret = tern_vf_open(&self->vf, self->bdf, self->access);

	self->open = !ret;
	return ret;
}

FIXTURE_SETUP(matrix)
{
	char bdf[1][16];

	TERN_SKIP_UNLESS_DESTRUCTIVE("stalls commands of PF %s and resets it",
				     tern_pf);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      self->pf));
	snprintf(self->bdf, sizeof(self->bdf), "%s", bdf[0]);
	self->fd = -1;
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, self->timeout,
				sizeof(self->timeout)));
	/*
	 * One SAVE_READ in flight: the stalled one. Read-ahead behind it
	 * would run first and break the stream (the firmware does not hold
	 * commands up behind a stalled one).
	 */
	ASSERT_EQ(0, sysfs_read(DEPTH_PARAM, self->depth, sizeof(self->depth)));
	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "1"));
	self->idle_bytes = buf_bytes(self->pf);
	ASSERT_LE(0, self->idle_bytes);
	/* DMA logging needs the iommufd cdev; everything else the container */
	self->access = VFIO_PATH_LEGACY;
	if (variant->path == LOG_REPORT) {
		SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
		self->access = VFIO_PATH_CDEV;
	}
	ASSERT_EQ(0, open_vf(self));
	switch (variant->path) {
	case SAVE_READ:
	case PRECOPY_INFO:
		ASSERT_EQ(0, vfio_mig_set_state(&self->vf.dev,
						VFIO_DEVICE_STATE_PRE_COPY,
						&self->fd));
		break;
	case RESUME_WRITE:
		ASSERT_EQ(0, vfio_mig_set_state(&self->vf.dev,
						VFIO_DEVICE_STATE_RESUMING,
						&self->fd));
		break;
	case DATA_SIZE:
		break;
	case LOG_REPORT:
		SKIP_UNLESS_KERNEL_HAS(vfio_dma_logging_available(&self->vf.dev),
				       "dma_logging");
		self->range.iova = TERN_LIB_ARENA_IOVA;
		self->range.length = TERN_LIB_ARENA_SIZE;
		self->page_size = 4096;
		ASSERT_EQ(0, vfio_dma_log_start(&self->vf.dev, &self->range, 1,
						&self->page_size));
		break;
	}
}

FIXTURE_TEARDOWN(matrix)
{
	tern_pf_fw_fault(self->pf, "clear");
	if (self->running)
		pthread_join(self->thread, NULL);
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	if (self->depth[0])
		sysfs_write(DEPTH_PARAM, self->depth);
	if (self->fd >= 0)
		close(self->fd);
	if (self->open)
		tern_vf_close(&self->vf);
}

/* the call of the variant's data path, on its own thread */
struct call {
	FIXTURE_DATA(matrix) *self;
	enum path path;
};

static void *call_thread(void *p)
{
	struct call *c = p;
	FIXTURE_DATA(matrix) *self = c->self;
	static const uint8_t zeros[sizeof(struct tern_stream_hdr)];
	struct vfio_device_feature_mig_data_size size = {};
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	char buf[64];
	long r = 0;

	switch (c->path) {
	case SAVE_READ:
		r = read(self->fd, buf, sizeof(buf));
		r = r < 0 ? -errno : r;
		break;
	case RESUME_WRITE:
		r = write(self->fd, zeros, sizeof(zeros));
		r = r < 0 ? -errno : r;
		break;
	case PRECOPY_INFO:
		r = ioctl(self->fd, VFIO_MIG_GET_PRECOPY_INFO, &info) ? -errno : 0;
		break;
	case DATA_SIZE:
		r = vfio_device_feature(&self->vf.dev, VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
					&size, sizeof(size));
		break;
	case LOG_REPORT:
		r = vfio_dma_log_report(&self->vf.dev, self->range.iova,
					self->range.length, self->page_size,
					self->bitmap);
		break;
	}
	self->ret = r;
	return NULL;
}

static struct call the_call;

/*
 * Stall the variant's command, start the call and wait (bounded by the
 * test's timeout) until the command is with the firmware.
 */
static void start_call(struct __test_metadata *_metadata,
		       FIXTURE_DATA(matrix) *self,
		       const FIXTURE_VARIANT(matrix) *variant)
{
	char rule[32];
	long before;

	snprintf(rule, sizeof(rule), "stall %#x 1", variant->opcode);
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, rule));
	before = tern_pf_op_stat(self->pf, variant->opname, 1);
	ASSERT_LE(0, before);
	the_call.self = self;
	the_call.path = variant->path;
	ASSERT_EQ(0, pthread_create(&self->thread, NULL, call_thread,
				    &the_call));
	self->running = true;
	while (tern_pf_op_stat(self->pf, variant->opname, 1) == before)
		ASSERT_EQ(0, sched_yield());
}

static long end_call(struct __test_metadata *_metadata,
		     FIXTURE_DATA(matrix) *self)
{
	ASSERT_EQ(0, pthread_join(self->thread, NULL)) {
		return 0;
	}
	self->running = false;
	return self->ret;
}

static bool allowed(long ret, unsigned int mask)
{
	return (ret >= 0 && (mask & R_OK_)) ||
	       (ret == -ENODEV && (mask & R_ENODEV)) ||
	       (ret == -ETIMEDOUT && (mask & R_ETIMEDOUT)) ||
	       (ret == -EINVAL && (mask & R_EINVAL));
}

#define ASSERT_RESULT(ret, mask)					\
	ASSERT_TRUE(allowed(ret, mask)) {				\
		TH_LOG("the call ended with %ld (%s)", (long)(ret),	\
		       (ret) < 0 ? strerror(-(ret)) : "bytes or 0");	\
	}

/* Wait (bounded by the test's timeout) for late answers' buffers to go. */
static void wait_idle_bytes(FIXTURE_DATA(matrix) *self)
{
	while (buf_bytes(self->pf) > self->idle_bytes)
		sched_yield();
}

/*
 * After the cell: nothing stalled, the data fd closed, the VF out of
 * ERROR (a failed arc to RUNNING leaves it there too) and RUNNING, no PF
 * buffer left of the session, a new save session starts and reads (no
 * firmware session left behind), and DMA logging works again where it
 * was on.
 */
static void check_recovered(struct __test_metadata *_metadata,
			    FIXTURE_DATA(matrix) *self,
			    const FIXTURE_VARIANT(matrix) *variant)
{
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "clear"));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, self->timeout));
	if (self->fd >= 0) {
		close(self->fd);
		self->fd = -1;
	}
	if (!self->open)
		ASSERT_EQ(0, open_vf(self));
	if (vfio_mig_set_state(&self->vf.dev, VFIO_DEVICE_STATE_RUNNING,
			       NULL)) {
		ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(&self->vf.dev));
		ASSERT_EQ(0, tern_device_reset(&self->vf.dev));
		ASSERT_EQ(0, vfio_mig_set_state(&self->vf.dev,
						VFIO_DEVICE_STATE_RUNNING,
						NULL));
	}
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&self->vf.dev));
	ASSERT_EQ(0, tern_new_save_reads(&self->vf.dev));
	if (variant->path == LOG_REPORT) {
		/* a failed session is stopped and started again */
		vfio_dma_log_stop(&self->vf.dev);
		ASSERT_EQ(0, vfio_dma_log_start(&self->vf.dev, &self->range, 1,
						&self->page_size));
		ASSERT_EQ(0, vfio_dma_log_report(&self->vf.dev,
						 self->range.iova,
						 self->range.length,
						 self->page_size,
						 self->bitmap));
		ASSERT_EQ(0, vfio_dma_log_stop(&self->vf.dev));
	}
	wait_idle_bytes(self);
	ASSERT_EQ(self->idle_bytes, buf_bytes(self->pf));
}

/*
 * A VF reset (VFIO_DEVICE_RESET) while the command is stalled: the reset
 * does not wait for it and does not drop it. Once it runs, the call ends
 * as usual, or with -ENODEV where the reset ended its session.
 */
TEST_F_TIMEOUT(matrix, vf_reset, 120)
{
	long ret;

	start_call(_metadata, self, variant);
	ASSERT_EQ(0, ioctl(self->vf.dev.device_fd, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "release"));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, variant->normal | R_ENODEV);
	check_recovered(_metadata, self, variant);
}

/* A PF FLR: the call fails at once with -ENODEV, not at its timeout. */
TEST_F_TIMEOUT(matrix, pf_flr, 120)
{
	long resets = pf_resets(self->pf), ret;

	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, tern_pci_reset(self->pf));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ENODEV);
	ASSERT_EQ(resets + 1, pf_resets(self->pf));
	/* the FLR reset the VF function too: set it up again, as a VMM does */
	ASSERT_EQ(0, tern_device_reset(&self->vf.dev));
	ASSERT_EQ(0, vfio_pci_enable_master(&self->vf.dev));
	check_recovered(_metadata, self, variant);
}

/*
 * A fatal PCI error (Malformed TLP) reported by the PF: the PCI core's
 * recovery resets the link, the call fails with -ENODEV.
 */
TEST_F_TIMEOUT(matrix, fatal_aer, 120)
{
	long resets = pf_resets(self->pf), ret;

	SKIP_UNLESS_KERNEL_HAS(!access(AER_INJECT, W_OK), "aer_inject");
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, tern_aer_inject(self->pf, PCI_ERR_UNC_MALF_TLP));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ENODEV);
	/* the recovery finishes in the background */
	while (pf_resets(self->pf) == resets)
		ASSERT_EQ(0, sched_yield());
	ASSERT_EQ(0, tern_device_reset(&self->vf.dev));
	ASSERT_EQ(0, vfio_pci_enable_master(&self->vf.dev));
	check_recovered(_metadata, self, variant);
}

/*
 * The fd the call uses is closed meanwhile (the data fd, or the device
 * fd for MIG_DATA_SIZE and logging): the call holds its file, ends as
 * usual once the command runs, and the close takes effect after it.
 */
TEST_F_TIMEOUT(matrix, fd_close, 120)
{
	long ret;

	start_call(_metadata, self, variant);
	if (self->fd >= 0) {
		ASSERT_EQ(0, close(self->fd));
		self->fd = -1;
	} else {
		ASSERT_EQ(0, close(self->vf.dev.device_fd));
		self->vf.dev.device_fd = -1;
	}
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "release"));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, variant->normal);
	if (self->vf.dev.device_fd < 0) {
		tern_vf_close(&self->vf);
		self->open = false;
	}
	check_recovered(_metadata, self, variant);
}

/*
 * The PF driver unbound (rmmod, a hot unplug of the PF): the call fails
 * at once with -ENODEV, the unbind waits for the VF's user to close the
 * device, and the PF binds again afterwards, its VFs working.
 */
TEST_F_TIMEOUT(matrix, pf_unbind, 120)
{
	char bdf[1][16];
	pthread_t unbind;
	void *unbind_ret;
	long ret;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, pthread_create(&unbind, NULL, tern_pf_unbind_thread, self->pf));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ENODEV);
	/* the removal waits for the VF's user, then finishes */
	if (self->fd >= 0) {
		ASSERT_EQ(0, close(self->fd));
		self->fd = -1;
	}
	tern_vf_close(&self->vf);
	self->open = false;
	ASSERT_EQ(0, pthread_join(unbind, &unbind_ret));
	ASSERT_EQ(0, (long)unbind_ret);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      NULL));
	ASSERT_STREQ(self->bdf, bdf[0]);
	check_recovered(_metadata, self, variant);
}

static void on_signal(int sig)
{
}

/*
 * A signal to the calling thread: a firmware command is not abandoned
 * for it (its answer would land in nobody's buffer), so the call ends as
 * usual once the command runs.
 */
TEST_F_TIMEOUT(matrix, signal, 120)
{
	struct sigaction sa = { .sa_handler = on_signal };
	long ret;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, pthread_kill(self->thread, SIGUSR1));
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "release"));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, variant->normal);
	check_recovered(_metadata, self, variant);
}

/*
 * The firmware does not answer in time: the call fails with -ETIMEDOUT;
 * the answer then comes late (RELEASE) and is dropped, and its buffer is
 * released only then.
 */
TEST_F_TIMEOUT(matrix, timeout_then_late_answer, 120)
{
	long ret;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	start_call(_metadata, self, variant);
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ETIMEDOUT);
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "release"));
	check_recovered(_metadata, self, variant);
}

TERN_TEST_HARNESS_MAIN
