/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern-vfio-pci: the VF device state shared by the driver's files.
 *
 * main.c     vfio glue, probe/remove, open/close, reset_done
 * lm.c       migration state machine and the save/resume files
 * dirty.c    DMA dirty-page logging (vfio log ops)
 * cmds.c     firmware command wrappers
 */
#ifndef _TERN_VFIO_H
#define _TERN_VFIO_H

#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/vfio_pci_core.h>
#include <linux/tern/tern_core.h>

struct tern_mig_file;

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
 * struct tern_dirty - DMA dirty-page logging state
 * @active: DIRTY_START succeeded and no DIRTY_STOP since
 * @page_shift: log2 of the tracking page size
 * @bitmap: PF-owned buffer the firmware reports into
 */
struct tern_dirty {
	bool active;
	u32 page_shift;
	struct tern_dma_buf *bitmap;
};

/**
 * struct tern_vf - one tern VF bound to tern-vfio-pci
 * @core_device: vfio-pci core state (must be first for container_of)
 * @core: the PF, which executes firmware commands for this VF
 * @vf_index: this VF's index on the PF
 * @state_mutex: serialises migration state changes; protects @mig_state,
 *	@save_file, @resume_file, @dirty and @stats
 * @mig_state: the current VFIO migration state
 * @save_file: the open save file, if any (holds a file reference)
 * @resume_file: the open resume file, if any (holds a file reference)
 * @reset_lock: protects @deferred_reset
 * @deferred_reset: a reset happened while @state_mutex was held elsewhere
 * @dirty: DMA logging state
 * @stats: migration counters
 * @debugfs: this VF's debugfs directory
 */
struct tern_vf {
	struct vfio_pci_core_device core_device;
	struct tern_core *core;
	u16 vf_index;

	struct mutex state_mutex;	/* see above; taken before migf->lock */
	enum vfio_device_mig_state mig_state;
	struct tern_mig_file *save_file;
	struct tern_mig_file *resume_file;

	spinlock_t reset_lock;		/* deferred_reset */
	bool deferred_reset;

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
void tern_vf_state_mutex_unlock(struct tern_vf *tvf);
void tern_vf_mig_reset(struct tern_vf *tvf);

#endif /* _TERN_VFIO_H */
