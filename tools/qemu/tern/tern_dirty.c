/*
 * tern device model: DMA dirty-page logging of a VF.
 *
 * Each tracked IOVA range has its own bitmap, split in leaves of
 * TERN_LEAF_BITS pages that are allocated on the first write into them, so
 * memory follows the ranges (and what is written), never the gaps between
 * them. Every DMA write of the VF engine (data and completions) is logged
 * before it is issued; reads are never logged.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitops.h"
#include "tern.h"
#include "trace.h"

#define TERN_LEAF_BITS      (4096 * 8)          /* one 4 KiB leaf */
#define TERN_MAX_LEAVES     (1ull << 21)        /* per range: 2^36 pages */

typedef struct TernDirtyRange {
    uint64_t iova;
    uint64_t length;
    uint64_t npages;
    uint64_t nleaves;
    unsigned long **leaves;
} TernDirtyRange;

struct TernDirty {
    uint32_t page_shift;
    uint32_t nranges;
    TernDirtyRange r[TERN_DIRTY_MAX_RANGES];
};

static void tern_dirty_free(TernDirty *t)
{
    for (uint32_t i = 0; i < t->nranges; i++) {
        for (uint64_t l = 0; l < t->r[i].nleaves; l++) {
            g_free(t->r[i].leaves[l]);
        }
        g_free(t->r[i].leaves);
    }
    g_free(t);
}

static int tern_range_cmp(const void *a, const void *b)
{
    const TernDirtyRange *x = a, *y = b;

    return x->iova < y->iova ? -1 : x->iova > y->iova;
}

uint16_t tern_fw_dirty_start(TernVFState *vf, uint32_t page_shift,
                             const struct tern_dirty_range *ranges,
                             uint32_t nranges)
{
    uint64_t mask = (1ull << page_shift) - 1;
    TernDirty *t = g_new0(TernDirty, 1);

    t->page_shift = page_shift;
    for (uint32_t i = 0; i < nranges; i++) {
        TernDirtyRange *r = &t->r[i];

        r->iova = le64_to_cpu(ranges[i].iova);
        r->length = le64_to_cpu(ranges[i].length);
        if (!r->length || (r->iova & mask) || (r->length & mask) ||
            r->iova + r->length <= r->iova) {
            g_free(t);
            return TERN_ST_INVALID_PARAM;
        }
        r->npages = r->length >> page_shift;
        r->nleaves = DIV_ROUND_UP(r->npages, TERN_LEAF_BITS);
        if (r->nleaves > TERN_MAX_LEAVES) {
            g_free(t);
            return TERN_ST_NO_RESOURCES;
        }
    }
    qsort(t->r, nranges, sizeof(t->r[0]), tern_range_cmp);
    for (uint32_t i = 1; i < nranges; i++) {
        if (t->r[i - 1].iova + t->r[i - 1].length > t->r[i].iova) {
            g_free(t);
            return TERN_ST_INVALID_PARAM;
        }
    }
    for (uint32_t i = 0; i < nranges; i++) {
        t->r[i].leaves = g_try_new0(unsigned long *, t->r[i].nleaves);
        t->nranges = i + 1;
        if (!t->r[i].leaves) {
            t->r[i].nleaves = 0;
            tern_dirty_free(t);
            return TERN_ST_NO_RESOURCES;
        }
    }
    vf->dirty = t;
    trace_tern_dirty_start(vf->index, nranges, page_shift);
    return TERN_ST_SUCCESS;
}

void tern_fw_dirty_stop(TernVFState *vf)
{
    if (vf->dirty) {
        trace_tern_dirty_stop(vf->index);
        tern_dirty_free(vf->dirty);
        vf->dirty = NULL;
    }
}

static void tern_range_mark(TernDirtyRange *r, uint64_t first, uint64_t last)
{
    for (uint64_t p = first; p <= last; ) {
        uint64_t l = p / TERN_LEAF_BITS;
        uint64_t bit = p % TERN_LEAF_BITS;
        uint64_t n = MIN(last - p + 1, TERN_LEAF_BITS - bit);

        if (!r->leaves[l]) {
            r->leaves[l] = bitmap_new(TERN_LEAF_BITS);
        }
        bitmap_set(r->leaves[l], bit, n);
        p += n;
    }
}

void tern_dirty_log_write(TernVFState *vf, uint64_t iova, uint64_t len)
{
    TernDirty *t = vf->dirty;
    uint64_t end;

    if (!t || !len) {
        return;
    }
    end = iova + len - 1;
    if (end < iova) {
        end = UINT64_MAX;
    }
    for (uint32_t i = 0; i < t->nranges; i++) {
        TernDirtyRange *r = &t->r[i];
        uint64_t rend = r->iova + r->length - 1;
        uint64_t lo, hi;

        if (end < r->iova || iova > rend) {
            continue;
        }
        lo = MAX(iova, r->iova) - r->iova;
        hi = MIN(end, rend) - r->iova;
        tern_range_mark(r, lo >> t->page_shift, hi >> t->page_shift);
    }
}

/*
 * Move the bits of [iova, iova + length) into @out (bit i: page iova + i),
 * clearing them; with @restore, OR them back instead (failed report).
 */
static uint64_t tern_dirty_collect(TernDirty *t, uint64_t iova,
                                   uint64_t length, unsigned long *out,
                                   bool restore)
{
    uint64_t end = iova + length - 1;
    uint64_t count = 0;

    for (uint32_t i = 0; i < t->nranges; i++) {
        TernDirtyRange *r = &t->r[i];
        uint64_t rend = r->iova + r->length - 1;
        uint64_t first, last;

        if (end < r->iova || iova > rend) {
            continue;
        }
        first = (MAX(iova, r->iova) - r->iova) >> t->page_shift;
        last = (MIN(end, rend) - r->iova) >> t->page_shift;
        for (uint64_t p = first; p <= last; ) {
            uint64_t l = p / TERN_LEAF_BITS;
            uint64_t lbase = l * TERN_LEAF_BITS;
            uint64_t lend = MIN(last - lbase + 1, TERN_LEAF_BITS);
            uint64_t b;

            if (restore) {
                for (b = p - lbase; b < lend; b++) {
                    uint64_t o = ((r->iova + ((lbase + b) << t->page_shift)) -
                                  iova) >> t->page_shift;

                    if (test_bit(o, out)) {
                        tern_range_mark(r, lbase + b, lbase + b);
                    }
                }
            } else if (r->leaves[l]) {
                for (b = find_next_bit(r->leaves[l], lend, p - lbase);
                     b < lend; b = find_next_bit(r->leaves[l], lend, b + 1)) {
                    uint64_t o = ((r->iova + ((lbase + b) << t->page_shift)) -
                                  iova) >> t->page_shift;

                    clear_bit(b, r->leaves[l]);
                    set_bit(o, out);
                    count++;
                }
            }
            p = lbase + lend;
        }
    }
    return count;
}

uint16_t tern_fw_dirty_read_clear(TernPFState *pf, TernVFState *vf,
                                  uint64_t iova, uint64_t length, TernData *d,
                                  uint64_t *result)
{
    TernDirty *t = vf->dirty;
    uint64_t mask, npages, bytes, count;
    g_autofree unsigned long *out = NULL;
    g_autofree uint64_t *le = NULL;
    uint16_t st;

    if (!t) {
        return TERN_ST_BAD_STATE;
    }
    mask = (1ull << t->page_shift) - 1;
    if (!length || (iova & mask) || (length & mask) ||
        iova + length - 1 < iova) {
        return TERN_ST_INVALID_PARAM;
    }
    npages = length >> t->page_shift;
    bytes = DIV_ROUND_UP(npages, 64) * 8;
    if (bytes > TERN_MAX_CHUNK || bytes > d->len) {
        return TERN_ST_INVALID_PARAM;
    }
    out = bitmap_new(npages);
    count = tern_dirty_collect(t, iova, length, out, false);
    le = g_new0(uint64_t, bytes / 8);
    for (uint64_t w = 0; w < npages; w += 64) {
        uint64_t v = 0;

        for (uint64_t b = find_next_bit(out, MIN(npages, w + 64), w);
             b < MIN(npages, w + 64);
             b = find_next_bit(out, MIN(npages, w + 64), b + 1)) {
            v |= 1ull << (b - w);
        }
        le[w / 64] = cpu_to_le64(v);
    }
    st = tern_data_write(pf, d, le, bytes);
    if (st) {
        /* never lose a write: put the bits back */
        tern_dirty_collect(t, iova, length, out, true);
        return st;
    }
    trace_tern_dirty_read(vf->index, iova, length, count);
    if (tern_fault_take(&pf->miscount_count)) {
        trace_tern_dirty_miscount(vf->index, count);
        count = 0;
    }
    result[0] = count;
    return TERN_ST_SUCCESS;
}
