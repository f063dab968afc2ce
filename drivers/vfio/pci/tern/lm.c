// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: live migration state machine.
 *
 * The state machine walks vfio_mig_get_next_state() one arc at a time; each
 * arc is one or two firmware commands, and the arcs that start or end a
 * save or resume session do so through mig_file.c.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "cmds.h"
#include "tern_vfio.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

static struct file *tern_errno_file(int ret)
{
	return ret ? ERR_PTR(ret) : NULL;
}

/*
 * One arc of the state machine, in the order of enum vfio_device_mig_state's
 * documentation. Returns the new data file for arcs that create one.
 */
static struct file *tern_vf_step(struct tern_vf *tvf, u32 cur, u32 next)
{
	if (cur == VFIO_DEVICE_STATE_RUNNING &&
	    next == VFIO_DEVICE_STATE_RUNNING_P2P)
		return tern_errno_file(tern_vf_cmd_quiesce(tvf));
	if (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	    next == VFIO_DEVICE_STATE_STOP)
		return tern_errno_file(tern_vf_cmd_freeze(tvf));
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_RUNNING_P2P)
		return tern_errno_file(tern_vf_cmd_quiesce(tvf));
	if (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	    next == VFIO_DEVICE_STATE_RUNNING)
		return tern_errno_file(tern_vf_cmd_run(tvf));
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_STOP_COPY)
		return tern_save_start(tvf, TERN_SAVE_MODE_STOPCOPY);
	if (cur == VFIO_DEVICE_STATE_STOP_COPY &&
	    next == VFIO_DEVICE_STATE_STOP)
		return tern_errno_file(tern_save_stop(tvf));
	if (cur == VFIO_DEVICE_STATE_STOP &&
	    next == VFIO_DEVICE_STATE_RESUMING)
		return tern_resume_start(tvf);
	if (cur == VFIO_DEVICE_STATE_RESUMING &&
	    next == VFIO_DEVICE_STATE_STOP)
		return tern_errno_file(tern_resume_commit(tvf));
	if ((cur == VFIO_DEVICE_STATE_RUNNING &&
	     next == VFIO_DEVICE_STATE_PRE_COPY) ||
	    (cur == VFIO_DEVICE_STATE_RUNNING_P2P &&
	     next == VFIO_DEVICE_STATE_PRE_COPY_P2P))
		return tern_save_start(tvf, TERN_SAVE_MODE_PRECOPY);
	if ((cur == VFIO_DEVICE_STATE_PRE_COPY &&
	     next == VFIO_DEVICE_STATE_RUNNING) ||
	    (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P &&
	     next == VFIO_DEVICE_STATE_RUNNING_P2P))
		return tern_errno_file(tern_save_stop(tvf));
	if (cur == VFIO_DEVICE_STATE_PRE_COPY &&
	    next == VFIO_DEVICE_STATE_PRE_COPY_P2P)
		return tern_errno_file(tern_vf_cmd_quiesce(tvf));
	if (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P &&
	    next == VFIO_DEVICE_STATE_PRE_COPY)
		return tern_errno_file(tern_vf_cmd_run(tvf));
	if (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P &&
	    next == VFIO_DEVICE_STATE_STOP_COPY)
		return tern_errno_file(tern_save_freeze(tvf));

	/* vfio_mig_get_next_state() only hands out the arcs above */
	WARN_ON_ONCE(1);
	return ERR_PTR(-EINVAL);
}

/* the arcs that end a save session: the save file goes before SAVE_END */
static bool tern_arc_ends_save(u32 cur, u32 next)
{
	return (cur == VFIO_DEVICE_STATE_PRE_COPY &&
		next == VFIO_DEVICE_STATE_RUNNING) ||
	       (cur == VFIO_DEVICE_STATE_PRE_COPY_P2P &&
		next == VFIO_DEVICE_STATE_RUNNING_P2P) ||
	       (cur == VFIO_DEVICE_STATE_STOP_COPY &&
		next == VFIO_DEVICE_STATE_STOP);
}

/*
 * Whether a failed arc left the device where it was. The firmware
 * guarantees a command that returned a status had no effect; a timeout, a
 * vanished PF or a failed commit (which resets the VF) leave a state the
 * driver cannot name, which is ERROR. So does a failed SAVE_END: the save
 * file is already closed, and a save state without one is no state.
 */
static bool tern_arc_rolled_back(u32 cur, u32 next, int err)
{
	if (err == -ETIMEDOUT || err == -ENODEV)
		return false;
	if (tern_arc_ends_save(cur, next))
		return false;
	return !(cur == VFIO_DEVICE_STATE_RESUMING &&
		 next == VFIO_DEVICE_STATE_STOP);
}

static struct file *tern_vf_set_state(struct vfio_device *vdev,
				      enum vfio_device_mig_state new)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	struct pci_dev *pdev = tvf->core_device.pdev;
	struct file *res = NULL;
	enum vfio_device_mig_state next;
	u64 start;
	int ret;

	tern_vf_state_mutex_lock(tvf);
	/* no I/O of a file a reset ended runs into the sessions of this arc */
	tern_vf_reap_orphans(tvf);
	/* ERROR is left only by a reset, and is never a target */
	if (new == VFIO_DEVICE_STATE_ERROR ||
	    tvf->mig_state == VFIO_DEVICE_STATE_ERROR)
		res = ERR_PTR(-EINVAL);
	while (!res && tvf->mig_state != new) {
		ret = vfio_mig_get_next_state(vdev, tvf->mig_state, new, &next);
		if (ret) {
			res = ERR_PTR(ret);
			break;
		}
		start = ktime_get_ns();
		res = tern_vf_step(tvf, tvf->mig_state, next);
		ret = PTR_ERR_OR_ZERO(res);
		trace_tern_vf_arc(pdev, tvf->mig_state, next, ret,
				  ktime_get_ns() - start);
		if (ret) {
			tvf->stats.failures++;
			dev_err_ratelimited(&pdev->dev,
					    "migration arc %u -> %u failed: %pe\n",
					    tvf->mig_state, next, res);
			if (!tern_arc_rolled_back(tvf->mig_state, next, ret)) {
				tern_vf_disable_files(tvf);
				tvf->mig_state = VFIO_DEVICE_STATE_ERROR;
			}
			break;
		}
		tvf->mig_state = next;
		if (WARN_ON(res && new != tvf->mig_state)) {
			fput(res);
			res = ERR_PTR(-EINVAL);
			break;
		}
	}
	tern_vf_state_mutex_unlock(tvf);
	return res;
}

static int tern_vf_get_state(struct vfio_device *vdev,
			     enum vfio_device_mig_state *state)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);

	tern_vf_state_mutex_lock(tvf);
	*state = tvf->mig_state;
	tern_vf_state_mutex_unlock(tvf);
	return 0;
}

/*
 * The most a stop-copy can transfer, from the stream format alone: every
 * device-memory page in full PAGES records, then REGS, ENGINE and END.
 */
static u64 tern_vf_data_size_bound(struct tern_vf *tvf)
{
	u64 pages = pci_resource_len(tvf->core_device.pdev,
				     TERN_VF_BAR_DEVMEM) / TERN_DEVMEM_PAGE_SIZE;

	return sizeof(struct tern_stream_hdr) +
	       DIV_ROUND_UP(pages, TERN_REC_MAX_PAGES) *
	       (sizeof(struct tern_rec_hdr) + sizeof(struct tern_rec_pages)) +
	       pages * TERN_DEVMEM_PAGE_SIZE +
	       3 * sizeof(struct tern_rec_hdr) + sizeof(struct tern_rec_regs) +
	       sizeof(struct tern_rec_engine);
}

/*
 * What STOP_COPY would transfer now, as the firmware counts it. The uAPI
 * allows the query in every state: while RESUMING (the firmware's session
 * is a load) and in ERROR there is no save to ask about, and the answer is
 * the most the stream format allows.
 */
static int tern_vf_get_data_size(struct vfio_device *vdev,
				 unsigned long *stop_copy_length)
{
	struct tern_vf *tvf = tern_vf_from_vdev(vdev);
	struct tern_save_sizes sizes;
	u32 mode;
	int ret;

	tern_vf_state_mutex_lock(tvf);
	if (tvf->save_file) {
		ret = tern_save_query_sizes(tvf, &sizes);
		goto out;
	}
	switch (tvf->mig_state) {
	case VFIO_DEVICE_STATE_RUNNING:
	case VFIO_DEVICE_STATE_RUNNING_P2P:
		mode = TERN_SAVE_MODE_PRECOPY;
		break;
	case VFIO_DEVICE_STATE_STOP:
		mode = TERN_SAVE_MODE_STOPCOPY;
		break;
	default:
		sizes.total_bytes = tern_vf_data_size_bound(tvf);
		ret = 0;
		goto out;
	}
	/*
	 * No session open: a throw-away one asks the firmware. No I/O of a
	 * file a reset ended may run into it, and nothing owed may be ahead.
	 */
	tern_vf_reap_orphans(tvf);
	ret = tern_vf_pay_owed(tvf);
	if (ret)
		goto out;
	ret = tern_vf_cmd_save_begin(tvf, mode, NULL);
	if (ret) {
		/* a SAVE_BEGIN that timed out may run late */
		if (ret == -ETIMEDOUT)
			tern_vf_owe(tvf, TERN_OWE_SAVE_END);
		goto out;
	}
	ret = tern_vf_cmd_save_query(tvf, &sizes);
	tern_vf_owe(tvf, TERN_OWE_SAVE_END);
	tern_vf_pay_owed(tvf);
out:
	if (!ret)
		*stop_copy_length = sizes.total_bytes;
	tern_vf_state_mutex_unlock(tvf);
	return ret;
}

const struct vfio_migration_ops tern_vf_mig_ops = {
	.migration_set_state = tern_vf_set_state,
	.migration_get_state = tern_vf_get_state,
	.migration_get_data_size = tern_vf_get_data_size,
};

/**
 * tern_vf_mig_reset() - put migration back to RUNNING with no session
 * @tvf: the VF
 *
 * Used when the device is closed: whatever a VMM left half done is ended
 * in the firmware too (VF_RESET ends sessions and runs the VF).
 */
void tern_vf_mig_reset(struct tern_vf *tvf)
{
	tern_vf_state_mutex_lock(tvf);
	if (tvf->mig_state != VFIO_DEVICE_STATE_RUNNING || tvf->save_file ||
	    tvf->resume_file || tvf->owed)
		tern_vf_pay_by_reset(tvf);
	tern_vf_disable_files(tvf);
	tvf->mig_state = VFIO_DEVICE_STATE_RUNNING;
	tern_vf_state_mutex_unlock(tvf);
}

static int tern_vf_mig_stats_show(struct seq_file *m, void *unused)
{
	struct tern_vf *tvf = m->private;
	struct tern_mig_stats st;

	tern_vf_state_mutex_lock(tvf);
	st = tvf->stats;
	tern_vf_state_mutex_unlock(tvf);
	seq_printf(m, "save_sessions %llu\nload_sessions %llu\n",
		   st.save_sessions, st.load_sessions);
	seq_printf(m, "precopy_bytes %llu\nstopcopy_bytes %llu\nloaded_bytes %llu\n",
		   st.precopy_bytes, st.stopcopy_bytes, st.loaded_bytes);
	seq_printf(m, "precopy_passes %llu\nfailures %llu\n",
		   st.precopy_passes, st.failures);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tern_vf_mig_stats);

/**
 * tern_vf_mig_debugfs_init() - the "counters" debugfs file
 * @tvf: the VF, with its debugfs directory created
 *
 * Counters of finished sessions: bytes per phase, pre-copy passes (times
 * pre-copy data ran out), failed arcs. The state is the vfio core's
 * (<debugfs>/vfio/<VF>/migration/state).
 */
void tern_vf_mig_debugfs_init(struct tern_vf *tvf)
{
	debugfs_create_file("counters", 0444, tvf->debugfs, tvf,
			    &tern_vf_mig_stats_fops);
}

void tern_vf_mig_init(struct tern_vf *tvf)
{
	struct vfio_device *vdev = &tvf->core_device.vdev;

	tern_vf_state_init(tvf);
	tvf->mig_state = VFIO_DEVICE_STATE_RUNNING;
	vdev->migration_flags = VFIO_MIGRATION_STOP_COPY | VFIO_MIGRATION_P2P |
				VFIO_MIGRATION_PRE_COPY;
	vdev->mig_ops = &tern_vf_mig_ops;
}

void tern_vf_mig_release(struct tern_vf *tvf)
{
	tern_vf_state_release(tvf);
}
