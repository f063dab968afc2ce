/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern-vfio-pci: a migration data file and its ring of chunk buffers,
 * shared by the save file (save_file.c) and the resume file
 * (resume_file.c); mig_file.c creates and ends them.
 */
#ifndef _TERN_VFIO_MIG_FILE_H
#define _TERN_VFIO_MIG_FILE_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/tern/tern_core.h>

#include "tern_vfio.h"

struct tern_vf;

/* most chunk buffers a file's ring has (module parameter depth) */
#define TERN_MAX_DEPTH	16

/*
 * how often poll() asks again when the device raises no event for what it
 * waits on (new pre-copy data, an answer, a free chunk)
 */
#define TERN_POLL_RECHECK_MS	10

/**
 * struct tern_mig_chunk - one chunk buffer of a file's ring
 * @buf: PF-owned buffer (NULL once the file is disabled)
 * @req: its SAVE_READ or LOAD_WRITE while @pending
 * @pending: submitted, answer not yet collected
 * @frozen: save: submitted after the VF was frozen (no NO_DATA then)
 * @err: save: the error this chunk reports to read(), in stream order
 * @len: save: bytes the firmware answered; resume: bytes filled
 * @off: save: bytes already copied to userspace
 * @flags: save: the answer's TERN_SAVE_F_* flags
 */
struct tern_mig_chunk {
	struct tern_dma_buf *buf;
	struct tern_core_req req;
	bool pending;
	bool frozen;
	int err;
	size_t len;
	size_t off;
	u32 flags;
};

/**
 * struct tern_mig_file - a save or resume data file
 * @filp: the anon file handed to userspace
 * @tvf: the VF (kept alive by a device reference)
 * @lock: protects every field below
 * @disabled: the session ended; I/O fails with -ENODEV. Also set without
 *	@lock by a reset (see tern_mig_file_orphan())
 * @epoch: tern_core_epoch() of the firmware that holds the session: a PF
 *	reset ends the session as surely as @disabled (tern_mig_file_gone())
 * @saving: a save file (else a resume file)
 * @freezing: save: VF_FREEZE is on its way; the firmware may end the stream
 * @frozen: save: the VF is frozen, the stream runs to its END
 * @end_seen: save: an answer carried END; nothing more is asked for
 * @end: save: END was delivered; read() returns 0
 * @depth: entries of @chunks
 * @chunks: the ring. Free-running indices, oldest first: save:
 *	[@head, @coll) answered, [@coll, @tail) in flight; resume:
 *	[@head, @tail) in flight, @tail is being filled
 * @head: see @chunks
 * @coll: see @chunks
 * @tail: see @chunks
 * @fw_end: save: stream offset after the last answer collected
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
 * @stream_hdr: resume: the stream header, as far as written (checked
 *	against the VF when complete, before the firmware sees any of it)
 * @poll_wait: poll() sleepers
 * @poll_recheck: wakes poll() sleepers to ask the firmware again
 * @poll_asked: save: when poll() last had a SAVE_QUERY answered (jiffies)
 * @poll_mask: save: what that SAVE_QUERY made poll() report
 * @poll_req: save: poll()'s SAVE_QUERY, sent without waiting; its answer
 *	wakes @poll_wait
 * @poll_req_out: save: @poll_req is submitted and not yet collected
 * @poll_fw_end: save: @fw_end when @poll_req was sent (no SAVE_READ out)
 * @orphan_node: on @tvf->orphans (under its reset_lock) once a reset ended
 *	the file, until tern_vf_reap_orphans()
 */
struct tern_mig_file {
	struct file *filp;
	struct tern_vf *tvf;
	struct mutex lock;		/* the fields below */
	bool disabled;
	u32 epoch;
	bool saving;
	bool freezing;
	bool frozen;
	bool end_seen;
	bool end;
	unsigned int depth;
	struct tern_mig_chunk *chunks;
	unsigned int head;
	unsigned int coll;
	unsigned int tail;
	u64 fw_end;
	u64 initial_end;
	bool reinit;
	u64 offset;
	u64 precopy_bytes;
	u64 precopy_passes;
	int error;
	u64 rec_end;
	u8 rec_hdr[sizeof(struct tern_rec_hdr)];
	u8 rec_hdr_len;
	u8 stream_hdr[sizeof(struct tern_stream_hdr)];
	wait_queue_head_t poll_wait;
	struct delayed_work poll_recheck;
	unsigned long poll_asked;
	__poll_t poll_mask;
	struct tern_core_req poll_req;
	bool poll_req_out;
	u64 poll_fw_end;
	struct list_head orphan_node;
};

static inline struct tern_mig_chunk *tern_chunk(struct tern_mig_file *migf,
						unsigned int idx)
{
	return &migf->chunks[idx % migf->depth];
}

/* the session ended: a reset of the VF, or of the firmware under it */
static inline bool tern_mig_file_gone(struct tern_mig_file *migf)
{
	return READ_ONCE(migf->disabled) ||
	       migf->epoch != tern_core_epoch(migf->tvf->core);
}

/*
 * The result of a read() or write() that failed: whatever the firmware
 * said of a session a reset ended, the session is gone (-ENODEV, as for
 * every later call); -EAGAIN stays what it is.
 */
static inline int tern_mig_file_error(struct tern_mig_file *migf, int ret)
{
	if (ret && ret != -EAGAIN && tern_mig_file_gone(migf))
		return -ENODEV;
	return ret;
}

struct tern_mig_file *tern_mig_file_create(struct tern_vf *tvf, bool saving,
					   const struct file_operations *fops);
int tern_mig_file_lock(struct tern_mig_file *migf, loff_t *pos, bool nonblock);
int tern_mig_file_release(struct inode *inode, struct file *filp);
void tern_mig_file_poll_later(struct tern_mig_file *migf);
bool tern_mig_file_poll_lock(struct tern_mig_file *migf, struct file *filp,
			     poll_table *wait);
void tern_mig_file_disable(struct tern_mig_file **slot);
void tern_mig_file_retire(struct tern_mig_file **slot);
void tern_save_file_close(struct tern_vf *tvf);

#endif /* _TERN_VFIO_MIG_FILE_H */
