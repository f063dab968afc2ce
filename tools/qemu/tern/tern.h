/*
 * tern device model: internal interfaces between the PF/firmware, the VFs,
 * the migration stream, the dirty tracker and the command data buffers.
 *
 * The device ABI (registers, commands, stream layout) lives in tern_if.h,
 * shared with the drivers; Documentation/tern/device.rst is the spec.
 *
 * Everything here runs under the BQL: MMIO handlers, the firmware timer and
 * the engine timers. CPU writes to device memory (a RAM BAR) are the only
 * concurrent accesses; they are observed through the memory dirty log.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_TERN_H
#define HW_MISC_TERN_H

#include "hw/pci/pci_device.h"
#include "qemu/timer.h"
#include "qom/object.h"
#include "tern_if.h"

#define TYPE_TERN_PF "tern-pf"
#define TYPE_TERN_VF "tern-vf"
OBJECT_DECLARE_SIMPLE_TYPE(TernPFState, TERN_PF)
OBJECT_DECLARE_SIMPLE_TYPE(TernVFState, TERN_VF)

typedef struct TernSave TernSave;
typedef struct TernLoad TernLoad;
typedef struct TernDirty TernDirty;

/* Engine state of one VF: the registers of tern_rec_engine, host order. */
typedef struct TernEngine {
    uint64_t ring_base;
    uint64_t cpl_base;
    uint32_t ring_size;
    uint32_t ring_tail;
    uint32_t ring_head;
    uint32_t ring_done;
    uint32_t ctrl;
    uint32_t status;            /* TERN_ENGINE_STS_* except IDLE */
    uint32_t cpl_phase;
    uint32_t nfifo;             /* fetched, not executed (parked) */
    struct tern_desc fifo[TERN_ENGINE_FIFO_DEPTH];  /* little-endian */
} TernEngine;

/* Function registers of one VF other than the engine. */
typedef struct TernVFRegs {
    uint64_t ctx[TERN_VF_CTX_REGS];
    uint64_t jobs;
    uint64_t bytes;
    uint64_t errors;
    uint32_t last_csum;
    uint32_t intr_enable;
    uint32_t intr_status;
    uint32_t intr_held;
} TernVFRegs;

struct TernVFState {
    PCIDevice parent_obj;

    TernPFState *pf;
    uint16_t index;

    MemoryRegion mmio;
    MemoryRegion devmem;
    MemoryRegion msix;
    uint8_t *devmem_ptr;
    uint64_t devmem_size;
    uint32_t devmem_pages;

    TernVFRegs regs;
    TernEngine engine;
    QEMUTimer *engine_timer;
    uint8_t *bounce;            /* engine data staging */

    /* firmware-side state of this VF */
    uint32_t mig_state;         /* TERN_VF_STATE_* */
    TernSave *save;
    TernLoad *load;
    TernDirty *dirty;
};

/*
 * A firmware release the PF runs (property fw-version): what IDENTIFY and
 * the VERSION registers report, which stream version a save produces and
 * which a load accepts. 1.0 is the firmware before ZERO records (ABI 1.1,
 * stream 1 only, stream_version_min not reported); 1.1 is this ABI.
 */
typedef struct TernFirmware {
    const char *name;           /* "1.1": the property's value */
    uint16_t abi_minor;
    uint32_t fw_version;
    uint16_t stream_version;    /* a save produces this version */
    uint16_t stream_version_min;  /* as IDENTIFY reports it: 0 for 1.0 */
    uint16_t load_min;          /* the oldest version a load accepts */
} TernFirmware;

typedef struct TernCmd {
    struct tern_admin_cmd cmd;  /* little-endian, as fetched */
    uint64_t result[3];
    uint16_t status;
    bool preset;                /* status decided at fetch (injected) */
} TernCmd;

struct TernPFState {
    PCIDevice parent_obj;

    MemoryRegion mmio;
    MemoryRegion msix;

    /* properties */
    uint16_t vfs;
    uint32_t devmem_mb;
    uint32_t fw_latency_us;
    uint32_t engine_latency_us;
    bool fault_injection;
    char *fw_version_name;      /* "fw-version" */

    const TernFirmware *fw;     /* from fw-version, at realize */

    /* admin queue registers */
    uint32_t ctrl;
    uint32_t status;
    uint32_t intr_status;
    uint32_t intr_enable;
    uint64_t sq_base;
    uint32_t sq_size;
    uint32_t sq_tail;
    uint32_t sq_head;
    uint64_t cq_base;
    uint32_t cq_size;
    uint32_t cq_head;
    uint32_t cq_tail;
    uint32_t cq_phase;

    /* firmware */
    QEMUTimer *fw_timer;
    GQueue pending;             /* TernCmd fetched, not executed */
    GQueue stalled;             /* TernCmd held by a STALL rule */
    GQueue backlog;             /* TernCmd executed, CQ full */
    uint32_t fail_count[256];
    uint16_t fail_status[256];
    uint32_t stall_count[256];
    uint32_t corrupt_count;
    uint32_t miscount_count;
    uint32_t fatal_count;
    uint32_t dup_count[256];
    TernCmd *dup_held;          /* a completion to post again */
    uint32_t vanish_ms;         /* VANISH asked: unreachable after its answer */
    bool vanished;              /* unreachable until vanish_timer fires */
    QEMUTimer *vanish_timer;
};

/* A resolved data buffer of an admin command. */
typedef struct TernData {
    uint32_t len;
    uint32_t nseg;
    struct {
        uint64_t addr;
        uint32_t len;
    } seg[TERN_MAX_SGE];
} TernData;

/*
 * Use up one count of a CORRUPT, MISCOUNT or FATAL fault rule: whether it
 * applies
 */
static inline bool tern_fault_take(uint32_t *count)
{
    if (!*count) {
        return false;
    }
    (*count)--;
    return true;
}

/*
 * The files call downward only: each one calls files below it in this
 * list, never one above it or beside it.
 *
 *   tern_pf.c      the PF device: config space, admin queue, firmware timer
 *   tern_cmd.c     the firmware's commands, dispatched
 *   tern_vf.c      the VF device: registers, engine, migration state
 *   tern_stream.c  save and load sessions
 *   tern_dirty.c   DMA dirty tracking
 *   tern_data.c    command data buffers
 *   tern_func.c    resets of a VF's function state
 *   tern_crc.c     CRC-32C
 *
 * tern_pf.c declares nothing here: only QOM reaches it. tern_fw_*() are
 * the firmware's verbs, one per command of a save, load or dirty-tracking
 * session; tern_cmd.c runs them.
 */

/* tern_cmd.c */
uint16_t tern_cmd_execute(TernPFState *pf, TernCmd *c);
const char *tern_cmd_name(uint8_t opcode);

/* tern_vf.c */
void tern_vf_set_mig_state(TernVFState *vf, uint32_t state);
void tern_vf_reset_firmware(TernVFState *vf, bool stop_dirty);
uint32_t tern_vf_engine_status(TernVFState *vf);
void tern_vf_engine_kick(TernVFState *vf);
const char *tern_vf_state_name(uint32_t state);

/* tern_stream.c */
uint16_t tern_fw_save_begin(TernVFState *vf, uint32_t mode, uint64_t *result);
uint16_t tern_fw_save_query(TernVFState *vf, uint64_t *result);
uint16_t tern_fw_save_read(TernPFState *pf, TernVFState *vf, TernData *d,
                           uint64_t *result);
void tern_fw_save_end(TernVFState *vf);
void tern_save_engine_enabled(TernVFState *vf);
uint16_t tern_fw_load_begin(TernVFState *vf);
uint16_t tern_fw_load_write(TernVFState *vf, const uint8_t *buf, uint32_t len,
                            uint64_t *result);
uint16_t tern_fw_load_commit(TernVFState *vf, uint64_t *result);
void tern_fw_load_abort(TernVFState *vf);

/* tern_dirty.c */
uint16_t tern_fw_dirty_start(TernVFState *vf, uint32_t page_shift,
                             const struct tern_dirty_range *ranges,
                             uint32_t nranges);
uint16_t tern_fw_dirty_read_clear(TernPFState *pf, TernVFState *vf,
                                  uint64_t iova, uint64_t length, TernData *d,
                                  uint64_t *result);
void tern_fw_dirty_stop(TernVFState *vf);
void tern_dirty_log_write(TernVFState *vf, uint64_t iova, uint64_t len);

/* tern_data.c */
uint16_t tern_data_map(TernPFState *pf, const struct tern_admin_cmd *cmd,
                       TernData *d);
uint16_t tern_data_read(TernPFState *pf, const TernData *d, void *buf,
                        uint32_t len);
uint16_t tern_data_write(TernPFState *pf, const TernData *d, const void *buf,
                         uint32_t len);

/* tern_func.c */
void tern_vf_reset_regs(TernVFState *vf);
void tern_vf_reset_function(TernVFState *vf);

/* tern_crc.c */
uint32_t tern_crc32c(uint32_t crc, const void *buf, size_t len);
const char *tern_crc32c_impl(void);
bool tern_crc32c_selftest(const char **checked, Error **errp);

#endif /* HW_MISC_TERN_H */
