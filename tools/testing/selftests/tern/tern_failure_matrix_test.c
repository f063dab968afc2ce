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

#include <sys/ioctl.h>

#include <linux/pci_regs.h>
#include <linux/sizes.h>

#include <libvfio.h>
#include <tern/tern.h>

#include "kselftest_harness.h"
#include "tern_setup.h"
#include "tern_vf.h"

#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"
#define DEPTH_PARAM	"/sys/module/tern_vfio_pci/parameters/depth"
#define AER_INJECT	"/dev/aer_inject"
#define ARENA_SIZE	SZ_16M

/* what a call ended with: bytes or 0, or -errno */
#define R_OK_		(1u << 0)	/* >= 0 */
#define R_ENODEV	(1u << 1)
#define R_ETIMEDOUT	(1u << 2)
#define R_EINVAL	(1u << 3)

enum path { SAVE_READ, RESUME_WRITE, PRECOPY_INFO, DATA_SIZE, LOG_REPORT };

FIXTURE(tern_failure_matrix_test)
{
	char bdf[1][16];
	struct iommu *iommu;
	struct tern_arena arena;
	struct vfio_pci_device *device;
	char timeout[32];
	char depth[16];
	long idle_bytes;
	int fd;
	/* the call in flight */
	pthread_t thread;
	bool running;
	long ret;
	struct vfio_device_feature_dma_logging_range range;
	u64 page_size;
	u64 bitmap[ARENA_SIZE / PAGE / 64];
};

FIXTURE_VARIANT(tern_failure_matrix_test)
{
	enum path path;
	const char *opname;	/* the command stalled, as tern_core names it */
	unsigned int opcode;
	/* what the call ends with when nothing goes wrong */
	unsigned int normal;
	/* DMA logging needs iommufd; everything else a type1 container */
	const char *iommu_mode;
};

/* the opcode, and its name in tern_if.h's TERN_OPCODES() */
#define COMMAND(name)	.opname = #name, .opcode = TERN_OP_##name

FIXTURE_VARIANT_ADD(tern_failure_matrix_test, save_read)
{
	.path = SAVE_READ, COMMAND(SAVE_READ),
	.normal = R_OK_, .iommu_mode = MODE_VFIO_TYPE1V2_IOMMU,
};

/* a stream header of zeros: the firmware refuses it once it runs */
FIXTURE_VARIANT_ADD(tern_failure_matrix_test, resume_write)
{
	.path = RESUME_WRITE, COMMAND(LOAD_WRITE),
	.normal = R_EINVAL, .iommu_mode = MODE_VFIO_TYPE1V2_IOMMU,
};

FIXTURE_VARIANT_ADD(tern_failure_matrix_test, precopy_info)
{
	.path = PRECOPY_INFO, COMMAND(SAVE_QUERY),
	.normal = R_OK_, .iommu_mode = MODE_VFIO_TYPE1V2_IOMMU,
};

FIXTURE_VARIANT_ADD(tern_failure_matrix_test, data_size)
{
	.path = DATA_SIZE, COMMAND(SAVE_BEGIN),
	.normal = R_OK_, .iommu_mode = MODE_VFIO_TYPE1V2_IOMMU,
};

FIXTURE_VARIANT_ADD(tern_failure_matrix_test, log_report)
{
	.path = LOG_REPORT, COMMAND(DIRTY_READ_CLEAR),
	.normal = R_OK_, .iommu_mode = MODE_IOMMUFD,
};

static long buf_bytes(const char *pf)
{
	return tern_pf_value(pf, "buf_bytes");
}

static long pf_resets(const char *pf)
{
	return tern_pf_value(pf, "resets");
}

/* The VF and its arena; DMA logging, where the variant has it, over both. */
static void open_vf(FIXTURE_DATA(tern_failure_matrix_test) *self)
{
	tern_arena_init(&self->arena, self->iommu, ARENA_SIZE);
	self->device = tern_vf_init(self->bdf[0], self->iommu, &self->arena);
	self->range.iova = self->arena.region.iova;
	self->range.length = self->arena.region.size;
}

/*
 * Close the VF: as a VMM does, or, where it is going away (its PF unbound)
 * or the test closed its fd, without asking anything of it.
 */
static void close_vf(FIXTURE_DATA(tern_failure_matrix_test) *self,
		     bool gone)
{
	if (gone || self->device->fd < 0)
		tern_vf_release(self->device, &self->arena);
	else
		tern_vf_cleanup(self->device, &self->arena);
	self->device = NULL;
}

FIXTURE_SETUP(tern_failure_matrix_test)
{
	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	TERN_SKIP_UNLESS_DESTRUCTIVE("stalls commands of PF %s and resets it",
				     tern_pf);
	TERN_PREPARE_OR_SKIP(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, self->bdf);
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
	self->idle_bytes = buf_bytes(tern_pf);
	ASSERT_LE(0, self->idle_bytes);
	self->iommu = iommu_init(variant->iommu_mode);
	open_vf(self);
	switch (variant->path) {
	case SAVE_READ:
	case PRECOPY_INFO:
		ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
						      VFIO_DEVICE_STATE_PRE_COPY,
						      &self->fd));
		break;
	case RESUME_WRITE:
		ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
						      VFIO_DEVICE_STATE_RESUMING,
						      &self->fd));
		break;
	case DATA_SIZE:
		break;
	case LOG_REPORT:
		SKIP_UNLESS_KERNEL_HAS(tern_dma_logging_available(self->device),
				       "dma_logging");
		self->page_size = PAGE;
		ASSERT_EQ(0, __vfio_pci_dma_logging_start(self->device,
							  &self->range, 1,
							  &self->page_size));
		break;
	}
}

FIXTURE_TEARDOWN(tern_failure_matrix_test)
{
	tern_pf_fw_fault(tern_pf, "clear");
	if (self->running)
		pthread_join(self->thread, NULL);
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	if (self->depth[0])
		sysfs_write(DEPTH_PARAM, self->depth);
	if (self->fd >= 0)
		close(self->fd);
	/* a cell that failed midway may leave the PF unbound */
	if (self->device)
		close_vf(self, !pci_driver_is(tern_pf, TERN_PF_DRIVER));
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

/* the call of the variant's data path, on its own thread */
struct call {
	FIXTURE_DATA(tern_failure_matrix_test) *self;
	enum path path;
};

static void *call_thread(void *p)
{
	struct call *c = p;
	FIXTURE_DATA(tern_failure_matrix_test) *self = c->self;
	static const u8 zeros[sizeof(struct tern_stream_hdr)];
	struct vfio_precopy_info info;
	char buf[64];
	u64 length;
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
		r = __vfio_mig_precopy_info(self->fd, 0, &info);
		break;
	case DATA_SIZE:
		r = __vfio_pci_mig_data_size(self->device, &length);
		break;
	case LOG_REPORT:
		r = __vfio_pci_dma_logging_report(self->device,
						  self->range.iova,
						  self->range.length,
						  self->page_size,
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
		       FIXTURE_DATA(tern_failure_matrix_test) *self,
		       const FIXTURE_VARIANT(tern_failure_matrix_test) *variant)
{
	char rule[32];
	long before;

	snprintf(rule, sizeof(rule), "stall %#x 1", variant->opcode);
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, rule));
	before = tern_pf_op_stat(tern_pf, variant->opname, 1);
	ASSERT_LE(0, before);
	the_call.self = self;
	the_call.path = variant->path;
	ASSERT_EQ(0, pthread_create(&self->thread, NULL, call_thread,
				    &the_call));
	self->running = true;
	while (tern_pf_op_stat(tern_pf, variant->opname, 1) == before)
		ASSERT_EQ(0, sched_yield());
}

static long end_call(struct __test_metadata *_metadata,
		     FIXTURE_DATA(tern_failure_matrix_test) *self)
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
static void wait_idle_bytes(FIXTURE_DATA(tern_failure_matrix_test) *self)
{
	while (buf_bytes(tern_pf) > self->idle_bytes)
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
			    FIXTURE_DATA(tern_failure_matrix_test) *self,
			    const FIXTURE_VARIANT(tern_failure_matrix_test) *variant)
{
	struct vfio_pci_device *device;

	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, self->timeout));
	if (self->fd >= 0) {
		close(self->fd);
		self->fd = -1;
	}
	if (!self->device)
		open_vf(self);
	device = self->device;
	if (tern_mig_state_set(device, VFIO_DEVICE_STATE_RUNNING)) {
		ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(device));
		ASSERT_EQ(0, tern_device_reset(device));
		ASSERT_EQ(0, tern_mig_state_set(device,
						VFIO_DEVICE_STATE_RUNNING));
	}
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(device));
	ASSERT_EQ(0, tern_new_save_reads(device));
	if (variant->path == LOG_REPORT) {
		/* a failed session is stopped and started again */
		__vfio_pci_dma_logging_stop(device);
		ASSERT_EQ(0, __vfio_pci_dma_logging_start(device, &self->range,
							  1, &self->page_size));
		ASSERT_EQ(0, __vfio_pci_dma_logging_report(device,
							   self->range.iova,
							   self->range.length,
							   self->page_size,
							   self->bitmap));
		ASSERT_EQ(0, __vfio_pci_dma_logging_stop(device));
	}
	wait_idle_bytes(self);
	ASSERT_EQ(self->idle_bytes, buf_bytes(tern_pf));
}

/*
 * A VF reset (VFIO_DEVICE_RESET) while the command is stalled: the reset
 * does not wait for it and does not drop it. Once it runs, the call ends
 * as usual, or with -ENODEV where the reset ended its session.
 */
TEST_F_TIMEOUT(tern_failure_matrix_test, vf_reset, 120)
{
	long ret;

	start_call(_metadata, self, variant);
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, variant->normal | R_ENODEV);
	check_recovered(_metadata, self, variant);
}

/* A PF FLR: the call fails at once with -ENODEV, not at its timeout. */
TEST_F_TIMEOUT(tern_failure_matrix_test, pf_flr, 120)
{
	long resets = pf_resets(tern_pf), ret;

	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, tern_pci_reset(tern_pf));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ENODEV);
	ASSERT_EQ(resets + 1, pf_resets(tern_pf));
	/* the FLR reset the VF function too: set it up again, as a VMM does */
	ASSERT_EQ(0, tern_device_reset(self->device));
	vfio_pci_cmd_set(self->device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	check_recovered(_metadata, self, variant);
}

/*
 * A fatal PCI error (Malformed TLP) reported by the PF: the PCI core's
 * recovery resets the link, the call fails with -ENODEV.
 */
TEST_F_TIMEOUT(tern_failure_matrix_test, fatal_aer, 120)
{
	long resets = pf_resets(tern_pf), ret;

	SKIP_UNLESS_KERNEL_HAS(!access(AER_INJECT, W_OK), "aer_inject");
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, tern_aer_inject(tern_pf, PCI_ERR_UNC_MALF_TLP));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ENODEV);
	/* the recovery finishes in the background */
	while (pf_resets(tern_pf) == resets)
		ASSERT_EQ(0, sched_yield());
	ASSERT_EQ(0, tern_device_reset(self->device));
	vfio_pci_cmd_set(self->device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	check_recovered(_metadata, self, variant);
}

/*
 * The fd the call uses is closed meanwhile (the data fd, or the device
 * fd for MIG_DATA_SIZE and logging): the call holds its file, ends as
 * usual once the command runs, and the close takes effect after it.
 */
TEST_F_TIMEOUT(tern_failure_matrix_test, fd_close, 120)
{
	long ret;

	start_call(_metadata, self, variant);
	if (self->fd >= 0) {
		ASSERT_EQ(0, close(self->fd));
		self->fd = -1;
	} else {
		ASSERT_EQ(0, close(self->device->fd));
		self->device->fd = -1;
	}
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, variant->normal);
	if (self->device->fd < 0)
		close_vf(self, true);
	check_recovered(_metadata, self, variant);
}

/*
 * The PF driver unbound (rmmod, a hot unplug of the PF): the call fails
 * at once with -ENODEV, the unbind waits for the VF's user to close the
 * device, and the PF binds again afterwards, its VFs working.
 */
TEST_F_TIMEOUT(tern_failure_matrix_test, pf_unbind, 120)
{
	char bdf[1][16];
	pthread_t unbind;
	void *unbind_ret;
	long ret;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, pthread_create(&unbind, NULL, tern_pf_unbind_thread,
				    tern_pf));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ENODEV);
	/* the removal waits for the VF's user, then finishes */
	if (self->fd >= 0) {
		ASSERT_EQ(0, close(self->fd));
		self->fd = -1;
	}
	close_vf(self, true);
	ASSERT_EQ(0, pthread_join(unbind, &unbind_ret));
	ASSERT_EQ(0, (long)unbind_ret);
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf));
	ASSERT_STREQ(self->bdf[0], bdf[0]);
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
TEST_F_TIMEOUT(tern_failure_matrix_test, signal, 120)
{
	struct sigaction sa = { .sa_handler = on_signal };
	long ret;

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	start_call(_metadata, self, variant);
	ASSERT_EQ(0, pthread_kill(self->thread, SIGUSR1));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, variant->normal);
	check_recovered(_metadata, self, variant);
}

/*
 * The firmware does not answer in time: the call fails with -ETIMEDOUT;
 * the answer then comes late (RELEASE) and is dropped, and its buffer is
 * released only then.
 */
TEST_F_TIMEOUT(tern_failure_matrix_test, timeout_then_late_answer, 120)
{
	long ret;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	start_call(_metadata, self, variant);
	ret = end_call(_metadata, self);
	ASSERT_RESULT(ret, R_ETIMEDOUT);
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	check_recovered(_metadata, self, variant);
}

TERN_TEST_HARNESS_MAIN
