// SPDX-License-Identifier: GPL-2.0-only
/*
 * libvfio driver for the DMA engine of a tern VF.
 *
 * The device interface is include/linux/tern/tern_if.h of the tern project
 * (specified in its Documentation/tern/device.rst); the build adds its
 * include directory for this file only.
 *
 * The engine fetches 32-byte descriptors from a ring in host memory and
 * writes the 16-byte completion of descriptor i into entry i of a completion
 * ring of the same size, with a phase bit that is 1 on the first pass and
 * flips on every wrap. The driver keeps one ring for its lifetime:
 * memcpy_start() queues @count COPY descriptors and rings the doorbell,
 * memcpy_wait() consumes their completions in order. Copies never ask for
 * an interrupt and the ERROR interrupt stays disabled, so memcpy_start()
 * raises none; send_msi() runs a NOP descriptor that asks for the JOB one.
 *
 * The rings and the software ring state live in device->driver.region, so
 * a device whose state was migrated to another one carries on with the
 * ring where the source left it, as it would inside a migrated VM.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <linux/compiler.h>
#include <linux/errno.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/pci_regs.h>
#include <linux/sizes.h>
#include <linux/tern/tern_if.h>

#include <asm/barrier.h>

#include <libvfio.h>

/* Ring entries; at most TERN_RING_SIZE - 1 descriptors can be outstanding. */
#define TERN_RING_SIZE		1024

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

	/* Next ring entry to fill. */
	u32 tail;
	/* Next completion to consume, and the phase bit it will carry. */
	u32 done;
	u32 phase;
	/* Descriptors queued whose completion has not been consumed. */
	u32 pending;
	/* Cookie of the next descriptor, checked against its completion. */
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

static u32 tern_readl(struct vfio_pci_device *device, u32 reg)
{
	return readl(tern_regs(device) + reg);
}

static void tern_writel(struct vfio_pci_device *device, u32 reg, u32 val)
{
	writel(val, tern_regs(device) + reg);
}

/* 64-bit registers are LO/HI pairs that accept two 32-bit writes, LO first. */
static void tern_writeq(struct vfio_pci_device *device, u32 reg_lo, u64 val)
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

static void tern_engine_disable(struct vfio_pci_device *device)
{
	/* Fetched descriptors are discarded without completion. */
	tern_writel(device, TERN_VF_REG_ENGINE_CTRL, 0);
	tern_writel(device, TERN_VF_REG_INTR_ENABLE, 0);
	tern_writel(device, TERN_VF_REG_INTR_STATUS,
		    TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR);
}

/*
 * (Re)start the engine on an empty ring: enabling latches the ring registers
 * and resets RING_HEAD, RING_TAIL and RING_DONE to 0 and the phase to 1.
 */
static void tern_engine_enable(struct vfio_pci_device *device)
{
	struct tern_state *tern = to_tern_state(device);
	u32 status;

	tern_engine_disable(device);

	memset(tern, 0, sizeof(*tern));
	tern->phase = 1;

	tern_writeq(device, TERN_VF_REG_RING_BASE_LO, to_iova(device, tern->ring));
	tern_writeq(device, TERN_VF_REG_CPL_BASE_LO, to_iova(device, tern->cpl));
	tern_writel(device, TERN_VF_REG_RING_SIZE, TERN_RING_SIZE);
	tern_writel(device, TERN_VF_REG_ENGINE_CTRL, TERN_ENGINE_CTRL_ENABLE);

	status = tern_readl(device, TERN_VF_REG_ENGINE_STATUS);
	VFIO_ASSERT_TRUE(status & TERN_ENGINE_STS_ENABLED,
			 "tern: engine not enabled, status 0x%x\n", status);

	/* Only descriptors with TERN_DESC_F_INTR, i.e. send_msi(), interrupt. */
	tern_writel(device, TERN_VF_REG_INTR_ENABLE, TERN_VF_INTR_JOB);
}

static void tern_init(struct vfio_pci_device *device)
{
	VFIO_ASSERT_GE(device->driver.region.size, sizeof(struct tern_state));

	vfio_pci_config_writew(device, PCI_COMMAND,
			       PCI_COMMAND_MEMORY |
			       PCI_COMMAND_MASTER |
			       PCI_COMMAND_INTX_DISABLE);

	vfio_pci_msix_enable(device, TERN_VF_VEC_JOB, 1);

	tern_engine_enable(device);

	device->driver.max_memcpy_size = TERN_MAX_MEMCPY_SIZE;
	device->driver.max_memcpy_count = TERN_RING_SIZE - 1;
	device->driver.msi = TERN_VF_VEC_JOB;
}

static void tern_remove(struct vfio_pci_device *device)
{
	tern_engine_disable(device);
	vfio_pci_msix_disable(device);
}

static void tern_queue(struct vfio_pci_device *device, u8 op, u8 flags,
		       u32 len, iova_t src, iova_t dst)
{
	struct tern_state *tern = to_tern_state(device);
	struct tern_desc *desc = &tern->ring[tern->tail];

	VFIO_ASSERT_LT(tern->pending, TERN_RING_SIZE - 1, "tern: ring full\n");

	*desc = (struct tern_desc) {
		.op = op,
		.flags = flags,
		.len = cpu_to_le32(len),
		.src = cpu_to_le64(src),
		.dst = cpu_to_le64(dst),
		.cookie = cpu_to_le64(tern->cookie++),
	};

	tern->tail = (tern->tail + 1) % TERN_RING_SIZE;
	tern->pending++;
}

/* writel() orders the descriptor writes before the doorbell. */
static void tern_doorbell(struct vfio_pci_device *device)
{
	tern_writel(device, TERN_VF_REG_RING_TAIL, to_tern_state(device)->tail);
}

static void tern_handle_halt(struct vfio_pci_device *device, u32 status)
{
	dev_err(device, "tern: engine halted (status 0x%x, head %u, done %u, tail %u)\n",
		status, tern_readl(device, TERN_VF_REG_RING_HEAD),
		tern_readl(device, TERN_VF_REG_RING_DONE),
		to_tern_state(device)->tail);

	/* A halted engine recovers by being disabled and enabled again. */
	tern_engine_enable(device);
}

/*
 * Consume the completions of all pending descriptors, oldest first. Returns
 * 0, or -1 if a descriptor failed or the engine halted.
 */
static int tern_reap(struct vfio_pci_device *device)
{
	struct tern_state *tern = to_tern_state(device);
	int r = 0;

	while (tern->pending) {
		struct tern_desc_cpl *cpl = &tern->cpl[tern->done];
		u64 cookie = tern->cookie - tern->pending;
		u16 status;
		u32 engine;

		if ((le16_to_cpu(READ_ONCE(cpl->flags)) & TERN_DESC_CPL_F_PHASE) !=
		    tern->phase) {
			engine = tern_readl(device, TERN_VF_REG_ENGINE_STATUS);
			if (engine & TERN_ENGINE_STS_HALTED) {
				tern_handle_halt(device, engine);
				return -1;
			}

			usleep(TERN_POLL_US);
			continue;
		}

		/* The phase bit is written with the entry: read the rest after it. */
		rmb();

		status = le16_to_cpu(cpl->status);
		if (status != TERN_DESC_ST_OK) {
			dev_err(device, "tern: descriptor %u failed with status %u\n",
				tern->done, status);
			r = -1;
		}

		VFIO_ASSERT_EQ(le64_to_cpu(cpl->cookie), cookie,
			       "tern: completion %u out of order\n", tern->done);

		tern->done = (tern->done + 1) % TERN_RING_SIZE;
		if (!tern->done)
			tern->phase ^= 1;
		tern->pending--;
	}

	return r;
}

static void tern_memcpy_start(struct vfio_pci_device *device,
			      iova_t src, iova_t dst, u64 size, u64 count)
{
	u64 i;

	for (i = 0; i < count; i++)
		tern_queue(device, TERN_DESC_OP_COPY, 0, size, src, dst);

	tern_doorbell(device);
}

static int tern_memcpy_wait(struct vfio_pci_device *device)
{
	return tern_reap(device);
}

static void tern_send_msi(struct vfio_pci_device *device)
{
	tern_queue(device, TERN_DESC_OP_NOP, TERN_DESC_F_INTR, 0, 0, 0);
	tern_doorbell(device);

	/* The device sends the JOB vector right after writing the completion. */
	VFIO_ASSERT_EQ(tern_reap(device), 0);
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
