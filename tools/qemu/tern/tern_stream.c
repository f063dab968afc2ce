/*
 * tern device model: the firmware's migration stream, save and load.
 *
 * Save produces, one record at a time into a staging buffer that SAVE_READ
 * drains: the stream header, the first pass (every device memory page that
 * was non-zero at SAVE_BEGIN, then REGS), then pages changed since they were
 * last sent (runs of pages that are now all zero as ZERO records, from
 * stream version 2 on), and, once the VF is frozen and nothing is left,
 * REGS, ENGINE and END. The stream version is the firmware release's
 * (property fw-version). A re-init (the guest re-bases or resizes its
 * engine ring during pre-copy) starts a new first pass after the record
 * being delivered. Changed pages come from the devmem region's dirty log
 * (CPU writes through BAR2, and engine writes, which mark the region
 * dirty).
 *
 * Load parses any split of the byte stream, writes pages straight into the
 * (frozen, reset) VF, keeps REGS and ENGINE aside and applies them only at
 * commit, where it also zeroes the pages the stream did not carry, or
 * carried last as ZERO (device memory is not cleared at LOAD_BEGIN). Any
 * error resets the VF function, so no half-loaded state remains.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#include "qemu/osdep.h"
#include "qemu/bitmap.h"
#include "qemu/cutils.h"
#include "exec/memory.h"
#include "tern.h"
#include "trace.h"

#define TERN_REC_HDR_LEN    sizeof(struct tern_rec_hdr)
#define TERN_PAGES_OVERHEAD (TERN_REC_HDR_LEN + sizeof(struct tern_rec_pages))
#define TERN_TAIL_LEN       (3 * TERN_REC_HDR_LEN + \
                             sizeof(struct tern_rec_regs) + \
                             sizeof(struct tern_rec_engine))
#define TERN_STAGE_LEN      (TERN_REC_HDR_LEN + TERN_REC_MAX_LEN)
#define TERN_LOAD_DISCARD_PAGES 512     /* 2 MiB: see tern_load_zero_rest() */

struct TernSave {
    uint32_t mode;
    unsigned long *first;       /* first-pass pages not yet sent */
    unsigned long *dirty;       /* pages changed since last sent */
    uint64_t first_total;       /* stream offset where the (latest) first
                                   pass ends */
    uint64_t gen;               /* stream bytes generated */
    uint64_t read;              /* stream bytes delivered by SAVE_READ */
    uint32_t seq;
    bool hdr_sent;
    bool first_regs_sent;
    bool end_sent;
    bool failed;
    bool reinit;                /* not yet reported by SAVE_QUERY */
    uint64_t ring_base;         /* engine ring geometry the first pass */
    uint32_t ring_size;         /*   was produced for */
    uint8_t *stage;
    uint32_t stage_len;
    uint32_t stage_off;
};

enum {
    TERN_LOAD_HDR,              /* collecting the stream header */
    TERN_LOAD_REC_HDR,          /* collecting a record header */
    TERN_LOAD_REC_BODY,         /* collecting a record payload */
    TERN_LOAD_DONE,             /* END seen */
};

struct TernLoad {
    uint32_t phase;
    unsigned long *loaded;      /* pages written by PAGES records */
    uint8_t *buf;               /* stream header, or record header + payload */
    uint32_t need;
    uint32_t have;
    uint32_t seq;
    uint16_t version;           /* the stream header's */
    uint16_t error;             /* sticky after the first failure */
    bool have_regs;
    bool have_engine;
    struct tern_rec_regs regs;
    struct tern_rec_engine engine;
    uint64_t bytes;
};

static uint32_t tern_crc(const void *buf, size_t len)
{
    return tern_crc32c(0xffffffff, buf, len);
}

/* ---- save -------------------------------------------------------------- */

/*
 * Move CPU and engine writes from the region's dirty log to save->dirty.
 * Taking the snapshot may wait for the vCPUs (a TLB flush) with the BQL
 * dropped, and a reset of the VF can end the session meanwhile: false
 * then, and the session is gone.
 */
static bool tern_save_sync(TernVFState *vf)
{
    TernSave *s = vf->save;
    DirtyBitmapSnapshot *snap;

    snap = memory_region_snapshot_and_clear_dirty(&vf->devmem, 0,
                                                  vf->devmem_size,
                                                  DIRTY_MEMORY_VGA);
    if (vf->save != s) {
        g_free(snap);
        return false;
    }
    for (uint32_t p = 0; p < vf->devmem_pages; p++) {
        if (memory_region_snapshot_get_dirty(&vf->devmem, snap,
                                             (hwaddr)p * TERN_DEVMEM_PAGE_SIZE,
                                             TERN_DEVMEM_PAGE_SIZE)) {
            set_bit(p, s->dirty);
        }
    }
    g_free(snap);
    return true;
}

static uint8_t *tern_save_record(TernVFState *vf, uint16_t type, uint32_t len)
{
    TernSave *s = vf->save;
    uint8_t *p = s->stage + s->stage_len;
    struct tern_rec_hdr *h = (struct tern_rec_hdr *)p;

    assert(s->stage_len + TERN_REC_HDR_LEN + len <= TERN_STAGE_LEN);
    trace_tern_stream_save_record(vf->index, type, s->seq, len);
    h->type = cpu_to_le16(type);
    h->flags = 0;
    h->len = cpu_to_le32(len);
    h->seq = cpu_to_le32(s->seq++);
    s->stage_len += TERN_REC_HDR_LEN + len;
    s->gen += TERN_REC_HDR_LEN + len;
    return p + TERN_REC_HDR_LEN;
}

static void tern_save_seal(uint8_t *payload, uint32_t len)
{
    struct tern_rec_hdr *h = (struct tern_rec_hdr *)(payload -
                                                     TERN_REC_HDR_LEN);
    uint32_t crc = tern_crc(h, offsetof(struct tern_rec_hdr, crc));

    crc = tern_crc32c(crc ^ 0xffffffff, payload, len);
    h->crc = cpu_to_le32(crc);
}

static void tern_save_header(TernVFState *vf)
{
    TernSave *s = vf->save;
    struct tern_stream_hdr *h = (struct tern_stream_hdr *)s->stage;

    memset(h, 0, sizeof(*h));
    h->magic = cpu_to_le32(TERN_STREAM_MAGIC);
    h->version = cpu_to_le16(vf->pf->fw->stream_version);
    h->hdr_len = cpu_to_le16(sizeof(*h));
    h->vendor_id = cpu_to_le16(TERN_PCI_VENDOR_ID);
    h->device_id = cpu_to_le16(TERN_PCI_VF_DEVICE_ID);
    h->page_size = cpu_to_le32(TERN_DEVMEM_PAGE_SIZE);
    h->devmem_size = cpu_to_le64(vf->devmem_size);
    h->ctx_regs = cpu_to_le32(TERN_VF_CTX_REGS);
    h->fifo_depth = cpu_to_le32(TERN_ENGINE_FIFO_DEPTH);
    h->crc = cpu_to_le32(tern_crc(h, offsetof(struct tern_stream_hdr, crc)));
    s->stage_len = sizeof(*h);
    s->gen += sizeof(*h);
    s->hdr_sent = true;
}

static bool tern_page_is_zero(TernVFState *vf, uint32_t page)
{
    return buffer_is_zero(vf->devmem_ptr +
                          (uint64_t)page * TERN_DEVMEM_PAGE_SIZE,
                          TERN_DEVMEM_PAGE_SIZE);
}

/*
 * A ZERO record for the run of set bits of @map starting at @first whose
 * pages are all zero: a guest clearing device memory costs 24 bytes of
 * stream per run rather than 4 KiB per page.
 */
static void tern_save_zero(TernVFState *vf, unsigned long *map,
                           uint32_t first)
{
    TernSave *s = vf->save;
    struct tern_rec_zero *rz;
    uint32_t count = 0;

    while (first + count < vf->devmem_pages &&
           test_bit(first + count, map) &&
           tern_page_is_zero(vf, first + count)) {
        count++;
    }
    rz = (void *)tern_save_record(vf, TERN_REC_ZERO, sizeof(*rz));
    rz->first = cpu_to_le32(first);
    rz->count = cpu_to_le32(count);
    bitmap_clear(s->first, first, count);
    bitmap_clear(s->dirty, first, count);
    tern_save_seal((uint8_t *)rz, sizeof(*rz));
}

/*
 * A PAGES record for the run of set bits of @map starting at @first; with
 * @zero_ok (changed pages, stream version 2) a zero page ends the run, and
 * a run that starts with one is a ZERO record. The first pass sends what
 * it promised in SAVE_BEGIN's size: PAGES only.
 */
static void tern_save_pages(TernVFState *vf, unsigned long *map,
                            uint32_t first, bool zero_ok)
{
    TernSave *s = vf->save;
    struct tern_rec_pages *rp;
    uint32_t count = 0;
    uint8_t *payload;
    uint32_t len;

    if (zero_ok && tern_page_is_zero(vf, first)) {
        tern_save_zero(vf, map, first);
        return;
    }
    while (count < TERN_REC_MAX_PAGES && first + count < vf->devmem_pages &&
           test_bit(first + count, map) &&
           !(zero_ok && tern_page_is_zero(vf, first + count))) {
        count++;
    }
    len = sizeof(*rp) + count * TERN_DEVMEM_PAGE_SIZE;
    payload = tern_save_record(vf, TERN_REC_PAGES, len);
    rp = (struct tern_rec_pages *)payload;
    rp->first = cpu_to_le32(first);
    rp->count = cpu_to_le32(count);
    memcpy(payload + sizeof(*rp),
           vf->devmem_ptr + (uint64_t)first * TERN_DEVMEM_PAGE_SIZE,
           (size_t)count * TERN_DEVMEM_PAGE_SIZE);
    bitmap_clear(s->first, first, count);
    bitmap_clear(s->dirty, first, count);
    tern_save_seal(payload, len);
}

static void tern_save_regs(TernVFState *vf)
{
    struct tern_rec_regs *r;

    r = (void *)tern_save_record(vf, TERN_REC_REGS, sizeof(*r));
    for (int i = 0; i < TERN_VF_CTX_REGS; i++) {
        r->ctx[i] = cpu_to_le64(vf->regs.ctx[i]);
    }
    r->jobs = cpu_to_le64(vf->regs.jobs);
    r->bytes = cpu_to_le64(vf->regs.bytes);
    r->errors = cpu_to_le64(vf->regs.errors);
    r->last_csum = cpu_to_le32(vf->regs.last_csum);
    r->intr_enable = cpu_to_le32(vf->regs.intr_enable);
    r->intr_status = cpu_to_le32(vf->regs.intr_status);
    r->intr_held = cpu_to_le32(vf->regs.intr_held);
    tern_save_seal((uint8_t *)r, sizeof(*r));
}

static void tern_save_engine(TernVFState *vf)
{
    TernEngine *e = &vf->engine;
    struct tern_rec_engine *r;

    r = (void *)tern_save_record(vf, TERN_REC_ENGINE, sizeof(*r));
    memset(r, 0, sizeof(*r));
    r->ring_base = cpu_to_le64(e->ring_base);
    r->cpl_base = cpu_to_le64(e->cpl_base);
    r->ring_size = cpu_to_le32(e->ring_size);
    r->ring_tail = cpu_to_le32(e->ring_tail);
    r->ring_head = cpu_to_le32(e->ring_head);
    r->ring_done = cpu_to_le32(e->ring_done);
    r->ctrl = cpu_to_le32(e->ctrl);
    r->status = cpu_to_le32(e->status);
    r->cpl_phase = cpu_to_le32(e->cpl_phase);
    r->nparked = cpu_to_le32(e->nfifo);
    memcpy(r->parked, e->fifo, e->nfifo * sizeof(e->fifo[0]));
    tern_save_seal((uint8_t *)r, sizeof(*r));
}

/* Stage the next record(s); false when there is nothing to send now. */
static bool tern_save_generate(TernVFState *vf)
{
    TernSave *s = vf->save;
    uint32_t p;

    s->stage_len = s->stage_off = 0;
    if (!s->hdr_sent) {
        tern_save_header(vf);
        return true;
    }
    p = find_first_bit(s->first, vf->devmem_pages);
    if (p < vf->devmem_pages) {
        tern_save_pages(vf, s->first, p, false);
        return true;
    }
    if (!s->first_regs_sent) {
        tern_save_regs(vf);
        s->first_regs_sent = true;
        assert(s->gen == s->first_total);
        return true;
    }
    if (s->end_sent) {
        return false;
    }
    p = find_first_bit(s->dirty, vf->devmem_pages);
    if (p >= vf->devmem_pages && vf->mig_state == TERN_VF_STATE_FROZEN) {
        /* last look at the log before the tail */
        if (!tern_save_sync(vf)) {
            return false;
        }
        p = find_first_bit(s->dirty, vf->devmem_pages);
    }
    if (p < vf->devmem_pages) {
        tern_save_pages(vf, s->dirty, p,
                        vf->pf->fw->stream_version >= 2);
        return true;
    }
    if (vf->mig_state != TERN_VF_STATE_FROZEN) {
        return false;
    }
    tern_save_regs(vf);
    tern_save_engine(vf);
    tern_save_record(vf, TERN_REC_END, 0);
    tern_save_seal(s->stage + s->stage_len, 0);
    s->end_sent = true;
    return true;
}

/* Stream bytes of PAGES records for the runs of set bits of @map. */
static uint64_t tern_pages_bytes(const unsigned long *map, uint32_t npages)
{
    uint64_t bytes = 0;
    uint32_t p = find_first_bit(map, npages);

    while (p < npages) {
        uint32_t end = find_next_zero_bit(map, npages, p);
        uint32_t run = end - p;

        bytes += (uint64_t)run * TERN_DEVMEM_PAGE_SIZE +
                 DIV_ROUND_UP(run, TERN_REC_MAX_PAGES) * TERN_PAGES_OVERHEAD;
        p = find_next_bit(map, npages, end);
    }
    return bytes;
}

uint16_t tern_fw_save_begin(TernVFState *vf, uint32_t mode, uint64_t *result)
{
    TernSave *s;

    if (mode != TERN_SAVE_MODE_PRECOPY && mode != TERN_SAVE_MODE_STOPCOPY) {
        return TERN_ST_INVALID_PARAM;
    }
    if (vf->save || vf->load ||
        (mode == TERN_SAVE_MODE_PRECOPY) ==
        (vf->mig_state == TERN_VF_STATE_FROZEN)) {
        return TERN_ST_BAD_STATE;
    }
    s = g_new0(TernSave, 1);
    s->mode = mode;
    s->first = bitmap_new(vf->devmem_pages);
    s->dirty = bitmap_new(vf->devmem_pages);
    s->stage = g_try_malloc(TERN_STAGE_LEN);
    if (!s->stage) {
        g_free(s->first);
        g_free(s->dirty);
        g_free(s);
        return TERN_ST_NO_RESOURCES;
    }
    vf->save = s;

    /* from here on every change is logged; the first pass reads content */
    if (!tern_save_sync(vf)) {
        return TERN_ST_BAD_STATE;
    }
    bitmap_zero(s->dirty, vf->devmem_pages);
    for (uint32_t p = 0; p < vf->devmem_pages; p++) {
        if (!buffer_is_zero(vf->devmem_ptr +
                            (uint64_t)p * TERN_DEVMEM_PAGE_SIZE,
                            TERN_DEVMEM_PAGE_SIZE)) {
            set_bit(p, s->first);
        }
    }
    s->first_total = sizeof(struct tern_stream_hdr) +
                     tern_pages_bytes(s->first, vf->devmem_pages) +
                     TERN_REC_HDR_LEN + sizeof(struct tern_rec_regs);
    s->ring_base = vf->engine.ring_base;
    s->ring_size = vf->engine.ring_size;
    result[0] = s->first_total;
    trace_tern_save_begin(vf->index, mode, s->first_total);
    return TERN_ST_SUCCESS;
}

uint16_t tern_fw_save_query(TernVFState *vf, uint64_t *result)
{
    TernSave *s = vf->save;
    g_autofree unsigned long *changed = NULL;
    uint64_t pending;

    if (!s || s->failed || !tern_save_sync(vf)) {
        return TERN_ST_BAD_STATE;
    }
    changed = bitmap_new(vf->devmem_pages);
    bitmap_andnot(changed, s->dirty, s->first, vf->devmem_pages);
    pending = MAX(s->first_total, s->gen) - s->read;
    result[0] = s->first_total > s->read ? s->first_total - s->read : 0;
    if (s->reinit) {
        result[0] |= TERN_SAVE_Q_REINIT;
        s->reinit = false;
    }
    result[1] = (uint64_t)bitmap_count_one(changed, vf->devmem_pages) *
                TERN_DEVMEM_PAGE_SIZE;
    if (s->end_sent) {
        result[2] = s->gen - s->read;
    } else {
        result[2] = pending + tern_pages_bytes(changed, vf->devmem_pages) +
                    TERN_TAIL_LEN;
    }
    trace_tern_save_query(vf->index, result[0], result[1], result[2]);
    return TERN_ST_SUCCESS;
}

uint16_t tern_fw_save_read(TernPFState *pf, TernVFState *vf, TernData *d,
                           uint64_t *result)
{
    TernSave *s = vf->save;
    g_autofree uint8_t *out = NULL;
    uint32_t n = 0;
    uint64_t flags = 0;
    uint16_t st;

    if (!s || s->failed) {
        return TERN_ST_BAD_STATE;
    }
    if (!d->len) {
        return TERN_ST_INVALID_PARAM;
    }
    out = g_malloc(d->len);
    if (!tern_save_sync(vf)) {
        return TERN_ST_BAD_STATE;
    }
    while (n < d->len) {
        uint32_t c;

        if (s->stage_off == s->stage_len && !tern_save_generate(vf)) {
            if (vf->save != s) {
                return TERN_ST_BAD_STATE;       /* ended while syncing */
            }
            break;
        }
        c = MIN(d->len - n, s->stage_len - s->stage_off);
        memcpy(out + n, s->stage + s->stage_off, c);
        s->stage_off += c;
        s->read += c;
        n += c;
    }
    if (s->end_sent && s->stage_off == s->stage_len) {
        flags |= TERN_SAVE_F_END;
    } else if (n < d->len) {
        flags |= TERN_SAVE_F_NO_DATA;
    }
    if (n && tern_fault_take(&pf->corrupt_count)) {
        trace_tern_stream_corrupt(vf->index, s->read - n + n / 2);
        out[n / 2] ^= 0xff;
    }
    st = n ? tern_data_write(pf, d, out, n) : TERN_ST_SUCCESS;
    if (st) {
        s->failed = true;
        return st;
    }
    result[0] = n;
    result[1] = flags;
    result[2] = s->read;
    return TERN_ST_SUCCESS;
}

void tern_save_engine_enabled(TernVFState *vf)
{
    TernSave *s = vf->save;
    TernEngine *e = &vf->engine;
    uint64_t start;

    if (!s || s->mode != TERN_SAVE_MODE_PRECOPY || s->failed ||
        s->end_sent || vf->mig_state == TERN_VF_STATE_FROZEN ||
        (e->ring_base == s->ring_base && e->ring_size == s->ring_size)) {
        return;
    }
    s->ring_base = e->ring_base;
    s->ring_size = e->ring_size;
    /* every page the destination must hold now, including cleared ones */
    if (!tern_save_sync(vf)) {
        return;
    }
    for (uint32_t p = 0; p < vf->devmem_pages; p++) {
        if (!buffer_is_zero(vf->devmem_ptr +
                            (uint64_t)p * TERN_DEVMEM_PAGE_SIZE,
                            TERN_DEVMEM_PAGE_SIZE)) {
            set_bit(p, s->first);
        }
    }
    bitmap_or(s->first, s->first, s->dirty, vf->devmem_pages);
    bitmap_zero(s->dirty, vf->devmem_pages);
    s->first_regs_sent = false;
    /* the new pass follows the staged record, or the header */
    start = s->hdr_sent ? s->gen : sizeof(struct tern_stream_hdr);
    s->first_total = start + tern_pages_bytes(s->first, vf->devmem_pages) +
                     TERN_REC_HDR_LEN + sizeof(struct tern_rec_regs);
    s->reinit = true;
    trace_tern_save_reinit(vf->index, start, s->first_total);
}

void tern_fw_save_end(TernVFState *vf)
{
    TernSave *s = vf->save;

    if (!s) {
        return;
    }
    trace_tern_save_end(vf->index, s->read);
    g_free(s->first);
    g_free(s->dirty);
    g_free(s->stage);
    g_free(s);
    vf->save = NULL;
}

/* ---- load -------------------------------------------------------------- */

static void tern_load_free(TernVFState *vf)
{
    g_free(vf->load->loaded);
    g_free(vf->load->buf);
    g_free(vf->load);
    vf->load = NULL;
}

uint16_t tern_fw_load_begin(TernVFState *vf)
{
    TernLoad *l;

    if (vf->save || vf->load || vf->mig_state != TERN_VF_STATE_FROZEN) {
        return TERN_ST_BAD_STATE;
    }
    l = g_new0(TernLoad, 1);
    l->buf = g_try_malloc(TERN_STAGE_LEN);
    if (!l->buf) {
        g_free(l);
        return TERN_ST_NO_RESOURCES;
    }
    l->loaded = bitmap_new(vf->devmem_pages);
    l->phase = TERN_LOAD_HDR;
    l->need = sizeof(struct tern_stream_hdr);
    vf->load = l;
    /* device memory is left to the load: see tern_load_zero_rest() */
    tern_vf_reset_regs(vf);
    trace_tern_load_begin(vf->index);
    return TERN_ST_SUCCESS;
}

static uint16_t tern_load_check_header(TernVFState *vf)
{
    const struct tern_stream_hdr *h = (void *)vf->load->buf;

    if (le32_to_cpu(h->magic) != TERN_STREAM_MAGIC) {
        return TERN_ST_STREAM_MAGIC;
    }
    /* a newer firmware's stream: refused, whatever follows */
    if (le16_to_cpu(h->version) < vf->pf->fw->load_min ||
        le16_to_cpu(h->version) > vf->pf->fw->stream_version) {
        return TERN_ST_STREAM_VERSION;
    }
    vf->load->version = le16_to_cpu(h->version);
    if (le32_to_cpu(h->crc) !=
        tern_crc(h, offsetof(struct tern_stream_hdr, crc))) {
        return TERN_ST_STREAM_CRC;
    }
    if (le16_to_cpu(h->hdr_len) != sizeof(*h) ||
        le16_to_cpu(h->vendor_id) != TERN_PCI_VENDOR_ID ||
        le16_to_cpu(h->device_id) != TERN_PCI_VF_DEVICE_ID ||
        le32_to_cpu(h->page_size) != TERN_DEVMEM_PAGE_SIZE ||
        le64_to_cpu(h->devmem_size) != vf->devmem_size ||
        le32_to_cpu(h->ctx_regs) != TERN_VF_CTX_REGS ||
        le32_to_cpu(h->fifo_depth) != TERN_ENGINE_FIFO_DEPTH ||
        h->flags) {
        return TERN_ST_STREAM_MISMATCH;
    }
    return TERN_ST_SUCCESS;
}

/* Record header complete: decide how much payload follows. */
static uint16_t tern_load_check_rec_hdr(TernVFState *vf)
{
    TernLoad *l = vf->load;
    const struct tern_rec_hdr *h = (void *)l->buf;
    uint32_t len = le32_to_cpu(h->len);
    bool ok;

    switch (le16_to_cpu(h->type)) {
    case TERN_REC_PAGES:
        ok = len > sizeof(struct tern_rec_pages) && len <= TERN_REC_MAX_LEN &&
             (len - sizeof(struct tern_rec_pages)) % TERN_DEVMEM_PAGE_SIZE == 0;
        break;
    case TERN_REC_REGS:
        ok = len == sizeof(struct tern_rec_regs);
        break;
    case TERN_REC_ENGINE:
        ok = len == sizeof(struct tern_rec_engine);
        break;
    case TERN_REC_END:
        ok = len == 0;
        break;
    case TERN_REC_ZERO:
        ok = l->version >= 2 && len == sizeof(struct tern_rec_zero);
        break;
    default:
        ok = false;
    }
    if (!ok || h->flags || le32_to_cpu(h->seq) != l->seq) {
        return TERN_ST_STREAM_RECORD;
    }
    l->need = TERN_REC_HDR_LEN + len;
    return TERN_ST_SUCCESS;
}

static uint16_t tern_load_check_engine(const struct tern_rec_engine *r)
{
    uint32_t size = le32_to_cpu(r->ring_size);
    uint32_t status = le32_to_cpu(r->status);
    uint32_t nparked = le32_to_cpu(r->nparked);
    uint32_t known = TERN_ENGINE_STS_ENABLED | TERN_ENGINE_STS_CFG_ERR |
                     TERN_ENGINE_STS_HALTED;

    if (le32_to_cpu(r->ctrl) & ~TERN_ENGINE_CTRL_ENABLE ||
        status & ~known || le32_to_cpu(r->cpl_phase) > 1 ||
        nparked > TERN_ENGINE_FIFO_DEPTH) {
        return TERN_ST_STREAM_RECORD;
    }
    if (!(status & TERN_ENGINE_STS_ENABLED)) {
        return nparked ? TERN_ST_STREAM_RECORD : TERN_ST_SUCCESS;
    }
    if (!is_power_of_2(size) || size < TERN_ENGINE_RING_MIN ||
        size > TERN_ENGINE_RING_MAX ||
        le32_to_cpu(r->ring_tail) >= size ||
        le32_to_cpu(r->ring_head) >= size ||
        le32_to_cpu(r->ring_done) >= size ||
        ((le32_to_cpu(r->ring_done) + nparked) & (size - 1)) !=
        le32_to_cpu(r->ring_head) ||
        le64_to_cpu(r->ring_base) % sizeof(struct tern_desc) ||
        le64_to_cpu(r->cpl_base) % sizeof(struct tern_desc_cpl)) {
        return TERN_ST_STREAM_RECORD;
    }
    return TERN_ST_SUCCESS;
}

/* A whole record (header + payload) is in l->buf. */
static uint16_t tern_load_record(TernVFState *vf)
{
    TernLoad *l = vf->load;
    const struct tern_rec_hdr *h = (void *)l->buf;
    const uint8_t *payload = l->buf + TERN_REC_HDR_LEN;
    uint32_t len = le32_to_cpu(h->len);
    uint16_t type = le16_to_cpu(h->type);
    uint32_t crc;

    crc = tern_crc(l->buf, offsetof(struct tern_rec_hdr, crc));
    crc = tern_crc32c(crc ^ 0xffffffff, payload, len);
    if (crc != le32_to_cpu(h->crc)) {
        return TERN_ST_STREAM_CRC;
    }
    trace_tern_stream_load_record(vf->index, type, l->seq, len);
    l->seq++;
    switch (type) {
    case TERN_REC_PAGES: {
        const struct tern_rec_pages *rp = (const void *)payload;
        uint32_t first = le32_to_cpu(rp->first);
        uint32_t count = le32_to_cpu(rp->count);

        if (!count || count > TERN_REC_MAX_PAGES ||
            len != sizeof(*rp) + count * TERN_DEVMEM_PAGE_SIZE) {
            return TERN_ST_STREAM_RECORD;
        }
        if (first >= vf->devmem_pages || count > vf->devmem_pages - first) {
            return TERN_ST_STREAM_PAGE_RANGE;
        }
        memcpy(vf->devmem_ptr + (uint64_t)first * TERN_DEVMEM_PAGE_SIZE,
               payload + sizeof(*rp), (size_t)count * TERN_DEVMEM_PAGE_SIZE);
        memory_region_set_dirty(&vf->devmem,
                                (uint64_t)first * TERN_DEVMEM_PAGE_SIZE,
                                (uint64_t)count * TERN_DEVMEM_PAGE_SIZE);
        bitmap_set(l->loaded, first, count);
        break;
    }
    case TERN_REC_ZERO: {
        const struct tern_rec_zero *rz = (const void *)payload;
        uint32_t first = le32_to_cpu(rz->first);
        uint32_t count = le32_to_cpu(rz->count);

        if (!count) {
            return TERN_ST_STREAM_RECORD;
        }
        if (first >= vf->devmem_pages || count > vf->devmem_pages - first) {
            return TERN_ST_STREAM_PAGE_RANGE;
        }
        /* not carried: tern_load_zero_rest() clears them at commit */
        bitmap_clear(l->loaded, first, count);
        break;
    }
    case TERN_REC_REGS:
        memcpy(&l->regs, payload, sizeof(l->regs));
        l->have_regs = true;
        break;
    case TERN_REC_ENGINE:
        if (tern_load_check_engine((const void *)payload)) {
            return TERN_ST_STREAM_RECORD;
        }
        memcpy(&l->engine, payload, sizeof(l->engine));
        l->have_engine = true;
        break;
    case TERN_REC_END:
        l->phase = TERN_LOAD_DONE;
        break;
    }
    return TERN_ST_SUCCESS;
}

static uint16_t tern_load_fail(TernVFState *vf, uint16_t st)
{
    trace_tern_stream_error(vf->index, st, vf->load->bytes);
    vf->load->error = st;
    tern_vf_reset_function(vf);
    return st;
}

uint16_t tern_fw_load_write(TernVFState *vf, const uint8_t *buf, uint32_t len,
                            uint64_t *result)
{
    TernLoad *l = vf->load;
    uint32_t done = 0;

    if (l->error) {
        return l->error;
    }
    while (done < len) {
        uint32_t c;
        uint16_t st = TERN_ST_SUCCESS;

        if (l->phase == TERN_LOAD_DONE) {
            return tern_load_fail(vf, TERN_ST_STREAM_TRAILING);
        }
        c = MIN(len - done, l->need - l->have);
        memcpy(l->buf + l->have, buf + done, c);
        l->have += c;
        l->bytes += c;
        done += c;
        if (l->have < l->need) {
            continue;
        }
        switch (l->phase) {
        case TERN_LOAD_HDR:
            st = tern_load_check_header(vf);
            l->phase = TERN_LOAD_REC_HDR;
            l->have = 0;
            l->need = TERN_REC_HDR_LEN;
            break;
        case TERN_LOAD_REC_HDR:
            st = tern_load_check_rec_hdr(vf);
            if (!st && l->need > TERN_REC_HDR_LEN) {
                l->phase = TERN_LOAD_REC_BODY;
                break;
            }
            /* no payload: END */
            st = st ? st : tern_load_record(vf);
            l->have = 0;
            break;
        case TERN_LOAD_REC_BODY:
            st = tern_load_record(vf);
            l->phase = TERN_LOAD_REC_HDR;
            l->have = 0;
            l->need = TERN_REC_HDR_LEN;
            break;
        }
        if (st) {
            return tern_load_fail(vf, st);
        }
    }
    result[0] = done;
    return TERN_ST_SUCCESS;
}

/*
 * Zero every page the stream did not carry, so that the VF holds what the
 * source held. Pages the load wrote are not zeroed first (LOAD_BEGIN keeps
 * device memory): no host page is discarded and faulted in again only to
 * be overwritten. Long runs of pages go back to the host as on an FLR (no
 * reads of memory that may never have been touched); short ones, between
 * loaded pages, are cleared in place where they are not zero.
 */
static void tern_load_zero_rest(TernVFState *vf)
{
    TernLoad *l = vf->load;
    RAMBlock *rb = vf->devmem.ram_block;
    uint32_t n = vf->devmem_pages;
    uint32_t p = find_first_zero_bit(l->loaded, n);

    while (p < n) {
        uint32_t end = find_next_bit(l->loaded, n, p);
        uint64_t start = (uint64_t)p * TERN_DEVMEM_PAGE_SIZE;
        uint64_t len = (uint64_t)(end - p) * TERN_DEVMEM_PAGE_SIZE;

        if (end - p < TERN_LOAD_DISCARD_PAGES || !rb ||
            ram_block_discard_range(rb, start, len)) {
            for (uint64_t off = start; off < start + len;
                 off += TERN_DEVMEM_PAGE_SIZE) {
                if (!buffer_is_zero(vf->devmem_ptr + off,
                                    TERN_DEVMEM_PAGE_SIZE)) {
                    memset(vf->devmem_ptr + off, 0, TERN_DEVMEM_PAGE_SIZE);
                }
            }
        }
        memory_region_set_dirty(&vf->devmem, start, len);
        p = find_next_zero_bit(l->loaded, n, end);
    }
}

uint16_t tern_fw_load_commit(TernVFState *vf, uint64_t *result)
{
    TernLoad *l = vf->load;
    TernEngine *e = &vf->engine;
    uint16_t st = TERN_ST_SUCCESS;

    if (!l) {
        return TERN_ST_BAD_STATE;
    }
    if (l->error) {
        st = l->error;
    } else if (l->phase != TERN_LOAD_DONE) {
        st = TERN_ST_STREAM_TRUNCATED;
    } else if (!l->have_regs || !l->have_engine) {
        st = TERN_ST_STREAM_RECORD;
    }
    if (st) {
        if (!l->error) {
            tern_load_fail(vf, st);
        }
        trace_tern_load_commit(vf->index, st);
        tern_load_free(vf);
        return st;
    }

    tern_load_zero_rest(vf);
    for (int i = 0; i < TERN_VF_CTX_REGS; i++) {
        vf->regs.ctx[i] = le64_to_cpu(l->regs.ctx[i]);
    }
    vf->regs.jobs = le64_to_cpu(l->regs.jobs);
    vf->regs.bytes = le64_to_cpu(l->regs.bytes);
    vf->regs.errors = le64_to_cpu(l->regs.errors);
    vf->regs.last_csum = le32_to_cpu(l->regs.last_csum);
    vf->regs.intr_enable = le32_to_cpu(l->regs.intr_enable);
    vf->regs.intr_status = le32_to_cpu(l->regs.intr_status);
    vf->regs.intr_held = le32_to_cpu(l->regs.intr_held);

    e->ring_base = le64_to_cpu(l->engine.ring_base);
    e->cpl_base = le64_to_cpu(l->engine.cpl_base);
    e->ring_size = le32_to_cpu(l->engine.ring_size);
    e->ring_tail = le32_to_cpu(l->engine.ring_tail);
    e->ring_head = le32_to_cpu(l->engine.ring_head);
    e->ring_done = le32_to_cpu(l->engine.ring_done);
    e->ctrl = le32_to_cpu(l->engine.ctrl);
    e->status = le32_to_cpu(l->engine.status);
    e->cpl_phase = le32_to_cpu(l->engine.cpl_phase);
    e->nfifo = le32_to_cpu(l->engine.nparked);
    memcpy(e->fifo, l->engine.parked, sizeof(e->fifo));

    result[0] = l->bytes;
    trace_tern_load_commit(vf->index, TERN_ST_SUCCESS);
    tern_load_free(vf);
    return TERN_ST_SUCCESS;
}

void tern_fw_load_abort(TernVFState *vf)
{
    if (vf->load) {
        trace_tern_load_abort(vf->index);
        tern_load_free(vf);
        tern_vf_reset_function(vf);
    }
}
