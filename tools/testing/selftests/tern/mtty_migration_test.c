// SPDX-License-Identifier: GPL-2.0
/*
 * Reference peer: the kernel's mtty sample (an mdev with migration v2
 * support) is instantiated twice and one instance's state is migrated to
 * the other through the VFIO migration uAPI, with and without PRE_COPY.
 * The serial ports' scratch registers carry the state that is checked.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "mdev.h"
#include "tern_vf.h"

#define MTTY_CREATE "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create"
#define UART_SCR	7

static const char *const mtty_uuid[2] = {
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0a01",
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0a02",
};

FIXTURE(mtty_migration_test)
{
	struct iommu *iommu;
	struct vfio_pci_device *device[2];
};

TERN_FIXTURE_IOMMU_MODES(mtty_migration_test);

FIXTURE_SETUP(mtty_migration_test)
{
	char sysfs[128];
	int i;

	SKIP_UNLESS_IOMMU_MODE(variant->iommu_mode);
	SKIP_UNLESS_KERNEL_HAS(!access(MTTY_CREATE, F_OK), "mtty");
	self->iommu = iommu_init(variant->iommu_mode);
	for (i = 0; i < 2; i++) {
		snprintf(sysfs, sizeof(sysfs), "/sys/bus/mdev/devices/%s",
			 mtty_uuid[i]);
		if (access(sysfs, F_OK))
			ASSERT_EQ(0, sysfs_write(MTTY_CREATE, mtty_uuid[i]));
		self->device[i] = mdev_device_init(mtty_uuid[i], self->iommu);
	}
}

FIXTURE_TEARDOWN(mtty_migration_test)
{
	char path[128];
	int i;

	for (i = 0; i < 2; i++) {
		if (self->device[i])
			vfio_pci_device_cleanup(self->device[i]);
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove",
			 mtty_uuid[i]);
		sysfs_write(path, "1");
	}
	if (self->iommu)
		iommu_cleanup(self->iommu);
}

static void set_scratch(struct vfio_pci_device *device, u8 v0, u8 v1)
{
	VFIO_ASSERT_EQ(pwrite(device->fd, &v0, 1,
			      device->bars[0].info.offset + UART_SCR), 1);
	VFIO_ASSERT_EQ(pwrite(device->fd, &v1, 1,
			      device->bars[1].info.offset + UART_SCR), 1);
}

static u16 get_scratch(struct vfio_pci_device *device)
{
	u8 v0 = 0, v1 = 0;

	VFIO_ASSERT_EQ(pread(device->fd, &v0, 1,
			     device->bars[0].info.offset + UART_SCR), 1);
	VFIO_ASSERT_EQ(pread(device->fd, &v1, 1,
			     device->bars[1].info.offset + UART_SCR), 1);
	return v0 | v1 << 8;
}

/* Read a session to read() == 0 in reads of @chunk bytes: 0 or -errno. */
static int read_to_end(int fd, struct vfio_mig_stream *s, size_t chunk)
{
	ssize_t n;

	while ((n = __vfio_mig_read(fd, s, chunk)) > 0)
		continue;

	return n;
}

static void resume(struct __test_metadata *_metadata,
		   struct vfio_pci_device *dst, struct vfio_mig_stream *s)
{
	int fd, none;

	ASSERT_EQ(0, __vfio_pci_mig_state_set(dst, VFIO_DEVICE_STATE_RESUMING,
					      &fd));
	ASSERT_GE(fd, 0);
	/* odd-sized writes: the resume fd must accept any split */
	ASSERT_EQ(0, __vfio_mig_write(fd, s->data, s->len, 7));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(dst, VFIO_DEVICE_STATE_RUNNING,
					      &none));
	close(fd);
	ASSERT_EQ(VFIO_DEVICE_STATE_RUNNING, vfio_pci_mig_state_get(dst));
}

TEST_F(mtty_migration_test, migration_flags)
{
	u64 flags = 0;

	ASSERT_EQ(0, __vfio_pci_mig_flags_get(self->device[0], &flags));
	ASSERT_EQ(VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
		  VFIO_MIGRATION_PRE_COPY, flags);
}

TEST_F(mtty_migration_test, stop_copy_round_trip)
{
	struct vfio_mig_stream s = {};
	int fd, none;

	set_scratch(self->device[0], 0x5a, 0xa5);
	set_scratch(self->device[1], 0, 0);
	ASSERT_EQ(0x5a | 0xa5 << 8, get_scratch(self->device[0]));

	/* RUNNING -> STOP_COPY: the core's arc walk goes through P2P and STOP */
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device[0],
					      VFIO_DEVICE_STATE_STOP_COPY, &fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, read_to_end(fd, &s, 4096));
	ASSERT_GT(s.len, 0);
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device[0],
					      VFIO_DEVICE_STATE_STOP, &none));
	close(fd);

	resume(_metadata, self->device[1], &s);
	ASSERT_EQ(0x5a | 0xa5 << 8, get_scratch(self->device[1]));
	vfio_mig_stream_free(&s);
}

TEST_F(mtty_migration_test, pre_copy_round_trip)
{
	struct vfio_precopy_info info;
	struct vfio_mig_stream s = {};
	int fd, none, ret;

	set_scratch(self->device[0], 0x33, 0xcc);
	set_scratch(self->device[1], 0, 0);

	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device[0],
					      VFIO_DEVICE_STATE_PRE_COPY, &fd));
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_GT(info.initial_bytes, 0);
	ASSERT_EQ(0, info.dirty_bytes);

	/*
	 * mtty ends its pre-copy data with read() == 0 where the uAPI asks for
	 * -ENOMSG; accept both here, tern's own tests demand -ENOMSG.
	 */
	ret = read_to_end(fd, &s, 16);
	ASSERT_TRUE(ret == 0 || ret == -ENOMSG);
	ASSERT_GT(s.len, 0);
	ASSERT_EQ(0, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, info.initial_bytes);

	/* the same fd continues into STOP_COPY, no new fd is returned */
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device[0],
					      VFIO_DEVICE_STATE_STOP_COPY, &none));
	ASSERT_EQ(-1, none);
	ASSERT_EQ(-EINVAL, __vfio_mig_precopy_info(fd, 0, &info));
	ASSERT_EQ(0, read_to_end(fd, &s, 4096));
	ASSERT_EQ(0, __vfio_pci_mig_state_set(self->device[0],
					      VFIO_DEVICE_STATE_STOP, &none));
	close(fd);

	resume(_metadata, self->device[1], &s);
	ASSERT_EQ(0x33 | 0xcc << 8, get_scratch(self->device[1]));
	vfio_mig_stream_free(&s);
}

TEST_HARNESS_MAIN
