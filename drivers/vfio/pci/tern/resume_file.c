// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: the resume file. write() gathers the stream into the
 * file's ring (mig_file.c) and hands each full chunk to LOAD_WRITE while
 * it fills the next; the firmware reassembles records across chunks. At
 * the end of a write() that ends a record, and before RESUMING -> STOP,
 * every chunk goes to the firmware and its verdict is awaited. Before
 * that, the stream header is checked against the VF: a stream that cannot
 * load here is refused at its first write(), naming what differs.
 */
#include <linux/file.h>
#include <linux/module.h>
#include <linux/poll.h>

#include "cmds.h"
#include "compat.h"
#include "mig_file.h"
#include "tern_vfio.h"

/*
 * Collect LOAD_WRITEs in flight, oldest first, until at most @keep are
 * left (with @nonblock, only those already answered); a failure is sticky.
 */
static int tern_resume_reap(struct tern_mig_file *migf, unsigned int keep,
			    bool nonblock)
{
	while (migf->tail - migf->head > keep) {
		struct tern_mig_chunk *c = tern_chunk(migf, migf->head);
		int ret;

		/* O_NONBLOCK: only what has been answered */
		if (nonblock && !tern_core_req_done(&c->req))
			break;
		migf->head++;
		c->pending = false;
		c->len = 0;
		ret = tern_core_wait(&c->req, NULL);
		if (ret && !migf->error)
			migf->error = ret;
	}
	return migf->error;
}

/*
 * Hand the chunk being filled to LOAD_WRITE and make sure the next one is
 * free; with @sync, also wait for every answer. With @nonblock nothing
 * waits: only answers already there are collected, and the ring may stay
 * full. The error is sticky.
 */
static int tern_resume_flush(struct tern_mig_file *migf, bool sync,
			     bool nonblock)
{
	struct tern_mig_chunk *c = tern_chunk(migf, migf->tail);
	int ret;

	if (migf->error)
		return migf->error;
	/* a reset ended the session: a new one may be open */
	if (tern_mig_file_gone(migf))
		return -ENODEV;
	/* a full ring (O_NONBLOCK) has no chunk being filled */
	if (migf->tail - migf->head < migf->depth && c->len) {
		c->req.nowait = nonblock;
		ret = tern_vf_submit_load_write(migf->tvf, &c->req, c->buf,
						c->len);
		/* no free slot on the PF (O_NONBLOCK): the chunk waits */
		if (ret == -EAGAIN)
			return ret;
		if (ret) {
			migf->error = ret;
			return ret;
		}
		c->pending = true;
		migf->tail++;
	}
	return tern_resume_reap(migf, sync ? 0 : migf->depth - 1, nonblock);
}

/*
 * Follow the stream's framing over the @n bytes just written (at @boff in
 * @buf, ending at stream offset @migf->offset), so that write() can tell
 * when it ends on a record boundary.
 */
static void tern_resume_track(struct tern_mig_file *migf,
			      struct tern_dma_buf *buf, size_t boff, size_t n)
{
	u64 pos = migf->offset - n;

	while (n) {
		size_t k;

		if (pos < migf->rec_end) {
			k = min_t(u64, n, migf->rec_end - pos);
		} else {
			k = min_t(size_t, n,
				  sizeof(migf->rec_hdr) - migf->rec_hdr_len);
			tern_core_buf_read(buf, boff,
					   migf->rec_hdr + migf->rec_hdr_len, k);
			migf->rec_hdr_len += k;
			if (migf->rec_hdr_len == sizeof(migf->rec_hdr)) {
				struct tern_rec_hdr *h = (void *)migf->rec_hdr;

				migf->rec_end = pos + k + le32_to_cpu(h->len);
				migf->rec_hdr_len = 0;
			}
		}
		pos += k;
		boff += k;
		n -= k;
	}
}

/* before vfio_pci_core_init_dev(): @pdev is not yet in @tvf */
void tern_vf_compat_init(struct tern_vf *tvf, struct pci_dev *pdev)
{
	const struct tern_identify *id = tern_core_identity(tvf->core);
	struct tern_vf_compat *c = &tvf->compat;

	c->vendor_id = pdev->vendor;
	c->device_id = pdev->device;
	c->page_size = le32_to_cpu(id->devmem_page_size);
	c->devmem_size = le64_to_cpu(id->devmem_size);
	c->ctx_regs = le32_to_cpu(id->ctx_regs);
	c->fifo_depth = le32_to_cpu(id->fifo_depth);
	c->stream_version = le32_to_cpu(id->stream_version);
	/* firmware before ABI 1.2 reports 0: it loads its own version only */
	c->stream_version_min = le32_to_cpu(id->stream_version_min) ?:
				c->stream_version;
}

/* A header field that differs from the VF's: refused, both values said. */
static int tern_resume_mismatch(struct tern_vf *tvf, const char *field,
				u64 stream, u64 vf, bool hex)
{
	if (stream == vf)
		return 0;
	if (hex)
		dev_warn(tern_vf_dev(tvf),
			 "resume refused: %s is 0x%04llx in the stream, 0x%04llx on this VF\n",
			 field, stream, vf);
	else
		dev_warn(tern_vf_dev(tvf),
			 "resume refused: %s is %llu in the stream, %llu on this VF\n",
			 field, stream, vf);
	return -EINVAL;
}

/*
 * The stream header is complete: whether the stream can load on this VF.
 * A VMM that migrates to an unsuitable VF learns it from the write() that
 * carries the header, with the reason in the kernel log, rather than from
 * the state change after the whole stream was sent. A damaged header (bad
 * magic or CRC) is left to the firmware, whose verdict it is; the
 * firmware checks the rest again.
 */
static int tern_resume_check_header(struct tern_mig_file *migf)
{
	const struct tern_stream_hdr *h = (void *)migf->stream_hdr;
	struct tern_vf *tvf = migf->tvf;
	const struct tern_vf_compat *c = &tvf->compat;
	u16 version = le16_to_cpu(h->version);

	if (le32_to_cpu(h->magic) != TERN_STREAM_MAGIC ||
	    le32_to_cpu(h->crc) !=
	    tern_crc32c(h, offsetof(struct tern_stream_hdr, crc)))
		return 0;
	if (version < c->stream_version_min || version > c->stream_version) {
		dev_warn(tern_vf_dev(tvf),
			 "resume refused: stream version %u is %s than this VF loads (%u..%u)\n",
			 version, version > c->stream_version ? "newer" : "older",
			 c->stream_version_min, c->stream_version);
		return -EINVAL;
	}
	return tern_resume_mismatch(tvf, "vendor_id", le16_to_cpu(h->vendor_id),
				    c->vendor_id, true) ?:
	       tern_resume_mismatch(tvf, "device_id", le16_to_cpu(h->device_id),
				    c->device_id, true) ?:
	       tern_resume_mismatch(tvf, "page_size", le32_to_cpu(h->page_size),
				    c->page_size, false) ?:
	       tern_resume_mismatch(tvf, "devmem_size",
				    le64_to_cpu(h->devmem_size),
				    c->devmem_size, false) ?:
	       tern_resume_mismatch(tvf, "ctx_regs", le32_to_cpu(h->ctx_regs),
				    c->ctx_regs, false) ?:
	       tern_resume_mismatch(tvf, "fifo_depth",
				    le32_to_cpu(h->fifo_depth),
				    c->fifo_depth, false);
}

/*
 * Collect the stream header from the @n bytes just written (at @boff in
 * @buf, ending at stream offset @migf->offset) and check it once it is
 * complete. A refusal is sticky: the chunk holding the header is never
 * handed to the firmware, and RESUMING -> STOP fails.
 */
static int tern_resume_header(struct tern_mig_file *migf,
			      struct tern_dma_buf *buf, size_t boff, size_t n)
{
	u64 pos = migf->offset - n;
	size_t k;
	int ret;

	if (pos >= sizeof(migf->stream_hdr))
		return 0;
	k = min_t(u64, n, sizeof(migf->stream_hdr) - pos);
	tern_core_buf_read(buf, boff, migf->stream_hdr + pos, k);
	if (pos + k < sizeof(migf->stream_hdr))
		return 0;
	ret = tern_resume_check_header(migf);
	if (ret)
		migf->error = ret;
	return ret;
}

static ssize_t tern_resume_write(struct file *filp, const char __user *ubuf,
				 size_t len, loff_t *pos)
{
	struct tern_mig_file *migf = filp->private_data;
	bool nonblock = filp->f_flags & O_NONBLOCK;
	ssize_t done = 0;
	int ret;

	ret = tern_mig_file_lock(migf, pos, nonblock);
	if (ret)
		return ret;
	ret = migf->error;
	while (!ret && done < len) {
		struct tern_mig_chunk *c = tern_chunk(migf, migf->tail);
		size_t n;

		/* a reset ended the session meanwhile: send it nothing more */
		if (tern_mig_file_gone(migf)) {
			ret = -ENODEV;
			break;
		}
		/* O_NONBLOCK: every chunk still with the firmware */
		if (migf->tail - migf->head == migf->depth) {
			ret = tern_resume_reap(migf, migf->depth - 1, true);
			if (!ret && migf->tail - migf->head == migf->depth) {
				if (!done)
					ret = -EAGAIN;
				break;
			}
			continue;
		}
		n = min_t(size_t, len - done, tern_core_buf_size(c->buf) - c->len);
		ret = tern_core_buf_from_user(c->buf, c->len, ubuf + done, n);
		if (ret) {
			/*
			 * A fault after data was taken is a short write:
			 * the caller goes on from there, nothing is lost.
			 */
			if (done)
				ret = 0;
			break;
		}
		migf->offset += n;
		tern_resume_track(migf, c->buf, c->len, n);
		ret = tern_resume_header(migf, c->buf, c->len, n);
		c->len += n;
		done += n;
		if (ret)
			break;
		/* full: to the firmware, while the next chunk fills */
		if (c->len == tern_core_buf_size(c->buf))
			ret = tern_resume_flush(migf, false, nonblock);
	}
	/*
	 * Hand complete records to the firmware now and wait for its
	 * verdict: a bad one then fails the write() that ended it (or, if
	 * that write() did not end on a record boundary, the next one that
	 * does), which a VMM reports as a failed migration, rather than the
	 * state change after it, when a VMM such as QEMU already considers
	 * the stream delivered. O_NONBLOCK does not wait: the verdict comes
	 * with a later write() or the state change.
	 */
	if (!ret && migf->offset == migf->rec_end && !migf->rec_hdr_len)
		ret = tern_resume_flush(migf, true, nonblock);
	ret = tern_mig_file_error(migf, ret);
	mutex_unlock(&migf->lock);
	/* O_NONBLOCK: what was taken, if anything; else -EAGAIN */
	if (ret == -EAGAIN && done)
		return done;
	/* a rejected stream is reported at once, not as a short write */
	return ret ? ret : done;
}

/* Writable when a chunk is free: the LOAD_WRITE answer that frees it wakes. */
static __poll_t tern_resume_poll(struct file *filp, poll_table *wait)
{
	struct tern_mig_file *migf = filp->private_data;
	__poll_t mask = 0;

	if (!tern_mig_file_poll_lock(migf, filp, wait))
		return 0;
	if (tern_mig_file_gone(migf))
		mask = EPOLLERR | EPOLLHUP;
	else if (tern_resume_reap(migf, migf->depth - 1, true))
		mask = EPOLLERR;
	else if (migf->tail - migf->head < migf->depth)
		mask = EPOLLOUT | EPOLLWRNORM;
	mutex_unlock(&migf->lock);
	return mask;
}

/* pre-copy sizes exist only for a save file, per the uAPI */
static long tern_resume_ioctl(struct file *filp, unsigned int cmd,
			      unsigned long arg)
{
	struct tern_mig_file *migf = filp->private_data;
	struct vfio_precopy_info info;
	int ret;

	ret = tern_check_precopy_ioctl(&migf->tvf->core_device.vdev, cmd, arg,
				       &info);
	return ret ? ret : -EINVAL;
}

static const struct file_operations tern_resume_fops = {
	.owner = THIS_MODULE,
	.write = tern_resume_write,
	.poll = tern_resume_poll,
	.unlocked_ioctl = tern_resume_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = tern_mig_file_release,
};

struct file *tern_resume_start(struct tern_vf *tvf)
{
	struct tern_mig_file *migf;
	int ret;

	migf = tern_mig_file_create(tvf, false, &tern_resume_fops);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	ret = tern_vf_cmd_load_begin(tvf);
	if (ret) {
		fput(migf->filp);
		return ERR_PTR(ret);
	}
	tvf->resume_file = migf;
	tvf->stats.load_sessions++;
	get_file(migf->filp);
	return migf->filp;
}

/* RESUMING -> STOP: the stream must be complete and valid, or nothing. */
int tern_resume_commit(struct tern_vf *tvf)
{
	struct tern_mig_file *migf = tvf->resume_file;
	int ret;

	mutex_lock(&migf->lock);
	ret = tern_resume_flush(migf, true, false);
	mutex_unlock(&migf->lock);
	if (ret)
		tern_vf_cmd_load_abort(tvf);
	else
		ret = tern_vf_cmd_load_commit(tvf);
	tvf->stats.loaded_bytes += migf->offset;
	tern_mig_file_retire(&tvf->resume_file);
	return ret;
}
