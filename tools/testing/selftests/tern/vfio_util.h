/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the tern selftests: open a VFIO device the way a VMM
 * does, through either the iommufd cdev path or the legacy group/container
 * path, map DMA memory, access regions, and wire interrupts to eventfds.
 */
#ifndef TERN_SELFTEST_VFIO_UTIL_H
#define TERN_SELFTEST_VFIO_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

enum vfio_access_path {
	VFIO_PATH_CDEV,		/* /dev/vfio/devices/vfioN + /dev/iommu */
	VFIO_PATH_LEGACY,	/* /dev/vfio/vfio container + /dev/vfio/N group */
};

struct vfio_dev {
	enum vfio_access_path path;
	char sysfs[256];	/* /sys/bus/{pci,mdev}/devices/<name> */
	char name[64];		/* BDF or mdev UUID */
	int device_fd;
	int iommufd;		/* cdev path */
	uint32_t ioas_id;	/* cdev path */
	int container_fd;	/* legacy path */
	int group_fd;		/* legacy path */
};

/* Open a device given its sysfs directory; returns 0 or -errno. */
int vfio_dev_open(struct vfio_dev *dev, const char *sysfs_path,
		  enum vfio_access_path path);
void vfio_dev_close(struct vfio_dev *dev);

/* Map/unmap user memory at a fixed IOVA in the device's IO address space. */
int vfio_dma_map(struct vfio_dev *dev, void *vaddr, size_t size,
		 uint64_t iova);
int vfio_dma_unmap(struct vfio_dev *dev, size_t size, uint64_t iova);
/* Anonymous, page-aligned, zeroed memory for DMA; NULL on failure. */
void *vfio_alloc_dma_buffer(size_t size);

int vfio_region_info(struct vfio_dev *dev, unsigned int index,
		     struct vfio_region_info *info);
ssize_t vfio_region_read(struct vfio_dev *dev, unsigned int index,
			 uint64_t offset, void *buf, size_t len);
ssize_t vfio_region_write(struct vfio_dev *dev, unsigned int index,
			  uint64_t offset, const void *buf, size_t len);
/* Set Memory Space and Bus Master in the PCI command register. */
int vfio_pci_enable_master(struct vfio_dev *dev);
/* mmap a whole region; *size receives its length. NULL on failure. */
void *vfio_region_mmap(struct vfio_dev *dev, unsigned int index,
		       size_t *size);
uint32_t vfio_read32(struct vfio_dev *dev, unsigned int index,
		     uint64_t offset);
void vfio_write32(struct vfio_dev *dev, unsigned int index, uint64_t offset,
		  uint32_t val);

/*
 * Route @count vectors of IRQ @index (VFIO_PCI_MSI_IRQ_INDEX, ...) to new
 * eventfds stored in @efds. Returns 0 or -errno.
 */
int vfio_irq_enable(struct vfio_dev *dev, unsigned int index,
		    unsigned int count, int *efds);
int vfio_irq_disable(struct vfio_dev *dev, unsigned int index);
/* Wait for an eventfd to fire; returns its count, 0 on timeout. */
uint64_t vfio_eventfd_wait(int efd, int timeout_ms);

/*
 * VFIO_DEVICE_FEATURE with @flags (GET/SET/PROBE | feature) and @size bytes
 * of payload at @data, copied back on success. Returns 0 or -errno.
 */
int vfio_device_feature(struct vfio_dev *dev, uint32_t flags, void *data,
			size_t size);

/* Migration uAPI helpers: return 0 or -errno; *data_fd gets a new fd or -1. */
int vfio_mig_set_state(struct vfio_dev *dev, enum vfio_device_mig_state state,
		       int *data_fd);
int vfio_mig_get_state(struct vfio_dev *dev,
		       enum vfio_device_mig_state *state);
int vfio_mig_get_flags(struct vfio_dev *dev, uint64_t *flags);
int vfio_mig_precopy_info(int data_fd, struct vfio_precopy_info *info);

/* A growable buffer holding a migration stream. */
struct mig_stream {
	uint8_t *data;
	size_t len;
	size_t cap;
};

/*
 * Append everything read() on @data_fd returns, @chunk bytes at a time, until
 * read() returns 0 (returns 0) or fails (returns -errno, e.g. -ENOMSG at the
 * pre-copy temporary end of stream).
 */
int mig_stream_read(int data_fd, struct mig_stream *s, size_t chunk);
/* write() @len bytes from @buf in pieces of at most @split bytes. */
int mig_stream_write(int data_fd, const void *buf, size_t len, size_t split);
void mig_stream_free(struct mig_stream *s);
/*
 * Move what read() on @src_fd gives now to @dst_fd (discarded if < 0),
 * @chunk bytes at a time through @buf, adding the count to *@moved.
 * Returns 0 at the true end of stream, -ENOMSG at the pre-copy temporary
 * end, or -errno.
 */
int mig_stream_pump(int src_fd, int dst_fd, void *buf, size_t chunk,
		    uint64_t *moved);

/* DMA logging uAPI (VFIO_DEVICE_FEATURE_DMA_LOGGING_*): 0 or -errno. */
int vfio_dma_log_start(struct vfio_dev *dev,
		       const struct vfio_device_feature_dma_logging_range *ranges,
		       unsigned int nranges, uint64_t *page_size);
int vfio_dma_log_stop(struct vfio_dev *dev);
/* The kernel only sets bits: @bitmap is not cleared here. */
int vfio_dma_log_report(struct vfio_dev *dev, uint64_t iova, uint64_t length,
			uint64_t page_size, uint64_t *bitmap);

/*
 * What the kernel under test offers. A kernel may lack a feature by design
 * (Debian's stock 6.12 has no iommufd, so no vfio cdev and no DMA logging
 * reports): the rig lists those features in TERN_KERNEL_LACKS
 * (comma-separated; "none" for a kernel with everything), and a test that
 * needs one SKIPs there, and only there. Outside the rig (unset) any
 * feature may be missing.
 */
bool kernel_may_lack(const char *feature);
/* The iommufd cdev path (/dev/iommu): feature "cdev" */
bool vfio_cdev_available(void);
/* DMA logging on an open device: feature "dma_logging" */
bool vfio_dma_logging_available(struct vfio_dev *dev);
/* PRECOPY_INFOv2 and its REINIT flag (Linux 7.1+): "precopy_info_v2" */
bool vfio_precopy_info_v2_available(struct vfio_dev *dev);

/*
 * In a FIXTURE_SETUP or TEST_F (kselftest harness): SKIP with the reason
 * when @present is false and the kernel may lack @feature; otherwise carry
 * on, and the test fails on what is missing.
 */
#define SKIP_UNLESS_KERNEL_HAS(present, feature)				\
	do {								\
		if (!(present) && kernel_may_lack(feature))		\
			SKIP(return, "this kernel has no %s", feature);	\
	} while (0)

/* The same for a VFIO access path (cdev needs iommufd). */
#define SKIP_UNLESS_PATH_AVAILABLE(path)					\
	SKIP_UNLESS_KERNEL_HAS((path) != VFIO_PATH_CDEV ||		\
			       vfio_cdev_available(), "cdev")

/* CLOCK_MONOTONIC in seconds, for durations and deadlines. */
double monotonic_s(void);

/*
 * The device a selftest acts on, chosen as the upstream VFIO selftests
 * choose theirs (tools/testing/selftests/vfio/lib/libvfio.c): the PCI
 * addresses (segment:bus:device.function) at the end of the command line
 * are taken off argv and the first of them names the device; without
 * one, the environment variable @env does. A test never looks for a
 * device of its own: nothing named, nothing to test.
 */
struct pci_selftest_id {
	const char *what;	/* "tern PF": for messages */
	const char *env;	/* "TERN_SELFTESTS_PF" */
	uint16_t vendor;
	uint16_t device;
};

/*
 * Returns 0 with the device's address in @bdf (16 bytes); -ENOENT when
 * nothing names a device, -ENODEV when the device named is absent or is
 * not @id's, -EINVAL when @id->env holds no PCI address. @why (@len bytes)
 * receives the reason, for the SKIP or FAIL message.
 */
int pci_selftest_device(const struct pci_selftest_id *id, int *argc,
			char **argv, char *bdf, char *why, size_t len);

/*
 * In main(), before test_harness_run(): pci_selftest_device(), exiting
 * KSFT_SKIP with the reason ("1..0 # SKIP ...") when no device is named
 * or the one named is not there, KSFT_FAIL when the variable is garbled.
 * Nothing has been written anywhere by then.
 */
#define SELFTEST_DEVICE_OR_SKIP(id, argc, argv, bdf)			\
	do {								\
		char __why[256];					\
		int __ret = pci_selftest_device(id, argc, argv, bdf,	\
						__why, sizeof(__why));	\
		if (__ret == -EINVAL)					\
			ksft_exit_fail_msg("%s\n", __why);		\
		if (__ret)						\
			ksft_exit_skip("%s\n", __why);			\
	} while (0)

/* PCI sysfs helpers. */
/* The driver @bdf is bound to, in @driver (@len bytes): 0, or -ENOENT. */
int pci_device_driver(const char *bdf, char *driver, size_t len);
bool pci_driver_is(const char *bdf, const char *driver);
/* Unbind @bdf from its driver, if any, and bind it to @driver. */
int pci_bind_driver(const char *bdf, const char *driver);
int sysfs_write(const char *path, const char *val);
int sysfs_read(const char *path, char *buf, size_t len);

#endif
