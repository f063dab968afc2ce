// SPDX-License-Identifier: GPL-2.0
/*
 * Resets of the PF under VFs in use: an FLR through sysfs, AER recovery
 * of a non-fatal and of a fatal error (injected with aer_inject), and the
 * firmware's admin queue stopping on a DMA error (STATUS.FATAL, the
 * model's "fatal" rule). Each time the firmware is reset under the VFs'
 * users: commands in flight fail at once rather than at their timeout,
 * data files end, and after VFIO_DEVICE_RESET the VF's engine and
 * migration work again. Where the VFs were reset too (an FLR, a fatal
 * error's link reset) a VF that had a migration or logging session
 * reports ERROR; where only the firmware was (a non-fatal error, a fatal
 * queue error) a VF its VMM had running stays RUNNING, untouched. One
 * that had no session stays RUNNING either way. A PF that stops answering
 * altogether (the model's "vanish" rule) fails commands at once until it
 * is back and reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "tern_lib.h"
#include "tern_setup.h"

#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"
#define AER_INJECT	"/dev/aer_inject"

FIXTURE(pf_reset)
{
	struct tern_vf a;	/* has a migration session when the PF resets */
	struct tern_vf b;	/* has none */
	bool a_open, b_open;
	char pf[16];
	char timeout[32];
	bool submit_delay_set;
};

FIXTURE_SETUP(pf_reset)
{
	char bdf[2][16];

	TERN_SKIP_UNLESS_DESTRUCTIVE("resets PF %s under its VFs", tern_pf);
	ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2, bdf,
				      self->pf));
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, self->timeout,
				sizeof(self->timeout)));
	ASSERT_EQ(0, tern_vf_open(&self->a, bdf[0], VFIO_PATH_LEGACY));
	self->a_open = true;
	ASSERT_EQ(0, tern_vf_open(&self->b, bdf[1], VFIO_PATH_LEGACY));
	self->b_open = true;
}

#define CORE_DEBUGFS	"/sys/kernel/debug/tern_core"

FIXTURE_TEARDOWN(pf_reset)
{
	/* a test that failed midway leaves no fault to the next */
	if (self->submit_delay_set)
		sysfs_write(CORE_DEBUGFS "/submit_delay_ms", "0");
	tern_pf_fw_fault(self->pf, "clear");
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	if (self->b_open)
		tern_vf_close(&self->b);
	if (self->a_open)
		tern_vf_close(&self->a);
}

static long pf_resets(const char *pf)
{
	return tern_pf_value(pf, "resets");
}

/*
 * Wait, bounded by the test's timeout, for the PF to have been reset more
 * than @before times: AER recovery and a fatal queue error recover in the
 * background.
 */
static long wait_pf_resets(const char *pf, long before)
{
	long n;

	while ((n = pf_resets(pf)) == before)
		usleep(10000);
	return n;
}

/*
 * VFIO_DEVICE_RESET, tried again while a recovery holds the VF's lock
 * (-EAGAIN), then the VF set up again as after any reset: bus mastering,
 * a fresh engine that completes a job, and a save session that reads.
 */
static int vf_recovers(struct tern_vf *vf)
{
	uint8_t *src = tern_dma_alloc(vf, 4096, 4096);
	uint32_t result;
	int ret;

	ret = tern_device_reset(&vf->dev);
	if (ret)
		return ret;
	if (tern_mig_state(&vf->dev) != VFIO_DEVICE_STATE_RUNNING)
		return -EINVAL;
	ret = vfio_pci_enable_master(&vf->dev);
	if (ret)
		return ret;
	tern_engine_stop(vf);
	ret = tern_engine_start(vf, 16);
	if (ret)
		return ret;
	if (!src)
		return -ENOMEM;
	memset(src, 0x5a, 4096);
	ret = tern_run(vf, TERN_DESC_OP_CHECKSUM, 0, 4096, tern_iova(vf, src),
		       0, &result);
	if (ret != TERN_DESC_ST_OK || result != tern_crc32c(src, 4096))
		return -EIO;
	return tern_new_save_reads(&vf->dev);
}

struct reader {
	int fd;
	ssize_t ret;
	int err;
};

static void *read_one(void *arg)
{
	struct reader *r = arg;
	char buf[64];

	r->ret = read(r->fd, buf, sizeof(buf));
	r->err = errno;
	return NULL;
}

/*
 * An FLR of the PF with a read() waiting for a stalled SAVE_READ: the
 * read fails at once with ENODEV (not at the 60 s command timeout), the
 * VF that had a session is in ERROR, the other stays RUNNING, and both
 * work after VFIO_DEVICE_RESET.
 */
TEST_F_TIMEOUT(pf_reset, flr_fails_commands_in_flight, 60)
{
	struct reader r = { .fd = -1 };
	char buf[64];
	pthread_t t;
	long submitted, timeouts, resets;

	ASSERT_EQ(0, tern_engine_start(&self->b, 16));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	ASSERT_EQ(0, vfio_mig_set_state(&self->a.dev,
					VFIO_DEVICE_STATE_PRE_COPY, &r.fd));
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "stall 0x12 1"));
	submitted = tern_pf_op_stat(self->pf, "SAVE_READ", 1);
	timeouts = tern_pf_op_stat(self->pf, "SAVE_READ", 3);
	resets = pf_resets(self->pf);
	ASSERT_LE(0, resets);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_one, &r));
	/* wait (bounded by the test timeout) for the command to be queued */
	while (tern_pf_op_stat(self->pf, "SAVE_READ", 1) == submitted)
		ASSERT_EQ(0, sched_yield());

	ASSERT_EQ(0, tern_pci_reset(self->pf));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(ENODEV, r.err);
	ASSERT_EQ(timeouts, tern_pf_op_stat(self->pf, "SAVE_READ", 3));
	ASSERT_EQ(resets + 1, pf_resets(self->pf));

	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(&self->a.dev));
	ASSERT_EQ(-1, read(r.fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(r.fd);
	ASSERT_EQ(-EINVAL, vfio_mig_set_state(&self->a.dev,
					      VFIO_DEVICE_STATE_RUNNING, NULL));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&self->b.dev));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vf_recovers(&self->b));
}

/* DMA logging is a session too: its report fails after a PF reset. */
TEST_F(pf_reset, flr_ends_dma_logging)
{
	struct vfio_device_feature_dma_logging_range range = {
		.iova = TERN_LIB_ARENA_IOVA,
		.length = TERN_LIB_ARENA_SIZE,
	};
	uint64_t page_size = 4096, bitmap[TERN_LIB_ARENA_SIZE / 4096 / 64];
	char bdf[16];

	/* DMA logging needs the iommufd cdev: open A again through it */
	snprintf(bdf, sizeof(bdf), "%s", self->a.dev.name);
	tern_vf_close(&self->a);
	self->a_open = false;
	SKIP_UNLESS_KERNEL_HAS(vfio_cdev_available(), "cdev");
	ASSERT_EQ(0, tern_vf_open(&self->a, bdf, VFIO_PATH_CDEV));
	self->a_open = true;
	SKIP_UNLESS_KERNEL_HAS(vfio_dma_logging_available(&self->a.dev),
			       "dma_logging");
	ASSERT_EQ(0, vfio_dma_log_start(&self->a.dev, &range, 1, &page_size));
	ASSERT_EQ(0, vfio_dma_log_report(&self->a.dev, range.iova,
					 range.length, page_size, bitmap));

	ASSERT_EQ(0, tern_pci_reset(self->pf));
	ASSERT_EQ(-EIO, vfio_dma_log_report(&self->a.dev, range.iova,
					    range.length, page_size, bitmap));
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(&self->a.dev));
	ASSERT_EQ(0, vfio_dma_log_stop(&self->a.dev));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vfio_dma_log_start(&self->a.dev, &range, 1, &page_size));
	ASSERT_EQ(0, vfio_dma_log_report(&self->a.dev, range.iova,
					 range.length, page_size, bitmap));
	ASSERT_EQ(0, vfio_dma_log_stop(&self->a.dev));
}

FIXTURE(pf_reset_aer)
{
	struct tern_vf a;
	bool a_open;
	char pf[16];
};

FIXTURE_VARIANT(pf_reset_aer)
{
	uint32_t uncor_status;
};

/* Completer Abort: non-fatal by default; recovery without a reset */
FIXTURE_VARIANT_ADD(pf_reset_aer, nonfatal)
{
	.uncor_status = PCI_ERR_UNC_COMP_ABORT,
};

/* Malformed TLP: fatal by default; the link below the port is reset */
FIXTURE_VARIANT_ADD(pf_reset_aer, fatal)
{
	.uncor_status = PCI_ERR_UNC_MALF_TLP,
};

FIXTURE_SETUP(pf_reset_aer)
{
	char bdf[1][16];

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects PCI errors on PF %s", tern_pf);
	SKIP_UNLESS_KERNEL_HAS(!access(AER_INJECT, W_OK), "aer_inject");
	ASSERT_EQ(1, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, bdf,
				      self->pf));
	ASSERT_EQ(0, tern_vf_open(&self->a, bdf[0], VFIO_PATH_LEGACY));
	self->a_open = true;
}

FIXTURE_TEARDOWN(pf_reset_aer)
{
	if (self->a_open)
		tern_vf_close(&self->a);
}

/*
 * The PCI core's recovery calls the PF driver's error handlers: the
 * firmware is reset, the save file of the session it ended fails, and
 * the VF works again after VFIO_DEVICE_RESET. (A fatal error resets the
 * VF too, which ends its session by itself: its state is RUNNING or, if
 * the driver saw the PF's reset first, ERROR.)
 */
TEST_F_TIMEOUT(pf_reset_aer, recovery_resets_the_firmware, 60)
{
	char buf[64];
	long resets;
	int fd;

	ASSERT_EQ(0, vfio_mig_set_state(&self->a.dev,
					VFIO_DEVICE_STATE_PRE_COPY, &fd));
	resets = pf_resets(self->pf);
	ASSERT_LE(0, resets);
	ASSERT_EQ(0, tern_aer_inject(self->pf, variant->uncor_status));
	ASSERT_EQ(resets + 1, wait_pf_resets(self->pf, resets));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	/* a non-fatal error resets the firmware alone: the VF runs on */
	if (variant->uncor_status == PCI_ERR_UNC_COMP_ABORT)
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING,
			  tern_mig_state(&self->a.dev));
	ASSERT_EQ(0, vf_recovers(&self->a));
}

/*
 * STATUS.FATAL: the queue stops and answers nothing. The command that
 * found it times out, the driver then resets the firmware and starts the
 * queue again, and the VF whose session it ended recovers by reset.
 */
TEST_F_TIMEOUT(pf_reset, fatal_queue_error_recovers, 60)
{
	long resets = pf_resets(self->pf);

	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "1000"));
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "fatal"));
	ASSERT_EQ(-ETIMEDOUT, vfio_mig_set_state(&self->a.dev,
						 VFIO_DEVICE_STATE_PRE_COPY,
						 NULL));
	ASSERT_EQ(resets + 1, wait_pf_resets(self->pf, resets));
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(&self->a.dev));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&self->b.dev));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, tern_new_save_reads(&self->b.dev));
}

/*
 * A reset of the firmware alone (STATUS.FATAL, found here by the SAVE_QUERY
 * of a PRECOPY_INFO, which changes no state) does not touch the VF
 * functions: a VF its VMM had in PRE_COPY runs on as it was. It stays
 * RUNNING rather than going to ERROR, which QEMU answers with an FLR that
 * would wipe it: its save file fails, its device memory and engine work
 * on without any reset, and a new migration starts.
 */
TEST_F_TIMEOUT(pf_reset, firmware_reset_spares_running_vfs, 60)
{
	struct vfio_precopy_info info = { .argsz = sizeof(info) };
	uint8_t *src = tern_dma_alloc(&self->a, 4096, 4096);
	long resets = pf_resets(self->pf);
	uint32_t result;
	char buf[64];
	int fd;

	ASSERT_LE(0, resets);
	ASSERT_NE(NULL, src);
	memset(src, 0x3c, 4096);
	memset(self->a.devmem, 0xa5, 4096);
	ASSERT_EQ(0, tern_engine_start(&self->a, 16));
	ASSERT_EQ(0, vfio_mig_set_state(&self->a.dev,
					VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "1000"));
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "fatal"));
	ASSERT_EQ(-1, ioctl(fd, VFIO_MIG_GET_PRECOPY_INFO, &info));
	ASSERT_EQ(ETIMEDOUT, errno);
	ASSERT_EQ(resets + 1, wait_pf_resets(self->pf, resets));

	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&self->a.dev));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	/* no reset: device memory as the guest left it, the engine runs */
	ASSERT_EQ(0xa5, self->a.devmem[4095]);
	ASSERT_EQ(TERN_DESC_ST_OK, tern_run(&self->a, TERN_DESC_OP_CHECKSUM, 0,
					    4096, tern_iova(&self->a, src), 0,
					    &result));
	ASSERT_EQ(tern_crc32c(src, 4096), result);
	ASSERT_EQ(0, tern_new_save_reads(&self->a.dev));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(&self->b.dev));
}

struct state_setter {
	struct vfio_dev *dev;
	enum vfio_device_mig_state state;
	int ret;
};

static void *set_state(void *arg)
{
	struct state_setter *s = arg;

	s->ret = vfio_mig_set_state(s->dev, s->state, NULL);
	return NULL;
}

/*
 * A PF FLR between a submission's two phases (slot taken, not yet
 * posted), held open by tern_core's submit_delay_ms fault injection: the
 * reset finishes the slot and the restart may hand it out again, so the
 * submission must not be posted to the fresh firmware (it would run a
 * command its caller saw fail, with a buffer the caller may have freed).
 * It fails with -ENODEV and the firmware never got it.
 */
TEST_F_TIMEOUT(pf_reset, flr_between_submit_phases_posts_nothing, 60)
{
	struct state_setter setter = {
		.dev = &self->a.dev, .state = VFIO_DEVICE_STATE_PRE_COPY,
	};
	long resets = pf_resets(self->pf), delayed, posted;
	char n[32];
	pthread_t thread;

	SKIP_UNLESS_KERNEL_HAS(!access(CORE_DEBUGFS "/submit_delay_ms", W_OK),
			       "fault_injection");
	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_read(CORE_DEBUGFS "/submits_delayed", n, sizeof(n)));
	delayed = atol(n);
	posted = tern_pf_op_stat(self->pf, "SAVE_BEGIN", 1);
	ASSERT_LE(0, posted);
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/submit_delay_opcode", "0x10"));
	self->submit_delay_set = true;
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/submit_delay_ms", "3000"));
	ASSERT_EQ(0, pthread_create(&thread, NULL, set_state, &setter));
	/* the SAVE_BEGIN holds its slot, unposted (bounded by the timeout) */
	do {
		ASSERT_EQ(0, sysfs_read(CORE_DEBUGFS "/submits_delayed", n,
					sizeof(n)));
	} while (atol(n) == delayed && !sched_yield());
	ASSERT_EQ(0, tern_pci_reset(self->pf));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/submit_delay_ms", "0"));
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/submit_delay_opcode", "0xff"));
	ASSERT_EQ(-ENODEV, setter.ret);
	ASSERT_EQ(resets + 1, pf_resets(self->pf));
	ASSERT_EQ(posted, tern_pf_op_stat(self->pf, "SAVE_BEGIN", 1));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vf_recovers(&self->b));
}

/* the PF's vendor ID as config space reads it: 0xffff when unreachable */
static int pf_vendor(const char *pf)
{
	char path[96];
	uint16_t vendor;
	int fd, n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", pf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = pread(fd, &vendor, sizeof(vendor), PCI_VENDOR_ID);
	close(fd);
	return n == sizeof(vendor) ? vendor : -EIO;
}

/*
 * The PF stops answering, as after a surprise removal or with its link
 * down (the model's "vanish" rule): its config space and registers read
 * all ones. The command that finds it so times out; every later one
 * fails at once with -ENODEV rather than wait out its timeout (no
 * firmware reset is tried on a device that is not there). Once the
 * device is back, a PF reset starts the queue again and the VFs recover.
 */
TEST_F_TIMEOUT(pf_reset, unreachable_pf_fails_commands_at_once, 60)
{
	long resets = pf_resets(self->pf);

	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	ASSERT_EQ(0, tern_pf_fw_fault(self->pf, "vanish 5000"));
	ASSERT_EQ(0xffff, pf_vendor(self->pf));
	ASSERT_EQ(-ETIMEDOUT, vfio_mig_set_state(&self->a.dev,
						 VFIO_DEVICE_STATE_PRE_COPY,
						 NULL));
	/* the timeout found the PF gone: no recovery, no more waiting */
	ASSERT_EQ(-ENODEV, vfio_mig_set_state(&self->b.dev,
					      VFIO_DEVICE_STATE_PRE_COPY,
					      NULL));
	ASSERT_EQ(resets, pf_resets(self->pf));

	/* back after the rule's time (bounded by the test's timeout) */
	while (pf_vendor(self->pf) == 0xffff)
		ASSERT_EQ(0, sched_yield());
	ASSERT_EQ(0, tern_pci_reset(self->pf));
	ASSERT_EQ(resets + 1, pf_resets(self->pf));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, self->timeout));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vf_recovers(&self->b));
}

TERN_TEST_HARNESS_MAIN
