// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio driver for the DMA engine of a tern VF, and the verbs tern's own
 * tests use beyond memcpy (tern.h).
 *
 * The device interface is tern_if.h, the tern project's
 * include/linux/tern/tern_if.h (specified in its
 * Documentation/tern/device.rst): a link to it in that project, a copy of
 * it anywhere else.
 *
 * The engine fetches 32-byte descriptors from a ring in host memory and
 * writes the 16-byte completion of descriptor i into entry i of a completion
 * ring of the same size, with a phase bit that is 1 on the first pass and
 * flips on every wrap. memcpy_start() queues @count COPY descriptors and
 * rings the doorbell, memcpy_wait() consumes their completions in order.
 * Copies never ask for an interrupt, so memcpy_start() raises none on
 * vector 0; send_msi() runs a NOP descriptor that asks for the JOB one.
 * Both MSI-X vectors (JOB, ERROR) have an eventfd.
 *
 * The rings and the software ring state live in device->driver.region, so
 * a device whose state was migrated to another one carries on with the
 * ring where the source left it, as it would inside a migrated VM.
 */
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>

#include <asm/barrier.h>

#include <libvfio.h>

#include "tern.h"

/*
 * A descriptor copies up to TERN_DESC_MAX_LEN (64 MiB). Smaller copies keep
 * the chunked memcpy and the memcpy storm of vfio_pci_driver_test (count x
 * size bytes) within the harness timeouts when the device is a model run by
 * an emulator.
 */
#define TERN_MAX_MEMCPY_SIZE	SZ_1M

/* Completion polling interval. */
#define TERN_POLL_US		100

struct tern_state {
	/* Descriptor and completion rings, read and written by the device. */
	struct tern_desc ring[TERN_RING_SIZE];
	struct tern_desc_cpl cpl[TERN_RING_SIZE];

	/* Entries of the ring the engine runs, a power of 2. */
	u32 ring_size;
	/* Next ring entry to fill. */
	u32 tail;
	/* Next completion to consume, and the phase bit it will carry. */
	u32 done;
	u32 phase;
	/* Cookie of the next memcpy descriptor, checked in memcpy_wait(). */
	u64 cookie;
};

static inline struct tern_state *to_tern_state(struct vfio_pci_device *device)
{
	return device->driver.region.vaddr;
}

static inline void *tern_regs(struct vfio_pci_device *device)
{
	return device->bars[TERN_VF_BAR_REGS].vaddr;
}

u32 tern_readl(struct vfio_pci_device *device, u32 reg)
{
	return readl(tern_regs(device) + reg);
}

void tern_writel(struct vfio_pci_device *device, u32 reg, u32 val)
{
	writel(val, tern_regs(device) + reg);
}

u64 tern_readq(struct vfio_pci_device *device, u32 reg_lo)
{
	u32 lo = tern_readl(device, reg_lo);

	return (u64)tern_readl(device, reg_lo + 4) << 32 | lo;
}

/* 64-bit registers are LO/HI pairs that accept two 32-bit writes, LO first. */
void tern_writeq(struct vfio_pci_device *device, u32 reg_lo, u64 val)
{
	tern_writel(device, reg_lo, (u32)val);
	tern_writel(device, reg_lo + 4, val >> 32);
}

static int tern_probe(struct vfio_pci_device *device)
{
	u32 magic, version;

	if (!vfio_pci_device_match(device, TERN_PCI_VENDOR_ID,
				   TERN_PCI_VF_DEVICE_ID))
		return -EINVAL;

	VFIO_ASSERT_NOT_NULL(tern_regs(device));

	magic = tern_readl(device, TERN_VF_REG_MAGIC);
	version = tern_readl(device, TERN_VF_REG_VERSION);
	if (magic != TERN_MAGIC || version >> 16 != TERN_ABI_MAJOR) {
		dev_err(device, "tern: unsupported device: magic 0x%x version 0x%x\n",
			magic, version);
		return -EINVAL;
	}

	return 0;
}

void tern_engine_stop(struct vfio_pci_device *device)
{
	/* Fetched descriptors are discarded without completion. */
	tern_writel(device, TERN_VF_REG_ENGINE_CTRL, 0);
	tern_writel(device, TERN_VF_REG_INTR_ENABLE, 0);
	tern_writel(device, TERN_VF_REG_INTR_STATUS,
		    TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR);
}

/*
 * Enabling latches the ring registers and resets RING_HEAD, RING_TAIL and
 * RING_DONE to 0 and the phase to 1.
 */
int __tern_engine_start(struct vfio_pci_device *device, u32 ring_size)
{
	struct tern_state *tern = to_tern_state(device);
	u32 status;

	VFIO_ASSERT_TRUE(ring_size >= 2 && ring_size <= TERN_RING_SIZE &&
			 !(ring_size & (ring_size - 1)),
			 "tern: no ring of %u entries\n", ring_size);

	tern_engine_stop(device);

	/* No entry of an earlier run may look valid to the first phase. */
	memset(tern, 0, sizeof(*tern));
	tern->ring_size = ring_size;
	tern->phase = 1;

	tern_writeq(device, TERN_VF_REG_RING_BASE_LO, to_iova(device, tern->ring));
	tern_writeq(device, TERN_VF_REG_CPL_BASE_LO, to_iova(device, tern->cpl));
	tern_writel(device, TERN_VF_REG_RING_SIZE, ring_size);
	tern_writel(device, TERN_VF_REG_INTR_ENABLE,
		    TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR);
	tern_writel(device, TERN_VF_REG_ENGINE_CTRL, TERN_ENGINE_CTRL_ENABLE);

	status = tern_readl(device, TERN_VF_REG_ENGINE_STATUS);
	if (!(status & TERN_ENGINE_STS_ENABLED)) {
		dev_err(device, "tern: engine not enabled, status 0x%x\n", status);
		return -EIO;
	}

	return 0;
}

static void tern_init(struct vfio_pci_device *device)
{
	VFIO_ASSERT_GE(device->driver.region.size, sizeof(struct tern_state));

	vfio_pci_config_writew(device, PCI_COMMAND,
			       PCI_COMMAND_MEMORY |
			       PCI_COMMAND_MASTER |
			       PCI_COMMAND_INTX_DISABLE);

	vfio_pci_msix_enable(device, TERN_VF_VEC_JOB, TERN_VF_MSIX_VECTORS);

	tern_engine_start(device, TERN_RING_SIZE);

	device->driver.max_memcpy_size = TERN_MAX_MEMCPY_SIZE;
	device->driver.max_memcpy_count = TERN_RING_SIZE - 1;
	device->driver.msi = TERN_VF_VEC_JOB;
}

static void tern_remove(struct vfio_pci_device *device)
{
	tern_engine_stop(device);
	vfio_pci_msix_disable(device);
}

int __tern_queue(struct vfio_pci_device *device, u8 op, u8 flags, u32 len,
		 iova_t src, iova_t dst, u64 cookie)
{
	struct tern_state *tern = to_tern_state(device);
	u32 next = (tern->tail + 1) & (tern->ring_size - 1);

	if (next == tern->done)
		return -ENOSPC;

	tern->ring[tern->tail] = (struct tern_desc) {
		.op = op,
		.flags = flags,
		.len = cpu_to_le32(len),
		.src = cpu_to_le64(src),
		.dst = cpu_to_le64(dst),
		.cookie = cpu_to_le64(cookie),
	};
	tern->tail = next;

	return 0;
}

/* writel() orders the descriptor writes before the doorbell. */
void tern_doorbell(struct vfio_pci_device *device)
{
	tern_writel(device, TERN_VF_REG_RING_TAIL, to_tern_state(device)->tail);
}

u32 tern_pending(struct vfio_pci_device *device)
{
	struct tern_state *tern = to_tern_state(device);

	return (tern->tail - tern->done) & (tern->ring_size - 1);
}

/* Consume the next completion into @cpl if the device has written it. */
static bool tern_cpl_ready(struct vfio_pci_device *device,
			   struct tern_desc_cpl *cpl)
{
	struct tern_state *tern = to_tern_state(device);
	struct tern_desc_cpl *entry = &tern->cpl[tern->done];

	if ((le16_to_cpu(READ_ONCE(entry->flags)) & TERN_DESC_CPL_F_PHASE) !=
	    tern->phase)
		return false;

	/* The phase bit is written with the entry: read the rest after it. */
	rmb();
	*cpl = *entry;

	tern->done = (tern->done + 1) & (tern->ring_size - 1);
	if (!tern->done)
		tern->phase ^= 1;

	return true;
}

int __tern_reap(struct vfio_pci_device *device, struct tern_desc_cpl *cpl,
		int timeout_ms)
{
	int waited_us = 0;

	while (!tern_cpl_ready(device, cpl)) {
		if (waited_us >= timeout_ms * 1000)
			return -ETIMEDOUT;
		usleep(TERN_POLL_US);
		waited_us += TERN_POLL_US;
	}

	return 0;
}

u64 tern_irq_wait(struct vfio_pci_device *device, int vector, int timeout_ms)
{
	struct pollfd pollfd = {
		.fd = device->msi_eventfds[vector],
		.events = POLLIN,
	};
	u64 count;

	VFIO_ASSERT_GE(pollfd.fd, 0, "tern: no eventfd for vector %d\n", vector);

	if (poll(&pollfd, 1, timeout_ms) != 1)
		return 0;

	VFIO_ASSERT_EQ(read(pollfd.fd, &count, sizeof(count)), sizeof(count));

	return count;
}

int tern_job(struct vfio_pci_device *device, u8 op, u8 flags, u32 len,
	     iova_t src, iova_t dst, u32 *result)
{
	struct tern_state *tern = to_tern_state(device);
	u64 cookie = 0x7e40000000000000ull | tern->tail;
	struct tern_desc_cpl cpl;
	int ret;

	ret = __tern_queue(device, op, flags | TERN_DESC_F_INTR, len, src, dst,
			   cookie);
	if (ret)
		return ret;

	tern_doorbell(device);

	if (!tern_irq_wait(device, TERN_VF_VEC_JOB, TERN_JOB_TIMEOUT_MS))
		return -ETIMEDOUT;

	ret = __tern_reap(device, &cpl, TERN_JOB_TIMEOUT_MS);
	if (ret)
		return ret;

	if (le64_to_cpu(cpl.cookie) != cookie)
		return -EPROTO;

	if (result)
		*result = le32_to_cpu(cpl.result);

	return le16_to_cpu(cpl.status);
}

static void tern_handle_halt(struct vfio_pci_device *device, u32 status)
{
	struct tern_state *tern = to_tern_state(device);

	dev_err(device, "tern: engine halted (status 0x%x, head %u, done %u, tail %u)\n",
		status, tern_readl(device, TERN_VF_REG_RING_HEAD),
		tern_readl(device, TERN_VF_REG_RING_DONE), tern->tail);

	/* A halted engine recovers by being disabled and enabled again. */
	tern_engine_start(device, tern->ring_size);
}

static void tern_memcpy_start(struct vfio_pci_device *device,
			      iova_t src, iova_t dst, u64 size, u64 count)
{
	struct tern_state *tern = to_tern_state(device);
	u64 i;

	for (i = 0; i < count; i++)
		VFIO_ASSERT_EQ(__tern_queue(device, TERN_DESC_OP_COPY, 0, size,
					    src, dst, tern->cookie++), 0,
			       "tern: ring full\n");

	tern_doorbell(device);
}

/*
 * Consume the completions of all pending descriptors, oldest first. Returns
 * 0, or -1 if a descriptor failed or the engine halted.
 */
static int tern_memcpy_wait(struct vfio_pci_device *device)
{
	struct tern_state *tern = to_tern_state(device);
	struct tern_desc_cpl cpl;
	int r = 0;

	while (tern_pending(device)) {
		u64 cookie = tern->cookie - tern_pending(device);
		u16 status;
		u32 engine;

		if (!tern_cpl_ready(device, &cpl)) {
			engine = tern_readl(device, TERN_VF_REG_ENGINE_STATUS);
			if (engine & TERN_ENGINE_STS_HALTED) {
				tern_handle_halt(device, engine);
				return -1;
			}

			usleep(TERN_POLL_US);
			continue;
		}

		status = le16_to_cpu(cpl.status);
		if (status != TERN_DESC_ST_OK) {
			dev_err(device, "tern: descriptor of cookie %llu failed with status %u\n",
				(unsigned long long)cookie, status);
			r = -1;
		}

		VFIO_ASSERT_EQ(le64_to_cpu(cpl.cookie), cookie,
			       "tern: completion out of order\n");
	}

	return r;
}

static void tern_send_msi(struct vfio_pci_device *device)
{
	struct tern_state *tern = to_tern_state(device);

	VFIO_ASSERT_EQ(__tern_queue(device, TERN_DESC_OP_NOP, TERN_DESC_F_INTR,
				    0, 0, 0, tern->cookie++), 0,
		       "tern: ring full\n");
	tern_doorbell(device);

	/* The device sends the JOB vector right after writing the completion. */
	VFIO_ASSERT_EQ(tern_memcpy_wait(device), 0);
}

const struct vfio_pci_driver_ops tern_ops = {
	.name = "tern",
	.probe = tern_probe,
	.init = tern_init,
	.remove = tern_remove,
	.memcpy_start = tern_memcpy_start,
	.memcpy_wait = tern_memcpy_wait,
	.send_msi = tern_send_msi,
};
