/*
 * tern device model: the data buffers of admin commands.
 *
 * A command's data is one host buffer, or with TERN_CMD_F_SGL a list of up
 * to TERN_MAX_SGE segments. tern_data_map() resolves it; tern_data_read()
 * and tern_data_write() move bytes between it and the model through the
 * PF's DMA. Used by the commands (tern_cmd.c) and by SAVE_READ and
 * DIRTY_READ_CLEAR (tern_stream.c, tern_dirty.c); calls no other model file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "hw/pci/pci.h"
#include "tern.h"

uint16_t tern_data_map(TernPFState *pf, const struct tern_admin_cmd *cmd,
                       TernData *d)
{
    uint32_t len = le32_to_cpu(cmd->data_len);
    uint64_t total = 0;

    if (len > TERN_MAX_CHUNK) {
        return TERN_ST_INVALID_PARAM;
    }
    d->len = len;
    if (!(cmd->flags & TERN_CMD_F_SGL)) {
        d->nseg = 1;
        d->seg[0].addr = le64_to_cpu(cmd->data_addr);
        d->seg[0].len = len;
        return TERN_ST_SUCCESS;
    }

    d->nseg = le16_to_cpu(cmd->data_nsge);
    if (d->nseg == 0 || d->nseg > TERN_MAX_SGE) {
        return TERN_ST_INVALID_PARAM;
    }
    for (uint32_t i = 0; i < d->nseg; i++) {
        struct tern_sge sge;

        if (pci_dma_read(PCI_DEVICE(pf),
                         le64_to_cpu(cmd->data_addr) + i * sizeof(sge),
                         &sge, sizeof(sge)) != MEMTX_OK) {
            return TERN_ST_DMA_ERROR;
        }
        if (!sge.len || sge.rsvd) {
            return TERN_ST_INVALID_PARAM;
        }
        d->seg[i].addr = le64_to_cpu(sge.addr);
        d->seg[i].len = le32_to_cpu(sge.len);
        total += d->seg[i].len;
    }
    return total >= len ? TERN_ST_SUCCESS : TERN_ST_INVALID_PARAM;
}

static uint16_t tern_data_rw(TernPFState *pf, const TernData *d, void *buf,
                             uint32_t len, bool write)
{
    uint8_t *p = buf;

    assert(len <= d->len);
    for (uint32_t i = 0; i < d->nseg && len; i++) {
        uint32_t n = MIN(len, d->seg[i].len);
        MemTxResult r;

        if (write) {
            r = pci_dma_write(PCI_DEVICE(pf), d->seg[i].addr, p, n);
        } else {
            r = pci_dma_read(PCI_DEVICE(pf), d->seg[i].addr, p, n);
        }
        if (r != MEMTX_OK) {
            return TERN_ST_DMA_ERROR;
        }
        p += n;
        len -= n;
    }
    return TERN_ST_SUCCESS;
}

uint16_t tern_data_read(TernPFState *pf, const TernData *d, void *buf,
                        uint32_t len)
{
    return tern_data_rw(pf, d, buf, len, false);
}

uint16_t tern_data_write(TernPFState *pf, const TernData *d, const void *buf,
                         uint32_t len)
{
    return tern_data_rw(pf, d, (void *)buf, len, true);
}
