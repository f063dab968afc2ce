/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The tern VF's DMA engine beyond memcpy, for tests that drive the device
 * itself: jobs of any opcode with their result, rings of a chosen size,
 * descriptors queued and completions reaped one by one.
 *
 * The driver's state (rings and software ring state) lives in
 * device->driver.region: vfio_pci_driver_init() must have run, and the
 * memcpy ops and these verbs share the one ring.
 */
#ifndef SELFTESTS_VFIO_LIB_DRIVERS_TERN_TERN_H
#define SELFTESTS_VFIO_LIB_DRIVERS_TERN_TERN_H

#include <linux/types.h>

#include <libvfio.h>

#include "tern_if.h"

/* Ring entries the driver region holds: the largest ring the driver runs. */
#define TERN_RING_SIZE		1024

/* What __tern_reap() and tern_job() wait for a completion, at most. */
#define TERN_JOB_TIMEOUT_MS	20000

/* BAR0 registers; 64-bit ones are LO/HI pairs, written LO first. */
u32 tern_readl(struct vfio_pci_device *device, u32 reg);
void tern_writel(struct vfio_pci_device *device, u32 reg, u32 val);
u64 tern_readq(struct vfio_pci_device *device, u32 reg_lo);
void tern_writeq(struct vfio_pci_device *device, u32 reg_lo, u64 val);

/*
 * (Re)start the engine on an empty ring of @ring_size entries (a power of
 * 2, at most TERN_RING_SIZE) with both interrupt causes (JOB, ERROR)
 * enabled and cleared. Fails if the engine reports CFG_ERR.
 */
int __tern_engine_start(struct vfio_pci_device *device, u32 ring_size);

static inline void tern_engine_start(struct vfio_pci_device *device,
				     u32 ring_size)
{
	VFIO_ASSERT_EQ(__tern_engine_start(device, ring_size), 0);
}

/* Disable the engine and its interrupts; fetched descriptors are dropped. */
void tern_engine_stop(struct vfio_pci_device *device);

/*
 * Queue one descriptor, not yet visible to the device: 0, or -ENOSPC when
 * ring_size - 1 descriptors are outstanding.
 */
int __tern_queue(struct vfio_pci_device *device, u8 op, u8 flags, u32 len,
		 iova_t src, iova_t dst, u64 cookie);

/* Make the queued descriptors visible: write RING_TAIL. */
void tern_doorbell(struct vfio_pci_device *device);

/* Descriptors queued whose completion has not been consumed. */
u32 tern_pending(struct vfio_pci_device *device);

/*
 * Consume the next completion into @cpl, polling up to @timeout_ms for it:
 * 0, or -ETIMEDOUT.
 */
int __tern_reap(struct vfio_pci_device *device, struct tern_desc_cpl *cpl,
		int timeout_ms);

/*
 * One job, start to finish: queue it with TERN_DESC_F_INTR, ring, wait for
 * the JOB vector's eventfd, consume the completion. Returns its
 * TERN_DESC_ST_* status (>= 0) or -errno; *result gets its result if
 * @result is not NULL.
 */
int tern_job(struct vfio_pci_device *device, u8 op, u8 flags, u32 len,
	     iova_t src, iova_t dst, u32 *result);

/*
 * Wait up to @timeout_ms for MSI-X @vector's eventfd: the count it read,
 * 0 on timeout.
 */
u64 tern_irq_wait(struct vfio_pci_device *device, int vector, int timeout_ms);

#endif /* SELFTESTS_VFIO_LIB_DRIVERS_TERN_TERN_H */
