// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VFIO migration uAPI as a VMM drives it. Comments in quotes cite
 * include/uapi/linux/vfio.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include <linux/kernel.h>
#include <linux/limits.h>
#include <linux/sizes.h>
#include <linux/vfio.h>

#include <libvfio.h>

/* Bytes asked for per read() of a data_fd by the whole-session readers. */
#define MIG_READ_SIZE		SZ_1M

/* PRE_COPY data read before the temporary end of stream must show up. */
#define MIG_PRECOPY_MAX		SZ_1G

int __vfio_pci_device_feature(struct vfio_pci_device *device, u32 flags,
			      void *data, size_t size)
{
	size_t argsz = sizeof(struct vfio_device_feature) + size;
	struct vfio_device_feature *feature;
	int ret;

	feature = calloc(1, argsz);
	VFIO_ASSERT_NOT_NULL(feature);
	feature->argsz = argsz;
	feature->flags = flags;
	if (size)
		memcpy(feature->data, data, size);

	ret = ioctl(device->fd, VFIO_DEVICE_FEATURE, feature) ? -errno : 0;

	if (size)
		memcpy(data, feature->data, size);
	free(feature);

	return ret;
}

bool vfio_iommu_mode_available(const char *iommu_mode, const char *bdf)
{
	char path[PATH_MAX];

	if (!strcmp(iommu_mode, MODE_IOMMUFD)) {
		if (!bdf)
			return !access("/dev/iommu", F_OK);

		snprintf_assert(path, sizeof(path),
				"/sys/bus/pci/devices/%s/vfio-dev", bdf);
		return !access("/dev/iommu", F_OK) && !access(path, F_OK);
	}

	if (!strcmp(iommu_mode, MODE_IOMMUFD_COMPAT_TYPE1) ||
	    !strcmp(iommu_mode, MODE_IOMMUFD_COMPAT_TYPE1V2))
		return !access("/dev/iommu", F_OK);

	return !access("/dev/vfio/vfio", F_OK);
}

const char *vfio_mig_state_name(u32 state)
{
	static const char * const names[] = {
		[VFIO_DEVICE_STATE_ERROR] = "ERROR",
		[VFIO_DEVICE_STATE_STOP] = "STOP",
		[VFIO_DEVICE_STATE_RUNNING] = "RUNNING",
		[VFIO_DEVICE_STATE_STOP_COPY] = "STOP_COPY",
		[VFIO_DEVICE_STATE_RESUMING] = "RESUMING",
		[VFIO_DEVICE_STATE_RUNNING_P2P] = "RUNNING_P2P",
		[VFIO_DEVICE_STATE_PRE_COPY] = "PRE_COPY",
		[VFIO_DEVICE_STATE_PRE_COPY_P2P] = "PRE_COPY_P2P",
	};

	if (state < ARRAY_SIZE(names))
		return names[state];

	return "(not a state)";
}

/*
 * "Indicates the device can support the migration API ... If this GET
 * succeeds, the RUNNING and ERROR states are always supported. ...
 * VFIO_MIGRATION_STOP_COPY means that STOP, STOP_COPY and RESUMING are
 * supported. ... | VFIO_MIGRATION_P2P means that RUNNING_P2P is supported
 * ... | VFIO_MIGRATION_PRE_COPY means that PRE_COPY is supported ...
 * VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY
 * means that RUNNING_P2P, PRE_COPY and PRE_COPY_P2P are supported"
 *
 * ERROR is left out: "ERROR cannot be specified as a device state".
 */
bool vfio_mig_state_supported(u64 flags, u32 state)
{
	const u64 p2p_pre_copy = VFIO_MIGRATION_P2P | VFIO_MIGRATION_PRE_COPY;

	switch (state) {
	case VFIO_DEVICE_STATE_RUNNING:
	case VFIO_DEVICE_STATE_STOP:
	case VFIO_DEVICE_STATE_STOP_COPY:
	case VFIO_DEVICE_STATE_RESUMING:
		return true;
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		return flags & VFIO_MIGRATION_P2P;
	case VFIO_DEVICE_STATE_PRE_COPY:
		return flags & VFIO_MIGRATION_PRE_COPY;
	case VFIO_DEVICE_STATE_PRE_COPY_P2P:
		return (flags & p2p_pre_copy) == p2p_pre_copy;
	default:
		return false;
	}
}

int __vfio_pci_mig_flags_get(struct vfio_pci_device *device, u64 *flags)
{
	struct vfio_device_feature_migration mig = {};
	int ret;

	ret = __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_MIGRATION,
					&mig, sizeof(mig));
	*flags = ret ? 0 : mig.flags;

	return ret;
}

int __vfio_pci_mig_state_get(struct vfio_pci_device *device, u32 *state)
{
	struct vfio_device_feature_mig_state mig = {};
	int ret;

	ret = __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
					&mig, sizeof(mig));
	if (ret)
		return ret;

	/* "Upon VFIO_DEVICE_FEATURE_GET ... data_fd will be -1." */
	VFIO_ASSERT_EQ(mig.data_fd, -1);
	*state = mig.device_state;

	return 0;
}

u32 vfio_pci_mig_state_get(struct vfio_pci_device *device)
{
	u32 state;

	VFIO_ASSERT_EQ(__vfio_pci_mig_state_get(device, &state), 0,
		       "%s: getting the migration state failed\n", device->bdf);

	return state;
}

int __vfio_pci_mig_state_set(struct vfio_pci_device *device, u32 state,
			     int *data_fd)
{
	struct vfio_device_feature_mig_state mig = {
		.device_state = state,
		.data_fd = -1,
	};
	int ret;

	ret = __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE,
					&mig, sizeof(mig));
	*data_fd = ret ? -1 : mig.data_fd;

	return ret;
}

int vfio_pci_mig_state_set(struct vfio_pci_device *device, u32 state)
{
	int data_fd;
	int ret;

	ret = __vfio_pci_mig_state_set(device, state, &data_fd);
	VFIO_ASSERT_EQ(ret, 0, "%s: setting migration state %s failed\n",
		       device->bdf, vfio_mig_state_name(state));

	return data_fd;
}

int __vfio_pci_mig_data_size(struct vfio_pci_device *device, u64 *length)
{
	struct vfio_device_feature_mig_data_size size = {};
	int ret;

	ret = __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_GET |
					VFIO_DEVICE_FEATURE_MIG_DATA_SIZE,
					&size, sizeof(size));
	*length = ret ? 0 : size.stop_copy_length;

	return ret;
}

int __vfio_mig_precopy_info(int data_fd, u32 flags,
			    struct vfio_precopy_info *info)
{
	*info = (struct vfio_precopy_info) {
		.argsz = sizeof(*info),
		.flags = flags,
	};

	return ioctl(data_fd, VFIO_MIG_GET_PRECOPY_INFO, info) ? -errno : 0;
}

void vfio_mig_stream_free(struct vfio_mig_stream *stream)
{
	free(stream->data);
	*stream = (struct vfio_mig_stream) {};
}

ssize_t __vfio_mig_read(int data_fd, struct vfio_mig_stream *stream,
			size_t max)
{
	ssize_t n;

	if (stream->size - stream->len < max) {
		stream->size = max_t(size_t, 2 * stream->size,
				     stream->len + max);
		stream->data = realloc(stream->data, stream->size);
		VFIO_ASSERT_NOT_NULL(stream->data);
	}

	do {
		n = read(data_fd, stream->data + stream->len, max);
	} while (n < 0 && errno == EINTR);

	if (n < 0)
		return -errno;

	stream->len += n;

	return n;
}

/*
 * "During pre-copy the migration data FD has a temporary "end of stream"
 * that is reached when both initial_bytes and dirty_byte are zero. ...
 * When read() is done on this temporary end of stream the kernel driver
 * should return ENOMSG from read()." The permanent end of stream, read()
 * returning 0, belongs to STOP_COPY.
 */
void vfio_mig_read_precopy(int data_fd, struct vfio_mig_stream *stream)
{
	size_t start = stream->len;
	ssize_t n;

	while ((n = __vfio_mig_read(data_fd, stream, MIG_READ_SIZE)) > 0)
		VFIO_ASSERT_LT(stream->len - start, MIG_PRECOPY_MAX,
			       "No temporary end of stream in PRE_COPY\n");

	VFIO_ASSERT_EQ(n, -ENOMSG, "read() in PRE_COPY returned %zd\n", n);
}

/*
 * "Once in STOP_COPY the migration data FD has a permanent end of stream
 * signaled in the usual way by read() always returning 0 and poll always
 * returning readable. ENOMSG may not be returned in STOP_COPY."
 */
void vfio_mig_read_stop_copy(int data_fd, struct vfio_mig_stream *stream)
{
	struct pollfd pollfd = {
		.fd = data_fd,
		.events = POLLIN,
	};
	ssize_t n;

	while ((n = __vfio_mig_read(data_fd, stream, MIG_READ_SIZE)) > 0)
		continue;

	VFIO_ASSERT_EQ(n, 0, "read() in STOP_COPY returned %zd\n", n);
	VFIO_ASSERT_EQ(__vfio_mig_read(data_fd, stream, MIG_READ_SIZE), 0);

	VFIO_ASSERT_EQ(poll(&pollfd, 1, 0), 1);
	VFIO_ASSERT_TRUE(pollfd.revents & POLLIN);
}

int __vfio_mig_write(int data_fd, const void *buf, size_t len, size_t split)
{
	const u8 *p = buf;

	while (len) {
		ssize_t n = write(data_fd, p, min(len, split));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;

		p += n;
		len -= n;
	}

	return 0;
}

/*
 * "The user is not required to preserve buffer segmentation when writing
 * the data stream during the RESUMING operation".
 */
void vfio_mig_write(int data_fd, const struct vfio_mig_stream *stream)
{
	static const size_t pieces[] = { 1, 4093, SZ_64K + 1, SZ_1M - 7 };
	size_t offset = 0;
	int i = 0;

	while (offset < stream->len) {
		size_t len = min(pieces[i++ % ARRAY_SIZE(pieces)],
				 stream->len - offset);
		int ret;

		ret = __vfio_mig_write(data_fd, stream->data + offset, len, len);
		VFIO_ASSERT_EQ(ret, 0, "write() of the stream failed at %zu/%zu\n",
			       offset, stream->len);
		offset += len;
	}
}

void vfio_pci_mig_save(struct vfio_pci_device *device,
		       struct vfio_mig_stream *stream, bool pre_copy)
{
	int data_fd;

	if (pre_copy) {
		data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_PRE_COPY);
		VFIO_ASSERT_GE(data_fd, 0);
		vfio_mig_read_precopy(data_fd, stream);

		VFIO_ASSERT_EQ(vfio_pci_mig_state_set(device,
						      VFIO_DEVICE_STATE_STOP_COPY), -1);
	} else {
		data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP_COPY);
		VFIO_ASSERT_GE(data_fd, 0);
	}

	vfio_mig_read_stop_copy(data_fd, stream);

	/* "The STOP_COPY arc will terminate a data transfer session." */
	VFIO_ASSERT_EQ(vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_STOP), -1);
	VFIO_ASSERT_EQ(close(data_fd), 0);
}

void vfio_pci_mig_resume(struct vfio_pci_device *device,
			 const struct vfio_mig_stream *stream)
{
	int data_fd;

	data_fd = vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_RESUMING);
	VFIO_ASSERT_GE(data_fd, 0);

	vfio_mig_write(data_fd, stream);

	/*
	 * "Leaving RESUMING terminates a data transfer session ... If the user
	 * provided data is found to be incomplete, inconsistent, or otherwise
	 * invalid, the migration driver must fail the SET_STATE ioctl".
	 */
	VFIO_ASSERT_EQ(vfio_pci_mig_state_set(device, VFIO_DEVICE_STATE_RUNNING), -1);
	VFIO_ASSERT_EQ(vfio_pci_mig_state_get(device), VFIO_DEVICE_STATE_RUNNING);
	VFIO_ASSERT_EQ(close(data_fd), 0);
}

int __vfio_pci_dma_logging_start(struct vfio_pci_device *device,
				 const struct vfio_device_feature_dma_logging_range *ranges,
				 u32 nr_ranges, u64 *page_size)
{
	struct vfio_device_feature_dma_logging_control control = {
		.page_size = *page_size,
		.num_ranges = nr_ranges,
		.ranges = (uintptr_t)ranges,
	};
	int ret;

	ret = __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_SET |
					VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
					&control, sizeof(control));
	if (!ret)
		*page_size = control.page_size;

	return ret;
}

int __vfio_pci_dma_logging_stop(struct vfio_pci_device *device)
{
	return __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_SET |
					 VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
					 NULL, 0);
}

int __vfio_pci_dma_logging_report(struct vfio_pci_device *device, iova_t iova,
				  u64 length, u64 page_size, u64 *bitmap)
{
	struct vfio_device_feature_dma_logging_report report = {
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.bitmap = (uintptr_t)bitmap,
	};

	return __vfio_pci_device_feature(device, VFIO_DEVICE_FEATURE_GET |
					 VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT,
					 &report, sizeof(report));
}
