/*
 * tern device model: the function state of a VF, reset.
 *
 * The engine, registers, counters, interrupts and device memory of a VF
 * are cleared here, for an FLR or VF_RESET (tern_vf.c, tern_cmd.c) and for
 * a load, which starts from a reset VF and resets it again when it fails
 * (tern_stream.c). Below the firmware's sessions and the VF device, which
 * both reset the function: calls no other model file.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "exec/cpu-common.h"
#include "exec/memory.h"
#include "tern.h"
#include "trace.h"

/*
 * The function state other than device memory: engine, registers, counters
 * and interrupts cleared (LOAD_BEGIN: the load replaces device memory).
 */
void tern_vf_reset_regs(TernVFState *vf)
{
    timer_del(vf->engine_timer);
    memset(&vf->regs, 0, sizeof(vf->regs));
    memset(&vf->engine, 0, sizeof(vf->engine));
    vf->engine.cpl_phase = 1;
}

/* FLR: engine, registers, counters, interrupts and device memory cleared. */
void tern_vf_reset_function(TernVFState *vf)
{
    RAMBlock *rb = vf->devmem.ram_block;

    trace_tern_vf_reset(vf->index);
    tern_vf_reset_regs(vf);
    /* the host pages go back to the host: the next access reads zeroes */
    if (!rb || ram_block_discard_range(rb, 0, vf->devmem_size)) {
        memset(vf->devmem_ptr, 0, vf->devmem_size);
    }
    memory_region_set_dirty(&vf->devmem, 0, vf->devmem_size);
}
