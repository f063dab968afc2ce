/*
 * tern device model: the physical function and its firmware.
 *
 * BAR0 holds the admin queue registers. Commands are fetched from the
 * submission ring when the doorbell is written, then executed one at a time
 * by a firmware timer (property fw-latency-us), each completion written to
 * the completion ring and signalled on MSI-X vector 0. Commands held by a
 * STALL fault rule sit on a side list, so the queue keeps working.
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
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "tern.h"
#include "trace.h"

#define TERN_PF_ARI_OFFSET      0x100
#define TERN_PF_ACS_OFFSET      0x110
#define TERN_PF_SRIOV_OFFSET    0x160
#define TERN_PF_AER_OFFSET      0x200
#define TERN_ADMIN_MAX_QUEUED   4096

static TernVFState *tern_pf_vf_any(TernPFState *pf, uint16_t index)
{
    PCIDevice *dev = PCI_DEVICE(pf);

    return TERN_VF(dev->exp.sriov_pf.vf[index]);
}

/* ---- admin queue ------------------------------------------------------- */

static void tern_pf_fatal(TernPFState *pf, const char *why)
{
    trace_tern_admin_fatal(why);
    pf->status = (pf->status & ~TERN_PF_STS_READY) | TERN_PF_STS_FATAL;
    timer_del(pf->fw_timer);
}

static void tern_pf_drop_queued(TernPFState *pf)
{
    TernCmd *c;

    while ((c = g_queue_pop_head(&pf->pending))) {
        g_free(c);
    }
    while ((c = g_queue_pop_head(&pf->stalled))) {
        g_free(c);
    }
    while ((c = g_queue_pop_head(&pf->backlog))) {
        g_free(c);
    }
    g_free(pf->dup_held);
    pf->dup_held = NULL;
    timer_del(pf->fw_timer);
}

/* Post executed commands while the completion ring has room. */
static void tern_pf_post_completions(TernPFState *pf)
{
    bool posted = false;
    TernCmd *c;

    while ((pf->status & TERN_PF_STS_READY) &&
           (c = g_queue_peek_head(&pf->backlog))) {
        struct tern_admin_cpl cpl = {};

        if (((pf->cq_tail + 1) & (pf->cq_size - 1)) == pf->cq_head) {
            break;
        }
        for (int i = 0; i < 3; i++) {
            cpl.result[i] = cpu_to_le64(c->result[i]);
        }
        cpl.cid = c->cmd.cid;
        cpl.sq_head = cpu_to_le16(pf->sq_head);
        cpl.status = cpu_to_le16(c->status);
        cpl.flags = cpu_to_le16(pf->cq_phase ? TERN_ADMIN_CPL_F_PHASE : 0);
        if (pci_dma_write(PCI_DEVICE(pf),
                          pf->cq_base + (uint64_t)pf->cq_tail * sizeof(cpl),
                          &cpl, sizeof(cpl)) != MEMTX_OK) {
            tern_pf_fatal(pf, "completion ring write failed");
            return;
        }
        g_queue_pop_head(&pf->backlog);
        trace_tern_admin_complete(le16_to_cpu(c->cmd.cid), c->cmd.opcode,
                                  tern_cmd_name(c->cmd.opcode),
                                  le16_to_cpu(c->cmd.vf), c->status,
                                  c->result[0]);
        /* DUPLICATE: this answer comes again when the next command does */
        if (c->cmd.opcode != TERN_OP_FAULT_INJECT && !pf->dup_held &&
            tern_fault_take(&pf->dup_count[c->cmd.opcode])) {
            pf->dup_held = c;
        } else {
            g_free(c);
        }
        pf->cq_tail = (pf->cq_tail + 1) & (pf->cq_size - 1);
        if (!pf->cq_tail) {
            pf->cq_phase ^= 1;
        }
        posted = true;
    }
    if (posted) {
        pf->intr_status |= TERN_PF_INTR_ADMIN;
        if ((pf->intr_enable & TERN_PF_INTR_ADMIN) &&
            msix_enabled(PCI_DEVICE(pf))) {
            msix_notify(PCI_DEVICE(pf), TERN_PF_VEC_ADMIN);
        }
    }
}

static void tern_pf_fw_schedule(TernPFState *pf)
{
    if (!g_queue_is_empty(&pf->pending) && !timer_pending(pf->fw_timer)) {
        timer_mod(pf->fw_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
                  (int64_t)pf->fw_latency_us * SCALE_US);
    }
}

/*
 * VANISH: the PF no longer answers, as after a surprise removal or with its
 * link down, and its firmware forgets what it had queued.
 */
static void tern_pf_vanish(TernPFState *pf)
{
    trace_tern_pf_vanish(pf->vanish_ms);
    tern_pf_drop_queued(pf);
    pf->vanished = true;
    timer_mod(pf->vanish_timer, qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) +
              (int64_t)pf->vanish_ms * SCALE_MS);
    pf->vanish_ms = 0;
}

static void tern_pf_fw_tick(void *opaque)
{
    TernPFState *pf = opaque;
    TernCmd *c = g_queue_pop_head(&pf->pending);

    if (!c) {
        return;
    }
    if (!c->preset) {
        c->status = tern_cmd_execute(pf, c);
    }
    g_queue_push_tail(&pf->backlog, c);
    tern_pf_post_completions(pf);
    if (pf->vanish_ms) {
        tern_pf_vanish(pf);
        return;
    }
    /* the next command, and those a FAULT_INJECT CLEAR or RELEASE requeued */
    tern_pf_fw_schedule(pf);
}

static void tern_pf_fetch(TernPFState *pf)
{
    uint32_t queued;

    while ((pf->status & TERN_PF_STS_READY) && pf->sq_head != pf->sq_tail) {
        TernCmd *c;
        uint8_t op;

        queued = g_queue_get_length(&pf->pending) +
                 g_queue_get_length(&pf->stalled) +
                 g_queue_get_length(&pf->backlog);
        if (queued >= TERN_ADMIN_MAX_QUEUED) {
            break;
        }
        if (tern_fault_take(&pf->fatal_count)) {
            tern_pf_fatal(pf, "injected: submission ring read failed");
            return;
        }
        c = g_new0(TernCmd, 1);
        if (pci_dma_read(PCI_DEVICE(pf),
                         pf->sq_base + (uint64_t)pf->sq_head * sizeof(c->cmd),
                         &c->cmd, sizeof(c->cmd)) != MEMTX_OK) {
            g_free(c);
            tern_pf_fatal(pf, "submission ring read failed");
            return;
        }
        pf->sq_head = (pf->sq_head + 1) & (pf->sq_size - 1);
        op = c->cmd.opcode;
        trace_tern_admin_submit(le16_to_cpu(c->cmd.cid), op,
                                tern_cmd_name(op), le16_to_cpu(c->cmd.vf));
        if (pf->dup_held) {
            /* the repeated answer arrives before this command's own */
            g_queue_push_tail(&pf->backlog, pf->dup_held);
            pf->dup_held = NULL;
            tern_pf_post_completions(pf);
        }
        if (op != TERN_OP_FAULT_INJECT && pf->stall_count[op]) {
            pf->stall_count[op]--;
            trace_tern_admin_stall(le16_to_cpu(c->cmd.cid), op,
                                   tern_cmd_name(op));
            g_queue_push_tail(&pf->stalled, c);
            continue;
        }
        if (op != TERN_OP_FAULT_INJECT && pf->fail_count[op]) {
            pf->fail_count[op]--;
            c->status = pf->fail_status[op];
            c->preset = true;
        }
        g_queue_push_tail(&pf->pending, c);
    }
    tern_pf_fw_schedule(pf);
}

static bool tern_ring_size_ok(uint32_t size)
{
    return is_power_of_2(size) && size >= TERN_ADMIN_RING_MIN &&
           size <= TERN_ADMIN_RING_MAX;
}

static void tern_pf_enable(TernPFState *pf, bool enable)
{
    if (!enable) {
        tern_pf_drop_queued(pf);
        pf->ctrl &= ~TERN_PF_CTRL_ENABLE;
        pf->status = 0;
        return;
    }
    pf->ctrl |= TERN_PF_CTRL_ENABLE;
    if (!tern_ring_size_ok(pf->sq_size) || !tern_ring_size_ok(pf->cq_size) ||
        pf->sq_base % TERN_ADMIN_RING_ALIGN ||
        pf->cq_base % TERN_ADMIN_RING_ALIGN) {
        pf->status = TERN_PF_STS_CFG_ERR;
        return;
    }
    pf->sq_head = pf->sq_tail = 0;
    pf->cq_head = pf->cq_tail = 0;
    pf->cq_phase = 1;
    pf->status = TERN_PF_STS_READY;
}

/* Firmware reset: CTRL.RESET, and part of a PCI reset of the PF. */
static void tern_pf_fw_reset(TernPFState *pf)
{
    trace_tern_pf_reset();
    tern_pf_drop_queued(pf);
    pf->ctrl = 0;
    pf->status = 0;
    pf->intr_status = 0;
    pf->intr_enable = 0;
    pf->sq_base = pf->cq_base = 0;
    pf->sq_size = pf->cq_size = 0;
    pf->sq_head = pf->sq_tail = 0;
    pf->cq_head = pf->cq_tail = 0;
    pf->cq_phase = 1;
    memset(pf->fail_count, 0, sizeof(pf->fail_count));
    memset(pf->stall_count, 0, sizeof(pf->stall_count));
    pf->corrupt_count = 0;
    pf->miscount_count = 0;
    pf->fatal_count = 0;
    memset(pf->dup_count, 0, sizeof(pf->dup_count));
    pf->vanish_ms = 0;
    pf->vanished = false;
    timer_del(pf->vanish_timer);
    for (uint16_t i = 0; i < pf->vfs; i++) {
        tern_vf_reset_firmware(tern_pf_vf_any(pf, i), true);
    }
}

/* The end of VANISH: the PF answers again, its firmware reset. */
static void tern_pf_vanish_end(void *opaque)
{
    TernPFState *pf = opaque;

    trace_tern_pf_vanish(0);
    tern_pf_fw_reset(pf);
}

static uint64_t tern_pf_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    TernPFState *pf = opaque;

    if (pf->vanished) {
        return ~0ULL;
    }
    switch (addr) {
    case TERN_PF_REG_MAGIC:
        return TERN_MAGIC;
    case TERN_PF_REG_VERSION:
        return TERN_ABI_MAJOR << 16 | pf->fw->abi_minor;
    case TERN_PF_REG_CAPS:
        return pf->fault_injection ? TERN_PF_CAP_FAULT_INJECT : 0;
    case TERN_PF_REG_TOTAL_VFS:
        return pf->vfs;
    case TERN_PF_REG_CTRL:
        return pf->ctrl;
    case TERN_PF_REG_STATUS:
        return pf->status;
    case TERN_PF_REG_INTR_STATUS:
        return pf->intr_status;
    case TERN_PF_REG_INTR_ENABLE:
        return pf->intr_enable;
    case TERN_PF_REG_SQ_BASE_LO:
        return (uint32_t)pf->sq_base;
    case TERN_PF_REG_SQ_BASE_HI:
        return pf->sq_base >> 32;
    case TERN_PF_REG_SQ_SIZE:
        return pf->sq_size;
    case TERN_PF_REG_SQ_TAIL:
        return pf->sq_tail;
    case TERN_PF_REG_SQ_HEAD:
        return pf->sq_head;
    case TERN_PF_REG_CQ_BASE_LO:
        return (uint32_t)pf->cq_base;
    case TERN_PF_REG_CQ_BASE_HI:
        return pf->cq_base >> 32;
    case TERN_PF_REG_CQ_SIZE:
        return pf->cq_size;
    case TERN_PF_REG_CQ_HEAD:
        return pf->cq_head;
    case TERN_PF_REG_CQ_TAIL:
        return pf->cq_tail;
    }
    return 0;
}

static void tern_pf_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                               unsigned size)
{
    TernPFState *pf = opaque;
    bool enabled = pf->ctrl & TERN_PF_CTRL_ENABLE;

    trace_tern_pf_mmio_write(addr, val);
    if (pf->vanished) {
        return;
    }
    switch (addr) {
    case TERN_PF_REG_CTRL:
        if (val & TERN_PF_CTRL_RESET) {
            tern_pf_fw_reset(pf);
        } else if (!!(val & TERN_PF_CTRL_ENABLE) != enabled) {
            tern_pf_enable(pf, val & TERN_PF_CTRL_ENABLE);
        }
        break;
    case TERN_PF_REG_INTR_STATUS:
        pf->intr_status &= ~val;
        break;
    case TERN_PF_REG_INTR_ENABLE:
        pf->intr_enable = val & TERN_PF_INTR_ADMIN;
        break;
    case TERN_PF_REG_SQ_BASE_LO:
        if (!enabled) {
            pf->sq_base = deposit64(pf->sq_base, 0, 32, val);
        }
        break;
    case TERN_PF_REG_SQ_BASE_HI:
        if (!enabled) {
            pf->sq_base = deposit64(pf->sq_base, 32, 32, val);
        }
        break;
    case TERN_PF_REG_SQ_SIZE:
        if (!enabled) {
            pf->sq_size = val;
        }
        break;
    case TERN_PF_REG_CQ_BASE_LO:
        if (!enabled) {
            pf->cq_base = deposit64(pf->cq_base, 0, 32, val);
        }
        break;
    case TERN_PF_REG_CQ_BASE_HI:
        if (!enabled) {
            pf->cq_base = deposit64(pf->cq_base, 32, 32, val);
        }
        break;
    case TERN_PF_REG_CQ_SIZE:
        if (!enabled) {
            pf->cq_size = val;
        }
        break;
    case TERN_PF_REG_SQ_TAIL:
        if ((pf->status & TERN_PF_STS_READY) && val < pf->sq_size) {
            pf->sq_tail = val;
            tern_pf_fetch(pf);
        }
        break;
    case TERN_PF_REG_CQ_HEAD:
        if ((pf->status & TERN_PF_STS_READY) && val < pf->cq_size) {
            pf->cq_head = val;
            tern_pf_post_completions(pf);
        }
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "tern-pf: write to 0x%" HWADDR_PRIx
                      "\n", addr);
    }
}

static const MemoryRegionOps tern_pf_mmio_ops = {
    .read = tern_pf_mmio_read,
    .write = tern_pf_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = { .min_access_size = 4, .max_access_size = 8 },
    .impl = { .min_access_size = 4, .max_access_size = 4 },
};

/* ---- device ------------------------------------------------------------ */

static uint32_t tern_pf_read_config(PCIDevice *dev, uint32_t addr, int len)
{
    if (TERN_PF(dev)->vanished) {
        return len == 4 ? 0xffffffff : (1u << (len * 8)) - 1;
    }
    return pci_default_read_config(dev, addr, len);
}

static void tern_pf_write_config(PCIDevice *dev, uint32_t addr, uint32_t val,
                                 int len)
{
    if (TERN_PF(dev)->vanished) {
        return;
    }
    pci_default_write_config(dev, addr, val, len);
    pcie_cap_flr_write_config(dev, addr, val, len);
    pcie_aer_write_config(dev, addr, val, len);
}

/* The firmware releases the model can run, newest first. */
static const TernFirmware tern_firmwares[] = {
    {
        .name = "1.1",
        .abi_minor = TERN_ABI_MINOR,
        .fw_version = TERN_FW_VERSION,
        .stream_version = TERN_STREAM_VERSION,
        .stream_version_min = TERN_STREAM_VERSION_MIN,
        .load_min = TERN_STREAM_VERSION_MIN,
    },
    {
        .name = "1.0",
        .abi_minor = 1,
        .fw_version = 0x00010000,
        .stream_version = 1,
        .stream_version_min = 0,
        .load_min = 1,
    },
};

static bool tern_pf_pick_firmware(TernPFState *pf, Error **errp)
{
    const char *name = pf->fw_version_name ? pf->fw_version_name : "1.1";

    for (size_t i = 0; i < ARRAY_SIZE(tern_firmwares); i++) {
        if (!strcmp(name, tern_firmwares[i].name)) {
            pf->fw = &tern_firmwares[i];
            return true;
        }
    }
    error_setg(errp, "fw-version must be 1.0 or 1.1, not '%s'", name);
    return false;
}

static void tern_pf_realize(PCIDevice *dev, Error **errp)
{
    TernPFState *pf = TERN_PF(dev);
    const char *checked;

    if (!tern_crc32c_selftest(&checked, errp)) {
        return;
    }
    trace_tern_crc_selftest(checked, tern_crc32c_impl());
    if (!pf->vfs || pf->vfs > TERN_MAX_VFS) {
        error_setg(errp, "vfs must be 1..%d", TERN_MAX_VFS);
        return;
    }
    if (!pf->devmem_mb || !is_power_of_2(pf->devmem_mb) ||
        pf->devmem_mb > 4096) {
        error_setg(errp, "devmem-mb must be a power of 2, 1..4096");
        return;
    }
    if (!tern_pf_pick_firmware(pf, errp)) {
        return;
    }

    dev->config_read = tern_pf_read_config;
    dev->config_write = tern_pf_write_config;
    pci_config_set_interrupt_pin(dev->config, 0);
    g_queue_init(&pf->pending);
    g_queue_init(&pf->stalled);
    g_queue_init(&pf->backlog);

    memory_region_init_io(&pf->mmio, OBJECT(pf), &tern_pf_mmio_ops, pf,
                          "tern-pf-mmio", TERN_PF_BAR_REGS_SIZE);
    pci_register_bar(dev, TERN_PF_BAR_REGS, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &pf->mmio);
    memory_region_init(&pf->msix, OBJECT(pf), "tern-pf-msix",
                       TERN_PF_BAR_MSIX_SIZE);
    pci_register_bar(dev, TERN_PF_BAR_MSIX, PCI_BASE_ADDRESS_SPACE_MEMORY,
                     &pf->msix);
    if (msix_init(dev, TERN_PF_MSIX_VECTORS, &pf->msix, TERN_PF_BAR_MSIX, 0,
                  &pf->msix, TERN_PF_BAR_MSIX, 0x800, 0x70, errp)) {
        return;
    }
    msix_vector_use(dev, TERN_PF_VEC_ADMIN);

    if (pcie_endpoint_cap_init(dev, 0xa0) < 0) {
        error_setg(errp, "tern-pf: cannot add PCIe capability");
        goto err_msix;
    }
    pcie_cap_flr_init(dev);
    pcie_ari_init(dev, TERN_PF_ARI_OFFSET);
    if (!pcie_sriov_pf_init(dev, TERN_PF_SRIOV_OFFSET, TYPE_TERN_VF,
                            TERN_PCI_VF_DEVICE_ID, pf->vfs, pf->vfs,
                            TERN_SRIOV_VF_OFFSET, TERN_SRIOV_VF_STRIDE,
                            errp)) {
        goto err_pcie;
    }
    /* multifunction is set by the SR-IOV init: an ACS cap is now allowed */
    pcie_acs_init(dev, TERN_PF_ACS_OFFSET);
    /* for the host's AER recovery of the PF (and for injecting errors) */
    if (pcie_aer_init(dev, PCI_ERR_VER, TERN_PF_AER_OFFSET, PCI_ERR_SIZEOF,
                      errp) < 0) {
        goto err_sriov;
    }
    pcie_sriov_pf_init_vf_bar(dev, TERN_VF_BAR_REGS,
                              PCI_BASE_ADDRESS_MEM_TYPE_64 |
                              PCI_BASE_ADDRESS_MEM_PREFETCH,
                              TERN_VF_BAR_REGS_SIZE);
    pcie_sriov_pf_init_vf_bar(dev, TERN_VF_BAR_DEVMEM,
                              PCI_BASE_ADDRESS_MEM_TYPE_64 |
                              PCI_BASE_ADDRESS_MEM_PREFETCH,
                              (uint64_t)pf->devmem_mb * MiB);
    pcie_sriov_pf_init_vf_bar(dev, TERN_VF_BAR_MSIX,
                              PCI_BASE_ADDRESS_MEM_TYPE_64 |
                              PCI_BASE_ADDRESS_MEM_PREFETCH,
                              TERN_VF_BAR_MSIX_SIZE);
    /* last: nothing below fails, and no error path has timers to free */
    pf->fw_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, tern_pf_fw_tick, pf);
    pf->vanish_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, tern_pf_vanish_end, pf);
    return;

err_sriov:
    pcie_sriov_pf_exit(dev);
err_pcie:
    pcie_cap_exit(dev);
err_msix:
    msix_uninit(dev, &pf->msix, &pf->msix);
}

static void tern_pf_unrealize(PCIDevice *dev)
{
    TernPFState *pf = TERN_PF(dev);

    tern_pf_drop_queued(pf);
    pcie_aer_exit(dev);
    pcie_sriov_pf_exit(dev);
    pcie_cap_exit(dev);
    msix_uninit(dev, &pf->msix, &pf->msix);
    timer_free(pf->fw_timer);
    timer_free(pf->vanish_timer);
}

static void tern_pf_reset_hold(Object *obj, ResetType type)
{
    tern_pf_fw_reset(TERN_PF(obj));
}

static const VMStateDescription tern_pf_vmstate = {
    .name = "tern-pf",
    .unmigratable = 1,
};

static const Property tern_pf_properties[] = {
    DEFINE_PROP_UINT16("vfs", TernPFState, vfs, 4),
    DEFINE_PROP_UINT32("devmem-mb", TernPFState, devmem_mb, 64),
    DEFINE_PROP_UINT32("fw-latency-us", TernPFState, fw_latency_us, 20),
    DEFINE_PROP_UINT32("engine-latency-us", TernPFState, engine_latency_us, 0),
    DEFINE_PROP_BOOL("fault-injection", TernPFState, fault_injection, false),
    DEFINE_PROP_STRING("fw-version", TernPFState, fw_version_name),
};

static void tern_pf_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);

    k->realize = tern_pf_realize;
    k->exit = tern_pf_unrealize;
    k->vendor_id = TERN_PCI_VENDOR_ID;
    k->device_id = TERN_PCI_PF_DEVICE_ID;
    k->revision = TERN_PCI_REVISION;
    k->class_id = TERN_PCI_CLASS;
    rc->phases.hold = tern_pf_reset_hold;
    dc->desc = "tern migratable accelerator (PF)";
    dc->vmsd = &tern_pf_vmstate;
    device_class_set_props(dc, tern_pf_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo tern_pf_info = {
    .name = TYPE_TERN_PF,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(TernPFState),
    .class_init = tern_pf_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { }
    },
};

static void tern_pf_register_types(void)
{
    type_register_static(&tern_pf_info);
}

type_init(tern_pf_register_types)
