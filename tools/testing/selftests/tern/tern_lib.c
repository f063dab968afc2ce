// SPDX-License-Identifier: GPL-2.0
/*
 * tern_lib: userspace reference driver of a tern VF (see tern_lib.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <endian.h>

#include "tern_lib.h"

/* ---- registers ----------------------------------------------------------- */

uint32_t tern_vf_read(struct tern_vf *vf, uint32_t reg)
{
	return le32toh(vf->regs[reg / 4]);
}

void tern_vf_write(struct tern_vf *vf, uint32_t reg, uint32_t val)
{
	vf->regs[reg / 4] = htole32(val);
}

uint64_t tern_vf_read64(struct tern_vf *vf, uint32_t reg_lo)
{
	uint32_t lo = tern_vf_read(vf, reg_lo);

	return (uint64_t)tern_vf_read(vf, reg_lo + 4) << 32 | lo;
}

void tern_vf_write64(struct tern_vf *vf, uint32_t reg_lo, uint64_t val)
{
	tern_vf_write(vf, reg_lo, (uint32_t)val);
	tern_vf_write(vf, reg_lo + 4, val >> 32);
}

/* ---- open / close --------------------------------------------------------- */

int tern_vf_open(struct tern_vf *vf, const char *bdf,
		 enum vfio_access_path path)
{
	char sysfs[64];
	int ret;

	memset(vf, 0, sizeof(*vf));
	snprintf(sysfs, sizeof(sysfs), "/sys/bus/pci/devices/%s", bdf);
	ret = vfio_dev_open(&vf->dev, sysfs, path);
	if (ret)
		return ret;
	ret = vfio_pci_enable_master(&vf->dev);
	if (ret)
		goto err;
	vf->regs = vfio_region_mmap(&vf->dev, TERN_VF_BAR_REGS, &vf->regs_size);
	vf->devmem = vfio_region_mmap(&vf->dev, TERN_VF_BAR_DEVMEM,
				      &vf->devmem_size);
	if (!vf->regs || !vf->devmem) {
		ret = -ENXIO;
		goto err;
	}
	if (tern_vf_read(vf, TERN_VF_REG_MAGIC) != TERN_MAGIC ||
	    tern_vf_read64(vf, TERN_VF_REG_DEVMEM_SIZE_LO) != vf->devmem_size) {
		ret = -ENODEV;
		goto err;
	}
	vf->arena = vfio_alloc_dma_buffer(TERN_LIB_ARENA_SIZE);
	if (!vf->arena) {
		ret = -ENOMEM;
		goto err;
	}
	ret = vfio_dma_map(&vf->dev, vf->arena, TERN_LIB_ARENA_SIZE,
			   TERN_LIB_ARENA_IOVA);
	if (ret) {
		munmap(vf->arena, TERN_LIB_ARENA_SIZE);
		vf->arena = NULL;
		goto err;
	}
	ret = vfio_irq_enable(&vf->dev, VFIO_PCI_MSIX_IRQ_INDEX,
			      TERN_VF_MSIX_VECTORS, vf->efd);
	if (ret)
		goto err;
	vf->irqs = true;
	return 0;
err:
	tern_vf_close(vf);
	return ret;
}

void tern_vf_close(struct tern_vf *vf)
{
	int i;

	if (vf->regs)
		tern_engine_stop(vf);
	if (vf->irqs) {
		vfio_irq_disable(&vf->dev, VFIO_PCI_MSIX_IRQ_INDEX);
		for (i = 0; i < TERN_VF_MSIX_VECTORS; i++)
			close(vf->efd[i]);
		vf->irqs = false;
	}
	if (vf->arena) {
		vfio_dma_unmap(&vf->dev, TERN_LIB_ARENA_SIZE,
			       TERN_LIB_ARENA_IOVA);
		munmap(vf->arena, TERN_LIB_ARENA_SIZE);
		vf->arena = NULL;
	}
	if (vf->devmem)
		munmap(vf->devmem, vf->devmem_size);
	if (vf->regs)
		munmap((void *)vf->regs, vf->regs_size);
	vf->devmem = NULL;
	vf->regs = NULL;
	vfio_dev_close(&vf->dev);
}

/* ---- DMA arena ------------------------------------------------------------ */

void *tern_dma_alloc(struct tern_vf *vf, size_t size, size_t align)
{
	size_t off = (vf->arena_used + align - 1) & ~(align - 1);

	if (off + size > TERN_LIB_ARENA_SIZE)
		return NULL;
	vf->arena_used = off + size;
	memset(vf->arena + off, 0, size);
	return vf->arena + off;
}

uint64_t tern_iova(struct tern_vf *vf, const void *p)
{
	return TERN_LIB_ARENA_IOVA + ((const uint8_t *)p - vf->arena);
}

/* ---- engine --------------------------------------------------------------- */

int tern_engine_start(struct tern_vf *vf, uint32_t size)
{
	tern_engine_stop(vf);
	/* a restart reuses the rings: the arena is never given back */
	if (size > vf->ring_cap) {
		vf->ring = tern_dma_alloc(vf, size * sizeof(*vf->ring), 4096);
		vf->cpl = tern_dma_alloc(vf, size * sizeof(*vf->cpl), 4096);
		if (!vf->ring || !vf->cpl) {
			vf->ring_cap = 0;
			return -ENOMEM;
		}
		vf->ring_cap = size;
	}
	/* no entry of an earlier run may look valid to the first phase */
	memset(vf->cpl, 0, size * sizeof(*vf->cpl));
	vf->ring_size = size;
	vf->tail = vf->done = 0;
	vf->phase = 1;

	tern_vf_write64(vf, TERN_VF_REG_RING_BASE_LO, tern_iova(vf, vf->ring));
	tern_vf_write64(vf, TERN_VF_REG_CPL_BASE_LO, tern_iova(vf, vf->cpl));
	tern_vf_write(vf, TERN_VF_REG_RING_SIZE, size);
	tern_vf_write(vf, TERN_VF_REG_INTR_STATUS,
		      TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR);
	tern_vf_write(vf, TERN_VF_REG_INTR_ENABLE,
		      TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR);
	tern_vf_write(vf, TERN_VF_REG_ENGINE_CTRL, TERN_ENGINE_CTRL_ENABLE);
	if (!(tern_vf_read(vf, TERN_VF_REG_ENGINE_STATUS) &
	      TERN_ENGINE_STS_ENABLED))
		return -EIO;
	return 0;
}

void tern_engine_stop(struct tern_vf *vf)
{
	tern_vf_write(vf, TERN_VF_REG_ENGINE_CTRL, 0);
	tern_vf_write(vf, TERN_VF_REG_INTR_ENABLE, 0);
}

int tern_queue(struct tern_vf *vf, uint8_t op, uint8_t flags, uint32_t len,
	       uint64_t src, uint64_t dst, uint64_t cookie)
{
	struct tern_desc *d = &vf->ring[vf->tail];
	uint32_t next = (vf->tail + 1) & (vf->ring_size - 1);

	if (next == vf->done)
		return -ENOSPC;
	d->op = op;
	d->flags = flags;
	d->rsvd = 0;
	d->len = htole32(len);
	d->src = htole64(src);
	d->dst = htole64(dst);
	d->cookie = htole64(cookie);
	vf->tail = next;
	return 0;
}

void tern_doorbell(struct tern_vf *vf)
{
	/* descriptors must be in memory before the device sees the tail */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	tern_vf_write(vf, TERN_VF_REG_RING_TAIL, vf->tail);
}

uint32_t tern_pending(const struct tern_vf *vf)
{
	return (vf->tail - vf->done) & (vf->ring_size - 1);
}

static bool tern_cpl_ready(struct tern_vf *vf, struct tern_desc_cpl *out)
{
	volatile struct tern_desc_cpl *c = &vf->cpl[vf->done];

	if ((le16toh(c->flags) & TERN_DESC_CPL_F_PHASE) != vf->phase)
		return false;
	/* the phase bit is written with the entry: read the rest after it */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	out->cookie = c->cookie;
	out->result = c->result;
	out->status = c->status;
	out->flags = c->flags;
	vf->done = (vf->done + 1) & (vf->ring_size - 1);
	if (!vf->done)
		vf->phase ^= 1;
	return true;
}

int tern_reap(struct tern_vf *vf, struct tern_desc_cpl *cpl, int timeout_ms)
{
	int waited = 0;

	while (!tern_cpl_ready(vf, cpl)) {
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		/* a JOB interrupt, or a timeout slice for F_INTR-less jobs */
		vfio_eventfd_wait(vf->efd[TERN_VF_VEC_JOB], 100);
		waited += 100;
	}
	return 0;
}

int tern_run(struct tern_vf *vf, uint8_t op, uint8_t flags, uint32_t len,
	     uint64_t src, uint64_t dst, uint32_t *result)
{
	struct tern_desc_cpl cpl;
	uint64_t cookie = 0x7e40000000000000ull | vf->tail;
	int ret;

	ret = tern_queue(vf, op, flags | TERN_DESC_F_INTR, len, src, dst,
			 cookie);
	if (ret)
		return ret;
	tern_doorbell(vf);
	if (!vfio_eventfd_wait(vf->efd[TERN_VF_VEC_JOB], TERN_LIB_TIMEOUT_MS))
		return -ETIMEDOUT;
	ret = tern_reap(vf, &cpl, TERN_LIB_TIMEOUT_MS);
	if (ret)
		return ret;
	if (le64toh(cpl.cookie) != cookie)
		return -EPROTO;
	if (result)
		*result = le32toh(cpl.result);
	return le16toh(cpl.status);
}

/* ---- debugfs --------------------------------------------------------------- */

void tern_vf_debugfs_path(char *path, size_t len, const char *bdf,
			  const char *file)
{
	struct stat st;

	if (!stat("/sys/kernel/debug/vfio", &st))
		snprintf(path, len, "/sys/kernel/debug/vfio/%s/migration/tern/%s",
			 bdf, file);
	else
		snprintf(path, len, "/sys/kernel/debug/tern_vfio_pci/%s/%s",
			 bdf, file);
}

/* ---- CRC-32C -------------------------------------------------------------- */

uint32_t tern_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78 & -(crc & 1));
	}
	return ~crc;
}

uint32_t tern_crc32c(const void *buf, size_t len)
{
	return tern_crc32c_update(0, buf, len);
}
