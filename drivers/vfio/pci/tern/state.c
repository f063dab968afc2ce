// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: the reset protocol, in one place.
 *
 * Three things can change the VF under the migration state machine: a
 * reset of the VF (FLR, VFIO_DEVICE_RESET, a bus reset), a reset of the
 * firmware under it (a PF reset: tern_core_epoch() moves on), and a
 * firmware command that timed out and may still run. The driver keeps
 * the device and its own view in step with three rules:
 *
 * - Every holder of state_mutex takes it through tern_vf_state_mutex_lock(),
 *   which notices PF resets and pays what is owed, and drops it through
 *   tern_vf_state_mutex_unlock(), which applies the VF resets that found
 *   the mutex taken.
 * - A reset is applied at once when nobody holds the mutex (reset_done
 *   takes it with a trylock: it runs under vfio-pci-core's memory_lock and
 *   may neither sleep on the mutex nor send a command), else by the holder
 *   at unlock.
 * - Whatever the fresh VF may have been given after the reset (arcs run
 *   between reset_prepare and reset_done, or by a holder after the reset,
 *   or commands that timed out and run late) is undone by owed commands:
 *   SAVE_END, LOAD_ABORT and VF_RUN, each harmless when there is nothing
 *   to undo, paid in that order at the next lock (or by a work item when
 *   only reset_done saw them) until the firmware answers them. A DMA
 *   logging session the driver ended (or a DIRTY_START that timed out)
 *   owes a DIRTY_STOP the same way; a VF reset does not, as tracking
 *   outlives it. A command the driver gave up on may run after commands
 *   sent later (a stalled command does not hold up the queue), so what
 *   was paid while such a command was still out is owed again once the
 *   PF core says it is answered or dropped (tern_core_vf_abandoned()).
 */
#include <linux/workqueue.h>

#include "cmds.h"
#include "tern_vfio.h"

/* what a reset the VF may have missed owes */
#define TERN_OWE_UNDO	(TERN_OWE_SAVE_END | TERN_OWE_LOAD_ABORT | TERN_OWE_RUN)
/* what a reset of the firmware ends by itself */
#define TERN_OWE_FW_SESSIONS \
	(TERN_OWE_SAVE_END | TERN_OWE_LOAD_ABORT | TERN_OWE_DIRTY_STOP)

/* commands of this VF the driver gave up on that may still run */
static bool tern_vf_late_cmds(struct tern_vf *tvf)
{
	return tern_core_vf_abandoned(tvf->core, tvf->vf_index);
}

/*
 * @paid went out; a command given up on (one out before, @late, or still
 * out now) may run after it: owe it again once none is out.
 */
static void tern_vf_owe_after_late(struct tern_vf *tvf, bool late,
				   unsigned int paid)
{
	if (late || tern_vf_late_cmds(tvf))
		tvf->owed_after_late |= paid;
}

/**
 * tern_vf_owe() - remember firmware commands to send before anything else
 * @tvf: the VF, with state_mutex held
 * @cmds: TERN_OWE_* bits
 */
void tern_vf_owe(struct tern_vf *tvf, unsigned int cmds)
{
	lockdep_assert_held(&tvf->state_mutex);
	tvf->owed |= cmds;
}

/**
 * tern_vf_owes() - whether firmware commands are still owed
 * @tvf: the VF, with state_mutex held
 * @cmds: TERN_OWE_* bits
 *
 * Return: whether any of @cmds is owed (paying it failed so far).
 */
bool tern_vf_owes(struct tern_vf *tvf, unsigned int cmds)
{
	lockdep_assert_held(&tvf->state_mutex);
	return tvf->owed & cmds;
}

/**
 * tern_vf_pay_owed() - send the owed firmware commands, in order
 * @tvf: the VF, with state_mutex held
 *
 * Stops at the first command that fails (it stays owed, and so do the
 * ones after it). A command given up on before may still run after
 * these: if there was one when paying began, what was paid is owed again
 * once none is left. Order: SAVE_END, LOAD_ABORT, VF_RUN, DIRTY_STOP.
 *
 * Return: 0, or the error of the command that failed.
 */
int tern_vf_pay_owed(struct tern_vf *tvf)
{
	unsigned int paid;
	bool late;
	int ret = 0;

	lockdep_assert_held(&tvf->state_mutex);
	/* every taking of the mutex comes here: nothing owed, nothing asked */
	if (!tvf->core || (!tvf->owed && !tvf->owed_after_late))
		return 0;
	late = tern_vf_late_cmds(tvf);
	/* late commands ran since (or were dropped): undo them as well */
	if (tvf->owed_after_late && !late) {
		tvf->owed |= tvf->owed_after_late;
		tvf->owed_after_late = 0;
	}
	/*
	 * What the driver opened since is the VF's real state: a live save
	 * or load session is not ended, a VF userspace stopped not run.
	 */
	if (tvf->save_file)
		tvf->owed &= ~TERN_OWE_SAVE_END;
	if (tvf->resume_file)
		tvf->owed &= ~TERN_OWE_LOAD_ABORT;
	if (tvf->dirty.active)
		tvf->owed &= ~TERN_OWE_DIRTY_STOP;
	if (tvf->mig_state != VFIO_DEVICE_STATE_RUNNING)
		tvf->owed &= ~TERN_OWE_RUN;
	if (!tvf->owed)
		return 0;
	paid = tvf->owed;
	if (tvf->owed & TERN_OWE_SAVE_END) {
		ret = tern_vf_cmd_save_end(tvf);
		if (ret)
			goto out;
		tvf->owed &= ~TERN_OWE_SAVE_END;
	}
	if (tvf->owed & TERN_OWE_LOAD_ABORT) {
		ret = tern_vf_cmd_load_abort(tvf);
		if (ret)
			goto out;
		tvf->owed &= ~TERN_OWE_LOAD_ABORT;
	}
	if (tvf->owed & TERN_OWE_RUN) {
		ret = tern_vf_cmd_run(tvf);
		if (ret)
			goto out;
		tvf->owed &= ~TERN_OWE_RUN;
	}
	/*
	 * Last, as tracking is not migration state: a stop that fails stays
	 * owed (log_start refuses to start over it) and the VF's state
	 * stands.
	 */
	if (tvf->owed & TERN_OWE_DIRTY_STOP) {
		ret = tern_vf_cmd_dirty_stop(tvf);
		if (!ret)
			tvf->owed &= ~TERN_OWE_DIRTY_STOP;
	}
	tern_vf_owe_after_late(tvf, late, paid & ~tvf->owed);
	return ret;
out:
	/*
	 * A timeout (a late command still ahead of ours) or a PF reset
	 * (which tern_vf_state_mutex_lock() notices) is tried again at the
	 * next lock. A refusal of a command that is always harmless leaves
	 * the VF in a state nobody can name.
	 */
	if (ret != -ETIMEDOUT && ret != -ENODEV)
		tvf->mig_state = VFIO_DEVICE_STATE_ERROR;
	tvf->stats.failures++;
	dev_warn_ratelimited(tern_vf_dev(tvf),
			     "undoing what ran after a reset failed (%pe): %s\n",
			     ERR_PTR(ret),
			     tvf->mig_state == VFIO_DEVICE_STATE_ERROR ?
			     "ERROR until VFIO_DEVICE_RESET" : "tried again later");
	return ret;
}

/**
 * tern_vf_pay_by_reset() - VF_RESET, which pays every debt at once
 * @tvf: the VF, with state_mutex held
 *
 * VF_RESET ends every save and load session and runs the VF (DMA
 * logging goes on: an owed DIRTY_STOP stays owed); a command given up on
 * before it may still run after it, and is undone once answered.
 *
 * Return: 0, or the error of the VF_RESET (nothing is paid then).
 */
int tern_vf_pay_by_reset(struct tern_vf *tvf)
{
	bool late;
	int ret;

	lockdep_assert_held(&tvf->state_mutex);
	late = tern_vf_late_cmds(tvf);
	ret = tern_vf_cmd_reset(tvf);
	if (ret)
		return ret;
	tvf->owed &= ~TERN_OWE_UNDO;
	tern_vf_owe_after_late(tvf, late, TERN_OWE_UNDO);
	return 0;
}

/*
 * A reset of the firmware (tern_core_epoch() moved on) dropped its
 * sessions and every queued command, and put every VF to RUNNING. If the
 * VF functions were reset too (tern_core_vf_epoch(): a PF FLR, a link
 * reset), device memory and registers are gone: a VF that had any
 * session is in ERROR, which VFIO_DEVICE_RESET leaves. If only the
 * firmware was reset, a VF the VMM had running (RUNNING, PRE_COPY) runs
 * on untouched: it stays RUNNING with its files ended and its DMA
 * logging failing, so that the VMM fails the migration without resetting
 * (and wiping) the VF; one the VMM had stopped is running against its
 * will: ERROR. A VF with no session has nothing to lose to migration.
 */
static void tern_vf_notice_pf_reset(struct tern_vf *tvf, u32 epoch)
{
	u32 vf_epoch = tern_core_vf_epoch(tvf->core);
	bool vfs_reset = vf_epoch != tvf->fw_vf_epoch;
	bool had_session;

	tvf->fw_epoch = epoch;
	tvf->fw_vf_epoch = vf_epoch;
	tvf->owed &= ~TERN_OWE_FW_SESSIONS;
	tvf->owed_after_late &= ~TERN_OWE_FW_SESSIONS;
	if (!vfs_reset && (tvf->mig_state == VFIO_DEVICE_STATE_RUNNING ||
			   tvf->mig_state == VFIO_DEVICE_STATE_PRE_COPY)) {
		if (!tvf->save_file && !tern_vf_dirty_forgotten(tvf))
			return;
		dev_warn(tern_vf_dev(tvf),
			 "firmware reset ended the migration sessions; the VF runs on\n");
		tern_vf_disable_files(tvf);
		tvf->mig_state = VFIO_DEVICE_STATE_RUNNING;
		return;
	}
	had_session = tvf->mig_state != VFIO_DEVICE_STATE_RUNNING ||
		      tvf->save_file || tvf->resume_file;
	if (tern_vf_dirty_lost(tvf))
		had_session = true;
	if (!had_session)
		return;
	dev_warn(tern_vf_dev(tvf),
		 "PF reset ended the migration sessions: ERROR until VFIO_DEVICE_RESET\n");
	tern_vf_disable_files(tvf);
	tvf->mig_state = VFIO_DEVICE_STATE_ERROR;
}

/**
 * tern_vf_state_mutex_lock() - take state_mutex, noticing PF resets
 * @tvf: the VF
 *
 * A PF reset (FLR, AER recovery, a fatal queue error) reset the firmware
 * under the VF: its save, load and DMA logging sessions are gone. A VF
 * that had any session is in ERROR, which VFIO_DEVICE_RESET leaves, and
 * its data files fail; a VF with none has nothing to lose to migration.
 * Then the owed commands are paid. A VF removed from its PF (only a data
 * file still refers to it) has no PF to ask. Every holder of state_mutex
 * takes it through here.
 */
void tern_vf_state_mutex_lock(struct tern_vf *tvf)
{
	u32 epoch;

	mutex_lock(&tvf->state_mutex);
	spin_lock(&tvf->reset_lock);
	if (tvf->in_reset)
		tvf->acted_in_reset = true;
	spin_unlock(&tvf->reset_lock);
	if (!tvf->core)
		return;
	epoch = tern_core_epoch(tvf->core);
	if (epoch != tvf->fw_epoch)
		tern_vf_notice_pf_reset(tvf, epoch);
	tern_vf_pay_owed(tvf);
}

/*
 * Drop state_mutex, applying the resets that found it taken. @holder: the
 * caller held the mutex across the reset and may have run arcs on the
 * fresh VF; otherwise it is reset_done, which may not send commands and
 * leaves the undo, if one is owed, to a work item.
 */
static void tern_vf_unlock_applying_resets(struct tern_vf *tvf, bool holder)
{
	bool schedule = false;

again:
	spin_lock(&tvf->reset_lock);
	if (tvf->deferred_reset) {
		bool undo = holder || tvf->acted_in_reset;

		tvf->deferred_reset = false;
		tvf->acted_in_reset = false;
		spin_unlock(&tvf->reset_lock);
		/* a command given up on may have run on the fresh VF */
		if (tvf->core && tern_vf_late_cmds(tvf))
			undo = true;
		tvf->mig_state = VFIO_DEVICE_STATE_RUNNING;
		/*
		 * The reset ended the VF's save and load sessions; its DMA
		 * dirty tracking goes on (the host's, not the function's).
		 */
		tern_mig_file_orphan(tvf, &tvf->save_file);
		tern_mig_file_orphan(tvf, &tvf->resume_file);
		if (undo)
			tern_vf_owe(tvf, TERN_OWE_UNDO);
		if (holder)
			tern_vf_pay_owed(tvf);
		else
			schedule = tvf->owed;
		goto again;
	}
	mutex_unlock(&tvf->state_mutex);
	spin_unlock(&tvf->reset_lock);
	if (schedule)
		schedule_work(&tvf->owed_work);
}

/**
 * tern_vf_state_mutex_unlock() - drop state_mutex, applying deferred resets
 * @tvf: the VF
 *
 * A reset that found state_mutex taken left its work here: the device
 * already ended its firmware sessions, so the driver's view follows, and
 * what the holder did on the VF after the reset is undone. Every holder
 * of state_mutex unlocks through here.
 */
void tern_vf_state_mutex_unlock(struct tern_vf *tvf)
{
	tern_vf_unlock_applying_resets(tvf, true);
}

/* Pay, outside reset_done's locks, what a reset found owed. */
static void tern_vf_owed_work(struct work_struct *work)
{
	struct tern_vf *tvf = container_of(work, struct tern_vf, owed_work);

	tern_vf_state_mutex_lock(tvf);
	tern_vf_state_mutex_unlock(tvf);
}

/**
 * tern_vf_reset_pending() - a reset came that the state mutex's holder
 *	has not applied yet
 * @tvf: the VF, with state_mutex held
 *
 * It ended the VF's sessions already: a command of theirs that failed
 * meanwhile failed for that reason.
 *
 * Return: whether tern_vf_state_mutex_unlock() will apply a reset.
 */
bool tern_vf_reset_pending(struct tern_vf *tvf)
{
	bool pending;

	lockdep_assert_held(&tvf->state_mutex);
	spin_lock(&tvf->reset_lock);
	pending = tvf->deferred_reset;
	spin_unlock(&tvf->reset_lock);
	return pending;
}

/**
 * tern_vf_reset_prepare() - a reset of the VF is about to happen
 * @tvf: the VF
 *
 * From here to tern_vf_reset_done(), whoever takes state_mutex may run
 * arcs on the VF the reset is clearing, and so may a holder already in.
 */
void tern_vf_reset_prepare(struct tern_vf *tvf)
{
	/* one given up on may run, and be answered, before reset_done */
	bool late = tern_vf_late_cmds(tvf);

	spin_lock(&tvf->reset_lock);
	tvf->in_reset = true;
	tvf->acted_in_reset = late || mutex_is_locked(&tvf->state_mutex);
	spin_unlock(&tvf->reset_lock);
}

/**
 * tern_vf_reset_done() - the VF was reset
 * @tvf: the VF
 *
 * Called after any reset of the VF, under vfio-pci-core's memory_lock:
 * the device ended its firmware sessions; the migration state follows,
 * now if state_mutex is free, else when its holder unlocks.
 */
void tern_vf_reset_done(struct tern_vf *tvf)
{
	spin_lock(&tvf->reset_lock);
	tvf->in_reset = false;
	tvf->deferred_reset = true;
	/* never sleep on the mutex here: the reset path may hold it */
	if (!mutex_trylock(&tvf->state_mutex)) {
		spin_unlock(&tvf->reset_lock);
		return;
	}
	spin_unlock(&tvf->reset_lock);
	tern_vf_unlock_applying_resets(tvf, false);
}

/**
 * tern_vf_state_init() - the reset protocol's part of a new VF
 * @tvf: the VF
 */
void tern_vf_state_init(struct tern_vf *tvf)
{
	mutex_init(&tvf->state_mutex);
	spin_lock_init(&tvf->reset_lock);
	INIT_LIST_HEAD(&tvf->orphans);
	INIT_WORK(&tvf->owed_work, tern_vf_owed_work);
}

/**
 * tern_vf_state_detach() - the VF leaves its PF
 * @tvf: the VF, unregistered: no reset of it can come any more
 *
 * A data file may still refer to the VF; from now on nothing it does
 * reaches the PF, which may go.
 */
void tern_vf_state_detach(struct tern_vf *tvf)
{
	cancel_work_sync(&tvf->owed_work);
	mutex_lock(&tvf->state_mutex);
	tvf->core = NULL;
	mutex_unlock(&tvf->state_mutex);
}

/**
 * tern_vf_state_release() - the last of the VF
 * @tvf: the VF
 */
void tern_vf_state_release(struct tern_vf *tvf)
{
	cancel_work_sync(&tvf->owed_work);
	mutex_destroy(&tvf->state_mutex);
}
