// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: the save and resume files of a migration session, their
 * life (created by an arc, ended by the next one, orphaned by a reset,
 * released at close) and their ring of chunk buffers.
 *
 * Each file owns a ring of chunk buffers (module parameters depth and
 * chunk_kb) and keeps the firmware busy with them while userspace copies:
 * the save file has SAVE_READs of the next chunks queued while read()
 * copies out the current one (save_file.c), the resume file hands a full
 * chunk to LOAD_WRITE and goes on filling the next one (resume_file.c).
 * The firmware runs a VF's commands in submission order, so the ring's
 * order is the stream's. The kernel holds at most depth chunks per file,
 * whatever the device state size. The stream is the device's own format:
 * the driver follows its framing (record lengths) but checks nothing; the
 * firmware validates every record.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/module.h>

#include "mig_file.h"
#include "tern_vfio.h"

static unsigned int chunk_kb = 1024;
module_param(chunk_kb, uint, 0644);
MODULE_PARM_DESC(chunk_kb,
		 "Size of each migration data buffer, KiB (4..1024, default 1024)");

static unsigned int depth = 4;
module_param(depth, uint, 0644);
MODULE_PARM_DESC(depth,
		 "Migration data buffers per open save or resume file, each a firmware command in flight (1..16, default 4)");

static size_t tern_chunk_size(void)
{
	return clamp_t(size_t, READ_ONCE(chunk_kb), 4, TERN_MAX_CHUNK >> 10) << 10;
}

/*
 * Give the ring back: commands still in flight are abandoned (their
 * buffers stay the device's until it answers), the buffers freed, now or
 * (@deferred) by the PF's work item.
 */
static void tern_mig_chunks_release(struct tern_mig_file *migf, bool deferred)
{
	unsigned int i;

	if (migf->poll_req_out)
		tern_core_abandon(&migf->poll_req);
	migf->poll_req_out = false;
	if (!migf->chunks)
		return;
	for (i = 0; i < migf->depth; i++) {
		struct tern_mig_chunk *c = &migf->chunks[i];

		if (c->pending)
			tern_core_abandon(&c->req);
		c->pending = false;
		if (deferred)
			tern_core_buf_free_deferred(c->buf);
		else
			tern_core_buf_free(c->buf);
	}
	kfree(migf->chunks);
	migf->chunks = NULL;
}

static void tern_mig_chunks_free(struct tern_mig_file *migf)
{
	tern_mig_chunks_release(migf, false);
}

static int tern_mig_chunks_alloc(struct tern_mig_file *migf)
{
	unsigned int i;

	migf->depth = clamp_t(unsigned int, READ_ONCE(depth), 1, TERN_MAX_DEPTH);
	migf->chunks = kcalloc(migf->depth, sizeof(*migf->chunks),
			       GFP_KERNEL_ACCOUNT);
	if (!migf->chunks)
		return -ENOMEM;
	for (i = 0; i < migf->depth; i++) {
		struct tern_dma_buf *buf;

		buf = tern_core_buf_alloc(migf->tvf->core, tern_chunk_size());
		if (IS_ERR(buf)) {
			tern_mig_chunks_free(migf);
			return PTR_ERR(buf);
		}
		migf->chunks[i].buf = buf;
		/* an answer makes the file readable or writable again */
		migf->chunks[i].req.wake = &migf->poll_wait;
	}
	return 0;
}

/*
 * Entry of read() and write(): streams have no position, and a file whose
 * session ended fails; with @nonblock, a file another call holds is busy.
 * Returns 0 with @migf->lock held, or an error.
 */
int tern_mig_file_lock(struct tern_mig_file *migf, loff_t *pos, bool nonblock)
{
	if (pos)
		return -ESPIPE;
	if (!nonblock)
		mutex_lock(&migf->lock);
	else if (!mutex_trylock(&migf->lock))
		return -EAGAIN;
	if (tern_mig_file_gone(migf)) {
		mutex_unlock(&migf->lock);
		return -ENODEV;
	}
	return 0;
}

static void tern_poll_recheck(struct work_struct *work)
{
	struct tern_mig_file *migf = container_of(to_delayed_work(work),
						  struct tern_mig_file,
						  poll_recheck);

	wake_up_interruptible(&migf->poll_wait);
}

/* poll() looks again in a moment: its sleepers are woken then. */
void tern_mig_file_poll_later(struct tern_mig_file *migf)
{
	mod_delayed_work(system_wq, &migf->poll_recheck,
			 msecs_to_jiffies(TERN_POLL_RECHECK_MS));
}

/*
 * The opening of poll(): register the sleeper and take the file without
 * sleeping, as a read() or write() may hold it across firmware waits.
 * Returns whether @migf->lock is held; if not, poll() reports nothing now
 * and looks again later.
 */
bool tern_mig_file_poll_lock(struct tern_mig_file *migf, struct file *filp,
			     poll_table *wait)
{
	poll_wait(filp, &migf->poll_wait, wait);
	if (mutex_trylock(&migf->lock))
		return true;
	tern_mig_file_poll_later(migf);
	return false;
}

int tern_mig_file_release(struct inode *inode, struct file *filp)
{
	struct tern_mig_file *migf = filp->private_data;

	cancel_delayed_work_sync(&migf->poll_recheck);
	tern_mig_chunks_free(migf);
	mutex_destroy(&migf->lock);
	put_device(&migf->tvf->core_device.vdev.device);
	kfree(migf);
	return 0;
}

struct tern_mig_file *tern_mig_file_create(struct tern_vf *tvf, bool saving,
					   const struct file_operations *fops)
{
	struct tern_mig_file *migf;
	int ret;

	migf = kzalloc(sizeof(*migf), GFP_KERNEL_ACCOUNT);
	if (!migf)
		return ERR_PTR(-ENOMEM);
	migf->tvf = tvf;
	ret = tern_mig_chunks_alloc(migf);
	if (ret) {
		kfree(migf);
		return ERR_PTR(ret);
	}
	migf->filp = anon_inode_getfile(saving ? "tern_vf_save" : "tern_vf_resume",
					fops,
					migf, saving ? O_RDONLY : O_WRONLY);
	if (IS_ERR(migf->filp)) {
		ret = PTR_ERR(migf->filp);
		tern_mig_chunks_free(migf);
		kfree(migf);
		return ERR_PTR(ret);
	}
	stream_open(migf->filp->f_inode, migf->filp);
	mutex_init(&migf->lock);
	init_waitqueue_head(&migf->poll_wait);
	INIT_DELAYED_WORK(&migf->poll_recheck, tern_poll_recheck);
	migf->saving = saving;
	migf->epoch = tvf->fw_epoch;
	migf->rec_end = sizeof(struct tern_stream_hdr);
	/* the file may outlive the device's registration */
	get_device(&tvf->core_device.vdev.device);
	return migf;
}

/*
 * End a file's session for good: wait for an I/O call that holds the file,
 * give the ring back (@deferred: see tern_mig_file_retire()) and drop the
 * driver's file reference.
 */
static void tern_mig_file_end(struct tern_mig_file *migf, bool deferred)
{
	mutex_lock(&migf->lock);
	WRITE_ONCE(migf->disabled, true);
	tern_mig_chunks_release(migf, deferred);
	mutex_unlock(&migf->lock);
	wake_up_interruptible(&migf->poll_wait);
	cancel_delayed_work_sync(&migf->poll_recheck);
	fput(migf->filp);
}

void tern_mig_file_disable(struct tern_mig_file **slot)
{
	if (!*slot)
		return;
	tern_mig_file_end(*slot, false);
	*slot = NULL;
}

/*
 * tern_mig_file_disable() for the arc that ends the load on the
 * destination (RESUMING -> STOP), inside the downtime: the ring's
 * buffers are unmapped and freed by the PF's work item once the VM runs,
 * not in the arc (1.5 to 3 ms for 4 MiB in the rig, performance.rst
 * "Where the downtime goes").
 */
void tern_mig_file_retire(struct tern_mig_file **slot)
{
	if (!*slot)
		return;
	tern_mig_file_end(*slot, true);
	*slot = NULL;
}

/*
 * The device was reset, which ended its firmware sessions. This runs from
 * reset_done, under vfio-pci-core's memory_lock, so it must not take
 * migf->lock (held across copy_to_user(), which may fault on a BAR mmap
 * that takes memory_lock): mark the file dead, which its I/O notices
 * before every command, and leave it with the driver's reference on
 * @tvf->orphans until tern_vf_reap_orphans().
 */
void tern_mig_file_orphan(struct tern_vf *tvf, struct tern_mig_file **slot)
{
	struct tern_mig_file *migf = *slot;

	if (!migf)
		return;
	WRITE_ONCE(migf->disabled, true);
	wake_up_interruptible(&migf->poll_wait);
	spin_lock(&tvf->reset_lock);
	list_add_tail(&migf->orphan_node, &tvf->orphans);
	spin_unlock(&tvf->reset_lock);
	*slot = NULL;
}

/**
 * tern_vf_reap_orphans() - end the files a reset orphaned
 * @tvf: the VF; process context, never under vfio-pci-core's memory_lock
 *
 * Waits for I/O calls still running on them, and frees their PF-owned
 * buffers now rather than when userspace closes them: before a new
 * session (no old read() or write() sends commands into it), and at
 * close (the PF may be unbound once its VFs are closed).
 */
void tern_vf_reap_orphans(struct tern_vf *tvf)
{
	struct tern_mig_file *migf, *next;
	LIST_HEAD(orphans);

	spin_lock(&tvf->reset_lock);
	list_splice_init(&tvf->orphans, &orphans);
	spin_unlock(&tvf->reset_lock);
	list_for_each_entry_safe(migf, next, &orphans, orphan_node) {
		list_del(&migf->orphan_node);
		tern_mig_file_end(migf, false);
	}
}

void tern_save_file_close(struct tern_vf *tvf)
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
