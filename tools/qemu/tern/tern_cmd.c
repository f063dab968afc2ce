/*
 * tern device model: firmware command execution.
 *
 * One function per admin command family; tern_cmd_execute() dispatches a
 * fetched command and returns its status. Save/load live in tern_stream.c,
 * DMA dirty tracking in tern_dirty.c, command data buffers in tern_data.c.
 * Called by the PF's firmware (tern_pf.c), which schedules what a command
 * requeues; calls only the files below it (see tern.h).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/units.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie_sriov.h"
#include "tern.h"
#include "trace.h"

/* The commands the firmware knows, by opcode, with the drivers' names */
#define TERN_CMD_NAME(name) [TERN_OP_##name] = #name,
static const char *const tern_cmd_names[256] = {
    TERN_OPCODES(TERN_CMD_NAME)
};

const char *tern_cmd_name(uint8_t opcode)
{
    return tern_cmd_names[opcode] ? tern_cmd_names[opcode] : "UNKNOWN";
}

/* ---- commands ---------------------------------------------------------- */

/* The VF a command addresses: NULL if there is no such VF enabled */
static TernVFState *tern_cmd_vf(TernPFState *pf, uint16_t index)
{
    PCIDevice *vf;

    if (index >= pcie_sriov_num_vfs(PCI_DEVICE(pf))) {
        return NULL;
    }
    vf = pcie_sriov_get_vf_at_index(PCI_DEVICE(pf), index);
    return vf ? TERN_VF(vf) : NULL;
}

static uint16_t tern_cmd_identify(TernPFState *pf, TernCmd *c)
{
    uint16_t index = le16_to_cpu(c->cmd.vf);
    struct tern_identify id = {};
    TernVFState *vf = NULL;
    TernData d;
    uint16_t st;

    if (index != TERN_VF_NONE) {
        vf = tern_cmd_vf(pf, index);
        if (!vf) {
            return TERN_ST_INVALID_VF;
        }
    }
    st = tern_data_map(pf, &c->cmd, &d);
    if (st) {
        return st;
    }
    if (d.len < sizeof(id)) {
        return TERN_ST_INVALID_PARAM;
    }

    id.magic = cpu_to_le32(TERN_MAGIC);
    id.abi_major = cpu_to_le16(TERN_ABI_MAJOR);
    id.abi_minor = cpu_to_le16(pf->fw->abi_minor);
    id.fw_version = cpu_to_le32(pf->fw->fw_version);
    id.total_vfs = cpu_to_le16(pf->vfs);
    id.num_vfs = cpu_to_le16(pcie_sriov_num_vfs(PCI_DEVICE(pf)));
    id.devmem_size = cpu_to_le64((uint64_t)pf->devmem_mb * MiB);
    id.devmem_page_size = cpu_to_le32(TERN_DEVMEM_PAGE_SIZE);
    id.max_chunk = cpu_to_le32(TERN_MAX_CHUNK);
    id.dirty_page_sizes = cpu_to_le64(TERN_DIRTY_PAGE_SIZES);
    id.max_dirty_ranges = cpu_to_le32(TERN_DIRTY_MAX_RANGES);
    id.max_sge = cpu_to_le32(TERN_MAX_SGE);
    id.stream_version = cpu_to_le32(pf->fw->stream_version);
    id.stream_version_min = cpu_to_le32(pf->fw->stream_version_min);
    id.caps = cpu_to_le32(pf->fault_injection ? TERN_PF_CAP_FAULT_INJECT : 0);
    id.ctx_regs = cpu_to_le32(TERN_VF_CTX_REGS);
    id.fifo_depth = cpu_to_le32(TERN_ENGINE_FIFO_DEPTH);
    id.vf_index = cpu_to_le16(index);
    if (vf) {
        uint32_t sess = 0;

        sess |= vf->save ? TERN_VF_SESS_SAVE : 0;
        sess |= vf->load ? TERN_VF_SESS_LOAD : 0;
        sess |= vf->dirty ? TERN_VF_SESS_DIRTY : 0;
        id.vf_state = cpu_to_le16(vf->mig_state);
        id.vf_sessions = cpu_to_le32(sess);
    }
    st = tern_data_write(pf, &d, &id, sizeof(id));
    c->result[0] = sizeof(id);
    return st;
}

static uint16_t tern_cmd_vf_state(TernVFState *vf, TernCmd *c, uint32_t to)
{
    if (vf->load && to != TERN_VF_STATE_FROZEN) {
        return TERN_ST_BAD_STATE;
    }
    tern_vf_set_mig_state(vf, to);
    c->result[0] = vf->engine.nfifo;
    return TERN_ST_SUCCESS;
}

static uint16_t tern_cmd_data_in(TernPFState *pf, TernCmd *c, TernData *d,
                                 uint8_t **buf)
{
    uint16_t st = tern_data_map(pf, &c->cmd, d);

    if (st) {
        return st;
    }
    if (!d->len) {
        return TERN_ST_INVALID_PARAM;
    }
    *buf = g_malloc(d->len);
    st = tern_data_read(pf, d, *buf, d->len);
    if (st) {
        g_free(*buf);
        *buf = NULL;
    }
    return st;
}

static uint16_t tern_cmd_load_write(TernPFState *pf, TernVFState *vf,
                                    TernCmd *c)
{
    g_autofree uint8_t *buf = NULL;
    TernData d;
    uint16_t st;

    if (!vf->load) {
        return TERN_ST_BAD_STATE;
    }
    st = tern_cmd_data_in(pf, c, &d, &buf);
    if (st) {
        return st;
    }
    return tern_fw_load_write(vf, buf, d.len, c->result);
}

static uint16_t tern_cmd_dirty_start(TernPFState *pf, TernVFState *vf,
                                     TernCmd *c)
{
    uint32_t n = le32_to_cpu(c->cmd.dirty_start.nranges);
    uint32_t shift = le32_to_cpu(c->cmd.dirty_start.page_shift);
    g_autofree uint8_t *buf = NULL;
    TernData d;
    uint16_t st;

    if (vf->dirty) {
        return TERN_ST_BAD_STATE;
    }
    if (!n || n > TERN_DIRTY_MAX_RANGES || shift >= 64 ||
        !(TERN_DIRTY_PAGE_SIZES & (1ull << shift))) {
        return TERN_ST_INVALID_PARAM;
    }
    st = tern_cmd_data_in(pf, c, &d, &buf);
    if (st) {
        return st;
    }
    if (d.len < n * sizeof(struct tern_dirty_range)) {
        return TERN_ST_INVALID_PARAM;
    }
    return tern_fw_dirty_start(vf, shift, (struct tern_dirty_range *)buf, n);
}

static uint16_t tern_cmd_fault(TernPFState *pf, TernCmd *c)
{
    const struct tern_cmd_fault_inject *f = &c->cmd.fault;
    uint32_t count = le32_to_cpu(f->count);
    uint16_t status = le16_to_cpu(f->status);

    if (!pf->fault_injection) {
        return TERN_ST_NOT_PERMITTED;
    }
    trace_tern_fault_inject(f->action, f->opcode, status, count);
    switch (f->action) {
    case TERN_FAULT_FAIL:
    case TERN_FAULT_STALL:
    case TERN_FAULT_DUPLICATE:
        if (!count || f->opcode == TERN_OP_FAULT_INJECT) {
            return TERN_ST_INVALID_PARAM;
        }
        if (f->action == TERN_FAULT_FAIL) {
            pf->fail_count[f->opcode] = count;
            pf->fail_status[f->opcode] = status ? status : TERN_ST_INJECTED;
        } else if (f->action == TERN_FAULT_STALL) {
            pf->stall_count[f->opcode] = count;
        } else {
            pf->dup_count[f->opcode] = count;
        }
        return TERN_ST_SUCCESS;
    case TERN_FAULT_CORRUPT:
    case TERN_FAULT_MISCOUNT:
        if (!count) {
            return TERN_ST_INVALID_PARAM;
        }
        if (f->action == TERN_FAULT_CORRUPT) {
            pf->corrupt_count = count;
        } else {
            pf->miscount_count = count;
        }
        return TERN_ST_SUCCESS;
    case TERN_FAULT_FATAL:
        /* this command still completes: the next fetch is the one to fail */
        pf->fatal_count = 1;
        return TERN_ST_SUCCESS;
    case TERN_FAULT_VANISH:
        if (!count) {
            return TERN_ST_INVALID_PARAM;
        }
        /* this command still completes: the PF goes once it is posted */
        pf->vanish_ms = count;
        return TERN_ST_SUCCESS;
    case TERN_FAULT_CLEAR: {
        TernCmd *s;

        memset(pf->fail_count, 0, sizeof(pf->fail_count));
        memset(pf->stall_count, 0, sizeof(pf->stall_count));
        pf->corrupt_count = 0;
        pf->miscount_count = 0;
        pf->fatal_count = 0;
        memset(pf->dup_count, 0, sizeof(pf->dup_count));
        /* the firmware answers them after this command (tern_pf_fw_tick()) */
        c->result[0] = g_queue_get_length(&pf->stalled);
        while ((s = g_queue_pop_head(&pf->stalled))) {
            s->status = TERN_ST_ABORTED;
            s->preset = true;
            g_queue_push_tail(&pf->pending, s);
        }
        return TERN_ST_SUCCESS;
    }
    case TERN_FAULT_RELEASE: {
        TernCmd *s;

        /* a late completion: the command runs for real, long after */
        c->result[0] = g_queue_get_length(&pf->stalled);
        while ((s = g_queue_pop_head(&pf->stalled))) {
            g_queue_push_tail(&pf->pending, s);
        }
        return TERN_ST_SUCCESS;
    }
    default:
        return TERN_ST_INVALID_PARAM;
    }
}

uint16_t tern_cmd_execute(TernPFState *pf, TernCmd *c)
{
    const struct tern_admin_cmd *cmd = &c->cmd;
    uint16_t index = le16_to_cpu(cmd->vf);
    TernVFState *vf;

    if (cmd->flags & ~TERN_CMD_F_SGL || cmd->rsvd0 || cmd->rsvd1) {
        return TERN_ST_INVALID_PARAM;
    }
    switch (cmd->opcode) {
    case TERN_OP_IDENTIFY:
        return tern_cmd_identify(pf, c);
    case TERN_OP_FAULT_INJECT:
        return tern_cmd_fault(pf, c);
    }
    if (!tern_cmd_names[cmd->opcode]) {
        return TERN_ST_INVALID_OPCODE;
    }

    /* every other command is addressed to a VF */
    vf = tern_cmd_vf(pf, index);
    if (!vf) {
        return TERN_ST_INVALID_VF;
    }
    switch (cmd->opcode) {
    case TERN_OP_VF_QUIESCE:
        return tern_cmd_vf_state(vf, c, TERN_VF_STATE_QUIESCED);
    case TERN_OP_VF_FREEZE:
        return tern_cmd_vf_state(vf, c, TERN_VF_STATE_FROZEN);
    case TERN_OP_VF_RUN:
        return tern_cmd_vf_state(vf, c, TERN_VF_STATE_RUNNING);
    case TERN_OP_VF_RESET:
        /* clear the engine first: returning to RUNNING must not run it */
        tern_vf_reset_function(vf);
        tern_vf_reset_firmware(vf, false);
        return TERN_ST_SUCCESS;
    case TERN_OP_SAVE_BEGIN:
        return tern_fw_save_begin(vf, le32_to_cpu(cmd->save_begin.mode),
                                  c->result);
    case TERN_OP_SAVE_QUERY:
        return tern_fw_save_query(vf, c->result);
    case TERN_OP_SAVE_READ: {
        TernData d;
        uint16_t st = tern_data_map(pf, cmd, &d);

        return st ? st : tern_fw_save_read(pf, vf, &d, c->result);
    }
    case TERN_OP_SAVE_END:
        tern_fw_save_end(vf);
        return TERN_ST_SUCCESS;
    case TERN_OP_LOAD_BEGIN:
        return tern_fw_load_begin(vf);
    case TERN_OP_LOAD_WRITE:
        return tern_cmd_load_write(pf, vf, c);
    case TERN_OP_LOAD_COMMIT:
        return tern_fw_load_commit(vf, c->result);
    case TERN_OP_LOAD_ABORT:
        tern_fw_load_abort(vf);
        return TERN_ST_SUCCESS;
    case TERN_OP_DIRTY_START:
        return tern_cmd_dirty_start(pf, vf, c);
    case TERN_OP_DIRTY_READ_CLEAR: {
        TernData d;
        uint16_t st = tern_data_map(pf, cmd, &d);

        return st ? st : tern_fw_dirty_read_clear(pf, vf,
                                le64_to_cpu(cmd->dirty_read.iova),
                                le64_to_cpu(cmd->dirty_read.length),
                                &d, c->result);
    }
    case TERN_OP_DIRTY_STOP:
        tern_fw_dirty_stop(vf);
        return TERN_ST_SUCCESS;
    }
    g_assert_not_reached();
}

