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
 *
 * The VFs are opened on a type1 container (the path of a kernel without
 * iommufd), except where DMA logging needs iommufd. Every call that a
 * reset may fail is made with libvfio's __ variants.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
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
#define AER_INJECT	"/dev/aer_inject"
#define CORE_DEBUGFS	"/sys/kernel/debug/tern_core"
#define ARENA_SIZE	SZ_16M

/* A VF as the tests hold it: open, with its DMA arena. */
struct vf {
	struct vfio_pci_device *device;
	struct tern_arena arena;
};

static void vf_open(struct vf *vf, const char *bdf, struct iommu *iommu)
{
	tern_arena_init(&vf->arena, iommu, ARENA_SIZE);
	vf->device = tern_vf_init(bdf, iommu, &vf->arena);
}

static void vf_close(struct vf *vf)
{
	if (!vf->device)
		return;
	tern_vf_cleanup(vf->device, &vf->arena);
	vf->device = NULL;
}

FIXTURE(tern_pf_reset_test)
{
	char bdf[2][16];
	struct iommu *iommu;
	struct iommu *iommufd;	/* A's, where it needs iommufd */
	struct vf a;		/* has a migration session when the PF resets */
	struct vf b;		/* has none */
	char timeout[32];
	bool submit_delay_set;
};

FIXTURE_SETUP(tern_pf_reset_test)
{
	TERN_SKIP_UNLESS_DESTRUCTIVE("resets PF %s under its VFs", tern_pf);
	TERN_PREPARE_OR_SKIP(TERN_PF_DRIVER, TERN_VF_DRIVER, 2, self->bdf);
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, self->timeout,
				sizeof(self->timeout)));
	self->iommu = iommu_init(MODE_VFIO_TYPE1V2_IOMMU);
	vf_open(&self->a, self->bdf[0], self->iommu);
	vf_open(&self->b, self->bdf[1], self->iommu);
}

FIXTURE_TEARDOWN(tern_pf_reset_test)
{
	/* a test that failed midway leaves no fault to the next */
	if (self->submit_delay_set)
		sysfs_write(CORE_DEBUGFS "/submit_delay_ms", "0");
	tern_pf_fw_fault(tern_pf, "clear");
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	vf_close(&self->b);
	vf_close(&self->a);
	if (self->iommufd)
		iommu_cleanup(self->iommufd);
	iommu_cleanup(self->iommu);
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
static int vf_recovers(struct vf *vf)
{
	struct vfio_pci_device *device = vf->device;
	u8 *src = tern_arena_alloc(&vf->arena, PAGE, PAGE);
	u32 result;
	int ret;

	ret = tern_device_reset(device);
	if (ret)
		return ret;
	if (tern_mig_state(device) != VFIO_DEVICE_STATE_RUNNING)
		return -EINVAL;
	vfio_pci_cmd_set(device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	tern_engine_stop(device);
	ret = __tern_engine_start(device, 16);
	if (ret)
		return ret;
	if (!src)
		return -ENOMEM;
	memset(src, 0x5a, PAGE);
	ret = tern_job(device, TERN_DESC_OP_CHECKSUM, 0, PAGE,
		       tern_arena_iova(&vf->arena, src), 0, &result);
	if (ret != TERN_DESC_ST_OK || result != crc32c(src, PAGE))
		return -EIO;
	return tern_new_save_reads(device);
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
TEST_F_TIMEOUT(tern_pf_reset_test, flr_fails_commands_in_flight, 60)
{
	struct reader r = { .fd = -1 };
	char buf[64];
	pthread_t t;
	long submitted, timeouts, resets;

	ASSERT_EQ(0, __tern_engine_start(self->b.device, 16));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->a.device,
					      VFIO_DEVICE_STATE_PRE_COPY,
					      &r.fd));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x12 1"));
	submitted = tern_pf_op_stat(tern_pf, "SAVE_READ", 1);
	timeouts = tern_pf_op_stat(tern_pf, "SAVE_READ", 3);
	resets = pf_resets(tern_pf);
	ASSERT_LE(0, resets);
	ASSERT_EQ(0, pthread_create(&t, NULL, read_one, &r));
	/* wait (bounded by the test timeout) for the command to be queued */
	while (tern_pf_op_stat(tern_pf, "SAVE_READ", 1) == submitted)
		ASSERT_EQ(0, sched_yield());

	ASSERT_EQ(0, tern_pci_reset(tern_pf));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(-1, r.ret);
	ASSERT_EQ(ENODEV, r.err);
	ASSERT_EQ(timeouts, tern_pf_op_stat(tern_pf, "SAVE_READ", 3));
	ASSERT_EQ(resets + 1, pf_resets(tern_pf));

	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(self->a.device));
	ASSERT_EQ(-1, read(r.fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(r.fd);
	ASSERT_EQ(-EINVAL, tern_mig_state_set(self->a.device,
					      VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->b.device));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vf_recovers(&self->b));
}

/* DMA logging is a session too: its report fails after a PF reset. */
TEST_F(tern_pf_reset_test, flr_ends_dma_logging)
{
	struct vfio_device_feature_dma_logging_range range;
	u64 page_size = PAGE, bitmap[ARENA_SIZE / PAGE / 64];
	struct vfio_pci_device *a;

	/* DMA logging needs iommufd: open A again on it */
	vf_close(&self->a);
	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	self->iommufd = iommu_init(MODE_IOMMUFD);
	vf_open(&self->a, self->bdf[0], self->iommufd);
	a = self->a.device;
	SKIP_UNLESS_KERNEL_HAS(tern_dma_logging_available(a), "dma_logging");
	range = (struct vfio_device_feature_dma_logging_range) {
		.iova = self->a.arena.region.iova,
		.length = self->a.arena.region.size,
	};
	ASSERT_EQ(0, __vfio_pci_dma_logging_start(a, &range, 1, &page_size));
	ASSERT_EQ(0, __vfio_pci_dma_logging_report(a, range.iova, range.length,
						   page_size, bitmap));

	ASSERT_EQ(0, tern_pci_reset(tern_pf));
	ASSERT_EQ(-EIO, __vfio_pci_dma_logging_report(a, range.iova,
						      range.length, page_size,
						      bitmap));
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(a));
	ASSERT_EQ(0, __vfio_pci_dma_logging_stop(a));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, __vfio_pci_dma_logging_start(a, &range, 1, &page_size));
	ASSERT_EQ(0, __vfio_pci_dma_logging_report(a, range.iova, range.length,
						   page_size, bitmap));
	ASSERT_EQ(0, __vfio_pci_dma_logging_stop(a));
}

FIXTURE(tern_pf_reset_aer_test)
{
	char bdf[1][16];
	struct iommu *iommu;
	struct vf a;
};

FIXTURE_VARIANT(tern_pf_reset_aer_test)
{
	u32 uncor_status;
};

/* Completer Abort: non-fatal by default; recovery without a reset */
FIXTURE_VARIANT_ADD(tern_pf_reset_aer_test, nonfatal)
{
	.uncor_status = PCI_ERR_UNC_COMP_ABORT,
};

/* Malformed TLP: fatal by default; the link below the port is reset */
FIXTURE_VARIANT_ADD(tern_pf_reset_aer_test, fatal)
{
	.uncor_status = PCI_ERR_UNC_MALF_TLP,
};

FIXTURE_SETUP(tern_pf_reset_aer_test)
{
	TERN_SKIP_UNLESS_DESTRUCTIVE("injects PCI errors on PF %s", tern_pf);
	SKIP_UNLESS_KERNEL_HAS(!access(AER_INJECT, W_OK), "aer_inject");
	TERN_PREPARE_OR_SKIP(TERN_PF_DRIVER, TERN_VF_DRIVER, 1, self->bdf);
	self->iommu = iommu_init(MODE_VFIO_TYPE1V2_IOMMU);
	vf_open(&self->a, self->bdf[0], self->iommu);
}

FIXTURE_TEARDOWN(tern_pf_reset_aer_test)
{
	vf_close(&self->a);
	iommu_cleanup(self->iommu);
}

/*
 * The PCI core's recovery calls the PF driver's error handlers: the
 * firmware is reset, the save file of the session it ended fails, and
 * the VF works again after VFIO_DEVICE_RESET. (A fatal error resets the
 * VF too, which ends its session by itself: its state is RUNNING or, if
 * the driver saw the PF's reset first, ERROR.)
 */
TEST_F_TIMEOUT(tern_pf_reset_aer_test, recovery_resets_the_firmware, 60)
{
	char buf[64];
	long resets;
	int fd;

	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->a.device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	resets = pf_resets(tern_pf);
	ASSERT_LE(0, resets);
	ASSERT_EQ(0, tern_aer_inject(tern_pf, variant->uncor_status));
	ASSERT_EQ(resets + 1, wait_pf_resets(tern_pf, resets));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	/* a non-fatal error resets the firmware alone: the VF runs on */
	if (variant->uncor_status == PCI_ERR_UNC_COMP_ABORT)
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING,
			  tern_mig_state(self->a.device));
	ASSERT_EQ(0, vf_recovers(&self->a));
}

/*
 * STATUS.FATAL: the queue stops and answers nothing. The command that
 * found it times out, the driver then resets the firmware and starts the
 * queue again, and the VF whose session it ended recovers by reset.
 */
TEST_F_TIMEOUT(tern_pf_reset_test, fatal_queue_error_recovers, 60)
{
	long resets = pf_resets(tern_pf);

	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "1000"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "fatal"));
	ASSERT_EQ(-ETIMEDOUT, tern_mig_state_set(self->a.device,
						 VFIO_DEVICE_STATE_PRE_COPY));
	ASSERT_EQ(resets + 1, wait_pf_resets(tern_pf, resets));
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(self->a.device));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->b.device));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, tern_new_save_reads(self->b.device));
}

/*
 * A reset of the firmware alone (STATUS.FATAL, found here by the SAVE_QUERY
 * of a PRECOPY_INFO, which changes no state) does not touch the VF
 * functions: a VF its VMM had in PRE_COPY runs on as it was. It stays
 * RUNNING rather than going to ERROR, which QEMU answers with an FLR that
 * would wipe it: its save file fails, its device memory and engine work
 * on without any reset, and a new migration starts.
 */
TEST_F_TIMEOUT(tern_pf_reset_test, firmware_reset_spares_running_vfs, 60)
{
	struct vfio_pci_device *a = self->a.device;
	u8 *devmem = a->bars[TERN_VF_BAR_DEVMEM].vaddr;
	u8 *src = tern_arena_alloc(&self->a.arena, PAGE, PAGE);
	struct vfio_precopy_info info;
	long resets = pf_resets(tern_pf);
	u32 result;
	char buf[64];
	int fd;

	ASSERT_LE(0, resets);
	ASSERT_NE(NULL, src);
	memset(src, 0x3c, PAGE);
	memset(devmem, 0xa5, PAGE);
	ASSERT_EQ(0, __tern_engine_start(a, 16));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(a, VFIO_DEVICE_STATE_PRE_COPY,
					      &fd));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "1000"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "fatal"));
	ASSERT_EQ(-ETIMEDOUT, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(resets + 1, wait_pf_resets(tern_pf, resets));

	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(a));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
	/* no reset: device memory as the guest left it, the engine runs */
	ASSERT_EQ(0xa5, devmem[PAGE - 1]);
	ASSERT_EQ(TERN_DESC_ST_OK,
		  tern_job(a, TERN_DESC_OP_CHECKSUM, 0, PAGE,
			   tern_arena_iova(&self->a.arena, src), 0, &result));
	ASSERT_EQ(crc32c(src, PAGE), result);
	ASSERT_EQ(0, tern_new_save_reads(a));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->b.device));
}

struct state_setter {
	struct vfio_pci_device *device;
	enum vfio_device_mig_state state;
	int ret;
};

static void *set_state(void *arg)
{
	struct state_setter *s = arg;

	s->ret = tern_mig_state_set(s->device, s->state);
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
TEST_F_TIMEOUT(tern_pf_reset_test, flr_between_submit_phases_posts_nothing, 60)
{
	struct state_setter setter = {
		.device = self->a.device,
		.state = VFIO_DEVICE_STATE_PRE_COPY,
	};
	long resets = pf_resets(tern_pf), delayed, posted;
	char n[32];
	pthread_t thread;

	SKIP_UNLESS_KERNEL_HAS(!access(CORE_DEBUGFS "/submit_delay_ms", W_OK),
			       "fault_injection");
	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_read(CORE_DEBUGFS "/submits_delayed", n, sizeof(n)));
	delayed = atol(n);
	posted = tern_pf_op_stat(tern_pf, "SAVE_BEGIN", 1);
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
	ASSERT_EQ(0, tern_pci_reset(tern_pf));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/submit_delay_ms", "0"));
	ASSERT_EQ(0, sysfs_write(CORE_DEBUGFS "/submit_delay_opcode", "0xff"));
	ASSERT_EQ(-ENODEV, setter.ret);
	ASSERT_EQ(resets + 1, pf_resets(tern_pf));
	ASSERT_EQ(posted, tern_pf_op_stat(tern_pf, "SAVE_BEGIN", 1));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vf_recovers(&self->b));
}

/* the PF's vendor ID as config space reads it: 0xffff when unreachable */
static int pf_vendor(const char *pf)
{
	char path[96];
	u16 vendor;
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
TEST_F_TIMEOUT(tern_pf_reset_test, unreachable_pf_fails_commands_at_once, 60)
{
	long resets = pf_resets(tern_pf);

	ASSERT_LE(0, resets);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "vanish 5000"));
	ASSERT_EQ(0xffff, pf_vendor(tern_pf));
	ASSERT_EQ(-ETIMEDOUT, tern_mig_state_set(self->a.device,
						 VFIO_DEVICE_STATE_PRE_COPY));
	/* the timeout found the PF gone: no recovery, no more waiting */
	ASSERT_EQ(-ENODEV, tern_mig_state_set(self->b.device,
					      VFIO_DEVICE_STATE_PRE_COPY));
	ASSERT_EQ(resets, pf_resets(tern_pf));

	/* back after the rule's time (bounded by the test's timeout) */
	while (pf_vendor(tern_pf) == 0xffff)
		ASSERT_EQ(0, sched_yield());
	ASSERT_EQ(0, tern_pci_reset(tern_pf));
	ASSERT_EQ(resets + 1, pf_resets(tern_pf));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, self->timeout));
	ASSERT_EQ(0, vf_recovers(&self->a));
	ASSERT_EQ(0, vf_recovers(&self->b));
}

TERN_TEST_HARNESS_MAIN
