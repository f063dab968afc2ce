/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef SELFTESTS_VFIO_LIB_INCLUDE_LIBVFIO_VFIO_PCI_MIGRATION_H
#define SELFTESTS_VFIO_LIB_INCLUDE_LIBVFIO_VFIO_PCI_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <linux/bits.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include <libvfio/assert.h>
#include <libvfio/iommu.h>
#include <libvfio/vfio_pci_device.h>

/*
 * Linux 7.1's additions, for the uAPI headers of a 6.18 to 7.0 tree (the
 * oldest libvfio builds with): the values are ABI, and the tests find out
 * at run time whether the kernel has them.
 */
#ifndef VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2
#define VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 12
#endif
#ifndef VFIO_PRECOPY_INFO_REINIT
#define VFIO_PRECOPY_INFO_REINIT BIT(0)
#endif

/*
 * The VFIO migration uAPI (VFIO_DEVICE_FEATURE_MIGRATION and friends, the
 * data_fd of a saving or resuming session) and device DMA logging, as a
 * VMM drives them. Each __foo() returns 0 (or a count) or -errno and leaves
 * the judgement to the test; each foo() asserts success.
 */

/* VFIO_DEVICE_FEATURE with @size bytes of data in and out. */
int __vfio_pci_device_feature(struct vfio_pci_device *device, u32 flags,
			      void *data, size_t size);

/* Whether the device has @feature for GET and/or SET (@flags). */
static inline bool vfio_pci_device_feature_probe(struct vfio_pci_device *device,
						 u32 flags, u32 feature)
{
	return !__vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_PROBE |
					  flags | feature, NULL, 0);
}

/*
 * Whether this kernel offers @iommu_mode (for the device at @bdf, if not
 * NULL): a migration test runs in the modes the host has, as a VMM does.
 */
bool vfio_iommu_mode_available(const char *iommu_mode, const char *bdf);

const char *vfio_mig_state_name(u32 state);

/* Whether the migration flags @flags let a device be set to @state. */
bool vfio_mig_state_supported(u64 flags, u32 state);

int __vfio_pci_mig_flags_get(struct vfio_pci_device *device, u64 *flags);

static inline u64 vfio_pci_mig_flags_get(struct vfio_pci_device *device)
{
	u64 flags;

	VFIO_ASSERT_EQ(__vfio_pci_mig_flags_get(device, &flags), 0,
		       "%s: no VFIO_DEVICE_FEATURE_MIGRATION\n", device->bdf);
	return flags;
}

int __vfio_pci_mig_state_get(struct vfio_pci_device *device, u32 *state);
u32 vfio_pci_mig_state_get(struct vfio_pci_device *device);

/* *data_fd is the data_fd the arc opened, or -1. */
int __vfio_pci_mig_state_set(struct vfio_pci_device *device, u32 state,
			     int *data_fd);

/* Returns the data_fd the arc opened, or -1. */
int vfio_pci_mig_state_set(struct vfio_pci_device *device, u32 state);

/* VFIO_DEVICE_FEATURE_MIG_DATA_SIZE: the device's STOP_COPY estimate. */
int __vfio_pci_mig_data_size(struct vfio_pci_device *device, u64 *length);

static inline u64 vfio_pci_mig_data_size(struct vfio_pci_device *device)
{
	u64 length;

	VFIO_ASSERT_EQ(__vfio_pci_mig_data_size(device, &length), 0);
	return length;
}

/*
 * VFIO_MIG_GET_PRECOPY_INFO with input @flags (0 for the v1 ioctl; output
 * flags are valid only after __vfio_pci_mig_precopy_info_v2_enable()).
 */
int __vfio_mig_precopy_info(int data_fd, u32 flags,
			    struct vfio_precopy_info *info);

static inline void vfio_mig_precopy_info(int data_fd,
					 struct vfio_precopy_info *info)
{
	VFIO_ASSERT_EQ(__vfio_mig_precopy_info(data_fd, 0, info), 0);
}

/* VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2 (Linux 7.1 and later). */
static inline int
__vfio_pci_mig_precopy_info_v2_enable(struct vfio_pci_device *device)
{
	return __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_SET |
					 VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2,
					 NULL, 0);
}

/* A migration data stream, kept whole so that it can be resumed. */
struct vfio_mig_stream {
	u8 *data;
	size_t len;
	size_t size;
};

void vfio_mig_stream_free(struct vfio_mig_stream *stream);

/*
 * One read() of at most @max bytes of the data_fd, appended to @stream
 * (retried on EINTR): returns the bytes read, 0 at the end of the stream,
 * or -errno (-ENOMSG at the temporary end of a PRE_COPY session).
 */
ssize_t __vfio_mig_read(int data_fd, struct vfio_mig_stream *stream,
			size_t max);

/* Read a PRE_COPY session to its temporary end (ENOMSG). */
void vfio_mig_read_precopy(int data_fd, struct vfio_mig_stream *stream);

/* Read a STOP_COPY session to its permanent end (read() returns 0). */
void vfio_mig_read_stop_copy(int data_fd, struct vfio_mig_stream *stream);

/*
 * write() @len bytes to a RESUMING data_fd in pieces of at most @split
 * bytes (retried on EINTR): 0, or -errno of the write() that failed
 * (-EIO if one wrote nothing).
 */
int __vfio_mig_write(int data_fd, const void *buf, size_t len, size_t split);

/* Write @stream in pieces whose sizes are unrelated to those of the reads. */
void vfio_mig_write(int data_fd, const struct vfio_mig_stream *stream);

/*
 * Save a RUNNING device into @stream, through PRE_COPY first if @pre_copy,
 * then STOP_COPY to the end of the stream. The device is left in STOP.
 */
void vfio_pci_mig_save(struct vfio_pci_device *device,
		       struct vfio_mig_stream *stream, bool pre_copy);

/* Resume @stream into a STOP device and take it to RUNNING. */
void vfio_pci_mig_resume(struct vfio_pci_device *device,
			 const struct vfio_mig_stream *stream);

/*
 * Device DMA logging (VFIO_DEVICE_FEATURE_DMA_LOGGING_*). *page_size is
 * the page size asked for, and on return the one the device chose.
 */
int __vfio_pci_dma_logging_start(struct vfio_pci_device *device,
				 const struct vfio_device_feature_dma_logging_range *ranges,
				 u32 nr_ranges, u64 *page_size);

static inline void
vfio_pci_dma_logging_start(struct vfio_pci_device *device,
			   const struct vfio_device_feature_dma_logging_range *ranges,
			   u32 nr_ranges, u64 *page_size)
{
	VFIO_ASSERT_EQ(__vfio_pci_dma_logging_start(device, ranges, nr_ranges,
						    page_size), 0);
}

int __vfio_pci_dma_logging_stop(struct vfio_pci_device *device);

static inline void vfio_pci_dma_logging_stop(struct vfio_pci_device *device)
{
	VFIO_ASSERT_EQ(__vfio_pci_dma_logging_stop(device), 0);
}

/*
 * The pages of [@iova, @iova + @length) the device wrote since the last
 * report, one bit per @page_size page, ORed into @bitmap: the kernel only
 * sets bits, so the caller clears @bitmap first.
 */
int __vfio_pci_dma_logging_report(struct vfio_pci_device *device, iova_t iova,
				  u64 length, u64 page_size, u64 *bitmap);

static inline void
vfio_pci_dma_logging_report(struct vfio_pci_device *device, iova_t iova,
			    u64 length, u64 page_size, u64 *bitmap)
{
	VFIO_ASSERT_EQ(__vfio_pci_dma_logging_report(device, iova, length,
						     page_size, bitmap), 0);
}

#endif /* SELFTESTS_VFIO_LIB_INCLUDE_LIBVFIO_VFIO_PCI_MIGRATION_H */
