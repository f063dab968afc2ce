// SPDX-License-Identifier: GPL-2.0
/*
 * The PF core driver's firmware command layer, seen from a VMM: firmware
 * errors and stalls injected on the admin command behind a migration arc
 * come back as the documented errno within the command timeout, the queue
 * keeps working afterwards, and the driver's counters saw it. Also the
 * kernel fault-injection attribute and SR-IOV refusal under an open VF.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include <linux/pci_regs.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "tern_vf.h"

#define DEBUGFS		"/sys/kernel/debug/tern_core"
#define TIMEOUT_PARAM	"/sys/module/tern_core/parameters/cmd_timeout_ms"
#define DEPTH_PARAM	"/sys/module/tern_vfio_pci/parameters/depth"
#define CHUNK_PARAM	"/sys/module/tern_vfio_pci/parameters/chunk_kb"

/*
 * The IOMMU mode the VF is opened in: the container, which every kernel has
 * (the firmware command layer does not depend on it).
 */
#define IOMMU_MODE	MODE_VFIO_TYPE1V2_IOMMU

FIXTURE(tern_core_test)
{
	struct iommu *iommu;
	struct vfio_pci_device *device;
	char bdf[2][16];
	char timeout[32];
	char depth[16];
	char chunk_kb[16];
	/* only a PF reset frees what the test took (teardown does it) */
	bool pf_reset_needed;
};

FIXTURE_SETUP(tern_core_test)
{
	SKIP_UNLESS_IOMMU_MODE(IOMMU_MODE);
	TERN_SKIP_UNLESS_DESTRUCTIVE("injects faults on PF %s, seen by all its VFs",
				     tern_pf);
	ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2,
				      self->bdf));
	self->iommu = iommu_init(IOMMU_MODE);
	self->device = vfio_pci_device_init(self->bdf[0], self->iommu);
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, self->timeout,
				sizeof(self->timeout)));
	ASSERT_EQ(0, sysfs_read(DEPTH_PARAM, self->depth, sizeof(self->depth)));
	ASSERT_EQ(0, sysfs_read(CHUNK_PARAM, self->chunk_kb,
				sizeof(self->chunk_kb)));
}

/*
 * Whatever a test left behind, the VF included, can be taken back: only
 * what the set-up got to is undone (nothing on the PF if it SKIPped).
 */
FIXTURE_TEARDOWN(tern_core_test)
{
	if (self->pf_reset_needed)
		tern_pci_reset(tern_pf);
	if (self->device)
		tern_pf_fw_fault(tern_pf, "clear");
	if (self->timeout[0])
		sysfs_write(TIMEOUT_PARAM, self->timeout);
	if (self->depth[0])
		sysfs_write(DEPTH_PARAM, self->depth);
	if (self->chunk_kb[0])
		sysfs_write(CHUNK_PARAM, self->chunk_kb);
	if (self->device)
		vfio_pci_device_cleanup(self->device);
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

static long long mapped_bytes(const char *pf)
{
	return tern_pf_value(pf, "buf_bytes");
}

/*
 * A firmware that answers a command twice: the copy comes once the next
 * command took the slot. Command ids carry the slot's generation, so the
 * copy answers nothing and the next command gets its own answer (without
 * them the retry below got the first command's -EIO).
 */
TEST_F(tern_core_test, repeated_answer_is_not_the_next_ones)
{
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "fail 0x02 1"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "duplicate 0x02 1"));
	ASSERT_EQ(-EIO, tern_mig_state_set(self->device,
					   VFIO_DEVICE_STATE_RUNNING_P2P));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING_P2P));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, tern_new_save_reads(self->device));
}

/* A firmware failure of VF_QUIESCE: -EIO, state unchanged, queue fine. */
TEST_F(tern_core_test, firmware_error)
{
	long before = tern_pf_op_stat(tern_pf, "VF_QUIESCE", 2);

	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "fail 0x02 1"));
	ASSERT_EQ(-EIO, tern_mig_state_set(self->device,
					   VFIO_DEVICE_STATE_RUNNING_P2P));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	ASSERT_EQ(before + 1, tern_pf_op_stat(tern_pf, "VF_QUIESCE", 2));
	/* the rule was for one command: the next one goes through */
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING_P2P));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
}

/*
 * A SAVE_END that fails ends the arc in ERROR, not back in PRE_COPY: the
 * save fd was disabled before the command, and a PRE_COPY without it would
 * take STOP_COPY to a save that is gone. VFIO_DEVICE_RESET recovers.
 */
TEST_F(tern_core_test, failed_save_end_is_error)
{
	char buf[4096];
	int fd;

	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "fail 0x13 1"));
	ASSERT_EQ(-EIO, tern_mig_state_set(self->device,
					   VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(self->device));
	ASSERT_EQ(-EINVAL, tern_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_STOP_COPY));
	close(fd);
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	/* a whole save works again */
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_STOP_COPY));
	ASSERT_EQ(0, tern_mig_state_set(self->device, VFIO_DEVICE_STATE_STOP));
	close(fd);
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
}

/* Firmware statuses map to their documented errnos. */
TEST_F(tern_core_test, status_to_errno)
{
	static const struct {
		const char *status;
		int err;
	} map[] = {
		{ "0x02", -EINVAL }, { "0x04", -EBUSY }, { "0x05", -ENOMEM },
		{ "0x06", -EFAULT }, { "0x13", -EINVAL },
	};
	char rule[64];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(map); i++) {
		snprintf(rule, sizeof(rule), "fail 0x02 1 %s", map[i].status);
		ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, rule));
		ASSERT_EQ(map[i].err,
			  tern_mig_state_set(self->device,
					     VFIO_DEVICE_STATE_RUNNING_P2P))
			TH_LOG("status %s", map[i].status);
	}
}

/*
 * A stalled VF_QUIESCE: the caller gets -ETIMEDOUT after the timeout, not
 * before and not much later; the device state is unknown, so ERROR. The
 * queue keeps serving other commands, and a reset recovers the VF.
 */
TEST_F(tern_core_test, firmware_stall_times_out)
{
	const int timeout_ms = 300;
	char val[16];
	double t;

	snprintf(val, sizeof(val), "%d", timeout_ms);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, val));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x02 1"));
	t = monotonic_s();
	ASSERT_EQ(-ETIMEDOUT,
		  tern_mig_state_set(self->device,
				     VFIO_DEVICE_STATE_RUNNING_P2P));
	t = monotonic_s() - t;
	ASSERT_GE(t, timeout_ms / 1000.0 * 0.9);
	ASSERT_LT(t, timeout_ms / 1000.0 * 10);
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(self->device));

	/* other commands flow while the stalled one is outstanding */
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	ASSERT_EQ(0, tern_mig_state_set(self->device, VFIO_DEVICE_STATE_STOP));
	/* CLEAR aborts the stalled command; its late answer frees its slot */
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
}

/* A timeout of 0 would fail every command: refused, and so are > 1 h. */
TEST_F(tern_core_test, command_timeout_has_bounds)
{
	char val[32];

	ASSERT_EQ(-EINVAL, sysfs_write(TIMEOUT_PARAM, "0"));
	ASSERT_EQ(-EINVAL, sysfs_write(TIMEOUT_PARAM, "3600001"));
	ASSERT_EQ(0, sysfs_read(TIMEOUT_PARAM, val, sizeof(val)));
	ASSERT_EQ(strtoul(self->timeout, NULL, 0), strtoul(val, NULL, 0));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "1"));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, self->timeout));
}

/* The kernel fault-injection attribute fails commands before the queue. */
TEST_F(tern_core_test, kernel_fault_injection)
{
	SKIP_UNLESS_KERNEL_HAS(!access(DEBUGFS "/fail_cmd", F_OK),
			       "fault_injection");
	ASSERT_EQ(0, sysfs_write(DEBUGFS "/fail_cmd/verbose", "0"));
	ASSERT_EQ(0, sysfs_write(DEBUGFS "/fail_cmd_opcode", "0x3"));
	ASSERT_EQ(0, sysfs_write(DEBUGFS "/fail_cmd/probability", "100"));
	ASSERT_EQ(0, sysfs_write(DEBUGFS "/fail_cmd/times", "1"));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING_P2P));
	/* RUNNING_P2P -> STOP is VF_FREEZE (0x03): injected */
	ASSERT_EQ(-EIO, tern_mig_state_set(self->device,
					   VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING_P2P, tern_mig_state(self->device));
	ASSERT_EQ(0, tern_mig_state_set(self->device, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, sysfs_write(DEBUGFS "/fail_cmd/probability", "0"));
	ASSERT_EQ(0, sysfs_write(DEBUGFS "/fail_cmd_opcode", "0xff"));
}

/* SR-IOV cannot be disabled under an open VF. */
TEST_F(tern_core_test, sriov_busy_while_open)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs",
		 tern_pf);
	ASSERT_EQ(-EBUSY, sysfs_write(path, "0"));
}

/*
 * O_NONBLOCK on a save fd: a read() whose data the firmware has not
 * answered yet (here a stalled SAVE_READ) fails with -EAGAIN at once
 * instead of waiting, and poll() does not report the fd readable; when
 * the firmware answers (CLEAR aborts the stalled command) poll() wakes,
 * and the reads go on in stream order: the aborted command's error, then
 * the data the commands behind it fetched.
 */
TEST_F(tern_core_test, nonblocking_read_does_not_wait)
{
	struct pollfd pfd;
	char buf[4096];
	double t;
	int fd;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "3000"));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x12 1"));
	t = monotonic_s();
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_LT(monotonic_s() - t, 1.0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ASSERT_EQ(0, poll(&pfd, 1, 100));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ECANCELED, errno);
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
	close(fd);
}

/*
 * poll() on a save fd with nothing in its ring asks the firmware for its
 * sizes (SAVE_QUERY) without waiting for the answer: with SAVE_QUERY
 * stalled and a one-minute command timeout it returns at once, twice,
 * having asked once; the late answer then wakes a waiting poll() with
 * EPOLLIN (review N12: poll() used to wait for it, up to the timeout).
 */
TEST_F(tern_core_test, poll_does_not_wait_for_the_firmware)
{
	struct pollfd pfd;
	char buf[64];
	long asked;
	int fd;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x11 1"));
	asked = tern_pf_op_stat(tern_pf, "SAVE_QUERY", 1);
	ASSERT_LE(0, asked);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(asked + 1, tern_pf_op_stat(tern_pf, "SAVE_QUERY", 1));
	ASSERT_EQ(0, poll(&pfd, 1, 0));
	ASSERT_EQ(asked + 1, tern_pf_op_stat(tern_pf, "SAVE_QUERY", 1));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_TRUE(pfd.revents & POLLIN);
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
	close(fd);
}

/* A save fd of @device read once with O_NONBLOCK: -1, or the fd. */
static int nonblocking_save_fd(struct vfio_pci_device *device)
{
	char buf[64];
	int fd;

	if (__vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_PRE_COPY, &fd))
		return -1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (read(fd, buf, sizeof(buf)) != -1 || errno != EAGAIN) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The PF's 32 command slots are shared by its VFs. With every one of
 * them taken by another VF's stalled commands (16 SAVE_READs of a save
 * fd that was closed, which stay the device's, and 16 of the next),
 * an O_NONBLOCK read() of this VF fails with -EAGAIN at once rather
 * than wait for a slot (cmd_timeout_ms, 3 s here). Destructive: only a
 * PF reset gives the slots back.
 */
TEST_F(tern_core_test, nonblocking_read_does_not_wait_for_a_slot)
{
	struct vfio_pci_device *b;
	char buf[64];
	long before;
	int fa, fb;
	double t;

	/* the other VF of the PF, in the same container */
	b = vfio_pci_device_init(self->bdf[1], self->iommu);
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "3000"));
	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "16"));
	/* this VF's save fd, opened while there are slots */
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fa));
	ASSERT_EQ(0, fcntl(fa, F_SETFL, fcntl(fa, F_GETFL) | O_NONBLOCK));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x12 32"));
	self->pf_reset_needed = true;
	before = tern_pf_op_stat(tern_pf, "SAVE_READ", 1);
	fb = nonblocking_save_fd(b);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, tern_mig_state_set(b, VFIO_DEVICE_STATE_RUNNING));
	close(fb);
	fb = nonblocking_save_fd(b);
	ASSERT_LE(0, fb);
	ASSERT_EQ(before + 32, tern_pf_op_stat(tern_pf, "SAVE_READ", 1));

	t = monotonic_s();
	ASSERT_EQ(-1, read(fa, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_LT(monotonic_s() - t, 1.0);

	/*
	 * With every slot taken no command, CLEAR included, gets through:
	 * a reset of the PF frees them, as it would on a host. Both VFs'
	 * sessions end with it (ERROR; closing the VFs resets them).
	 */
	ASSERT_EQ(0, tern_pci_reset(tern_pf));
	self->pf_reset_needed = false;
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	close(fb);
	vfio_pci_device_cleanup(b);
	close(fa);
}

/*
 * O_NONBLOCK on a resume fd: with every chunk of the ring (2 x 4 KiB)
 * still with the firmware (the first LOAD_WRITE stalled) write() fails
 * with -EAGAIN at once and poll() does not report POLLOUT; when the
 * firmware answers (CLEAR aborts the stalled command) poll() reports the
 * error, write() returns it, and the load fails as a whole.
 */
TEST_F(tern_core_test, nonblocking_write_does_not_wait)
{
	static char buf[8192];
	struct pollfd pfd;
	double t;
	int fd;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "3000"));
	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "2"));
	ASSERT_EQ(0, sysfs_write(CHUNK_PARAM, "4"));
	ASSERT_EQ(0, tern_mig_state_set(self->device, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_RESUMING, &fd));
	ASSERT_EQ(0, fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x21 1"));
	t = monotonic_s();
	/* both chunks go to the firmware; the first one stalls */
	ASSERT_EQ(sizeof(buf), write(fd, buf, sizeof(buf)));
	ASSERT_EQ(-1, write(fd, buf, sizeof(buf)));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_LT(monotonic_s() - t, 1.0);
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	ASSERT_EQ(0, poll(&pfd, 1, 100));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	ASSERT_TRUE(pfd.revents & POLLERR);
	ASSERT_EQ(-1, write(fd, buf, sizeof(buf)));
	ASSERT_EQ(ECANCELED, errno);
	ASSERT_NE(0, tern_mig_state_set(self->device, VFIO_DEVICE_STATE_STOP));
	close(fd);
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
}

/*
 * A buffer a timed-out command may still write is not reused: after a
 * stalled SAVE_READ times out, the next read() of the same save file
 * fails with -EBUSY until the firmware answers (CLEAR aborts the stalled
 * command); then reading works again. Closing the file frees the buffer.
 * One buffer per file, so that the next read() needs that one.
 */
TEST_F(tern_core_test, timed_out_buffer_is_not_reused)
{
	char buf[4096];
	int fd;

	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "1"));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x12 1"));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ETIMEDOUT, errno);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(EBUSY, errno);
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	/*
	 * CLEAR queues the ABORTED answer behind itself; the firmware runs
	 * commands in order, so once a later command is answered, so is the
	 * stalled one, and the buffer is free.
	 */
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_LT(0, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
	close(fd);
}

/*
 * A SAVE_READ the firmware answers after the driver gave up on it (RELEASE
 * runs the stalled command late) took a piece of the stream userspace
 * never got: the save file fails from then on, every read() with -EIO,
 * instead of handing out a stream with a hole. The session still ends,
 * and the next one works. One buffer per file, so that the next read()
 * asks the firmware after the late answer.
 */
TEST_F(tern_core_test, late_save_read_breaks_the_stream)
{
	char buf[4096];
	int fd;

	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "1"));
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x12 1"));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ETIMEDOUT, errno);
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	/* commands are answered in order: this one after the late one */
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(EIO, errno);
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(EIO, errno);
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
	close(fd);
	ASSERT_EQ(0, tern_new_save_reads(self->device));
}

/*
 * MIG_DATA_SIZE opens a throw-away save session; if its SAVE_BEGIN times
 * out and runs late, the firmware holds a session nobody ends. The driver
 * owes it a SAVE_END and pays before the next SAVE_BEGIN: PRE_COPY works
 * (without it the firmware answers BUSY).
 */
/* MIG_DATA_SIZE whose throw-away SAVE_BEGIN is stalled past its timeout */
static void data_size_times_out(struct __test_metadata *_metadata,
				FIXTURE_DATA(tern_core_test) *self)
{
	u64 length;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x10 1"));
	ASSERT_EQ(-ETIMEDOUT, __vfio_pci_mig_data_size(self->device, &length));
}

TEST_F(tern_core_test, timed_out_data_size_session_is_ended)
{
	u64 length;

	data_size_times_out(_metadata, self);
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	/* commands are answered in order: this one after the late one */
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(0, tern_new_save_reads(self->device));
	ASSERT_EQ(0, __vfio_pci_mig_data_size(self->device, &length));
	ASSERT_LT(0, length);
}

/*
 * The same with a VF reset before the late SAVE_BEGIN runs: a VF reset
 * does not drop a command the firmware holds, so the session it opens
 * after the reset is still owed its SAVE_END.
 */
TEST_F(tern_core_test, timed_out_data_size_session_survives_a_reset)
{
	data_size_times_out(_metadata, self);
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	/* answered after the late SAVE_BEGIN's answer */
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	ASSERT_EQ(0, tern_new_save_reads(self->device));
}

/*
 * An arc whose VF_FREEZE times out leaves ERROR; the VMM resets the VF,
 * and the firmware runs the late VF_FREEZE after the reset. RUNNING must
 * still be true of the VF: the driver undoes the late command once it
 * was answered, before anything else reaches the VF.
 */
TEST_F(tern_core_test, late_freeze_after_a_reset_is_undone)
{
	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "300"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x03 1"));
	ASSERT_EQ(-ETIMEDOUT, tern_mig_state_set(self->device,
						 VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(VFIO_DEVICE_STATE_ERROR, tern_mig_state(self->device));
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "clear"));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	/* SAVE_BEGIN(PRECOPY) is refused on a frozen VF */
	ASSERT_EQ(0, tern_new_save_reads(self->device));
}

struct reset_arg {
	struct vfio_pci_device *device;
	double done;
	int ret;
};

static void *reset_thread(void *p)
{
	struct reset_arg *arg = p;

	arg->ret = __vfio_pci_device_reset(arg->device);
	arg->done = monotonic_s();
	return NULL;
}

/*
 * A VMM with two threads: one resets the VF, the other changes its state
 * while the reset waits out the FLR (about 100 ms). An arc that runs on
 * the fresh VF between the FLR and the end of the reset is undone with
 * the reset: whatever GET_STATE says afterwards is true of the VF, so
 * the VMM can go to RUNNING and migrate again. The delays only place the
 * arc at different points of the reset; every outcome is checked alike.
 */
TEST_F(tern_core_test, arc_during_the_flr_wait_is_undone)
{
	static const int delay_ms[] = { 5, 20, 40, 60, 80 };
	int inside = 0;
	size_t k;

	for (k = 0; k < ARRAY_SIZE(delay_ms); k++) {
		struct reset_arg arg = { .device = self->device, .ret = 1 };
		u32 state;
		struct timespec ts = {
			.tv_nsec = delay_ms[k] * 1000000L,
		};
		pthread_t t;
		double stopped;
		int ret;

		ASSERT_EQ(0, pthread_create(&t, NULL, reset_thread, &arg));
		nanosleep(&ts, NULL);
		ret = tern_mig_state_set(self->device, VFIO_DEVICE_STATE_STOP);
		stopped = monotonic_s();
		ASSERT_EQ(0, pthread_join(t, NULL));
		ASSERT_EQ(0, arg.ret);
		ASSERT_EQ(0, ret);
		if (stopped < arg.done)
			inside++;
		state = tern_mig_state(self->device);
		TH_LOG("STOP %d ms after the reset began, %s it ended: %s",
		       delay_ms[k], stopped < arg.done ? "before" : "after",
		       state == VFIO_DEVICE_STATE_RUNNING ? "RUNNING" : "STOP");
		ASSERT_EQ(0, tern_mig_state_set(self->device,
						VFIO_DEVICE_STATE_RUNNING));
		ASSERT_EQ(0, tern_new_save_reads(self->device));
	}
	/* the race was run, not only its edges */
	ASSERT_LT(0, inside);
}

/*
 * A reset ends the sessions of the files it finds, which userspace may
 * keep open for good: {PRE_COPY; reset} in a loop with every save file
 * kept open must not pile up their PF-owned buffers. The next state
 * change ends the orphans (after any read() or write() still running on
 * them); an orphan fails with -ENODEV.
 */
TEST_F(tern_core_test, reset_orphans_give_their_buffers_back)
{
	int fds[9], i, ret;
	long long idle, ring;
	char buf[64];

	idle = mapped_bytes(tern_pf);
	ASSERT_LE(0, idle);
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY,
					      &fds[0]));
	ring = mapped_bytes(tern_pf) - idle;
	ASSERT_LT(0, ring);
	for (i = 1; i < 9; i++) {
		ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
		ret = __vfio_pci_mig_state_set(self->device,
					       VFIO_DEVICE_STATE_PRE_COPY,
					       &fds[i]);
		ASSERT_EQ(0, ret);
	}
	/* eight orphans, one live session: one ring */
	ASSERT_EQ(idle + ring, mapped_bytes(tern_pf));
	ASSERT_EQ(-1, read(fds[0], buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	ASSERT_LT(0, read(fds[8], buf, sizeof(buf)));
	ASSERT_EQ(0, tern_mig_state_set(self->device,
					VFIO_DEVICE_STATE_RUNNING));
	for (i = 0; i < 9; i++)
		close(fds[i]);
}

struct uffd_read {
	int fd;
	void *buf;
	ssize_t ret;
};

static void *read_into(void *p)
{
	struct uffd_read *r = p;

	r->ret = read(r->fd, r->buf, 4096);
	return NULL;
}

/*
 * A read() whose copy to the caller is held on a userfaultfd page (a VMM
 * whose buffer is being faulted in) while VFIO_DEVICE_RESET ends the save
 * session: once the page is there it returns what it had copied, and sends
 * no further SAVE_READ (it used to ask for the next chunk after the copy,
 * into whatever session the VF had by then: review N11).
 */
TEST_F(tern_core_test, orphaned_read_asks_nothing_after_its_copy)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zero = { .range.len = 4096 };
	struct uffd_read r = { .ret = -2 };
	struct pollfd pfd = { .events = POLLIN };
	struct uffd_msg msg;
	pthread_t reader;
	static char data[16 * 4096];
	long reads;
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	SKIP_UNLESS_KERNEL_HAS(uffd >= 0 || errno != ENOSYS, "userfaultfd");
	ASSERT_LE(0, uffd);
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	r.buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r.buf);
	reg.range.start = (unsigned long)r.buf;
	reg.range.len = 4096;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	/*
	 * One SAVE_READ of at most a page at a time: the copy drains it,
	 * which is where the read asked for the next one.
	 */
	ASSERT_EQ(0, sysfs_write(DEPTH_PARAM, "1"));
	ASSERT_EQ(0, sysfs_write(CHUNK_PARAM, "4"));
	/* device memory to save: a stream of many chunks */
	memset(data, 0x5a, sizeof(data));
	vfio_pci_cmd_set(self->device, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	ASSERT_EQ(sizeof(data),
		  pwrite(self->device->fd, data, sizeof(data),
			 self->device->bars[TERN_VF_BAR_DEVMEM].info.offset));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY,
					      &r.fd));

	ASSERT_EQ(0, pthread_create(&reader, NULL, read_into, &r));
	/* the read has its chunk and is in the copy, waiting for the page */
	pfd.fd = uffd;
	ASSERT_EQ(1, poll(&pfd, 1, -1));
	ASSERT_EQ(sizeof(msg), read(uffd, &msg, sizeof(msg)));
	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	ASSERT_EQ(0, tern_device_reset(self->device));
	reads = tern_pf_op_stat(tern_pf, "SAVE_READ", 1);
	ASSERT_LT(0, reads);
	zero.range.start = (unsigned long)r.buf;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	ASSERT_EQ(0, pthread_join(reader, NULL));

	ASSERT_LT(0, r.ret);
	ASSERT_EQ(reads, tern_pf_op_stat(tern_pf, "SAVE_READ", 1));
	ASSERT_EQ(-1, read(r.fd, r.buf, 4096));
	ASSERT_EQ(ENODEV, errno);
	close(r.fd);
	close(uffd);
	munmap(r.buf, 4096);
	ASSERT_EQ(0, tern_new_save_reads(self->device));
}

/*
 * MIG_DATA_SIZE outside a migration opens a throw-away save session; it
 * first ends the files a reset orphaned (review N11), as a state change
 * does: their PF buffers go back before it, whether or not userspace
 * ever closes them.
 */
TEST_F(tern_core_test, data_size_ends_orphaned_files)
{
	long long idle;
	u64 length;
	char buf[64];
	int fd;

	idle = mapped_bytes(tern_pf);
	ASSERT_LE(0, idle);
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device,
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_EQ(0, tern_device_reset(self->device));
	/* the orphan keeps its ring until something ends it */
	ASSERT_LT(idle, mapped_bytes(tern_pf));
	ASSERT_EQ(0, __vfio_pci_mig_data_size(self->device, &length));
	ASSERT_LT(0, length);
	ASSERT_EQ(idle, mapped_bytes(tern_pf));
	ASSERT_EQ(-1, read(fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(fd);
}

struct arc_arg {
	struct vfio_pci_device *device;
	int fd;
	int ret;
};

static void *to_stop_copy(void *p)
{
	struct arc_arg *arg = p;

	arg->ret = __vfio_pci_mig_state_set(arg->device,
					    VFIO_DEVICE_STATE_STOP_COPY,
					    &arg->fd);
	return NULL;
}

/*
 * A reset during a multi-step transition: RUNNING -> STOP_COPY waits in
 * its first step (VF_QUIESCE stalled) while VFIO_DEVICE_RESET resets the
 * VF; the stall released, the remaining steps freeze the fresh VF and
 * open a save session on it. The reset wins: the VF is RUNNING, for the
 * driver and for the firmware (no frozen VF, no session left), so the
 * next migration starts and its stream reads.
 */
TEST_F(tern_core_test, reset_during_a_transition_wins)
{
	struct arc_arg arg = { .device = self->device, .fd = -1, .ret = 1 };
	char buf[64];
	pthread_t arc;
	long before;

	ASSERT_EQ(0, sysfs_write(TIMEOUT_PARAM, "60000"));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "stall 0x02 1"));
	before = tern_pf_op_stat(tern_pf, "VF_QUIESCE", 1);
	ASSERT_EQ(0, pthread_create(&arc, NULL, to_stop_copy, &arg));
	/* wait (bounded by the test timeout) for the command to be queued */
	while (tern_pf_op_stat(tern_pf, "VF_QUIESCE", 1) == before)
		ASSERT_EQ(0, sched_yield());
	ASSERT_EQ(0, __vfio_pci_device_reset(self->device));
	ASSERT_EQ(0, tern_pf_fw_fault(tern_pf, "release"));
	ASSERT_EQ(0, pthread_join(arc, NULL));
	ASSERT_EQ(0, arg.ret);
	/* the file of the arc the reset overtook is dead */
	ASSERT_EQ(-1, read(arg.fd, buf, sizeof(buf)));
	ASSERT_EQ(ENODEV, errno);
	close(arg.fd);

	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, tern_mig_state(self->device));
	ASSERT_EQ(0, tern_new_save_reads(self->device));
}

TERN_TEST_HARNESS_MAIN
