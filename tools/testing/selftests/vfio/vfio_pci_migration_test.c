// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO live migration uAPI on any migratable vfio-pci device, driven
 * only through include/uapi/linux/vfio.h: the migration data stream is
 * opaque to this test, as it is to a VMM.
 *
 * With one BDF the test checks, on that device: the migration flags, every
 * arc of the state machine the flags allow (and the data_fd each arc
 * returns), the data transfer rules of PRE_COPY and STOP_COPY,
 * VFIO_MIG_GET_PRECOPY_INFO (and its v2 flags where the kernel has them),
 * VFIO_DEVICE_FEATURE_MIG_DATA_SIZE and VFIO_DEVICE_RESET in every state.
 * Where an arc needs a valid stream to resume, the device's own saved state
 * is resumed into it.
 *
 * With two BDFs of the same kind of device it also migrates the first
 * device's state into the second one. The two devices share one IOMMU
 * address space, as a VM's memory is mapped at the same IOVAs on the
 * source and the destination of a migration. When libvfio has a driver for
 * the device, the source does DMA before (and during) the migration and
 * the destination does DMA after it.
 *
 * Comments in quotes cite the uAPI header.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>
#include <sys/mman.h>

#include <linux/limits.h>
#include <linux/log2.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>
#include <linux/vfio.h>

#include <libvfio.h>

#include "kselftest_harness.h"

static char **device_bdfs;
static int nr_device_bdfs;

/* Bytes read per read() of a data_fd. */
#define MIG_READ_SIZE		SZ_1M

/* PRE_COPY data read before the temporary end of stream must show up. */
#define MIG_PRECOPY_MAX		SZ_1G

/* Bytes the source copies before the migration, the destination after it. */
#define DMA_MAX_SIZE		SZ_64M

/* Bytes the source has in flight when it is stopped. */
#define DMA_IN_FLIGHT_MAX	SZ_1G

#define MSI_TIMEOUT_MS		10000

/*
 * "PRE_COPY, PRE_COPY_P2P and STOP_COPY form the "saving group" of states
 * which share a data transfer session."
 */
static bool mig_state_saving(u32 state)
{
	return state == VFIO_DEVICE_STATE_PRE_COPY ||
	       state == VFIO_DEVICE_STATE_PRE_COPY_P2P ||
	       state == VFIO_DEVICE_STATE_STOP_COPY;
}

/*
 * Whether the transition from @from to @to returns a new data_fd.
 *
 * "RUNNING -> PRE_COPY, RUNNING_P2P -> PRE_COPY_P2P, STOP -> STOP_COPY ...
 * These arcs begin the process of saving the device state and will return a
 * new data_fd." "STOP -> RESUMING: Entering the RESUMING state starts a
 * process of restoring the device state and will return a new data_fd."
 * "Moving between these [saving group] states alters what is streamed in
 * session, but does not terminate or otherwise affect the associated fd."
 *
 * A combination transition enters the saving group only at its end ("The
 * path cannot have saving group states as interior arcs"; PRE_COPY ->
 * PRE_COPY_P2P -> STOP_COPY stays in the group), so it starts a session
 * exactly when it enters the saving group from outside of it, or enters
 * RESUMING.
 */
static bool mig_arc_opens_session(u32 from, u32 to)
{
	if (from == to)
		return false;

	if (to == VFIO_DEVICE_STATE_RESUMING)
		return true;

	return mig_state_saving(to) && !mig_state_saving(from);
}

/*
 * "STOP_COPY -> PRE_COPY, STOP_COPY -> PRE_COPY_P2P: These arcs are not
 * permitted and return error if requested."
 */
static bool mig_arc_blocked(u32 from, u32 to)
{
	return from == VFIO_DEVICE_STATE_STOP_COPY &&
	       (to == VFIO_DEVICE_STATE_PRE_COPY ||
		to == VFIO_DEVICE_STATE_PRE_COPY_P2P);
}

/*
 * VFIO_MIG_GET_PRECOPY_INFO outside of PRE_COPY and PRE_COPY_P2P: "This
 * ioctl is valid only in PRE_COPY states and kernel driver should return
 * -EINVAL from any other migration state." and "Support for this ioctl is
 * mandatory if a driver claims to support VFIO_MIGRATION_PRE_COPY". A
 * data_fd that has no such ioctl at all (the saving fd of a device without
 * PRE_COPY, a RESUMING fd) fails it like any file: ENOTTY.
 */
static void precopy_info_check_invalid(int data_fd, u64 flags, bool saving_fd)
{
	struct vfio_precopy_info info;
	int ret;

	ret = __vfio_mig_precopy_info(data_fd, 0, &info);

	if (saving_fd && (flags & VFIO_MIGRATION_PRE_COPY))
		VFIO_ASSERT_EQ(ret, -EINVAL);
	else
		VFIO_ASSERT_TRUE(ret == -EINVAL || ret == -ENOTTY,
				 "VFIO_MIG_GET_PRECOPY_INFO returned %d\n", ret);
}

/*
 * The migration state machine does not depend on how the device's DMA is
 * translated: the single-device tests use one IOMMU mode, libvfio's default
 * where the kernel has it, else the type1 container.
 */
static const char *single_device_iommu_mode(const char *bdf)
{
	if (vfio_iommu_mode_available(default_iommu_mode, bdf))
		return default_iommu_mode;

	return MODE_VFIO_TYPE1V2_IOMMU;
}

FIXTURE(vfio_pci_migration_test) {
	struct iommu *iommu;
	struct vfio_pci_device *device;
	u64 flags;
};

FIXTURE_SETUP(vfio_pci_migration_test)
{
	const char *bdf = device_bdfs[0];

	self->iommu = iommu_init(single_device_iommu_mode(bdf));
	self->device = vfio_pci_device_init(bdf, self->iommu);

	ASSERT_EQ(0, __vfio_pci_mig_flags_get(self->device, &self->flags));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(self->device));
}

FIXTURE_TEARDOWN(vfio_pci_migration_test)
{
	vfio_pci_device_cleanup(self->device);
	iommu_cleanup(self->iommu);
}

TEST_F(vfio_pci_migration_test, flags)
{
	struct vfio_pci_device *device = self->device;
	struct vfio_device_feature_mig_state mig = {};
	u64 flags = self->flags;

	printf("Migration flags: 0x%llx:%s%s%s\n", (unsigned long long)flags,
	       flags & VFIO_MIGRATION_STOP_COPY ? " STOP_COPY" : "",
	       flags & VFIO_MIGRATION_P2P ? " P2P" : "",
	       flags & VFIO_MIGRATION_PRE_COPY ? " PRE_COPY" : "");

	/* "at least VFIO_MIGRATION_STOP_COPY must be set" */
	ASSERT_TRUE(flags & VFIO_MIGRATION_STOP_COPY);

	/*
	 * "Support for a feature can be probed by setting both the FEATURE_MASK
	 * and PROBE bits. A probe may optionally include the GET and/or SET bits
	 * to determine read vs write access of the feature respectively."
	 */
	ASSERT_EQ(0, __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
				      VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0));
	ASSERT_EQ(0, __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
				      VFIO_DEVICE_FEATURE_GET |
				      VFIO_DEVICE_FEATURE_MIGRATION, NULL, 0));
	ASSERT_EQ(0, __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
				      VFIO_DEVICE_FEATURE_GET |
				      VFIO_DEVICE_FEATURE_SET |
				      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				      NULL, 0));

	/* "GET and SET are mutually exclusive, except for use with PROBE." */
	ASSERT_NE(0, __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_GET |
				      VFIO_DEVICE_FEATURE_SET |
				      VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
				      &mig, sizeof(mig)));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(device));
}

TEST_F(vfio_pci_migration_test, invalid_states)
{
	struct vfio_pci_device *device = self->device;
	u32 state;
	int fd;

	/*
	 * "ERROR cannot be specified as a device state", "The optional states
	 * cannot be used with SET_STATE if the device does not support them",
	 * and values that are not a state of enum vfio_device_mig_state are
	 * none either. Such a request names no path, so the device stays where
	 * it is.
	 */
	for (state = VFIO_DEVICE_STATE_ERROR; state <= VFIO_DEVICE_STATE_NR; state++) {
		if (vfio_mig_state_supported(self->flags, state))
			continue;

		printf("Setting %u (%s)\n", state, vfio_mig_state_name(state));
		ASSERT_NE(0, __vfio_pci_mig_state_set(device, state, &fd));
		ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(device));
	}

	ASSERT_NE(0, __vfio_pci_mig_state_set(device, ~0U, &fd));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(device));
}

static void mig_data_size_print(struct vfio_pci_device *device, const char *when)
{
	u64 length;

	if (__vfio_pci_mig_data_size(device, &length))
		return;

	printf("MIG_DATA_SIZE %s: %llu bytes\n", when, (unsigned long long)length);
}

TEST_F(vfio_pci_migration_test, stop_copy_stream)
{
	struct vfio_pci_device *device = self->device;
	struct vfio_mig_stream stream = {};
	int data_fd;

	mig_data_size_print(device, "in RUNNING");

	/* RUNNING -> STOP -> STOP_COPY: "will return a new data_fd" */
	data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, data_fd);
	ASSERT_EQ(VFIO_DEVICE_STATE_STOP_COPY, vfio_pci_mig_state_get(device));

	precopy_info_check_invalid(data_fd, self->flags, true);

	vfio_mig_read_stop_copy(data_fd, &stream);
	printf("STOP_COPY: %zu bytes\n", stream.len);

	/* "The STOP_COPY arc will terminate a data transfer session." */
	ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, close(data_fd));

	/*
	 * "The data stream fed into the data_fd should be taken from the data
	 * transfer output of a single FD during saving from a compatible
	 * device": the device itself is one.
	 */
	vfio_pci_mig_resume(device, &stream);

	vfio_mig_stream_free(&stream);
}

TEST_F(vfio_pci_migration_test, pre_copy_stream)
{
	struct vfio_pci_device *device = self->device;
	struct pollfd pollfd = { .events = POLLIN };
	struct vfio_mig_stream stream = {};
	struct vfio_precopy_info info;
	u64 initial_bytes;
	int data_fd;
	ssize_t n;

	if (!(self->flags & VFIO_MIGRATION_PRE_COPY))
		SKIP(return, "Device does not support PRE_COPY\n");

	/* "RUNNING -> PRE_COPY ... will return a new data_fd" */
	data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, data_fd);
	ASSERT_EQ(VFIO_DEVICE_STATE_PRE_COPY, vfio_pci_mig_state_get(device));

	ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, 0, &info));
	printf("PRECOPY_INFO: initial_bytes %llu dirty_bytes %llu\n",
	       (unsigned long long)info.initial_bytes,
	       (unsigned long long)info.dirty_bytes);

	/* "This field should have a non-zero initial value" */
	ASSERT_NE(0, info.initial_bytes);

	/*
	 * "VFIO_PRECOPY_INFO_REINIT can be reported only after userspace opts in
	 * to VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2", which this test does not.
	 */
	ASSERT_FALSE(info.flags & VFIO_PRECOPY_INFO_REINIT);
	initial_bytes = info.initial_bytes;

	while ((n = __vfio_mig_read(data_fd, &stream, MIG_READ_SIZE)) > 0) {
		ASSERT_GT(MIG_PRECOPY_MAX, stream.len);

		/* "... and decrease as migration data is read from the device." */
		ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, 0, &info));
		ASSERT_FALSE(info.flags & VFIO_PRECOPY_INFO_REINIT);
		ASSERT_GE(initial_bytes, info.initial_bytes);
		initial_bytes = info.initial_bytes;
	}

	/* The temporary end of stream: ENOMSG, not EOF. */
	ASSERT_EQ(-ENOMSG, n);
	printf("PRE_COPY: %zu bytes to the temporary end of stream\n", stream.len);

	/* It is "reached when both initial_bytes and dirty_byte are zero". */
	ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, 0, &info));
	ASSERT_EQ(0, info.initial_bytes);

	/* "Userspace can wait for more data (which may never come) by using poll." */
	pollfd.fd = data_fd;
	ASSERT_LE(0, poll(&pollfd, 1, 0));
	ASSERT_FALSE(pollfd.revents & (POLLERR | POLLNVAL));

	if (vfio_mig_state_supported(self->flags, VFIO_DEVICE_STATE_PRE_COPY_P2P)) {
		/* "Entering PRE_COPY_P2P continues all the behaviors of PRE_COPY" */
		ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_PRE_COPY_P2P));
		ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, 0, &info));
		vfio_mig_read_precopy(data_fd, &stream);
	}

	mig_data_size_print(device, "at the end of PRE_COPY");

	/* The session goes on in STOP_COPY, where PRECOPY_INFO is invalid. */
	ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP_COPY));
	ASSERT_EQ(-EINVAL, __vfio_mig_precopy_info(data_fd, 0, &info));

	vfio_mig_read_stop_copy(data_fd, &stream);
	printf("PRE_COPY + STOP_COPY: %zu bytes\n", stream.len);

	ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(-EINVAL, __vfio_mig_precopy_info(data_fd, 0, &info));
	ASSERT_EQ(0, close(data_fd));

	/* What PRE_COPY and STOP_COPY streamed together is the device state. */
	vfio_pci_mig_resume(device, &stream);

	vfio_mig_stream_free(&stream);
}

TEST_F(vfio_pci_migration_test, precopy_info_v2)
{
	struct vfio_pci_device *device = self->device;
	struct vfio_mig_stream stream = {};
	struct vfio_precopy_info info;
	u64 initial_bytes;
	int reinits = 0;
	int data_fd;
	ssize_t n;
	int ret;

	if (!(self->flags & VFIO_MIGRATION_PRE_COPY))
		SKIP(return, "Device does not support PRE_COPY\n");

	/* VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 came with Linux 7.1. */
	ret = __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
			       VFIO_DEVICE_FEATURE_SET |
			       VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2, NULL, 0);
	if (ret)
		SKIP(return, "No VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2: %s\n",
		     strerror(-ret));

	ASSERT_EQ(0, __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_SET |
				      VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
				      NULL, 0));

	data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_PRE_COPY);
	ASSERT_LE(0, data_fd);

	/*
	 * "On SET, enables the v2 pre_copy_info behaviour, where the
	 * vfio_precopy_info.flags is a valid output field": an output, so none
	 * of the bits passed in comes back, and REINIT is its only flag.
	 */
	ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, ~0U, &info));
	ASSERT_EQ(0, info.flags & ~VFIO_PRECOPY_INFO_REINIT);
	initial_bytes = info.initial_bytes;

	while ((n = __vfio_mig_read(data_fd, &stream, MIG_READ_SIZE)) > 0) {
		ASSERT_GT(MIG_PRECOPY_MAX, stream.len);

		ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, ~0U, &info));
		ASSERT_EQ(0, info.flags & ~VFIO_PRECOPY_INFO_REINIT);

		/*
		 * "The presence of the VFIO_PRECOPY_INFO_REINIT output flag
		 * indicates that new initial data is present on the stream. ...
		 * In that case initial_bytes may report a non-zero value
		 * irrespective of any previously reported values". Without it,
		 * initial_bytes only decreases.
		 */
		if (info.flags & VFIO_PRECOPY_INFO_REINIT)
			reinits++;
		else
			ASSERT_GE(initial_bytes, info.initial_bytes);

		initial_bytes = info.initial_bytes;
	}

	ASSERT_EQ(-ENOMSG, n);

	ASSERT_EQ(0, __vfio_mig_precopy_info(data_fd, ~0U, &info));
	ASSERT_EQ(0, info.flags & ~VFIO_PRECOPY_INFO_REINIT);
	if (!(info.flags & VFIO_PRECOPY_INFO_REINIT))
		ASSERT_EQ(0, info.initial_bytes);

	printf("PRE_COPY: %zu bytes, %d re-init(s) reported\n", stream.len, reinits);

	ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP_COPY));
	ASSERT_EQ(-EINVAL, __vfio_mig_precopy_info(data_fd, ~0U, &info));

	vfio_mig_read_stop_copy(data_fd, &stream);

	ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP));
	ASSERT_EQ(0, close(data_fd));

	vfio_pci_mig_resume(device, &stream);

	vfio_mig_stream_free(&stream);
}

/*
 * One fixture variant per migration state: the device is taken from RUNNING
 * to the variant's state by its setup, keeping the data_fd of the session
 * if the state has one.
 */
FIXTURE(vfio_pci_migration_state_test) {
	struct iommu *iommu;
	struct vfio_pci_device *device;
	u64 flags;
	int data_fd;
	/* The device's own state, resumed when the variant is RESUMING. */
	struct vfio_mig_stream stream;
};

FIXTURE_VARIANT(vfio_pci_migration_state_test) {
	u32 state;
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, running) {
	.state = VFIO_DEVICE_STATE_RUNNING,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, stop) {
	.state = VFIO_DEVICE_STATE_STOP,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, stop_copy) {
	.state = VFIO_DEVICE_STATE_STOP_COPY,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, resuming) {
	.state = VFIO_DEVICE_STATE_RESUMING,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, running_p2p) {
	.state = VFIO_DEVICE_STATE_RUNNING_P2P,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, pre_copy) {
	.state = VFIO_DEVICE_STATE_PRE_COPY,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_state_test, pre_copy_p2p) {
	.state = VFIO_DEVICE_STATE_PRE_COPY_P2P,
};

FIXTURE_SETUP(vfio_pci_migration_state_test)
{
	const char *bdf = device_bdfs[0];
	u32 state = variant->state;

	self->data_fd = -1;
	self->iommu = iommu_init(single_device_iommu_mode(bdf));
	self->device = vfio_pci_device_init(bdf, self->iommu);

	ASSERT_EQ(0, __vfio_pci_mig_flags_get(self->device, &self->flags));
	if (!vfio_mig_state_supported(self->flags, state))
		SKIP(return, "Device does not support %s\n", vfio_mig_state_name(state));

	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(self->device));

	/* Arcs out of RESUMING need a complete stream to leave it. */
	if (state == VFIO_DEVICE_STATE_RESUMING) {
		vfio_pci_mig_save(self->device, &self->stream, false);
		ASSERT_EQ(-1, vfio_pci_mig_state_set(self->device, VFIO_DEVICE_STATE_RUNNING));
	}

	self->data_fd = vfio_pci_mig_state_set(self->device, state);
	ASSERT_EQ(mig_arc_opens_session(VFIO_DEVICE_STATE_RUNNING, state),
		  self->data_fd >= 0);
	ASSERT_EQ(state, vfio_pci_mig_state_get(self->device));

	if (state == VFIO_DEVICE_STATE_RESUMING)
		vfio_mig_write(self->data_fd, &self->stream);
}

FIXTURE_TEARDOWN(vfio_pci_migration_state_test)
{
	if (self->data_fd >= 0)
		ASSERT_EQ(0, close(self->data_fd));

	vfio_mig_stream_free(&self->stream);
	vfio_pci_device_cleanup(self->device);
	iommu_cleanup(self->iommu);
}

/*
 * The transition from @from, the variant's state (with @session_fd, the
 * data_fd of its session, or -1), to @to, a single arc of the FSM or a
 * combination of arcs as vfio_mig_get_next_state() breaks it down: it
 * succeeds unless it is blocked, reaches @to, and returns a data_fd exactly
 * when it starts a session.
 */
static void test_arc(struct __test_metadata *_metadata,
		     struct vfio_pci_device *device, u64 flags, int session_fd,
		     u32 from, u32 to)
{
	struct vfio_mig_stream stream = {};
	int data_fd;
	int ret;

	if (!vfio_mig_state_supported(flags, to))
		SKIP(return, "Device does not support %s\n", vfio_mig_state_name(to));

	printf("%s -> %s\n", vfio_mig_state_name(from), vfio_mig_state_name(to));
	ret = __vfio_pci_mig_state_set(device, to, &data_fd);

	if (mig_arc_blocked(from, to)) {
		/*
		 * Refused without moving: there is no path to follow, and
		 * vfio_mig_get_next_state(), which drivers walk the FSM with,
		 * fails such a request with EINVAL.
		 */
		ASSERT_EQ(-EINVAL, ret);
		ASSERT_EQ(from, vfio_pci_mig_state_get(device));
		return;
	}

	ASSERT_EQ(0, ret);
	ASSERT_EQ(to, vfio_pci_mig_state_get(device));
	ASSERT_EQ(mig_arc_opens_session(from, to), data_fd >= 0);

	if (data_fd >= 0) {
		ASSERT_EQ(0, close(data_fd));
		return;
	}

	/*
	 * Within the saving group the session goes on: "Moving between these
	 * states alters what is streamed in session, but does not terminate or
	 * otherwise affect the associated fd."
	 */
	if (mig_state_saving(from) && mig_state_saving(to)) {
		if (to == VFIO_DEVICE_STATE_STOP_COPY)
			vfio_mig_read_stop_copy(session_fd, &stream);
		else
			vfio_mig_read_precopy(session_fd, &stream);

		vfio_mig_stream_free(&stream);
	}
}

TEST_F(vfio_pci_migration_state_test, arc_to_running)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_RUNNING);
}

TEST_F(vfio_pci_migration_state_test, arc_to_stop)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_STOP);
}

TEST_F(vfio_pci_migration_state_test, arc_to_stop_copy)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_STOP_COPY);
}

TEST_F(vfio_pci_migration_state_test, arc_to_resuming)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_RESUMING);
}

TEST_F(vfio_pci_migration_state_test, arc_to_running_p2p)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_RUNNING_P2P);
}

TEST_F(vfio_pci_migration_state_test, arc_to_pre_copy)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_PRE_COPY);
}

TEST_F(vfio_pci_migration_state_test, arc_to_pre_copy_p2p)
{
	test_arc(_metadata, self->device, self->flags, self->data_fd,
		 variant->state, VFIO_DEVICE_STATE_PRE_COPY_P2P);
}

/*
 * "ERROR cannot be specified as a device state": a request for it, from any
 * state, names no path (vfio_mig_get_next_state() fails it with EINVAL), and
 * the device stays where it is.
 */
TEST_F(vfio_pci_migration_state_test, arc_to_error)
{
	struct vfio_pci_device *device = self->device;
	int data_fd;

	ASSERT_EQ(-EINVAL, __vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_ERROR, &data_fd));
	ASSERT_EQ(-1, data_fd);
	ASSERT_EQ(variant->state, vfio_pci_mig_state_get(device));
}

TEST_F(vfio_pci_migration_state_test, precopy_info)
{
	u32 state = variant->state;
	struct vfio_precopy_info info;

	if (self->data_fd < 0)
		SKIP(return, "%s has no data_fd\n", vfio_mig_state_name(state));

	/* "This ioctl is valid only in PRE_COPY states" */
	if (state == VFIO_DEVICE_STATE_PRE_COPY ||
	    state == VFIO_DEVICE_STATE_PRE_COPY_P2P) {
		ASSERT_EQ(0, __vfio_mig_precopy_info(self->data_fd, 0, &info));
	} else {
		precopy_info_check_invalid(self->data_fd, self->flags,
					   mig_state_saving(state));
	}
}

TEST_F(vfio_pci_migration_state_test, data_size)
{
	struct vfio_device_feature_mig_data_size size = {};
	struct vfio_pci_device *device = self->device;

	if (__vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
			     VFIO_DEVICE_FEATURE_GET |
			     VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, NULL, 0))
		SKIP(return, "Device does not support MIG_DATA_SIZE\n");

	/*
	 * "Upon VFIO_DEVICE_FEATURE_GET read back the estimated data length that
	 * will be required to complete stop copy. Note: Can be called on each
	 * device state."
	 */
	ASSERT_EQ(0, __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_GET |
				      VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
				      &size, sizeof(size)));
	printf("%s: stop_copy_length %llu\n", vfio_mig_state_name(variant->state),
	       (unsigned long long)size.stop_copy_length);

	ASSERT_EQ(variant->state, vfio_pci_mig_state_get(device));
}

TEST_F(vfio_pci_migration_state_test, reset)
{
	struct vfio_pci_device *device = self->device;
	struct vfio_mig_stream stream = {};
	int data_fd;

	if (!(device->info.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "Device does not support reset\n");

	/*
	 * "To recover from ERROR VFIO_DEVICE_RESET must be used to return the
	 * device_state back to RUNNING", "To abort a RESUMING session the device
	 * must be reset": a reset returns the device to RUNNING from any state,
	 * the only asynchronous state change the uAPI allows ("outside of
	 * manipulation by the user or the VFIO_DEVICE_RESET ioctl").
	 */
	vfio_pci_device_reset(device);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(device));

	/* The state machine starts over: a new session saves the device. */
	data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP_COPY);
	ASSERT_LE(0, data_fd);
	vfio_mig_read_stop_copy(data_fd, &stream);
	ASSERT_EQ(-1, vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(0, close(data_fd));

	vfio_mig_stream_free(&stream);
}

/* The buffers a round trip copies through the libvfio driver. */
struct round_trip_buf {
	u64 size;
	void *src_buf;
	void *dst_buf;
	iova_t src_iova;
	iova_t dst_iova;
};

/*
 * Migrate the device at device_bdfs[0] to the one at device_bdfs[1], both
 * attached to the same IOMMU address space.
 */
FIXTURE(vfio_pci_migration_round_trip) {
	struct iommu *iommu;
	struct iova_allocator *iova_allocator;
	struct vfio_pci_device *src;
	struct vfio_pci_device *dst;
	u64 flags;

	/* libvfio driver memory and the buffers copied, when there is a driver */
	struct dma_region driver_region;
	struct dma_region memcpy_region;
	struct round_trip_buf buf;
};

FIXTURE_VARIANT(vfio_pci_migration_round_trip) {
	const char *iommu_mode;
};

/* Every IOMMU mode of libvfio (FIXTURE_VARIANT_ADD_ALL_IOMMU_MODES()). */
FIXTURE_VARIANT_ADD(vfio_pci_migration_round_trip, vfio_type1_iommu) {
	.iommu_mode = MODE_VFIO_TYPE1_IOMMU,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_round_trip, vfio_type1v2_iommu) {
	.iommu_mode = MODE_VFIO_TYPE1V2_IOMMU,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_round_trip, iommufd_compat_type1) {
	.iommu_mode = MODE_IOMMUFD_COMPAT_TYPE1,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_round_trip, iommufd_compat_type1v2) {
	.iommu_mode = MODE_IOMMUFD_COMPAT_TYPE1V2,
};

FIXTURE_VARIANT_ADD(vfio_pci_migration_round_trip, iommufd) {
	.iommu_mode = MODE_IOMMUFD,
};

static void region_setup(struct iommu *iommu,
			 struct iova_allocator *iova_allocator,
			 struct dma_region *region, u64 size)
{
	const int flags = MAP_SHARED | MAP_ANONYMOUS;
	const int prot = PROT_READ | PROT_WRITE;
	void *vaddr;

	vaddr = mmap(NULL, size, prot, flags, -1, 0);
	VFIO_ASSERT_NE(vaddr, MAP_FAILED);

	region->vaddr = vaddr;
	region->iova = iova_allocator_alloc(iova_allocator, size);
	region->size = size;

	iommu_map(iommu, region);
}

static void region_teardown(struct iommu *iommu, struct dma_region *region)
{
	iommu_unmap(iommu, region);
	VFIO_ASSERT_EQ(munmap(region->vaddr, region->size), 0);
}

FIXTURE_SETUP(vfio_pci_migration_round_trip)
{
	const char *mode = variant->iommu_mode;
	struct vfio_pci_driver *driver;
	u64 dst_flags;
	int i;

	if (nr_device_bdfs < 2)
		SKIP(return, "Migrating needs the BDFs of two devices\n");

	for (i = 0; i < 2; i++) {
		if (!vfio_iommu_mode_available(mode, device_bdfs[i]))
			SKIP(return, "IOMMU mode %s not available for %s\n",
			     mode, device_bdfs[i]);
	}

	self->iommu = iommu_init(mode);
	self->src = vfio_pci_device_init(device_bdfs[0], self->iommu);
	self->dst = vfio_pci_device_init(device_bdfs[1], self->iommu);

	ASSERT_EQ(0, __vfio_pci_mig_flags_get(self->src, &self->flags));
	if (__vfio_pci_mig_flags_get(self->dst, &dst_flags))
		SKIP(return, "%s does not support migration\n", self->dst->bdf);

	if (vfio_pci_config_readl(self->src, PCI_VENDOR_ID) !=
	    vfio_pci_config_readl(self->dst, PCI_VENDOR_ID))
		SKIP(return, "%s and %s are different devices\n",
		     self->src->bdf, self->dst->bdf);

	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(self->src));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(self->dst));

	self->iova_allocator = iova_allocator_init(self->iommu);

	driver = &self->src->driver;
	if (!driver->ops) {
		printf("No libvfio driver for %s: migrating without DMA\n",
		       self->src->bdf);
		return;
	}

	/* The IOMMU's region list links self->driver_region, not this copy. */
	region_setup(self->iommu, self->iova_allocator, &self->driver_region, SZ_2M);
	driver->region = self->driver_region;
	vfio_pci_driver_init(self->src);

	self->buf.size = min_t(u64, 4 * driver->max_memcpy_size, DMA_MAX_SIZE);
	region_setup(self->iommu, self->iova_allocator, &self->memcpy_region,
		     roundup_pow_of_two(2 * self->buf.size));

	self->buf.src_buf = self->memcpy_region.vaddr;
	self->buf.dst_buf = self->buf.src_buf + self->buf.size;
	self->buf.src_iova = to_iova(self->src, self->buf.src_buf);
	self->buf.dst_iova = to_iova(self->src, self->buf.dst_buf);
}

FIXTURE_TEARDOWN(vfio_pci_migration_round_trip)
{
	if (self->dst->driver.initialized)
		vfio_pci_driver_remove(self->dst);
	if (self->src->driver.initialized)
		vfio_pci_driver_remove(self->src);

	if (self->memcpy_region.vaddr)
		region_teardown(self->iommu, &self->memcpy_region);
	if (self->driver_region.vaddr)
		region_teardown(self->iommu, &self->driver_region);

	iova_allocator_cleanup(self->iova_allocator);
	vfio_pci_device_cleanup(self->dst);
	vfio_pci_device_cleanup(self->src);
	iommu_cleanup(self->iommu);
}

static u8 pci_find_capability(struct vfio_pci_device *device, u8 cap_id)
{
	int ttl = (PCI_CFG_SPACE_SIZE - PCI_STD_HEADER_SIZEOF) / PCI_CAP_SIZEOF;
	u8 pos;

	if (!(vfio_pci_config_readw(device, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;

	pos = vfio_pci_config_readb(device, PCI_CAPABILITY_LIST);
	while (pos >= PCI_STD_HEADER_SIZEOF && ttl--) {
		pos &= ~3;
		if (vfio_pci_config_readb(device, pos + PCI_CAP_LIST_ID) == cap_id)
			return pos;

		pos = vfio_pci_config_readb(device, pos + PCI_CAP_LIST_NEXT);
	}

	return 0;
}

/*
 * The migration data stream carries the device's internal state; the VMM
 * restores the PCI configuration of the destination itself (QEMU does it
 * while the device is RESUMING). Do that for what the libvfio driver set up
 * on the source: the command register and its MSI or MSI-X vectors.
 */
static void restore_pci_state(struct vfio_pci_device *src,
			      struct vfio_pci_device *dst)
{
	u8 msix = pci_find_capability(src, PCI_CAP_ID_MSIX);
	int first = -1, last = -1;
	u32 index;
	int i;

	vfio_pci_config_writew(dst, PCI_COMMAND,
			       vfio_pci_config_readw(src, PCI_COMMAND));

	for (i = 0; i < ARRAY_SIZE(src->msi_eventfds); i++) {
		if (src->msi_eventfds[i] < 0)
			continue;

		if (first < 0)
			first = i;
		last = i;
	}

	if (first < 0)
		return;

	if (msix && (vfio_pci_config_readw(src, msix + PCI_MSIX_FLAGS) &
		     PCI_MSIX_FLAGS_ENABLE))
		index = VFIO_PCI_MSIX_IRQ_INDEX;
	else
		index = VFIO_PCI_MSI_IRQ_INDEX;

	vfio_pci_irq_enable(dst, index, first, last - first + 1);
}

static void round_trip(struct __test_metadata *_metadata,
		       struct vfio_pci_device *src, struct vfio_pci_device *dst,
		       u64 flags, const struct round_trip_buf *buf,
		       bool pre_copy, bool in_flight)
{
	bool dma = src->driver.initialized;
	struct vfio_mig_stream stream = {};
	struct pollfd pollfd = { .events = POLLIN };
	u64 copy_size = 0, count = 0;
	int data_fd;
	u64 value;

	if (pre_copy && !(flags & VFIO_MIGRATION_PRE_COPY))
		SKIP(return, "Device does not support PRE_COPY\n");

	if (in_flight && !dma)
		SKIP(return, "No libvfio driver for %s\n", src->bdf);

	if (dma) {
		memset(buf->src_buf, 'a', buf->size);
		memset(buf->dst_buf, 0, buf->size);
		ASSERT_EQ(0, vfio_pci_driver_memcpy(src, buf->src_iova,
						    buf->dst_iova, buf->size));
		ASSERT_EQ(0, memcmp(buf->src_buf, buf->dst_buf, buf->size));
	}

	if (in_flight) {
		copy_size = min_t(u64, src->driver.max_memcpy_size, buf->size);
		count = min_t(u64, src->driver.max_memcpy_count,
			      max_t(u64, DMA_IN_FLIGHT_MAX / copy_size, 1));

		memset(buf->src_buf, 'b', copy_size);
		memset(buf->dst_buf, 0, copy_size);

		printf("Migrating with %llu memcpys of 0x%llx bytes in flight\n",
		       (unsigned long long)count, (unsigned long long)copy_size);
		vfio_pci_driver_memcpy_start(src, buf->src_iova, buf->dst_iova,
					     copy_size, count);
	}

	vfio_pci_mig_save(src, &stream, pre_copy);
	printf("Saved %s: %zu bytes\n", src->bdf, stream.len);

	data_fd = vfio_pci_mig_state_set(dst, VFIO_DEVICE_STATE_RESUMING);
	ASSERT_LE(0, data_fd);
	vfio_mig_write(data_fd, &stream);

	/*
	 * "When stopped the device and kernel migration driver must accept and
	 * respond to interaction to support external subsystems in the STOP
	 * state, for example PCI MSI-X and PCI config space."
	 */
	if (dma)
		restore_pci_state(src, dst);

	ASSERT_EQ(-1, vfio_pci_mig_state_set(dst, VFIO_DEVICE_STATE_RUNNING));
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(dst));
	ASSERT_EQ(0, close(data_fd));
	printf("Resumed into %s\n", dst->bdf);

	vfio_mig_stream_free(&stream);

	if (!dma)
		return;

	/*
	 * The driver's state is in its DMA region, in the memory both devices
	 * see at the same IOVAs: hand the driver over to the destination as a
	 * VM takes its memory along.
	 */
	dst->driver = src->driver;
	src->driver.initialized = false;
	src->driver.memcpy_in_progress = false;

	if (in_flight) {
		ASSERT_EQ(0, vfio_pci_driver_memcpy_wait(dst));
		ASSERT_EQ(0, memcmp(buf->src_buf, buf->dst_buf, copy_size));
	}

	memset(buf->src_buf, 'c', buf->size);
	memset(buf->dst_buf, 0, buf->size);
	ASSERT_EQ(0, vfio_pci_driver_memcpy(dst, buf->src_iova,
					    buf->dst_iova, buf->size));
	ASSERT_EQ(0, memcmp(buf->src_buf, buf->dst_buf, buf->size));

	if (!dst->driver.ops->send_msi)
		return;

	vfio_pci_driver_send_msi(dst);
	pollfd.fd = dst->msi_eventfds[dst->driver.msi];
	ASSERT_EQ(1, poll(&pollfd, 1, MSI_TIMEOUT_MS));
	ASSERT_EQ(8, read(pollfd.fd, &value, 8));
	ASSERT_EQ(1, value);
}

TEST_F_TIMEOUT(vfio_pci_migration_round_trip, stop_copy, 120)
{
	round_trip(_metadata, self->src, self->dst, self->flags, &self->buf,
		   false, false);
}

TEST_F_TIMEOUT(vfio_pci_migration_round_trip, pre_copy, 120)
{
	round_trip(_metadata, self->src, self->dst, self->flags, &self->buf,
		   true, false);
}

TEST_F_TIMEOUT(vfio_pci_migration_round_trip, dma_in_flight, 120)
{
	round_trip(_metadata, self->src, self->dst, self->flags, &self->buf,
		   self->flags & VFIO_MIGRATION_PRE_COPY, true);
}

/* Whether the device at @bdf supports migration, in *flags. */
static bool device_migratable(const char *bdf, u64 *flags)
{
	struct vfio_pci_device *device;
	struct iommu *iommu;
	bool migratable;

	iommu = iommu_init(single_device_iommu_mode(bdf));
	device = vfio_pci_device_init(bdf, iommu);

	migratable = !__vfio_pci_mig_flags_get(device, flags);

	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);

	return migratable;
}

int main(int argc, char *argv[])
{
	u64 flags;

	device_bdfs = vfio_selftests_get_bdfs(&argc, argv, &nr_device_bdfs);

	/* The round trip checks the second device itself. */
	if (!device_migratable(device_bdfs[0], &flags)) {
		fprintf(stderr, "Device %s does not support migration\n",
			device_bdfs[0]);
		return KSFT_SKIP;
	}

	return test_harness_run(argc, argv);
}
