// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: the save file. read() hands out the stream the firmware
 * produces through SAVE_READs queued into the file's ring (mig_file.c):
 * while read() copies one chunk out, the firmware fills the next ones.
 * Every answer is checked against the stream so far; pre-copy's temporary
 * end (NO_DATA) is -ENOMSG; PRECOPY_INFO counts what the ring holds.
 */
#include <linux/file.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/workqueue.h>

#include "cmds.h"
#include "compat.h"
#include "mig_file.h"
#include "tern_vfio.h"

/*
 * Whether a SAVE_READ answer continues the stream: its data starts where
 * the previous answer ended (a SAVE_READ answered after the driver gave up
 * on it took a piece nobody will read), END comes only once the VF is
 * frozen, NO_DATA (pre-copy's temporary end) only to a command sent
 * before, and an answer without data says which of the two it is.
 */
static bool tern_save_answer_ok(struct tern_mig_file *migf,
				struct tern_mig_chunk *c, u64 stream_end)
{
	if (stream_end != migf->fw_end + c->len)
		return false;
	if (c->flags & TERN_SAVE_F_END)
		return migf->frozen || migf->freezing;
	if (c->flags & TERN_SAVE_F_NO_DATA)
		return !c->frozen;
	return c->len;
}

/*
 * Queue SAVE_READs into the free chunks, in ring order, until the ring is
 * full. A command that cannot be sent becomes that chunk's error, read()
 * reports it in turn, and nothing is queued behind it (with @nonblock,
 * -EAGAIN when the PF had no free slot). A file whose session a reset
 * ended sends nothing: a new session may be open.
 */
static bool tern_save_submit_one(struct tern_mig_file *migf, bool nonblock)
{
	struct tern_mig_chunk *c;

	if (migf->tail - migf->head == migf->depth || migf->end_seen ||
	    migf->error || tern_mig_file_gone(migf))
		return false;
	c = tern_chunk(migf, migf->tail++);
	c->len = 0;
	c->off = 0;
	c->flags = 0;
	c->frozen = migf->frozen;
	c->req.nowait = nonblock;
	c->err = tern_vf_submit_save_read(migf->tvf, &c->req, c->buf,
					  tern_core_buf_size(c->buf));
	c->pending = !c->err;
	return !c->err;
}

static void tern_save_submit(struct tern_mig_file *migf, bool nonblock)
{
	while (tern_save_submit_one(migf, nonblock))
		;
}

/* Collect the oldest answer in flight: wait for it and check it. */
static void tern_save_collect(struct tern_mig_file *migf)
{
	struct tern_mig_chunk *c = tern_chunk(migf, migf->coll++);
	u64 stream_end;
	int ret;

	if (!c->pending)
		return;
	c->pending = false;
	ret = tern_vf_wait_save_read(&c->req, tern_core_buf_size(c->buf),
				     &c->len, &c->flags, &stream_end);
	if (ret) {
		c->len = 0;
		c->err = ret;
		return;
	}
	if (!tern_save_answer_ok(migf, c, stream_end)) {
		dev_err_ratelimited(&migf->tvf->core_device.pdev->dev,
				    "save stream broken at %llu: %zu bytes to %llu, flags %#x\n",
				    migf->fw_end, c->len, stream_end, c->flags);
		/* whatever follows would not be the device's stream */
		migf->error = -EIO;
		c->len = 0;
		c->err = -EIO;
		return;
	}
	migf->fw_end += c->len;
	if (c->flags & TERN_SAVE_F_END)
		migf->end_seen = true;
}

/* Whether the oldest answer in flight is there (or the command never went). */
static bool tern_save_answered(struct tern_mig_file *migf)
{
	struct tern_mig_chunk *c = tern_chunk(migf, migf->coll);

	return !c->pending || tern_core_req_done(&c->req);
}

/* Collect every answer in flight (for sizes that count them). */
static void tern_save_collect_all(struct tern_mig_file *migf)
{
	while (migf->coll != migf->tail)
		tern_save_collect(migf);
}

static ssize_t tern_save_read(struct file *filp, char __user *ubuf,
			      size_t len, loff_t *pos)
{
	struct tern_mig_file *migf = filp->private_data;
	bool nonblock = filp->f_flags & O_NONBLOCK;
	bool no_data = false;
	ssize_t done = 0;
	int ret;

	ret = tern_mig_file_lock(migf, pos, nonblock);
	if (ret)
		return ret;
	ret = migf->error;
	while (!ret && done < len && !migf->end) {
		struct tern_mig_chunk *c;
		size_t n;

		/* a reset ended the session meanwhile: ask for nothing more */
		if (tern_mig_file_gone(migf)) {
			if (!done)
				ret = -ENODEV;
			break;
		}
		if (migf->head == migf->coll) {
			if (migf->coll == migf->tail) {
				/* after NO_DATA, only what was already asked */
				if (no_data)
					break;
				tern_save_submit(migf, nonblock);
			}
			/* O_NONBLOCK: what has not been answered yet */
			if (nonblock && !tern_save_answered(migf)) {
				if (!done)
					ret = -EAGAIN;
				break;
			}
			tern_save_collect(migf);
		}
		c = tern_chunk(migf, migf->head);
		if (c->err) {
			/* reported in stream order, after the data before it */
			if (!done) {
				ret = c->err;
				c->err = 0;
				migf->head++;
			}
			break;
		}
		n = min_t(size_t, len - done, c->len - c->off);
		if (n) {
			ret = tern_core_buf_to_user(c->buf, c->off, ubuf + done,
						    n);
			if (ret)
				break;
			c->off += n;
			migf->offset += n;
			if (!migf->frozen)
				migf->precopy_bytes += n;
			done += n;
		}
		if (c->off < c->len)
			continue;
		/* drained: the chunk goes back to the ring */
		migf->head++;
		if (c->flags & TERN_SAVE_F_END)
			migf->end = true;
		/* pre-copy's temporary end; answered before a freeze: moot */
		if ((c->flags & TERN_SAVE_F_NO_DATA) && !migf->frozen)
			no_data = true;
		/* keep the firmware busy while userspace takes what it got */
		if (!no_data)
			tern_save_submit(migf, nonblock);
	}
	if (!ret && !done && no_data) {
		migf->precopy_passes++;
		ret = -ENOMSG;
	}
	ret = tern_mig_file_error(migf, ret);
	mutex_unlock(&migf->lock);
	return done ? done : ret;
}

/*
 * A SAVE_QUERY answer of an open save file (@migf->lock held), the stream
 * at @fw_end when it was asked. A re-init is reported once by the
 * firmware: for a caller that opted in to PRECOPY_INFOv2, remember it for
 * PRECOPY_INFO and where the new first pass ends. The uAPI lets
 * initial_bytes grow again only after that opt-in: for anyone else the
 * new pass is dirty data.
 */
static void tern_save_file_answer(struct tern_mig_file *migf,
				  const struct tern_save_sizes *sizes,
				  u64 fw_end)
{
	if (!sizes->reinit ||
	    !tern_precopy_info_v2(&migf->tvf->core_device.vdev))
		return;
	migf->initial_end = fw_end + sizes->initial_bytes;
	migf->reinit = true;
}

/*
 * SAVE_QUERY for an open save file (@migf->lock held). The firmware ran
 * the SAVE_READs in flight before it (submission order), so their answers
 * are there: collect them, and the sizes plus what the ring holds are the
 * whole picture.
 */
static int tern_save_file_query(struct tern_mig_file *migf,
				struct tern_save_sizes *sizes)
{
	int ret;

	ret = tern_vf_cmd_save_query(migf->tvf, sizes);
	tern_save_collect_all(migf);
	if (!ret)
		tern_save_file_answer(migf, sizes, migf->fw_end);
	return ret;
}

/*
 * poll()'s readiness when nothing is in the ring: the firmware's sizes,
 * asked without waiting (poll() may not sleep on the firmware; its answer
 * wakes the pollers) and collected at the next poll(). No SAVE_READ was
 * out when it was sent, so the fw_end of then places a re-init; an answer
 * that read() overtook since is stale, and asked again. One the firmware
 * never gives keeps poll() waiting (its caller's timeout applies) until
 * the file ends.
 */
static __poll_t tern_save_poll_sizes(struct tern_mig_file *migf)
{
	struct tern_save_sizes sizes;
	__poll_t mask;
	int ret;

again:
	if (!migf->poll_req_out) {
		migf->poll_req.wake = &migf->poll_wait;
		migf->poll_req.nowait = true;
		ret = tern_vf_submit_save_query(migf->tvf, &migf->poll_req);
		if (ret == -EAGAIN) {
			/* no free slot: ask again shortly */
			tern_mig_file_poll_later(migf);
			return 0;
		}
		if (ret)
			return EPOLLERR;
		migf->poll_req_out = true;
		migf->poll_fw_end = migf->fw_end;
	}
	if (!tern_core_req_done(&migf->poll_req))
		return 0;
	migf->poll_req_out = false;
	ret = tern_vf_wait_save_query(&migf->poll_req, &sizes);
	if (ret) {
		mask = EPOLLERR;
	} else {
		tern_save_file_answer(migf, &sizes, migf->poll_fw_end);
		if (migf->fw_end != migf->poll_fw_end)
			goto again;
		mask = sizes.initial_bytes || sizes.dirty_bytes ?
		       EPOLLIN | EPOLLRDNORM : 0;
		/* no event for new dirty pages: ask again */
		if (!mask)
			tern_mig_file_poll_later(migf);
	}
	migf->poll_asked = jiffies;
	migf->poll_mask = mask;
	return mask;
}

/* Whether read() has something to return without asking the firmware. */
static bool tern_save_has_answer(struct tern_mig_file *migf)
{
	unsigned int i;

	/* answers that came meanwhile are collected without waiting */
	while (migf->coll != migf->tail && tern_save_answered(migf))
		tern_save_collect(migf);
	for (i = migf->head; i != migf->coll; i++) {
		struct tern_mig_chunk *c = tern_chunk(migf, i);

		if (c->err || c->off < c->len || (c->flags & TERN_SAVE_F_END))
			return true;
	}
	return false;
}

/**
 * tern_save_query_sizes() - SAVE_QUERY on the VF's open save file
 * @tvf: the VF, with state_mutex held and a save file open
 * @sizes: the firmware's answer; @sizes->total_bytes also counts what the
 *	file's ring holds that userspace has not read (the firmware counts
 *	only what SAVE_READ has not returned)
 *
 * Return: 0, or the errno of the failed command.
 */
int tern_save_query_sizes(struct tern_vf *tvf, struct tern_save_sizes *sizes)
{
	struct tern_mig_file *migf = tvf->save_file;
	int ret;

	lockdep_assert_held(&tvf->state_mutex);
	mutex_lock(&migf->lock);
	ret = tern_save_file_query(migf, sizes);
	if (!ret)
		sizes->total_bytes += migf->fw_end - migf->offset;
	mutex_unlock(&migf->lock);
	return ret;
}

static __poll_t tern_save_poll(struct file *filp, poll_table *wait)
{
	struct tern_mig_file *migf = filp->private_data;
	__poll_t mask = 0;

	if (!tern_mig_file_poll_lock(migf, filp, wait))
		return 0;
	if (tern_mig_file_gone(migf)) {
		mask = EPOLLERR | EPOLLHUP;
	} else if (migf->end || tern_save_has_answer(migf)) {
		mask = EPOLLIN | EPOLLRDNORM;
	} else if (migf->coll != migf->tail) {
		/* asked, not yet answered: the answer wakes us */
		mask = 0;
	} else if (migf->frozen) {
		mask = EPOLLIN | EPOLLRDNORM;
	} else if (!migf->poll_req_out &&
		   time_before(jiffies, migf->poll_asked +
			       msecs_to_jiffies(TERN_POLL_RECHECK_MS))) {
		/* the firmware was asked moments ago, for another waiter */
		mask = migf->poll_mask;
		if (!mask)
			tern_mig_file_poll_later(migf);
	} else {
		mask = tern_save_poll_sizes(migf);
	}
	mutex_unlock(&migf->lock);
	return mask;
}

static long tern_save_ioctl(struct file *filp, unsigned int cmd,
			    unsigned long arg)
{
	struct tern_mig_file *migf = filp->private_data;
	struct tern_vf *tvf = migf->tvf;
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct vfio_precopy_info info;
	struct tern_save_sizes sizes;
	u64 pending_end, dirty_from;
	int ret;

	ret = tern_check_precopy_ioctl(&tvf->core_device.vdev, cmd, arg, &info);
	if (ret)
		return ret;
	/* an output field, or reserved: never the caller's bits echoed back */
	info.flags = 0;

	tern_vf_state_mutex_lock(tvf);
	/* the VF left its PF (unbound): no device, no state to report */
	if (!tvf->core) {
		ret = -ENODEV;
		goto out_state;
	}
	if (tvf->mig_state != VFIO_DEVICE_STATE_PRE_COPY &&
	    tvf->mig_state != VFIO_DEVICE_STATE_PRE_COPY_P2P) {
		ret = -EINVAL;
		goto out_state;
	}
	mutex_lock(&migf->lock);
	if (tern_mig_file_gone(migf)) {
		ret = -ENODEV;
		goto out;
	}
	ret = tern_save_file_query(migf, &sizes);
	/* a reset meanwhile (applied at unlock) ended the session */
	if (ret && tern_vf_reset_pending(tvf))
		ret = -ENODEV;
	if (ret)
		goto out;
	/*
	 * Stream bytes up to initial_end are initial data: the first pass,
	 * or (v2 callers) after a re-init what is left before the new first
	 * pass ends. Bytes the driver holds but userspace has not read count
	 * where they belong, and so does what is left of a first pass the
	 * firmware sends again (initial_bytes) past initial_end: the new
	 * pass of a re-init a v1 caller was not told of. So initial_bytes
	 * never grows without REINIT, which is reported once per event.
	 */
	info.initial_bytes = migf->initial_end > migf->offset ?
			     migf->initial_end - migf->offset : 0;
	if (migf->reinit)
		info.flags |= VFIO_PRECOPY_INFO_REINIT;
	migf->reinit = false;
	pending_end = migf->fw_end + sizes.initial_bytes;
	dirty_from = max(migf->offset, migf->initial_end);
	info.dirty_bytes = sizes.dirty_bytes +
			   (pending_end > dirty_from ? pending_end - dirty_from : 0);
out:
	mutex_unlock(&migf->lock);
out_state:
	tern_vf_state_mutex_unlock(tvf);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

static const struct file_operations tern_save_fops = {
	.owner = THIS_MODULE,
	.read = tern_save_read,
	.poll = tern_save_poll,
	.unlocked_ioctl = tern_save_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = tern_mig_file_release,
};

struct file *tern_save_start(struct tern_vf *tvf, u32 mode)
{
	struct tern_mig_file *migf;
	u64 initial = 0;
	int ret;

	/* a save session the firmware may still hold would refuse this one */
	ret = tern_vf_pay_owed(tvf);
	if (ret)
		return ERR_PTR(ret);
	migf = tern_mig_file_create(tvf, true, &tern_save_fops);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	ret = tern_vf_cmd_save_begin(tvf, mode, &initial);
	if (ret) {
		fput(migf->filp);
		return ERR_PTR(ret);
	}
	migf->initial_end = mode == TERN_SAVE_MODE_PRECOPY ? initial : 0;
	migf->frozen = mode == TERN_SAVE_MODE_STOPCOPY;
	/* poll() has asked nothing yet */
	migf->poll_asked = jiffies - msecs_to_jiffies(TERN_POLL_RECHECK_MS);
	tvf->save_file = migf;
	tvf->stats.save_sessions++;
	get_file(migf->filp);
	return migf->filp;
}

int tern_save_stop(struct tern_vf *tvf)
{
	tern_save_file_close(tvf);
	return tern_vf_cmd_save_end(tvf);
}

int tern_save_freeze(struct tern_vf *tvf)
{
	struct tern_mig_file *migf = tvf->save_file;
	int ret;

	lockdep_assert_held(&tvf->state_mutex);
	/* every arc into PRE_COPY_P2P opened one; a reset left RUNNING */
	if (WARN_ON_ONCE(!migf))
		return -EIO;
	/* a background SAVE_READ may see the stream end before we do */
	mutex_lock(&migf->lock);
	migf->freezing = true;
	mutex_unlock(&migf->lock);
	ret = tern_vf_cmd_freeze(tvf);
	mutex_lock(&migf->lock);
	migf->freezing = false;
	migf->frozen = !ret;
	/*
	 * The stream's tail is there to read now: ask for its first chunk
	 * at once (usually all of it: the REGS, ENGINE and END records), so
	 * that the VMM's read() after the VM stopped finds it answered
	 * instead of waiting for a firmware round trip inside the downtime.
	 * One only: the next VF's VF_FREEZE queues behind it on the PF, and
	 * read() asks for the rest of the ring if there is more.
	 */
	if (!ret && migf->coll == migf->tail)
		tern_save_submit_one(migf, false);
	mutex_unlock(&migf->lock);
	if (ret)
		return ret;
	wake_up_interruptible(&migf->poll_wait);
	return 0;
}
