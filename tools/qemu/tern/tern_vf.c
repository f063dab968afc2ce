/*
 * tern device model: the virtual function.
 *
 * BAR0 holds the engine and context registers, BAR2 is device memory (RAM,
 * mmap-able through vfio), BAR4 the MSI-X table. The engine fetches up to
 * TERN_ENGINE_FIFO_DEPTH descriptors ahead from the ring in host memory and
 * executes them from a timer (property engine-latency-us of the PF), all
 * host accesses through pci_dma_* of the VF, so a vIOMMU translates them.
 *
 * The firmware moves a VF between RUNNING, QUIESCED (no DMA, no interrupts,
 * MMIO served) and FROZEN (QUIESCED, and register writes are dropped).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/log.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/pcie_sriov.h"
#include "hw/pci/msix.h"
#include "migration/vmstate.h"
#include "tern.h"
#include "trace.h"

#define TERN_VF_ARI_OFFSET      0x100
#define TERN_VF_ACS_OFFSET      0x110
#define TERN_BOUNCE_SIZE        (64 * KiB)
#define TERN_ENGINE_BUDGET      64      /* jobs per tick without latency */

const char *tern_vf_state_name(uint32_t state)
{
    switch (state) {
    case TERN_VF_STATE_RUNNING:
        return "running";
    case TERN_VF_STATE_QUIESCED:
        return "quiesced";
    case TERN_VF_STATE_FROZEN:
        return "frozen";
    }
    return "?";
}

/* ---- interrupts -------------------------------------------------------- */

static void tern_vf_notify(TernVFState *vf, uint32_t events)
{
    PCIDevice *dev = PCI_DEVICE(vf);

    if (!msix_enabled(dev)) {
        return;
    }
    if (events & TERN_VF_INTR_JOB) {
        msix_notify(dev, TERN_VF_VEC_JOB);
    }
    if (events & TERN_VF_INTR_ERROR) {
        msix_notify(dev, TERN_VF_VEC_ERROR);
    }
}

static void tern_vf_event(TernVFState *vf, uint32_t events)
{
    vf->regs.intr_status |= events;
    events &= vf->regs.intr_enable;
    if (vf->mig_state != TERN_VF_STATE_RUNNING) {
        vf->regs.intr_held |= events;
        return;
    }
    tern_vf_notify(vf, events);
}

/* ---- engine ------------------------------------------------------------ */

static bool tern_vf_engine_can_run(TernVFState *vf)
{
    return vf->mig_state == TERN_VF_STATE_RUNNING &&
           (vf->engine.status & TERN_ENGINE_STS_ENABLED) &&
           !(vf->engine.status & TERN_ENGINE_STS_HALTED);
}

uint32_t tern_vf_engine_status(TernVFState *vf)
{
    TernEngine *e = &vf->engine;
    uint32_t sts = e->status;

    if (!e->nfifo && e->ring_head == e->ring_tail) {
        sts |= TERN_ENGINE_STS_IDLE;
    }
    return sts;
}

static void tern_vf_engine_halt(TernVFState *vf, const char *why)
{
    trace_tern_engine_halt(vf->index, why);
    vf->engine.status |= TERN_ENGINE_STS_HALTED;
    timer_del(vf->engine_timer);
    tern_vf_event(vf, TERN_VF_INTR_ERROR);
}

/* Every DMA write of the VF goes through here: the dirty log sees it first. */
static MemTxResult tern_vf_dma_write(TernVFState *vf, uint64_t iova,
                                     const void *buf, uint64_t len)
{
    tern_dirty_log_write(vf, iova, len);
    return pci_dma_write(PCI_DEVICE(vf), iova, buf, len);
}

static bool tern_vf_engine_fetch(TernVFState *vf)
{
    TernEngine *e = &vf->engine;

    while (e->nfifo < TERN_ENGINE_FIFO_DEPTH && e->ring_head != e->ring_tail) {
        uint64_t addr = e->ring_base +
                        (uint64_t)e->ring_head * sizeof(struct tern_desc);

        if (pci_dma_read(PCI_DEVICE(vf), addr, &e->fifo[e->nfifo],
                         sizeof(struct tern_desc)) != MEMTX_OK) {
            tern_vf_engine_halt(vf, "descriptor fetch failed");
            return false;
        }
        e->nfifo++;
        e->ring_head = (e->ring_head + 1) & (e->ring_size - 1);
    }
    return true;
}

static uint16_t tern_vf_engine_src(TernVFState *vf, const struct tern_desc *d,
                                   uint64_t off, uint8_t *buf, uint32_t n)
{
    uint64_t src = le64_to_cpu(d->src);

    if (d->flags & TERN_DESC_F_SRC_DEVMEM) {
        memcpy(buf, vf->devmem_ptr + src + off, n);
        return TERN_DESC_ST_OK;
    }
    if (pci_dma_read(PCI_DEVICE(vf), src + off, buf, n) != MEMTX_OK) {
        return TERN_DESC_ST_DMA_READ;
    }
    return TERN_DESC_ST_OK;
}

static uint16_t tern_vf_engine_dst(TernVFState *vf, const struct tern_desc *d,
                                   uint64_t off, const uint8_t *buf, uint32_t n)
{
    uint64_t dst = le64_to_cpu(d->dst);

    if (d->flags & TERN_DESC_F_DST_DEVMEM) {
        memcpy(vf->devmem_ptr + dst + off, buf, n);
        memory_region_set_dirty(&vf->devmem, dst + off, n);
        return TERN_DESC_ST_OK;
    }
    if (tern_vf_dma_write(vf, dst + off, buf, n) != MEMTX_OK) {
        return TERN_DESC_ST_DMA_WRITE;
    }
    return TERN_DESC_ST_OK;
}

static bool tern_devmem_range_ok(TernVFState *vf, uint64_t off, uint32_t len)
{
    return off < vf->devmem_size && len <= vf->devmem_size - off;
}

static uint16_t tern_vf_engine_check(TernVFState *vf, const struct tern_desc *d)
{
    uint32_t len = le32_to_cpu(d->len);
    uint8_t devmem = TERN_DESC_F_SRC_DEVMEM | TERN_DESC_F_DST_DEVMEM;

    if (d->rsvd || (d->flags & ~TERN_DESC_F_ALL)) {
        return TERN_DESC_ST_BAD_OP;
    }
    switch (d->op) {
    case TERN_DESC_OP_NOP:
        return (d->flags & devmem) ? TERN_DESC_ST_BAD_OP : TERN_DESC_ST_OK;
    case TERN_DESC_OP_COPY:
        break;
    case TERN_DESC_OP_FILL:
        if (d->flags & TERN_DESC_F_SRC_DEVMEM) {
            return TERN_DESC_ST_BAD_OP;
        }
        break;
    case TERN_DESC_OP_CHECKSUM:
        if (d->flags & TERN_DESC_F_DST_DEVMEM) {
            return TERN_DESC_ST_BAD_OP;
        }
        break;
    default:
        return TERN_DESC_ST_BAD_OP;
    }
    if (!len || len > TERN_DESC_MAX_LEN) {
        return TERN_DESC_ST_BAD_LEN;
    }
    if ((d->flags & TERN_DESC_F_SRC_DEVMEM) &&
        !tern_devmem_range_ok(vf, le64_to_cpu(d->src), len)) {
        return TERN_DESC_ST_DEVMEM_RANGE;
    }
    if ((d->flags & TERN_DESC_F_DST_DEVMEM) &&
        !tern_devmem_range_ok(vf, le64_to_cpu(d->dst), len)) {
        return TERN_DESC_ST_DEVMEM_RANGE;
    }
    return TERN_DESC_ST_OK;
}

static uint16_t tern_vf_engine_exec(TernVFState *vf, const struct tern_desc *d,
                                    uint32_t *result)
{
    uint32_t len = le32_to_cpu(d->len);
    uint32_t crc = 0xffffffff;
    uint16_t st = tern_vf_engine_check(vf, d);

    *result = 0;
    if (st || d->op == TERN_DESC_OP_NOP) {
        return st;
    }
    if (d->op == TERN_DESC_OP_FILL) {
        uint64_t pattern = le64_to_cpu(d->src);

        for (uint32_t i = 0; i < TERN_BOUNCE_SIZE; i++) {
            vf->bounce[i] = pattern >> (8 * (i % 8));
        }
    }
    for (uint64_t off = 0; off < len && !st; off += TERN_BOUNCE_SIZE) {
        uint32_t n = MIN(len - off, TERN_BOUNCE_SIZE);

        switch (d->op) {
        case TERN_DESC_OP_COPY:
            st = tern_vf_engine_src(vf, d, off, vf->bounce, n);
            if (!st) {
                st = tern_vf_engine_dst(vf, d, off, vf->bounce, n);
            }
            break;
        case TERN_DESC_OP_FILL:
            st = tern_vf_engine_dst(vf, d, off, vf->bounce, n);
            break;
        case TERN_DESC_OP_CHECKSUM:
            st = tern_vf_engine_src(vf, d, off, vf->bounce, n);
            if (!st) {
                crc = tern_crc32c(crc, vf->bounce, n) ^ 0xffffffff;
            }
            break;
        }
    }
    if (!st && d->op == TERN_DESC_OP_CHECKSUM) {
        *result = crc ^ 0xffffffff;
        vf->regs.last_csum = *result;
    }
    return st;
}

/* Execute the oldest fetched descriptor and write its completion. */
static bool tern_vf_engine_step(TernVFState *vf)
{
    TernEngine *e = &vf->engine;
    struct tern_desc d = e->fifo[0];
    struct tern_desc_cpl cpl = {};
    uint32_t result;
    uint16_t st;
    uint64_t addr;

    st = tern_vf_engine_exec(vf, &d, &result);
    trace_tern_engine_job(vf->index, e->ring_done, d.op, d.flags,
                          le32_to_cpu(d.len), st);
    cpl.cookie = d.cookie;
    cpl.result = cpu_to_le32(result);
    cpl.status = cpu_to_le16(st);
    cpl.flags = cpu_to_le16(e->cpl_phase ? TERN_DESC_CPL_F_PHASE : 0);
    addr = e->cpl_base + (uint64_t)e->ring_done * sizeof(cpl);
    if (tern_vf_dma_write(vf, addr, &cpl, sizeof(cpl)) != MEMTX_OK) {
        tern_vf_engine_halt(vf, "completion write failed");
        return false;
    }
    memmove(&e->fifo[0], &e->fifo[1], --e->nfifo * sizeof(e->fifo[0]));
    e->ring_done = (e->ring_done + 1) & (e->ring_size - 1);
    if (!e->ring_done) {
        e->cpl_phase ^= 1;
    }
    vf->regs.jobs++;
    if (st) {
        vf->regs.errors++;
    } else if (d.op != TERN_DESC_OP_NOP) {
        vf->regs.bytes += le32_to_cpu(d.len);
    }
    tern_vf_event(vf, ((d.flags & TERN_DESC_F_INTR) ? TERN_VF_INTR_JOB : 0) |
                      (st ? TERN_VF_INTR_ERROR : 0));
    return true;
}

static void tern_vf_engine_tick(void *opaque)
{
    TernVFState *vf = opaque;
    uint32_t budget = vf->pf->engine_latency_us ? 1 : TERN_ENGINE_BUDGET;

    while (budget-- && tern_vf_engine_can_run(vf)) {
        if (!tern_vf_engine_fetch(vf) || !vf->engine.nfifo) {
            return;
        }
        if (!tern_vf_engine_step(vf)) {
            return;
        }
    }
    tern_vf_engine_kick(vf);
}

void tern_vf_engine_kick(TernVFState *vf)
{
    TernEngine *e = &vf->engine;

    if (!tern_vf_engine_can_run(vf)) {
        return;
    }
    if (!tern_vf_engine_fetch(vf)) {
        return;
    }
    if (e->nfifo && !timer_pending(vf->engine_timer)) {
        timer_mod(vf->engine_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                  (int64_t)vf->pf->engine_latency_us * SCALE_US);
    }
}

static void tern_vf_engine_enable(TernVFState *vf, bool enable)
{
    TernEngine *e = &vf->engine;

    timer_del(vf->engine_timer);
    e->nfifo = 0;
    e->ring_head = e->ring_tail = e->ring_done = 0;
    e->cpl_phase = 1;
    if (!enable) {
        e->ctrl &= ~TERN_ENGINE_CTRL_ENABLE;
        e->status = 0;
        return;
    }
    e->ctrl |= TERN_ENGINE_CTRL_ENABLE;
    if (!is_power_of_2(e->ring_size) || e->ring_size < TERN_ENGINE_RING_MIN ||
        e->ring_size > TERN_ENGINE_RING_MAX ||
        e->ring_base % sizeof(struct tern_desc) ||
        e->cpl_base % sizeof(struct tern_desc_cpl)) {
        e->status = TERN_ENGINE_STS_CFG_ERR;
        return;
    }
    e->status = TERN_ENGINE_STS_ENABLED;
    /* a re-based or resized ring re-inits a pre-copy save session */
    tern_save_engine_enabled(vf);
}

/* ---- migration state and resets --------------------------------------- */

void tern_vf_set_mig_state(TernVFState *vf, uint32_t state)
{
    uint32_t held;

    if (vf->mig_state == state) {
        return;
    }
    trace_tern_vf_state(vf->index, tern_vf_state_name(vf->mig_state),
                        tern_vf_state_name(state), vf->engine.nfifo);
    vf->mig_state = state;
    if (state != TERN_VF_STATE_RUNNING) {
        /* a tick is atomic: nothing is in flight, fetched work is parked */
        timer_del(vf->engine_timer);
        return;
    }
    held = vf->regs.intr_held;
    vf->regs.intr_held = 0;
    tern_vf_notify(vf, held);
    tern_vf_engine_kick(vf);
}

/* End firmware sessions of the VF and return it to RUNNING. */
void tern_vf_reset_firmware(TernVFState *vf, bool stop_dirty)
{
    tern_fw_save_end(vf);
    if (vf->load) {
        tern_fw_load_abort(vf);
    }
    if (stop_dirty) {
        tern_fw_dirty_stop(vf);
    }
    tern_vf_set_mig_state(vf, TERN_VF_STATE_RUNNING);
}

/* ---- registers --------------------------------------------------------- */

static uint64_t tern_vf_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    TernVFState *vf = opaque;
    TernEngine *e = &vf->engine;

    if (addr >= TERN_VF_REG_CTX_LO(0) &&
        addr < TERN_VF_REG_CTX_LO(TERN_VF_CTX_REGS)) {
        uint64_t v = vf->regs.ctx[(addr - TERN_VF_REG_CTX_LO(0)) / 8];

        return (addr & 4) ? v >> 32 : (uint32_t)v;
    }
    switch (addr) {
    case TERN_VF_REG_MAGIC:
        return TERN_MAGIC;
    case TERN_VF_REG_VERSION:
        return TERN_ABI_MAJOR << 16 | vf->pf->fw->abi_minor;
    case TERN_VF_REG_DEVMEM_SIZE_LO:
        return (uint32_t)vf->devmem_size;
    case TERN_VF_REG_DEVMEM_SIZE_HI:
        return vf->devmem_size >> 32;
    case TERN_VF_REG_VF_INDEX:
        return vf->index;
    case TERN_VF_REG_INTR_STATUS:
        return vf->regs.intr_status;
    case TERN_VF_REG_INTR_ENABLE:
        return vf->regs.intr_enable;
    case TERN_VF_REG_RING_BASE_LO:
        return (uint32_t)e->ring_base;
    case TERN_VF_REG_RING_BASE_HI:
        return e->ring_base >> 32;
    case TERN_VF_REG_RING_SIZE:
        return e->ring_size;
    case TERN_VF_REG_RING_TAIL:
        return e->ring_tail;
    case TERN_VF_REG_RING_HEAD:
        return e->ring_head;
    case TERN_VF_REG_RING_DONE:
        return e->ring_done;
    case TERN_VF_REG_CPL_BASE_LO:
        return (uint32_t)e->cpl_base;
    case TERN_VF_REG_CPL_BASE_HI:
        return e->cpl_base >> 32;
    case TERN_VF_REG_ENGINE_CTRL:
        return e->ctrl;
    case TERN_VF_REG_ENGINE_STATUS:
        return tern_vf_engine_status(vf);
    case TERN_VF_REG_JOBS_LO:
        return (uint32_t)vf->regs.jobs;
    case TERN_VF_REG_JOBS_HI:
        return vf->regs.jobs >> 32;
    case TERN_VF_REG_BYTES_LO:
        return (uint32_t)vf->regs.bytes;
    case TERN_VF_REG_BYTES_HI:
        return vf->regs.bytes >> 32;
    case TERN_VF_REG_ERRORS_LO:
        return (uint32_t)vf->regs.errors;
    case TERN_VF_REG_ERRORS_HI:
        return vf->regs.errors >> 32;
    case TERN_VF_REG_LAST_CSUM:
        return vf->regs.last_csum;
    }
    return 0;
}

static void tern_vf_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                               unsigned size)
{
    TernVFState *vf = opaque;
    TernEngine *e = &vf->engine;
    bool enabled = e->ctrl & TERN_ENGINE_CTRL_ENABLE;

    trace_tern_vf_mmio_write(vf->index, addr, val);
    if (vf->mig_state == TERN_VF_STATE_FROZEN) {
        trace_tern_vf_mmio_dropped(vf->index, addr);
        return;
    }
    if (addr >= TERN_VF_REG_CTX_LO(0) &&
        addr < TERN_VF_REG_CTX_LO(TERN_VF_CTX_REGS)) {
        uint64_t *r = &vf->regs.ctx[(addr - TERN_VF_REG_CTX_LO(0)) / 8];

        *r = deposit64(*r, (addr & 4) ? 32 : 0, 32, val);
        return;
    }
    switch (addr) {
    case TERN_VF_REG_INTR_STATUS:
        vf->regs.intr_status &= ~val;
        break;
    case TERN_VF_REG_INTR_ENABLE:
        vf->regs.intr_enable = val & (TERN_VF_INTR_JOB | TERN_VF_INTR_ERROR);
        break;
    case TERN_VF_REG_RING_BASE_LO:
        if (!enabled) {
            e->ring_base = deposit64(e->ring_base, 0, 32, val);
        }
        break;
    case TERN_VF_REG_RING_BASE_HI:
        if (!enabled) {
            e->ring_base = deposit64(e->ring_base, 32, 32, val);
        }
        break;
    case TERN_VF_REG_RING_SIZE:
        if (!enabled) {
            e->ring_size = val;
        }
        break;
    case TERN_VF_REG_CPL_BASE_LO:
        if (!enabled) {
            e->cpl_base = deposit64(e->cpl_base, 0, 32, val);
        }
        break;
    case TERN_VF_REG_CPL_BASE_HI:
        if (!enabled) {
            e->cpl_base = deposit64(e->cpl_base, 32, 32, val);
        }
        break;
    case TERN_VF_REG_RING_TAIL:
        if ((e->status & TERN_ENGINE_STS_ENABLED) && val < e->ring_size) {
            e->ring_tail = val;
            tern_vf_engine_kick(vf);
        }
        break;
    case TERN_VF_REG_ENGINE_CTRL:
        if (!!(val & TERN_ENGINE_CTRL_ENABLE) != enabled) {
            tern_vf_engine_enable(vf, val & TERN_ENGINE_CTRL_ENABLE);
        }
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "tern-vf%u: write to 0x%" HWADDR_PRIx
                      "\n", vf->index, addr);
    }
}

static const MemoryRegionOps tern_vf_mmio_ops = {
    .read = tern_vf_mmio_read,
    .write = tern_vf_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

/* ---- device ------------------------------------------------------------ */

static void tern_vf_write_config(PCIDevice *dev, uint32_t addr, uint32_t val,
                                 int len)
{
    pci_default_write_config(dev, addr, val, len);
    pcie_cap_flr_write_config(dev, addr, val, len);
}

static void tern_vf_realize(PCIDevice *dev, Error **errp)
{
    TernVFState *vf = TERN_VF(dev);
    g_autofree char *name = NULL;

    vf->pf = TERN_PF(pcie_sriov_get_pf(dev));
    vf->index = pcie_sriov_vf_number(dev);
    vf->devmem_size = (uint64_t)vf->pf->devmem_mb * MiB;
    vf->devmem_pages = vf->devmem_size / TERN_DEVMEM_PAGE_SIZE;
    vf->mig_state = TERN_VF_STATE_RUNNING;
    vf->bounce = g_malloc(TERN_BOUNCE_SIZE);
    vf->engine_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, tern_vf_engine_tick,
                                    vf);
    dev->config_write = tern_vf_write_config;

    memory_region_init_io(&vf->mmio, OBJECT(vf), &tern_vf_mmio_ops, vf,
                          "tern-vf-mmio", TERN_VF_BAR_REGS_SIZE);
    pci_register_bar(dev, TERN_VF_BAR_REGS, PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &vf->mmio);

    name = g_strdup_printf("tern-vf%u-devmem", vf->index);
    if (!memory_region_init_ram(&vf->devmem, OBJECT(vf), name,
                                vf->devmem_size, errp)) {
        return;
    }
    vf->devmem_ptr = memory_region_get_ram_ptr(&vf->devmem);
    /* CPU writes through the BAR land in the VGA client's dirty log */
    memory_region_set_log(&vf->devmem, true, DIRTY_MEMORY_VGA);
    pci_register_bar(dev, TERN_VF_BAR_DEVMEM, PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &vf->devmem);

    memory_region_init(&vf->msix, OBJECT(vf), "tern-vf-msix",
                       TERN_VF_BAR_MSIX_SIZE);
    pci_register_bar(dev, TERN_VF_BAR_MSIX, PCI_BASE_ADDRESS_MEM_TYPE_64 |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &vf->msix);
    if (msix_init(dev, TERN_VF_MSIX_VECTORS, &vf->msix, TERN_VF_BAR_MSIX, 0,
                  &vf->msix, TERN_VF_BAR_MSIX, 0x800, 0x70, errp)) {
        return;
    }
    for (int i = 0; i < TERN_VF_MSIX_VECTORS; i++) {
        msix_vector_use(dev, i);
    }
    if (pcie_endpoint_cap_init(dev, 0xa0) < 0) {
        error_setg(errp, "tern-vf: cannot add PCIe capability");
        return;
    }
    pcie_cap_flr_init(dev);
    pcie_ari_init(dev, TERN_VF_ARI_OFFSET);
    if (PCI_FUNC(dev->devfn)) {
        pcie_acs_init(dev, TERN_VF_ACS_OFFSET);
    }
}

static void tern_vf_unrealize(PCIDevice *dev)
{
    TernVFState *vf = TERN_VF(dev);

    tern_fw_save_end(vf);
    tern_fw_load_abort(vf);
    tern_fw_dirty_stop(vf);
    timer_free(vf->engine_timer);
    g_free(vf->bounce);
    pcie_cap_exit(dev);
    msix_unuse_all_vectors(dev);
    msix_uninit(dev, &vf->msix, &vf->msix);
}

/* FLR, VF Enable changes and system reset all come through here. */
static void tern_vf_reset_hold(Object *obj, ResetType type)
{
    TernVFState *vf = TERN_VF(obj);
    PCIDevice *dev = PCI_DEVICE(obj);

    /* clear the engine first: returning to RUNNING must not run it */
    tern_vf_reset_function(vf);
    tern_vf_reset_firmware(vf, !dev->enabled);
}

static const VMStateDescription tern_vf_vmstate = {
    .name = "tern-vf",
    .unmigratable = 1,
};

static void tern_vf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = tern_vf_realize;
    k->exit = tern_vf_unrealize;
    k->vendor_id = TERN_PCI_VENDOR_ID;
    k->device_id = TERN_PCI_VF_DEVICE_ID;
    k->revision = TERN_PCI_REVISION;
    k->class_id = TERN_PCI_CLASS;
    rc->phases.hold = tern_vf_reset_hold;
    dc->desc = "tern migratable accelerator (VF)";
    dc->vmsd = &tern_vf_vmstate;
    dc->user_creatable = false;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo tern_vf_info = {
    .name = TYPE_TERN_VF,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(TernVFState),
    .class_init = tern_vf_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { }
    },
};

static void tern_vf_register_types(void)
{
    type_register_static(&tern_vf_info);
}

type_init(tern_vf_register_types)
