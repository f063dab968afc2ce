// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: DMA dirty-page logging (struct vfio_log_ops).
 *
 * The device firmware logs every DMA write of the VF into per-range bitmaps
 * it keeps itself (memory follows the ranges, never the gaps between them).
 * log_start programs at most max_dirty_ranges ranges (merging the VMM's
 * ranges when it asks for more) at the supported page size nearest the one
 * asked for. log_read_and_clear walks the tracked ranges that meet the
 * report, never the gaps, and has the firmware read and clear one chunk of
 * bitmap at a time into a single PF-owned buffer sized for the largest
 * range and capped at one command's bitmap (TERN_MAX_CHUNK): the kernel's
 * memory is bounded by that buffer whatever the span.
 *
 * Never a false negative: a report that covers a tracking page only in
 * part (an unaligned report, or a report page smaller than the tracking
 * page) sets the covered part and keeps the page in a carry set, reported
 * again until a report covers it whole.
 *
 * Logging ends on log_stop, on close and when the device is found in
 * ERROR, never on a reset of the VF: the firmware tracks across FLR, as a
 * VMM whose guest reboots mid-migration needs. A DIRTY_STOP that fails, or
 * a DIRTY_START that timed out and may run late, leaves a DIRTY_STOP owed
 * (state.c): it goes out at the next taking of state_mutex, before the
 * next start, or at close. Everything here runs under state_mutex.
 */
#include <linux/debugfs.h>
#include <linux/interval_tree.h>
#include <linux/iova_bitmap.h>
#include <linux/vfio.h>

#include "cmds.h"
#include "compat.h"
#include "tern_vfio.h"
#include "trace.h"

/**
 * struct tern_dirty_report - one log_read_and_clear() in progress
 * @tvf: the VF
 * @bitmap: the VMM's bitmap
 * @start: first IOVA asked for
 * @end: IOVA after the range asked for
 * @run_start: first IOVA of the run of dirty pages being gathered
 * @run_end: IOVA after that run (== @run_start: no run)
 * @pages: tracking pages the device reported dirty
 * @reads: DIRTY_READ_CLEAR commands sent
 */
struct tern_dirty_report {
	struct tern_vf *tvf;
	struct iova_bitmap *bitmap;
	u64 start;
	u64 end;
	u64 run_start;
	u64 run_end;
	u64 pages;
	u32 reads;
};

/*
 * The supported page size nearest @page_size, by distance in powers of
 * two, the smaller one on a tie. -EOPNOTSUPP if the device has none.
 */
static int tern_dirty_pick_shift(u64 sizes, u64 page_size)
{
	int want = ilog2(page_size), best = -EOPNOTSUPP, shift;

	for (shift = 0; shift < 64; shift++) {
		if (!(sizes & BIT_ULL(shift)))
			continue;
		if (best < 0 || abs(shift - want) < abs(best - want))
			best = shift;
	}
	return best;
}

/*
 * Turn the VMM's (possibly merged) ranges into tracking ranges: widened to
 * the tracking page size, and merged again where widening made them meet.
 */
static int tern_dirty_set_ranges(struct tern_dirty *d,
				 struct rb_root_cached *ranges, u32 max_ranges,
				 u32 shift)
{
	u64 mask = BIT_ULL(shift) - 1;
	struct interval_tree_node *node;
	u32 n = 0;

	for (node = interval_tree_iter_first(ranges, 0, ULONG_MAX); node;
	     node = interval_tree_iter_next(node, 0, ULONG_MAX)) {
		u64 start = (u64)node->start & ~mask;
		u64 last = (u64)node->last | mask;

		/* the device cannot track a range that ends at 2^64 */
		if (last == U64_MAX)
			return -EOVERFLOW;
		if (n && start <= d->ranges[n - 1].end) {
			d->ranges[n - 1].end = max(d->ranges[n - 1].end,
						   last + 1);
			continue;
		}
		if (n == max_ranges)
			return -EINVAL;	/* vfio_combine_iova_ranges() did not */
		d->ranges[n].start = start;
		d->ranges[n].end = last + 1;
		n++;
	}
	if (!n)
		return -EINVAL;
	d->nranges = n;
	return 0;
}

/* Bitmap bytes for the largest range, capped at one command's worth. */
static size_t tern_dirty_bitmap_size(struct tern_vf *tvf)
{
	const struct tern_identify *id = tern_core_identity(tvf->core);
	struct tern_dirty *d = &tvf->dirty;
	u64 bytes = 0, cap;
	u32 i;

	cap = min_t(u64, le32_to_cpu(id->max_chunk), TERN_MAX_CHUNK);
	cap = round_down(cap, sizeof(u64));
	for (i = 0; i < d->nranges; i++) {
		u64 npages = (d->ranges[i].end - d->ranges[i].start) >>
			     d->page_shift;

		bytes = max(bytes, DIV_ROUND_UP_ULL(npages, 64) * sizeof(u64));
	}
	bytes = min(bytes, cap);
	/* DIRTY_START takes its ranges through the same buffer */
	return max_t(u64, bytes, d->nranges * sizeof(struct tern_dirty_range));
}

/* Program the firmware; the caller checked there is no session. */
static int tern_dirty_begin(struct tern_vf *tvf, struct rb_root_cached *ranges,
			    u32 nnodes, u64 *page_size)
{
	const struct tern_identify *id = tern_core_identity(tvf->core);
	struct tern_dirty_range fw[TERN_DIRTY_MAX_RANGES];
	struct tern_dirty *d = &tvf->dirty;
	struct tern_dma_buf *buf;
	u32 max_ranges, i;
	int shift, ret;

	if (!*page_size || (*page_size & (*page_size - 1)))
		return -EINVAL;
	shift = tern_dirty_pick_shift(le64_to_cpu(id->dirty_page_sizes),
				      *page_size);
	max_ranges = min_t(u32, le32_to_cpu(id->max_dirty_ranges),
			   TERN_DIRTY_MAX_RANGES);
	if (shift < 0 || !max_ranges)
		return -EOPNOTSUPP;
	/* tracking a superset is allowed; missing a write is not */
	if (nnodes > max_ranges)
		vfio_combine_iova_ranges(ranges, nnodes, max_ranges);
	ret = tern_dirty_set_ranges(d, ranges, max_ranges, shift);
	if (ret)
		return ret;
	d->page_shift = shift;

	buf = tern_core_buf_alloc(tvf->core, tern_dirty_bitmap_size(tvf));
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	for (i = 0; i < d->nranges; i++) {
		fw[i].iova = cpu_to_le64(d->ranges[i].start);
		fw[i].length = cpu_to_le64(d->ranges[i].end -
					   d->ranges[i].start);
	}
	tern_core_buf_write(buf, 0, fw, d->nranges * sizeof(fw[0]));
	ret = tern_vf_cmd_dirty_start(tvf, buf, d->nranges, shift);
	/*
	 * Busy, although the driver holds no session: a start that timed
	 * out ran late, after the stop it was owed. End the stray session
	 * and start again.
	 */
	if (ret == -EBUSY) {
		ret = tern_vf_cmd_dirty_stop(tvf);
		if (!ret)
			ret = tern_vf_cmd_dirty_start(tvf, buf, d->nranges,
						      shift);
	}
	if (ret) {
		/* a start that timed out may run late: stop it to be sure */
		if (ret == -ETIMEDOUT)
			tern_vf_owe(tvf, TERN_OWE_DIRTY_STOP);
		tern_core_buf_free(buf);
		return ret;
	}
	d->bitmap = buf;
	d->active = true;
	d->broken = false;
	d->stats.bitmap_bytes = PAGE_ALIGN(tern_core_buf_size(buf));
	*page_size = BIT_ULL(shift);
	return 0;
}

/* Drop the kernel side of the session. Sends no command. */
static void tern_dirty_release(struct tern_vf *tvf, const char *why)
{
	struct tern_dirty *d = &tvf->dirty;

	if (!d->active)
		return;
	d->active = false;
	d->broken = false;
	tern_core_buf_free(d->bitmap);
	d->bitmap = NULL;
	xa_destroy(&d->carry);
	d->stats.bitmap_bytes = 0;
	d->stats.carried = 0;
	trace_tern_vf_dirty_stop(tvf->core_device.pdev, why);
}

/**
 * tern_vf_dirty_lost() - the firmware forgot the logging session
 * @tvf: the VF; caller holds state_mutex
 *
 * After a firmware reset (a PF reset) nothing is tracked any more and no
 * DIRTY_STOP is owed.
 *
 * Return: whether a session was on: its dirty pages since the last report
 * are lost.
 */
bool tern_vf_dirty_lost(struct tern_vf *tvf)
{
	bool was_active = tvf->dirty.active;

	tern_dirty_release(tvf, "firmware reset");
	return was_active;
}

/**
 * tern_vf_dirty_forgotten() - the firmware forgot the session, the VF runs on
 * @tvf: the VF; caller holds state_mutex
 *
 * After a firmware-only reset the VF keeps running and writing guest
 * memory, untracked: the session stays, but every report fails with -EIO
 * (never a false negative) until userspace stops logging. The DIRTY_STOP
 * that log_stop then owes is harmless.
 *
 * Return: whether a session was on.
 */
bool tern_vf_dirty_forgotten(struct tern_vf *tvf)
{
	struct tern_dirty *d = &tvf->dirty;

	if (!d->active)
		return false;
	d->broken = true;
	return true;
}

/*
 * End the session: the kernel side now, the firmware's by the DIRTY_STOP
 * this owes. Return: 0, or the error of that DIRTY_STOP (it stays owed).
 */
static int tern_dirty_end(struct tern_vf *tvf, const char *why)
{
	int ret;

	tern_dirty_release(tvf, why);
	tern_vf_owe(tvf, TERN_OWE_DIRTY_STOP);
	ret = tern_vf_pay_owed(tvf);
	return tern_vf_owes(tvf, TERN_OWE_DIRTY_STOP) ? ret : 0;
}

/* Remember a partly reported tracking page for the next reports. */
static int tern_dirty_carry(struct tern_dirty *d, u64 iova)
{
	void *old = xa_store(&d->carry, iova >> d->page_shift, xa_mk_value(1),
			     GFP_KERNEL_ACCOUNT);

	if (xa_is_err(old))
		return xa_err(old);
	if (!old)
		d->stats.carried++;
	return 0;
}

/* Report dirty tracking pages [start, end) within what was asked for. */
static int tern_dirty_emit(struct tern_dirty_report *rep, u64 start, u64 end)
{
	struct tern_dirty *d = &rep->tvf->dirty;
	u64 from = max(start, rep->start), to = min(end, rep->end);
	int ret = 0;

	if (from < to)
		iova_bitmap_set(rep->bitmap, from, to - from);
	if (start < rep->start)
		ret = tern_dirty_carry(d, start);
	if (!ret && end > rep->end)
		ret = tern_dirty_carry(d, end - BIT_ULL(d->page_shift));
	return ret;
}

static int tern_dirty_flush(struct tern_dirty_report *rep)
{
	int ret = 0;

	if (rep->run_end != rep->run_start)
		ret = tern_dirty_emit(rep, rep->run_start, rep->run_end);
	rep->run_start = rep->run_end;
	return ret;
}

/* Add one dirty tracking page, gathering runs of consecutive pages. */
static int tern_dirty_add(struct tern_dirty_report *rep, u64 iova)
{
	u64 psz = BIT_ULL(rep->tvf->dirty.page_shift);
	int ret;

	rep->pages++;
	if (rep->run_end != rep->run_start && rep->run_end == iova) {
		rep->run_end += psz;
		return 0;
	}
	ret = tern_dirty_flush(rep);
	rep->run_start = iova;
	rep->run_end = iova + psz;
	return ret;
}

/*
 * DIRTY_READ_CLEAR @npages tracking pages at @iova and report them. The
 * whole bitmap is walked: the firmware's count of dirty pages only goes
 * to a warning if it disagrees, never cuts the walk short (a count too
 * low would drop pages without a trace).
 */
static int tern_dirty_read_chunk(struct tern_dirty_report *rep, u64 iova,
				 u64 npages)
{
	struct tern_vf *tvf = rep->tvf;
	struct tern_dirty *d = &tvf->dirty;
	size_t bytes = DIV_ROUND_UP_ULL(npages, 64) * sizeof(u64);
	u64 ndirty = 0, found = 0;
	__le64 words[64];
	size_t off;
	int ret;

	ret = tern_vf_cmd_dirty_read_clear(tvf, d->bitmap, iova,
					   npages << d->page_shift, &ndirty);
	d->stats.reads++;
	rep->reads++;
	if (ret) {
		/* no answer: the firmware may clear bits nobody will see */
		if (ret == -ETIMEDOUT || ret == -ENODEV)
			d->broken = true;
		return ret;
	}
	for (off = 0; off < bytes && !ret; off += sizeof(words)) {
		size_t i, nwords = min_t(size_t, bytes - off, sizeof(words)) /
				   sizeof(u64);

		tern_core_buf_read(d->bitmap, off, words, nwords * sizeof(u64));
		for (i = 0; i < nwords && !ret; i++) {
			u64 w = le64_to_cpu(words[i]);
			u64 first = (off / sizeof(u64) + i) * 64;

			while (w && !ret) {
				u64 page = first + __ffs64(w);

				w &= w - 1;
				if (page >= npages)
					break;
				found++;
				ret = tern_dirty_add(rep,
						     iova + (page << d->page_shift));
			}
		}
	}
	if (!ret)
		ret = tern_dirty_flush(rep);
	/*
	 * The device cleared what it reported: bits not handed on now are
	 * lost, so a later report would have holes. Fail them all until
	 * logging is restarted.
	 */
	if (ret)
		d->broken = true;
	d->stats.pages_reported += found;
	if (!ret && found != ndirty)
		dev_warn_ratelimited(&tvf->core_device.pdev->dev,
				     "DIRTY_READ_CLEAR at %#llx counted %llu dirty pages, its bitmap has %llu\n",
				     iova, ndirty, found);
	return ret;
}

/* The part of the report that falls in one tracked range. */
static int tern_dirty_report_range(struct tern_dirty_report *rep,
				   const struct tern_dirty_span *r)
{
	struct tern_dirty *d = &rep->tvf->dirty;
	u32 shift = d->page_shift;
	u64 psz = BIT_ULL(shift), lo, hi, pos, cap;
	unsigned long idx;
	void *entry;
	int ret = 0;

	if (rep->end <= r->start || rep->start >= r->end)
		return 0;
	/* whole tracking pages; r->end is aligned and bounds rep->end */
	lo = max(ALIGN_DOWN(rep->start, psz), r->start);
	hi = min(ALIGN(rep->end, psz), r->end);
	cap = tern_core_buf_size(d->bitmap) / sizeof(u64) * 64;
	for (pos = lo; pos < hi && !ret; ) {
		u64 n = min((hi - pos) >> shift, cap);

		/* a report over terabytes takes long: not for a killed VMM */
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = tern_dirty_read_chunk(rep, pos, n);
		pos += n << shift;
	}
	if (ret)
		return ret;

	xa_for_each_range(&d->carry, idx, entry, lo >> shift,
			  (hi >> shift) - 1) {
		u64 start = (u64)idx << shift;

		ret = tern_dirty_emit(rep, start, start + psz);
		if (ret)
			return ret;
		if (start >= rep->start && start + psz <= rep->end) {
			xa_erase(&d->carry, idx);
			d->stats.carried--;
		}
	}
	return 0;
}

static int tern_vf_log_start(struct vfio_device *vdev,
			     struct rb_root_cached *ranges, u32 nnodes,
			     u64 *page_size)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	struct tern_dirty *d = &tvf->dirty;
	int ret;

	tern_vf_state_mutex_lock(tvf);
	if (tvf->mig_state == VFIO_DEVICE_STATE_ERROR)
		ret = -EIO;		/* only a reset leaves ERROR */
	else if (d->active)
		ret = -EINVAL;		/* one start, then a stop */
	else if (tern_vf_owes(tvf, TERN_OWE_DIRTY_STOP))
		ret = -EBUSY;		/* its stop failed at the lock */
	if (!ret)
		ret = tern_dirty_begin(tvf, ranges, nnodes, page_size);
	trace_tern_vf_dirty_start(tvf->core_device.pdev, nnodes,
				  ret ? 0 : d->nranges, ret ? 0 : *page_size,
				  ret);
	if (ret) {
		d->stats.failures++;
		dev_dbg(tern_vf_dev(tvf), "DMA logging start failed: %pe\n",
			ERR_PTR(ret));
	} else {
		d->stats.starts++;
	}
	tern_vf_state_mutex_unlock(tvf);
	return ret;
}

static int tern_vf_log_stop(struct vfio_device *vdev)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	int ret;

	tern_vf_state_mutex_lock(tvf);
	ret = tern_dirty_end(tvf, "log_stop");
	if (ret)
		tvf->dirty.stats.failures++;
	tern_vf_state_mutex_unlock(tvf);
	return ret;
}

static int tern_vf_log_read_and_clear(struct vfio_device *vdev,
				      unsigned long iova, unsigned long length,
				      struct iova_bitmap *dirty)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	struct tern_dirty *d = &tvf->dirty;
	struct tern_dirty_report rep = {
		.tvf = tvf,
		.bitmap = dirty,
		.start = iova,
	};
	u64 t0 = ktime_get_ns();
	int ret = 0;
	u32 i;

	tern_vf_state_mutex_lock(tvf);
	if (tvf->mig_state == VFIO_DEVICE_STATE_ERROR) {
		/* the device failed: its log is worth nothing */
		tern_dirty_end(tvf, "error");
		ret = -EIO;
	} else if (!d->active) {
		ret = -EINVAL;
	} else if (d->broken) {
		ret = -EIO;
	} else if (!length || check_add_overflow(rep.start, (u64)length,
						 &rep.end) ||
		   rep.start < d->ranges[0].start ||
		   rep.end > d->ranges[d->nranges - 1].end) {
		ret = -EINVAL;	/* outside what is tracked */
	}
	for (i = 0; !ret && i < d->nranges; i++)
		ret = tern_dirty_report_range(&rep, &d->ranges[i]);
	d->stats.reports++;
	if (ret)
		d->stats.failures++;
	trace_tern_vf_dirty_report(tvf->core_device.pdev, iova, length,
				   rep.pages, rep.reads, ret,
				   ktime_get_ns() - t0);
	tern_vf_state_mutex_unlock(tvf);
	return ret;
}

const struct vfio_log_ops tern_vf_log_ops = {
	.log_start = tern_vf_log_start,
	.log_stop = tern_vf_log_stop,
	.log_read_and_clear = tern_vf_log_read_and_clear,
};

/**
 * tern_vf_dirty_init() - set up DMA logging of a new VF device
 * @tvf: the VF, not yet registered
 *
 * Installs the log ops where the kernel can report what they log (without
 * them a VMM uses the IOMMU's dirty tracking instead).
 */
void tern_vf_dirty_init(struct tern_vf *tvf)
{
	xa_init(&tvf->dirty.carry);
	if (tern_have_dma_logging())
		tvf->core_device.vdev.log_ops = &tern_vf_log_ops;
}

/**
 * tern_vf_dirty_debugfs_init() - the "dirty" debugfs counters
 * @tvf: the VF, whose @debugfs directory exists (or is an error pointer)
 */
void tern_vf_dirty_debugfs_init(struct tern_vf *tvf)
{
	struct tern_dirty *d = &tvf->dirty;
	struct dentry *dir = debugfs_create_dir("dirty", tvf->debugfs);

	debugfs_create_bool("active", 0444, dir, &d->active);
	debugfs_create_u32("page_shift", 0444, dir, &d->page_shift);
	debugfs_create_u64("starts", 0444, dir, &d->stats.starts);
	debugfs_create_u64("reports", 0444, dir, &d->stats.reports);
	debugfs_create_u64("reads", 0444, dir, &d->stats.reads);
	debugfs_create_u64("pages_reported", 0444, dir,
			   &d->stats.pages_reported);
	debugfs_create_u64("bitmap_bytes", 0444, dir, &d->stats.bitmap_bytes);
	debugfs_create_u64("carried", 0444, dir, &d->stats.carried);
	debugfs_create_u64("failures", 0444, dir, &d->stats.failures);
}

/**
 * tern_vf_dirty_close() - end DMA logging when the device is closed
 * @tvf: the VF
 *
 * Frees the session's memory and stops the firmware's tracking (a failure
 * is logged by the PF core; the stop is retried at the next log_start).
 */
void tern_vf_dirty_close(struct tern_vf *tvf)
{
	tern_vf_state_mutex_lock(tvf);
	tern_dirty_end(tvf, "close");
	tern_vf_state_mutex_unlock(tvf);
}
