/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern-vfio-pci: the VF device state shared by the driver's files.
 *
 * main.c        vfio glue, probe/remove, open/close, PCI reset hooks
 * state.c       the reset protocol: state_mutex, resets, owed commands
 * lm.c          migration state machine
 * mig_file.c    the migration data files' life and ring of chunk buffers
 * save_file.c   the save file: read(), poll(), PRECOPY_INFO
 * resume_file.c the resume file: write()
 * dirty.c       DMA dirty-page logging (vfio log ops)
 * cmds.c        firmware command wrappers
 */
#ifndef _TERN_VFIO_H
#define _TERN_VFIO_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <linux/vfio_pci_core.h>
#include <linux/tern/tern_core.h>

struct tern_mig_file;
struct tern_save_sizes;

/**
 * struct tern_mig_stats - per-VF migration counters (debugfs)
 * @save_sessions: save files created
 * @load_sessions: resume files created
 * @precopy_bytes: stream bytes read while in PRE_COPY(_P2P)
 * @stopcopy_bytes: stream bytes read while in STOP_COPY
 * @loaded_bytes: stream bytes written to resume files
 * @precopy_passes: times pre-copy data ran out (-ENOMSG returned)
 * @failures: arcs that failed
 */
struct tern_mig_stats {
	u64 save_sessions;
	u64 load_sessions;
	u64 precopy_bytes;
	u64 stopcopy_bytes;
	u64 loaded_bytes;
	u64 precopy_passes;
	u64 failures;
};

/**
 * struct tern_dirty_stats - DMA logging counters (debugfs)
 * @starts: logging sessions started
 * @reports: log_read_and_clear() calls (one per DMA_LOGGING_REPORT)
 * @reads: DIRTY_READ_CLEAR commands sent
 * @pages_reported: tracking pages reported dirty
 * @bitmap_bytes: bitmap buffer memory held now
 * @carried: tracking pages held back for a later report (see @carry)
 * @failures: log operations that returned an error
 */
struct tern_dirty_stats {
	u64 starts;
	u64 reports;
	u64 reads;
	u64 pages_reported;
	u64 bitmap_bytes;
	u64 carried;
	u64 failures;
};

/**
 * struct tern_dirty_span - one range the firmware tracks
 * @start: first IOVA, aligned to the tracking page size
 * @end: IOVA after the range, aligned, below 2^64
 */
struct tern_dirty_span {
	u64 start;
	u64 end;
};

/**
 * struct tern_dirty - DMA dirty-page logging state
 * @active: a logging session is on (DIRTY_START succeeded; no log_stop,
 *	reset, close or ERROR since)
 * @broken: a DIRTY_READ_CLEAR ended without an answer, or a firmware
 *	reset forgot the session while the VF ran on: bits may be lost, so
 *	reports fail until logging is restarted
 * @page_shift: log2 of the tracking page size
 * @nranges: entries of @ranges in use
 * @ranges: the tracked ranges, sorted, disjoint
 * @bitmap: PF-owned buffer the firmware reports into, sized for the
 *	largest range and at most one command's bitmap
 * @carry: tracking pages the device reported and cleared while a report
 *	covered them only in part; they are reported again until a report
 *	covers them whole (never a false negative)
 * @stats: counters
 */
struct tern_dirty {
	bool active;
	bool broken;
	u32 page_shift;
	u32 nranges;
	struct tern_dirty_span ranges[TERN_DIRTY_MAX_RANGES];
	struct tern_dma_buf *bitmap;
	struct xarray carry;
	struct tern_dirty_stats stats;
};

/**
 * struct tern_vf_compat - what a stream must match to load on a VF
 * @vendor_id: the VF's PCI vendor ID
 * @device_id: the VF's PCI device ID
 * @page_size: device memory page size
 * @devmem_size: device memory bytes
 * @ctx_regs: context registers
 * @fifo_depth: engine descriptors fetched ahead
 * @stream_version: the version a save from this VF produces
 * @stream_version_min: the oldest version a load on this VF accepts
 *
 * Taken from the PF's IDENTIFY when the VF is bound; the stream version
 * range is the firmware's, which is the PF's for as long as it is bound.
 */
struct tern_vf_compat {
	u16 vendor_id;
	u16 device_id;
	u32 page_size;
	u64 devmem_size;
	u32 ctx_regs;
	u32 fifo_depth;
	u16 stream_version;
	u16 stream_version_min;
};

/**
 * struct tern_vf - one tern VF bound to tern-vfio-pci
 * @core_device: vfio-pci core state (must be first for container_of)
 * @core: the PF, which executes firmware commands for this VF
 * @vf_index: this VF's index on the PF
 * @compat: what a stream must match to load here (migration_compat)
 * @state_mutex: serialises migration state changes; protects @core (set
 *	to NULL when the VF leaves its PF), @mig_state, @save_file,
 *	@resume_file, @owed, @fw_epoch, @dirty and @stats
 * @mig_state: the current VFIO migration state
 * @save_file: the open save file, if any (holds a file reference)
 * @resume_file: the open resume file, if any (holds a file reference)
 * @owed: TERN_OWE_* firmware commands to send before anything else
 *	(state.c): what a reset or a timed-out command may have left behind
 * @owed_after_late: TERN_OWE_* paid while a command the driver gave up
 *	on was still out (it may run after them): owed again once it is not
 * @fw_epoch: tern_core_epoch() when the VF's firmware sessions were last
 *	known to the driver (see tern_vf_state_mutex_lock())
 * @fw_vf_epoch: tern_core_vf_epoch() at the same time
 * @reset_lock: protects @in_reset, @acted_in_reset, @deferred_reset and
 *	@orphans
 * @in_reset: between reset_prepare and reset_done
 * @acted_in_reset: state_mutex was held or taken while @in_reset
 * @deferred_reset: a reset happened while @state_mutex was held elsewhere
 * @orphans: files a reset ended, not yet reaped
 * @owed_work: pays @owed when only reset_done saw the debt
 * @dirty: DMA logging state
 * @stats: migration counters
 * @debugfs: this VF's debugfs directory, <debugfs>/vfio/<VF>/migration/tern
 *	(<debugfs>/tern_vfio_pci/<VF> without CONFIG_VFIO_DEBUGFS)
 */
struct tern_vf {
	struct vfio_pci_core_device core_device;
	struct tern_core *core;
	u16 vf_index;
	struct tern_vf_compat compat;

	struct mutex state_mutex;	/* see above; taken before migf->lock */
	enum vfio_device_mig_state mig_state;
	struct tern_mig_file *save_file;
	struct tern_mig_file *resume_file;
	unsigned int owed;
	unsigned int owed_after_late;
	u32 fw_epoch;
	u32 fw_vf_epoch;

	spinlock_t reset_lock;		/* see above */
	bool in_reset;
	bool acted_in_reset;
	bool deferred_reset;
	struct list_head orphans;
	struct work_struct owed_work;

	struct tern_dirty dirty;
	struct tern_mig_stats stats;
	struct dentry *debugfs;
};

static inline struct tern_vf *tern_vf_from_vdev(struct vfio_device *vdev)
{
	return container_of(vdev, struct tern_vf, core_device.vdev);
}

static inline struct device *tern_vf_dev(struct tern_vf *tvf)
{
	return &tvf->core_device.pdev->dev;
}

/* lm.c */
extern const struct vfio_migration_ops tern_vf_mig_ops;
void tern_vf_mig_init(struct tern_vf *tvf);
void tern_vf_mig_release(struct tern_vf *tvf);
void tern_vf_mig_debugfs_init(struct tern_vf *tvf);
void tern_vf_mig_reset(struct tern_vf *tvf);

/* state.c: the reset protocol */
#define TERN_OWE_SAVE_END	BIT(0)	/* a save session may be open */
#define TERN_OWE_LOAD_ABORT	BIT(1)	/* a load session may be open */
#define TERN_OWE_RUN		BIT(2)	/* the VF may be quiesced or frozen */
#define TERN_OWE_DIRTY_STOP	BIT(3)	/* the firmware may still be tracking */
void tern_vf_state_init(struct tern_vf *tvf);
void tern_vf_state_detach(struct tern_vf *tvf);
void tern_vf_state_release(struct tern_vf *tvf);
void tern_vf_state_mutex_lock(struct tern_vf *tvf);
void tern_vf_state_mutex_unlock(struct tern_vf *tvf);
void tern_vf_reset_prepare(struct tern_vf *tvf);
void tern_vf_reset_done(struct tern_vf *tvf);
bool tern_vf_reset_pending(struct tern_vf *tvf);
void tern_vf_owe(struct tern_vf *tvf, unsigned int cmds);
int tern_vf_pay_owed(struct tern_vf *tvf);
bool tern_vf_owes(struct tern_vf *tvf, unsigned int cmds);
int tern_vf_pay_by_reset(struct tern_vf *tvf);

/* mig_file.c: the save and resume files (callers hold state_mutex) */
struct file *tern_save_start(struct tern_vf *tvf, u32 mode);
int tern_save_freeze(struct tern_vf *tvf);
int tern_save_stop(struct tern_vf *tvf);
int tern_save_query_sizes(struct tern_vf *tvf, struct tern_save_sizes *sizes);
struct file *tern_resume_start(struct tern_vf *tvf);
void tern_vf_compat_init(struct tern_vf *tvf, struct pci_dev *pdev);
int tern_resume_commit(struct tern_vf *tvf);
void tern_vf_disable_files(struct tern_vf *tvf);
void tern_mig_file_orphan(struct tern_vf *tvf, struct tern_mig_file **slot);
void tern_vf_reap_orphans(struct tern_vf *tvf);

/* dirty.c */
extern const struct vfio_log_ops tern_vf_log_ops;
void tern_vf_dirty_init(struct tern_vf *tvf);
void tern_vf_dirty_debugfs_init(struct tern_vf *tvf);
void tern_vf_dirty_close(struct tern_vf *tvf);
bool tern_vf_dirty_lost(struct tern_vf *tvf);
bool tern_vf_dirty_forgotten(struct tern_vf *tvf);

#endif /* _TERN_VFIO_H */
