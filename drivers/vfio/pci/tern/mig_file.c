// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: the save and resume files of a migration session.
 *
 * The save file streams what the firmware produces (SAVE_READ into one
 * PF-owned chunk buffer, copied out to read(), and refilled in the
 * background once drained); the resume file gathers write()s into one
 * chunk buffer and feeds it to LOAD_WRITE when it is full or a write()
 * ends on a record boundary. The kernel holds at most one chunk per file,
 * whatever the device state size. The stream is the device's own format:
 * the driver follows its framing (record lengths) but checks nothing; the
 * firmware validates every record.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/workqueue.h>

#include "cmds.h"
#include "compat.h"
#include "tern_vfio.h"

static unsigned int chunk_kb = 1024;
module_param(chunk_kb, uint, 0644);
MODULE_PARM_DESC(chunk_kb,
		 "Migration data buffer per open save or resume file, KiB (4..1024, default 1024)");

/* how often poll() on a save file rechecks for new pre-copy data */
#define TERN_POLL_RECHECK_MS	10

/**
 * struct tern_mig_file - a save or resume data file
 * @filp: the anon file handed to userspace
 * @tvf: the VF (kept alive by a device reference)
 * @lock: protects every field below
 * @disabled: the session ended; I/O fails with -ENODEV. Also set without
 *	@lock by a reset (see tern_mig_file_orphan())
 * @saving: a save file (else a resume file)
 * @freezing: save: VF_FREEZE is on its way; the firmware may end the stream
 * @frozen: save: the VF is frozen, the stream runs to its END
 * @end: save: the firmware delivered END; read() returns 0 once drained
 * @buf: the chunk buffer (NULL once disabled)
 * @buf_len: save: valid bytes in @buf; resume: bytes not yet sent
 * @buf_off: save: bytes of @buf already copied to userspace
 * @initial_end: save: stream offset where the first pre-copy pass ends
 *	(moved on by a re-init, which starts a new first pass)
 * @reinit: save: a re-init the firmware reported and PRECOPY_INFO did not
 * @offset: stream bytes delivered to (save) or taken from (resume) userspace
 * @precopy_bytes: save: bytes read before the VF was frozen
 * @precopy_passes: save: times the pre-copy data ran out (-ENOMSG)
 * @error: sticky error: resume: a failed LOAD_WRITE; save: a stream the
 *	firmware broke (a gap, or an end that does not fit the phase)
 * @rec_end: resume: stream offset where the stream header or the record
 *	being written ends
 * @rec_hdr: resume: the next record's header, as far as written
 * @rec_hdr_len: resume: bytes of @rec_hdr written so far
 * @prefetch_err: save: error of the last background fill, for read()
 * @poll_wait: poll() sleepers
 * @poll_recheck: wakes poll() sleepers to ask the firmware again
 * @prefetch: save: refills the drained buffer while userspace is busy
 */
struct tern_mig_file {
	struct file *filp;
	struct tern_vf *tvf;
	struct mutex lock;		/* the fields below */
	bool disabled;
	bool saving;
	bool freezing;
	bool frozen;
	bool end;
	struct tern_dma_buf *buf;
	size_t buf_len;
	size_t buf_off;
	u64 initial_end;
	bool reinit;
	u64 offset;
	u64 precopy_bytes;
	u64 precopy_passes;
	int error;
	u64 rec_end;
	u8 rec_hdr[sizeof(struct tern_rec_hdr)];
	u8 rec_hdr_len;
	int prefetch_err;
	wait_queue_head_t poll_wait;
	struct delayed_work poll_recheck;
	struct work_struct prefetch;
};

static size_t tern_chunk_size(void)
{
	return clamp_t(size_t, READ_ONCE(chunk_kb), 4, TERN_MAX_CHUNK >> 10) << 10;
}

/*
 * Whether a SAVE_READ answer continues the stream: its data starts where
 * what userspace got ends (a SAVE_READ answered after the driver gave up
 * on it took a piece nobody will read), END comes only once the VF is
 * frozen, NO_DATA (pre-copy's temporary end) only before, and an answer
 * without data says which of the two it is.
 */
static bool tern_save_answer_ok(struct tern_mig_file *migf, size_t filled,
				u32 flags, u64 stream_end)
{
	if (stream_end != migf->offset + filled)
		return false;
	if (flags & TERN_SAVE_F_END)
		return migf->frozen || migf->freezing;
	if (flags & TERN_SAVE_F_NO_DATA)
		return !migf->frozen;
	return filled;
}

/* Fetch the next piece of the stream into the (drained) buffer. */
static int tern_save_fill(struct tern_mig_file *migf)
{
	u32 flags = 0;
	u64 stream_end;
	size_t filled;
	int ret;

	if (migf->error)
		return migf->error;
	ret = tern_vf_cmd_save_read(migf->tvf, migf->buf, migf->buf->size,
				    &filled, &flags, &stream_end);
	if (ret)
		return ret;
	if (!tern_save_answer_ok(migf, filled, flags, stream_end)) {
		dev_err_ratelimited(&migf->tvf->core_device.pdev->dev,
				    "save stream broken at %llu: %zu bytes to %llu, flags %#x\n",
				    migf->offset, filled, stream_end, flags);
		/* whatever follows would not be the device's stream */
		migf->error = -EIO;
		return migf->error;
	}
	migf->buf_len = filled;
	migf->buf_off = 0;
	if (flags & TERN_SAVE_F_END)
		migf->end = true;
	return 0;
}

/*
 * Entry of read() and write(): streams have no position, and a file whose
 * session ended fails. Returns 0 with @migf->lock held, or an error.
 */
static int tern_mig_file_lock(struct tern_mig_file *migf, loff_t *pos)
{
	if (pos)
		return -ESPIPE;
	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled)) {
		mutex_unlock(&migf->lock);
		return -ENODEV;
	}
	return 0;
}

static ssize_t tern_save_read(struct file *filp, char __user *ubuf,
			      size_t len, loff_t *pos)
{
	struct tern_mig_file *migf = filp->private_data;
	ssize_t done = 0;
	int ret;

	ret = tern_mig_file_lock(migf, pos);
	if (ret)
		return ret;
	/* a background fill that failed reports here, once */
	ret = migf->prefetch_err;
	migf->prefetch_err = 0;
	while (!ret && done < len) {
		size_t n;

		if (migf->buf_off == migf->buf_len) {
			if (migf->end)
				break;
			ret = tern_save_fill(migf);
			if (ret)
				break;
			if (!migf->buf_len) {
				if (migf->end)
					break;
				/* pre-copy: nothing more for now */
				if (!done) {
					migf->precopy_passes++;
					ret = -ENOMSG;
				}
				break;
			}
		}
		n = min_t(size_t, len - done, migf->buf_len - migf->buf_off);
		ret = tern_core_buf_to_user(migf->buf, migf->buf_off,
					    ubuf + done, n);
		if (ret)
			break;
		migf->buf_off += n;
		migf->offset += n;
		if (!migf->frozen)
			migf->precopy_bytes += n;
		done += n;
	}
	/*
	 * Refill the drained buffer while userspace sends what it got, so the
	 * next read() rarely waits for the firmware.
	 */
	if (done && migf->buf_off == migf->buf_len && !migf->end)
		queue_work(system_unbound_wq, &migf->prefetch);
	mutex_unlock(&migf->lock);
	return done ? done : ret;
}

static void tern_save_prefetch(struct work_struct *work)
{
	struct tern_mig_file *migf = container_of(work, struct tern_mig_file,
						  prefetch);
	int ret;

	mutex_lock(&migf->lock);
	/* read() may have refilled or consumed meanwhile: only a dry buffer */
	if (!READ_ONCE(migf->disabled) && migf->buf &&
	    migf->buf_off == migf->buf_len && !migf->end) {
		ret = tern_save_fill(migf);
		if (ret)
			migf->prefetch_err = ret;
	}
	mutex_unlock(&migf->lock);
}

/*
 * SAVE_QUERY for an open save file (@migf->lock held). A re-init is
 * reported once by the firmware: remember it for PRECOPY_INFO, and where
 * the new first pass ends, counting the bytes the driver already holds.
 */
static int tern_save_file_query(struct tern_mig_file *migf,
				struct tern_save_sizes *sizes)
{
	int ret;

	ret = tern_vf_cmd_save_query(migf->tvf, sizes);
	if (ret || !sizes->reinit)
		return ret;
	migf->initial_end = migf->offset + (migf->buf_len - migf->buf_off) +
			    sizes->initial_bytes;
	migf->reinit = true;
	return 0;
}

/**
 * tern_save_query_sizes() - SAVE_QUERY on the VF's open save file
 * @tvf: the VF, with state_mutex held and a save file open
 * @sizes: the firmware's answer
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
	mutex_unlock(&migf->lock);
	return ret;
}

static __poll_t tern_save_poll(struct file *filp, poll_table *wait)
{
	struct tern_mig_file *migf = filp->private_data;
	struct tern_save_sizes sizes;
	__poll_t mask = 0;

	poll_wait(filp, &migf->poll_wait, wait);
	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled)) {
		mask = EPOLLERR | EPOLLHUP;
	} else if (migf->buf_off < migf->buf_len || migf->end ||
		   migf->frozen) {
		mask = EPOLLIN | EPOLLRDNORM;
	} else if (tern_save_file_query(migf, &sizes)) {
		mask = EPOLLERR;
	} else if (sizes.initial_bytes || sizes.dirty_bytes) {
		mask = EPOLLIN | EPOLLRDNORM;
	} else {
		/* the device raises no event for new dirty pages: ask again */
		mod_delayed_work(system_wq, &migf->poll_recheck,
				 msecs_to_jiffies(TERN_POLL_RECHECK_MS));
	}
	mutex_unlock(&migf->lock);
	return mask;
}

static void tern_poll_recheck(struct work_struct *work)
{
	struct tern_mig_file *migf = container_of(to_delayed_work(work),
						  struct tern_mig_file,
						  poll_recheck);

	wake_up_interruptible(&migf->poll_wait);
}

static long tern_mig_file_ioctl(struct file *filp, unsigned int cmd,
				unsigned long arg)
{
	struct tern_mig_file *migf = filp->private_data;
	struct tern_vf *tvf = migf->tvf;
	unsigned long minsz = offsetofend(struct vfio_precopy_info, dirty_bytes);
	struct vfio_precopy_info info;
	struct tern_save_sizes sizes;
	u64 buffered_end, dirty_from;
	int ret;

	ret = tern_check_precopy_ioctl(&tvf->core_device.vdev, cmd, arg, &info);
	if (ret)
		return ret;
	/* pre-copy sizes exist only for a save file, per the uAPI */
	if (!migf->saving)
		return -EINVAL;
	/* an output field, or reserved: never the caller's bits echoed back */
	info.flags = 0;

	mutex_lock(&tvf->state_mutex);
	if (tvf->mig_state != VFIO_DEVICE_STATE_PRE_COPY &&
	    tvf->mig_state != VFIO_DEVICE_STATE_PRE_COPY_P2P) {
		ret = -EINVAL;
		goto out_state;
	}
	mutex_lock(&migf->lock);
	if (READ_ONCE(migf->disabled)) {
		ret = -ENODEV;
		goto out;
	}
	ret = tern_save_file_query(migf, &sizes);
	if (ret)
		goto out;
	/*
	 * Stream bytes up to initial_end are initial data: the first pass,
	 * or after a re-init what is left before the new first pass ends.
	 * Bytes the driver holds but userspace has not read count where they
	 * belong. REINIT goes only to a caller that opted in to the v2 flags;
	 * either way each re-init is reported once.
	 */
	info.initial_bytes = migf->initial_end > migf->offset ?
			     migf->initial_end - migf->offset : 0;
	if (migf->reinit && tern_precopy_info_v2(&tvf->core_device.vdev))
		info.flags |= VFIO_PRECOPY_INFO_REINIT;
	migf->reinit = false;
	buffered_end = migf->offset + (migf->buf_len - migf->buf_off);
	dirty_from = max(migf->offset, migf->initial_end);
	info.dirty_bytes = sizes.dirty_bytes +
			   (buffered_end > dirty_from ? buffered_end - dirty_from : 0);
out:
	mutex_unlock(&migf->lock);
out_state:
	tern_vf_state_mutex_unlock(tvf);
	if (ret)
		return ret;
	return copy_to_user((void __user *)arg, &info, minsz) ? -EFAULT : 0;
}

/* Hand what the buffer holds to the firmware; the error is sticky. */
static int tern_resume_flush(struct tern_mig_file *migf)
{
	int ret;

	if (migf->error)
		return migf->error;
	if (!migf->buf_len)
		return 0;
	ret = tern_vf_cmd_load_write(migf->tvf, migf->buf, migf->buf_len);
	if (ret) {
		migf->error = ret;
		return ret;
	}
	migf->buf_len = 0;
	return 0;
}

/*
 * Follow the stream's framing over the @n bytes just written (at @boff in
 * the buffer, ending at stream offset @migf->offset), so that write() can
 * tell when it ends on a record boundary.
 */
static void tern_resume_track(struct tern_mig_file *migf, size_t boff,
			      size_t n)
{
	u64 pos = migf->offset - n;

	while (n) {
		size_t k;

		if (pos < migf->rec_end) {
			k = min_t(u64, n, migf->rec_end - pos);
		} else {
			k = min_t(size_t, n,
				  sizeof(migf->rec_hdr) - migf->rec_hdr_len);
			tern_core_buf_read(migf->buf, boff,
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

static ssize_t tern_resume_write(struct file *filp, const char __user *ubuf,
				 size_t len, loff_t *pos)
{
	struct tern_mig_file *migf = filp->private_data;
	ssize_t done = 0;
	int ret;

	ret = tern_mig_file_lock(migf, pos);
	if (ret)
		return ret;
	ret = migf->error;
	while (!ret && done < len) {
		size_t n = min_t(size_t, len - done,
				 migf->buf->size - migf->buf_len);

		ret = tern_core_buf_from_user(migf->buf, migf->buf_len,
					      ubuf + done, n);
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
		tern_resume_track(migf, migf->buf_len, n);
		migf->buf_len += n;
		done += n;
		if (migf->buf_len == migf->buf->size)
			ret = tern_resume_flush(migf);
	}
	/*
	 * Hand complete records to the firmware now: a bad one then fails
	 * the write() that delivered it, which a VMM reports as a failed
	 * migration, rather than the state change after it, when a VMM
	 * such as QEMU already considers the stream delivered.
	 */
	if (!ret && migf->offset == migf->rec_end && !migf->rec_hdr_len)
		ret = tern_resume_flush(migf);
	mutex_unlock(&migf->lock);
	/* a rejected stream is reported at once, not as a short write */
	return ret ? ret : done;
}

static int tern_mig_file_release(struct inode *inode, struct file *filp)
{
	struct tern_mig_file *migf = filp->private_data;

	cancel_delayed_work_sync(&migf->poll_recheck);
	cancel_work_sync(&migf->prefetch);
	tern_core_buf_free(migf->buf);
	mutex_destroy(&migf->lock);
	put_device(&migf->tvf->core_device.vdev.device);
	kfree(migf);
	return 0;
}

static const struct file_operations tern_save_fops = {
	.owner = THIS_MODULE,
	.read = tern_save_read,
	.poll = tern_save_poll,
	.unlocked_ioctl = tern_mig_file_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = tern_mig_file_release,
};

static const struct file_operations tern_resume_fops = {
	.owner = THIS_MODULE,
	.write = tern_resume_write,
	.unlocked_ioctl = tern_mig_file_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = tern_mig_file_release,
};

static struct tern_mig_file *tern_mig_file_create(struct tern_vf *tvf,
						  bool saving)
{
	struct tern_mig_file *migf;
	int ret;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	migf->buf = tern_core_buf_alloc(tvf->core, tern_chunk_size());
	if (IS_ERR(migf->buf)) {
		ret = PTR_ERR(migf->buf);
		kfree(migf);
		return ERR_PTR(ret);
	}
	migf->filp = anon_inode_getfile(saving ? "tern_vf_save" : "tern_vf_resume",
					saving ? &tern_save_fops : &tern_resume_fops,
					migf, saving ? O_RDONLY : O_WRONLY);
	if (IS_ERR(migf->filp)) {
		ret = PTR_ERR(migf->filp);
		tern_core_buf_free(migf->buf);
		kfree(migf);
		return ERR_PTR(ret);
	}
	stream_open(migf->filp->f_inode, migf->filp);
	mutex_init(&migf->lock);
	init_waitqueue_head(&migf->poll_wait);
	INIT_DELAYED_WORK(&migf->poll_recheck, tern_poll_recheck);
	INIT_WORK(&migf->prefetch, tern_save_prefetch);
	migf->saving = saving;
	migf->rec_end = sizeof(struct tern_stream_hdr);
	migf->tvf = tvf;
	/* the file may outlive the device's registration */
	get_device(&tvf->core_device.vdev.device);
	return migf;
}

/* End a file's session for good; drops the driver's file reference. */
static void tern_mig_file_disable(struct tern_mig_file **slot)
{
	struct tern_mig_file *migf = *slot;

	if (!migf)
		return;
	mutex_lock(&migf->lock);
	WRITE_ONCE(migf->disabled, true);
	tern_core_buf_free(migf->buf);
	migf->buf = NULL;
	migf->buf_len = 0;
	migf->buf_off = 0;
	mutex_unlock(&migf->lock);
	wake_up_interruptible(&migf->poll_wait);
	cancel_delayed_work_sync(&migf->poll_recheck);
	cancel_work_sync(&migf->prefetch);
	fput(migf->filp);
	*slot = NULL;
}

/*
 * The device was reset, which ended its firmware sessions. This runs from
 * reset_done, under vfio-pci-core's memory_lock, so it must not take
 * migf->lock (held across copy_to_user(), which may fault on a BAR mmap
 * that takes memory_lock): mark the file dead and let its I/O notice.
 */
void tern_mig_file_orphan(struct tern_mig_file **slot)
{
	struct tern_mig_file *migf = *slot;

	if (!migf)
		return;
	WRITE_ONCE(migf->disabled, true);
	wake_up_interruptible(&migf->poll_wait);
	fput(migf->filp);
	*slot = NULL;
}

static void tern_save_file_close(struct tern_vf *tvf)
{
	struct tern_mig_file *migf = tvf->save_file;

	if (!migf)
		return;
	mutex_lock(&migf->lock);
	tvf->stats.precopy_bytes += migf->precopy_bytes;
	tvf->stats.precopy_passes += migf->precopy_passes;
	tvf->stats.stopcopy_bytes += migf->offset - migf->precopy_bytes;
	mutex_unlock(&migf->lock);
	tern_mig_file_disable(&tvf->save_file);
}

void tern_vf_disable_files(struct tern_vf *tvf)
{
	tern_save_file_close(tvf);
	if (tvf->resume_file)
		tvf->stats.loaded_bytes += tvf->resume_file->offset;
	tern_mig_file_disable(&tvf->resume_file);
}

/**
 * tern_vf_pay_save_end() - end a throw-away save session the firmware may hold
 * @tvf: the VF, with state_mutex held
 *
 * Return: 0, or the error of the SAVE_END (still owed then).
 */
int tern_vf_pay_save_end(struct tern_vf *tvf)
{
	int ret;

	if (!tvf->save_end_owed)
		return 0;
	ret = tern_vf_cmd_save_end(tvf);
	if (!ret)
		tvf->save_end_owed = false;
	return ret;
}

struct file *tern_save_start(struct tern_vf *tvf, u32 mode)
{
	struct tern_mig_file *migf;
	u64 initial = 0;
	int ret;

	ret = tern_vf_pay_save_end(tvf);
	if (ret)
		return ERR_PTR(ret);
	migf = tern_mig_file_create(tvf, true);
	if (IS_ERR(migf))
		return ERR_CAST(migf);
	ret = tern_vf_cmd_save_begin(tvf, mode, &initial);
	if (ret) {
		fput(migf->filp);
		return ERR_PTR(ret);
	}
	migf->initial_end = mode == TERN_SAVE_MODE_PRECOPY ? initial : 0;
	migf->frozen = mode == TERN_SAVE_MODE_STOPCOPY;
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

	/* a background SAVE_READ may see the stream end before we do */
	mutex_lock(&migf->lock);
	migf->freezing = true;
	mutex_unlock(&migf->lock);
	ret = tern_vf_cmd_freeze(tvf);
	mutex_lock(&migf->lock);
	migf->freezing = false;
	migf->frozen = !ret;
	mutex_unlock(&migf->lock);
	if (ret)
		return ret;
	/* the stream's tail is there to read now */
	wake_up_interruptible(&migf->poll_wait);
	return 0;
}

struct file *tern_resume_start(struct tern_vf *tvf)
{
	struct tern_mig_file *migf;
	int ret;

	migf = tern_mig_file_create(tvf, false);
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
	ret = tern_resume_flush(migf);
	mutex_unlock(&migf->lock);
	if (ret)
		tern_vf_cmd_load_abort(tvf);
	else
		ret = tern_vf_cmd_load_commit(tvf);
	tvf->stats.loaded_bytes += migf->offset;
	tern_mig_file_disable(&tvf->resume_file);
	return ret;
}

