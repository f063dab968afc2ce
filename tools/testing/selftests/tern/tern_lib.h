/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern_lib: the userspace reference driver of a tern VF, on top of
 * vfio_util. It opens a VF through VFIO (cdev or legacy path), maps its
 * register BAR and device memory, owns a DMA arena mapped at a fixed IOVA,
 * drives the engine's descriptor ring and waits for completions on the
 * MSI-X eventfds. Everything it does is described in
 * Documentation/tern/device.rst; the layouts come from tern_if.h.
 */
#ifndef TERN_SELFTEST_LIB_H
#define TERN_SELFTEST_LIB_H

#include <stdint.h>

#include "tern_if.h"
#include "vfio_util.h"

#define TERN_LIB_ARENA_IOVA	0x10000000ull	/* DMA arena in the VF's IOVA space */
#define TERN_LIB_ARENA_SIZE	(16u << 20)
#define TERN_LIB_TIMEOUT_MS	20000

struct tern_vf {
	struct vfio_dev dev;
	volatile uint32_t *regs;	/* BAR0, mmap'ed */
	uint8_t *devmem;		/* BAR2, mmap'ed */
	size_t devmem_size;
	size_t regs_size;
	int efd[TERN_VF_MSIX_VECTORS];	/* MSI-X eventfds: JOB, ERROR */
	bool irqs;

	/* DMA arena: a bump allocator over memory mapped at ARENA_IOVA */
	uint8_t *arena;
	size_t arena_used;

	/* engine ring state (software side) */
	struct tern_desc *ring;
	struct tern_desc_cpl *cpl;
	uint32_t ring_size;
	uint32_t ring_cap;		/* entries allocated for both rings */
	uint32_t tail;			/* next slot to fill */
	uint32_t done;			/* next completion to consume */
	uint32_t phase;			/* phase bit of the next completion */
};

/*
 * Open the VF at @bdf through @path, enable bus mastering, mmap BAR0 and
 * BAR2, map the DMA arena and route both MSI-X vectors to eventfds.
 * Returns 0 or -errno.
 */
int tern_vf_open(struct tern_vf *vf, const char *bdf,
		 enum vfio_access_path path);
void tern_vf_close(struct tern_vf *vf);

uint32_t tern_vf_read(struct tern_vf *vf, uint32_t reg);
void tern_vf_write(struct tern_vf *vf, uint32_t reg, uint32_t val);
uint64_t tern_vf_read64(struct tern_vf *vf, uint32_t reg_lo);
void tern_vf_write64(struct tern_vf *vf, uint32_t reg_lo, uint64_t val);

/* Arena memory (zeroed, @align a power of 2) and its IOVA. NULL if full. */
void *tern_dma_alloc(struct tern_vf *vf, size_t size, size_t align);
uint64_t tern_iova(struct tern_vf *vf, const void *p);

/*
 * Allocate a ring of @size entries (power of 2) and its completion ring in
 * the arena (once: a restart reuses them), program and enable the engine,
 * enable both interrupt causes. Returns 0, -ENOMEM if the arena is full,
 * or -EIO if the engine reports CFG_ERR.
 */
int tern_engine_start(struct tern_vf *vf, uint32_t size);
void tern_engine_stop(struct tern_vf *vf);

/*
 * Queue one descriptor (not yet visible to the device); -ENOSPC when
 * size - 1 descriptors are outstanding.
 */
int tern_queue(struct tern_vf *vf, uint8_t op, uint8_t flags, uint32_t len,
	       uint64_t src, uint64_t dst, uint64_t cookie);
/* Make queued descriptors visible: write RING_TAIL. */
void tern_doorbell(struct tern_vf *vf);
/* Descriptors queued whose completion has not been consumed yet. */
uint32_t tern_pending(const struct tern_vf *vf);
/*
 * Consume the next completion into @cpl, waiting up to @timeout_ms on the
 * JOB eventfd if it is not there yet. Returns 0, or -ETIMEDOUT.
 */
int tern_reap(struct tern_vf *vf, struct tern_desc_cpl *cpl, int timeout_ms);

/*
 * One job, start to finish: queue with TERN_DESC_F_INTR, ring, wait for the
 * MSI-X eventfd, consume the completion. Returns the TERN_DESC_ST_* status
 * (>= 0) or -errno; *result receives the completion's result if not NULL.
 */
int tern_run(struct tern_vf *vf, uint8_t op, uint8_t flags, uint32_t len,
	     uint64_t src, uint64_t dst, uint32_t *result);

/* CRC-32C as the device computes it (CHECKSUM, stream CRCs). */
uint32_t tern_crc32c(const void *buf, size_t len);
/*
 * Continue a CRC-32C: tern_crc32c_update(tern_crc32c(a, m), b, n) is the
 * CRC of a followed by b.
 */
uint32_t tern_crc32c_update(uint32_t crc, const void *buf, size_t len);

/*
 * The path of @file in tern-vfio-pci's debugfs directory of VF @bdf:
 * <debugfs>/vfio/<bdf>/migration/tern/@file where the kernel has the vfio
 * core's debugfs (CONFIG_VFIO_DEBUGFS), else <debugfs>/tern_vfio_pci/<bdf>/.
 */
void tern_vf_debugfs_path(char *path, size_t len, const char *bdf,
			  const char *file);

#endif
