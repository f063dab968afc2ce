// SPDX-License-Identifier: GPL-2.0
/*
 * tern PF core driver: the admin queue.
 *
 * Commands go into a submission ring, the firmware answers in a completion
 * ring (phase-tagged entries) and raises the admin MSI-X vector. Callers
 * sleep on a per-command slot; the command id is the slot index plus a
 * generation that changes each time the slot is used, so that a stale
 * completion cannot answer the slot's next command. At most
 * TERN_ADMIN_SLOTS commands are outstanding, fewer than either ring holds,
 * so the rings never fill. A command that times out keeps its slot until
 * the firmware answers or the queue is torn down, so its cid and buffer are
 * never reused under the device.
 */
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ktime.h>

#include "core.h"

#define CREATE_TRACE_POINTS
#include "trace.h"

#define TERN_OPCODE_NAME(name)		\
	[TERN_OP_##name] = #name,
static const char *const tern_opcode_names[TERN_NUM_OPCODES] = {
	TERN_OPCODES(TERN_OPCODE_NAME)
};

const char *tern_opcode_name(unsigned int opcode)
{
	if (opcode < TERN_NUM_OPCODES && tern_opcode_names[opcode])
		return tern_opcode_names[opcode];
	return "UNKNOWN";
}

static const struct {
	const char *name;
	int errno;
} tern_status_map[] = {
	[TERN_ST_SUCCESS]		= { "success", 0 },
	[TERN_ST_INVALID_OPCODE]	= { "invalid opcode", -EOPNOTSUPP },
	[TERN_ST_INVALID_PARAM]		= { "invalid parameter", -EINVAL },
	[TERN_ST_INVALID_VF]		= { "invalid VF", -ENODEV },
	[TERN_ST_BAD_STATE]		= { "bad state", -EBUSY },
	[TERN_ST_NO_RESOURCES]		= { "no resources", -ENOMEM },
	[TERN_ST_DMA_ERROR]		= { "DMA error", -EFAULT },
	[TERN_ST_INJECTED]		= { "injected failure", -EIO },
	[TERN_ST_NOT_PERMITTED]		= { "not permitted", -EPERM },
	[TERN_ST_ABORTED]		= { "aborted", -ECANCELED },
	[TERN_ST_STREAM_MAGIC]		= { "stream: bad magic", -EINVAL },
	[TERN_ST_STREAM_VERSION]	= { "stream: bad version", -EINVAL },
	[TERN_ST_STREAM_MISMATCH]	= { "stream: other device", -EINVAL },
	[TERN_ST_STREAM_CRC]		= { "stream: bad CRC", -EINVAL },
	[TERN_ST_STREAM_TRUNCATED]	= { "stream: truncated", -EINVAL },
	[TERN_ST_STREAM_RECORD]		= { "stream: bad record", -EINVAL },
	[TERN_ST_STREAM_PAGE_RANGE]	= { "stream: page out of range", -EINVAL },
	[TERN_ST_STREAM_TRAILING]	= { "stream: trailing data", -EINVAL },
};

static int tern_status_to_errno(u16 status, const char **name)
{
	if (status < ARRAY_SIZE(tern_status_map) &&
	    tern_status_map[status].name) {
		*name = tern_status_map[status].name;
		return tern_status_map[status].errno;
	}
	*name = "unknown status";
	return -EIO;
}

/*
 * Whether a command, run late, leaves the VF in a state its driver no
 * longer knows of: stopped, or with a session open. Counted per VF while
 * given up on (tern_core_vf_abandoned()).
 */
static bool tern_slot_counts_late(const struct tern_admin_slot *slot)
{
	switch (slot->opcode) {
	case TERN_OP_VF_QUIESCE:
	case TERN_OP_VF_FREEZE:
	case TERN_OP_SAVE_BEGIN:
	case TERN_OP_LOAD_BEGIN:
	case TERN_OP_DIRTY_START:
		return slot->vf < TERN_MAX_VFS;
	default:
		return false;
	}
}

/*
 * The firmware answered (or can no longer answer) the command in @slot:
 * the slot and the command's buffer are free again, and a buffer its owner
 * already freed is released from process context. A waiting submitter
 * gets @cpl, or @err if there is no answer. Called with core->lock held.
 */
static void tern_slot_finish(struct tern_core *core,
			     struct tern_admin_slot *slot,
			     const struct tern_admin_cpl *cpl, int err)
{
	struct tern_dma_buf *buf = slot->buf;
	struct tern_core_req *req = slot->req;

	if (slot->state == TERN_SLOT_ABANDONED && tern_slot_counts_late(slot))
		core->vf_abandoned[slot->vf]--;
	slot->state = TERN_SLOT_FREE;
	slot->buf = NULL;
	slot->req = NULL;
	if (buf) {
		buf->inflight = false;
		if (buf->free_pending) {
			list_add_tail(&buf->free_node, &core->free_bufs);
			mod_delayed_work(system_wq, &core->free_work, 0);
		}
	}
	if (req) {
		struct wait_queue_head *wake = req->wake;

		if (cpl)
			req->cpl = *cpl;
		req->err = err;
		complete(&req->done);
		/* its waiter takes core->lock next: @wake is still there */
		if (wake)
			wake_up_interruptible(wake);
	}
	up(&core->slot_sem);
}

/* Consume every posted completion; called with core->lock held. */
static unsigned int tern_adminq_reap(struct tern_core *core)
{
	unsigned int n = 0;

	for (;;) {
		struct tern_admin_cpl *cpl = &core->cq[core->cq_head];
		struct tern_admin_slot *slot;
		u16 cid;

		if ((le16_to_cpu(READ_ONCE(cpl->flags)) &
		     TERN_ADMIN_CPL_F_PHASE) != core->cq_phase)
			break;
		/* read the entry only after its phase bit said it is valid */
		dma_rmb();
		cid = le16_to_cpu(cpl->cid);
		slot = &core->slots[cid & TERN_CID_SLOT_MASK];
		if (slot->state != TERN_SLOT_FREE && slot->cid == cid)
			tern_slot_finish(core, slot, cpl, 0);
		else
			/* repeated, stale or made up: it answers nothing */
			dev_err_ratelimited(&core->pdev->dev,
					    "completion for cid 0x%x, which is not outstanding\n",
					    cid);
		if (++core->cq_head == TERN_ADMIN_DEPTH) {
			core->cq_head = 0;
			core->cq_phase ^= TERN_ADMIN_CPL_F_PHASE;
		}
		n++;
	}
	if (n)
		writel(core->cq_head, core->regs + TERN_PF_REG_CQ_HEAD);
	return n;
}

static irqreturn_t tern_adminq_irq(int irq, void *data)
{
	struct tern_core *core = data;
	unsigned int n;

	spin_lock(&core->lock);
	n = tern_adminq_reap(core);
	spin_unlock(&core->lock);
	return n ? IRQ_HANDLED : IRQ_NONE;
}

static void tern_fill_data(struct tern_admin_cmd *cmd, struct tern_dma_buf *buf,
			   size_t len)
{
	cmd->data_len = cpu_to_le32(len);
	if (!buf) {
		cmd->data_addr = 0;
		cmd->data_nsge = 0;
		return;
	}
	if (buf->nsge == 1) {
		cmd->data_addr = buf->sgl[0].addr;
		cmd->data_nsge = 0;
	} else {
		cmd->flags |= TERN_CMD_F_SGL;
		cmd->data_addr = cpu_to_le64(buf->sgl_dma);
		cmd->data_nsge = cpu_to_le16(buf->nsge);
	}
}

static struct tern_op_stats *tern_op_stats(struct tern_core *core, u8 opcode)
{
	return &core->stats[opcode & (TERN_NUM_OPCODES - 1)];
}

/**
 * tern_core_submit() - send one admin command without waiting for it
 * @core: the PF (from tern_core_from_vf())
 * @req: receives the command's answer; the caller's until
 *	tern_core_wait() or tern_core_abandon()
 * @cmd: the command; opcode, vf and params set by the caller. The data
 *	fields and cid are filled in here.
 * @buf: PF-owned data buffer, or NULL for commands without data; the
 *	device owns it until the command is waited for or its answer came
 * @len: bytes of @buf the command uses (data_len), at most @buf->size
 *
 * The firmware runs commands in submission order (Documentation/tern/
 * device.rst; a stalled one excepted), so a caller may queue several and
 * collect them in turn. Sleeps while every slot is in use (at most the
 * cmd_timeout_ms module parameter), unless @req->nowait; process context
 * only.
 *
 * Return: 0 if the command is on its way; -EINVAL for a bad @len; -EIO
 * for an injected failure; -ETIMEDOUT if no slot freed up in time;
 * -EAGAIN if none was free and @req->nowait;
 * -ENODEV if the PF is going away; -EBUSY if @buf still belongs to an
 * earlier command. Nothing was sent on error.
 */
int tern_core_submit(struct tern_core *core, struct tern_core_req *req,
		     struct tern_admin_cmd *cmd, struct tern_dma_buf *buf,
		     size_t len)
{
	struct tern_op_stats *stats = tern_op_stats(core, cmd->opcode);
	struct tern_admin_slot *slot;
	unsigned long flags;
	int idx, err;
	u16 cid;

	if ((!buf && len) || (buf && len > buf->size))
		return -EINVAL;
	if (tern_should_fail_cmd(cmd->opcode)) {
		spin_lock_irqsave(&core->lock, flags);
		stats->injected++;
		stats->failed++;
		spin_unlock_irqrestore(&core->lock, flags);
		return -EIO;
	}
	/* the 32 slots are shared by every VF: O_NONBLOCK does not queue */
	if (req->nowait) {
		if (down_trylock(&core->slot_sem))
			return -EAGAIN;
	} else if (down_timeout(&core->slot_sem,
				msecs_to_jiffies(tern_cmd_timeout_ms))) {
		return -ETIMEDOUT;
	}

	spin_lock_irqsave(&core->lock, flags);
	if (core->dead || (buf && buf->inflight)) {
		/* a buffer the device may still write is not reused */
		err = core->dead ? -ENODEV : -EBUSY;
		spin_unlock_irqrestore(&core->lock, flags);
		up(&core->slot_sem);
		return err;
	}
	for (idx = 0; idx < TERN_ADMIN_SLOTS; idx++)
		if (core->slots[idx].state == TERN_SLOT_FREE)
			break;
	/* the semaphore guarantees a free slot */
	slot = &core->slots[idx];
	cid = (slot->cid & ~TERN_CID_SLOT_MASK) + (1 << TERN_CID_GEN_SHIFT);
	cid |= idx;
	slot->cid = cid;
	slot->state = TERN_SLOT_WAITING;
	slot->opcode = cmd->opcode;
	slot->vf = le16_to_cpu(cmd->vf);
	slot->req = req;
	slot->buf = buf;
	init_completion(&req->done);
	req->err = 0;
	req->core = core;
	req->buf = buf;
	req->len = len;
	req->cid = cid;
	req->opcode = cmd->opcode;
	req->vf = le16_to_cpu(cmd->vf);
	if (buf)
		buf->inflight = true;
	spin_unlock_irqrestore(&core->lock, flags);

	/*
	 * The slot and buffer are reserved and the device knows of neither:
	 * sync up to a chunk (bounce buffers copy it) with interrupts on.
	 */
	if (buf)
		dma_sync_sgtable_for_device(&core->pdev->dev, &buf->sgt,
					    DMA_BIDIRECTIONAL);
	cmd->cid = cpu_to_le16(cid);
	tern_fill_data(cmd, buf, len);
	tern_fault_delay_submit(cmd->opcode);

	spin_lock_irqsave(&core->lock, flags);
	/*
	 * A quiesce (shutdown, PF reset) finished the slot meanwhile, and a
	 * restart may have followed it, the slot even been reused: nothing
	 * was sent, and the caller already has its -ENODEV.
	 */
	if (core->dead || slot->cid != cid || slot->req != req ||
	    slot->state != TERN_SLOT_WAITING) {
		spin_unlock_irqrestore(&core->lock, flags);
		return -ENODEV;
	}
	core->sq[core->sq_tail] = *cmd;
	core->sq_tail = (core->sq_tail + 1) % TERN_ADMIN_DEPTH;
	/* the entry must be in memory before the doorbell reaches the device */
	wmb();
	writel(core->sq_tail, core->regs + TERN_PF_REG_SQ_TAIL);
	stats->submitted++;
	req->start = ktime_get();
	spin_unlock_irqrestore(&core->lock, flags);

	trace_tern_cmd_submit(core->pdev, cmd->opcode, req->vf, cid, len);
	return 0;
}
EXPORT_SYMBOL_GPL(tern_core_submit);

/*
 * Give up on @req unless its answer already came (core->lock held): its
 * slot, and the buffer the firmware may still write, stay the device's
 * until the firmware answers (see the top). Returns false if answered.
 */
static bool tern_req_abandon_locked(struct tern_core_req *req)
{
	struct tern_admin_slot *slot =
		&req->core->slots[req->cid & TERN_CID_SLOT_MASK];

	if (completion_done(&req->done))
		return false;
	slot->state = TERN_SLOT_ABANDONED;
	slot->req = NULL;
	if (tern_slot_counts_late(slot))
		req->core->vf_abandoned[slot->vf]++;
	return true;
}

/**
 * tern_core_abandon() - give up on a submitted command without its answer
 * @req: the command (tern_core_submit() succeeded, not yet waited for)
 *
 * For a caller that no longer needs the answer (its session ended). The
 * command's slot and buffer stay the device's until the firmware answers
 * or the queue is torn down; tern_core_buf_free() of the buffer is safe at
 * once. @req is the caller's again on return.
 */
void tern_core_abandon(struct tern_core_req *req)
{
	struct tern_core *core = req->core;
	unsigned long flags;

	spin_lock_irqsave(&core->lock, flags);
	tern_req_abandon_locked(req);
	spin_unlock_irqrestore(&core->lock, flags);
}
EXPORT_SYMBOL_GPL(tern_core_abandon);

/*
 * The PF does not answer config reads (surprise removal, link down): every
 * command fails at once with -ENODEV instead of waiting out its timeout,
 * until a PF reset or AER recovery restarts the queue (if the device came
 * back) or hot removal unbinds the driver.
 */
static void tern_adminq_unreachable(struct tern_core *core)
{
	mutex_lock(&core->recover_lock);
	if (tern_adminq_quiesce(core))
		dev_err(&core->pdev->dev,
			"PF not reachable (surprise removal or link down): commands fail until it is reset\n");
	mutex_unlock(&core->recover_lock);
}

/**
 * tern_core_wait() - wait for the answer of a submitted command
 * @req: the command (tern_core_submit() succeeded, not yet waited for)
 * @result: if not NULL, receives the completion's three result words
 *
 * Waits at most the cmd_timeout_ms module parameter from now; a command
 * that is not answered by then is abandoned (tern_core_abandon()).
 * Sleeps; process context only. @req is the caller's again on return.
 *
 * Return: 0 on success; the errno of the firmware status (-EINVAL,
 * -EBUSY, -ENODEV, -ENOMEM, -EFAULT, -EIO, -EPERM, -ECANCELED,
 * -EOPNOTSUPP); -ETIMEDOUT if the firmware did not answer in time;
 * -ENODEV if the PF went away.
 */
int tern_core_wait(struct tern_core_req *req, u64 *result)
{
	struct tern_core *core = req->core;
	struct tern_op_stats *stats = tern_op_stats(core, req->opcode);
	struct device *dev = &core->pdev->dev;
	const char *status_name = NULL;
	unsigned long flags, answered;
	u16 status = 0;
	u64 latency;
	u32 sts;
	int err;

	answered = wait_for_completion_timeout(&req->done,
					       msecs_to_jiffies(tern_cmd_timeout_ms));
	spin_lock_irqsave(&core->lock, flags);
	/* an answer that raced with the timeout still counts */
	if (!answered && tern_req_abandon_locked(req)) {
		stats->timeouts++;
		stats->failed++;
		spin_unlock_irqrestore(&core->lock, flags);
		trace_tern_cmd_complete(core->pdev, req->opcode, req->vf,
					req->cid, 0, -ETIMEDOUT,
					ktime_get_ns() - ktime_to_ns(req->start));
		dev_err_ratelimited(dev, "%s (vf %u) timed out after %u ms\n",
				    tern_opcode_name(req->opcode), req->vf,
				    tern_cmd_timeout_ms);
		/*
		 * A queue that stopped on a DMA error answers nothing more.
		 * All ones is no status: the device is gone (surprise
		 * removal, link down), which no firmware reset recovers.
		 */
		sts = readl(core->regs + TERN_PF_REG_STATUS);
		if (sts == ~0U && !pci_device_is_present(core->pdev))
			tern_adminq_unreachable(core);
		else if (sts != ~0U && (sts & TERN_PF_STS_FATAL))
			schedule_work(&core->fatal_work);
		return -ETIMEDOUT;
	}
	err = req->err;
	if (!err) {
		status = le16_to_cpu(req->cpl.status);
		err = tern_status_to_errno(status, &status_name);
		if (result) {
			result[0] = le64_to_cpu(req->cpl.result[0]);
			result[1] = le64_to_cpu(req->cpl.result[1]);
			result[2] = le64_to_cpu(req->cpl.result[2]);
		}
	}
	latency = ktime_get_ns() - ktime_to_ns(req->start);
	stats->latency_ns += latency;
	if (err)
		stats->failed++;
	spin_unlock_irqrestore(&core->lock, flags);

	if (req->buf)
		dma_sync_sgtable_for_cpu(dev, &req->buf->sgt, DMA_BIDIRECTIONAL);
	trace_tern_cmd_complete(core->pdev, req->opcode, req->vf, req->cid,
				status, err, latency);
	/*
	 * A stream the firmware rejects came from userspace (the VMM's
	 * resume data): an error for the caller, not for the kernel log.
	 */
	if (err && status >= TERN_ST_STREAM_MAGIC &&
	    status <= TERN_ST_STREAM_TRAILING)
		dev_dbg(dev, "%s (vf %u) rejected: %s (0x%02x)\n",
			tern_opcode_name(req->opcode), req->vf, status_name,
			status);
	else if (err && status_name)
		dev_err_ratelimited(dev, "%s (vf %u) failed: %s (0x%02x, %pe)\n",
				    tern_opcode_name(req->opcode), req->vf,
				    status_name, status, ERR_PTR(err));
	else if (err)
		dev_err_ratelimited(dev, "%s (vf %u) failed: %pe\n",
				    tern_opcode_name(req->opcode), req->vf,
				    ERR_PTR(err));
	return err;
}
EXPORT_SYMBOL_GPL(tern_core_wait);

/**
 * tern_core_exec() - execute one admin command and wait for its completion
 * @core: the PF (from tern_core_from_vf())
 * @cmd: the command; opcode, vf and params set by the caller. The data
 *	fields and cid are filled in here.
 * @buf: PF-owned data buffer, or NULL for commands without data
 * @len: bytes of @buf the command uses (data_len), at most @buf->size
 * @result: if not NULL, receives the completion's three result words
 *
 * tern_core_submit() and tern_core_wait() in one: sleeps; process context
 * only; waits at most the cmd_timeout_ms module parameter for the firmware.
 *
 * Return: 0, or an errno of tern_core_submit() or tern_core_wait().
 */
int tern_core_exec(struct tern_core *core, struct tern_admin_cmd *cmd,
		   struct tern_dma_buf *buf, size_t len, u64 *result)
{
	struct tern_core_req req = { .wake = NULL };
	int err;

	err = tern_core_submit(core, &req, cmd, buf, len);
	if (err)
		return err;
	return tern_core_wait(&req, result);
}
EXPORT_SYMBOL_GPL(tern_core_exec);

static int tern_adminq_enable(struct tern_core *core)
{
	u32 sts;

	/* no stale entry may look valid to the first phase */
	memset(core->cq, 0, TERN_ADMIN_DEPTH * sizeof(*core->cq));

	/* a firmware reset drops whatever an earlier driver left queued */
	writel(TERN_PF_CTRL_RESET, core->regs + TERN_PF_REG_CTRL);
	writel(lower_32_bits(core->sq_dma), core->regs + TERN_PF_REG_SQ_BASE_LO);
	writel(upper_32_bits(core->sq_dma), core->regs + TERN_PF_REG_SQ_BASE_HI);
	writel(TERN_ADMIN_DEPTH, core->regs + TERN_PF_REG_SQ_SIZE);
	writel(lower_32_bits(core->cq_dma), core->regs + TERN_PF_REG_CQ_BASE_LO);
	writel(upper_32_bits(core->cq_dma), core->regs + TERN_PF_REG_CQ_BASE_HI);
	writel(TERN_ADMIN_DEPTH, core->regs + TERN_PF_REG_CQ_SIZE);
	writel(TERN_PF_INTR_ADMIN, core->regs + TERN_PF_REG_INTR_ENABLE);
	core->sq_tail = 0;
	core->cq_head = 0;
	core->cq_phase = TERN_ADMIN_CPL_F_PHASE;
	writel(TERN_PF_CTRL_ENABLE, core->regs + TERN_PF_REG_CTRL);

	sts = readl(core->regs + TERN_PF_REG_STATUS);
	/* all ones: the device is gone, whatever the bits would say */
	if (sts == ~0U || !(sts & TERN_PF_STS_READY) ||
	    (sts & (TERN_PF_STS_FATAL | TERN_PF_STS_CFG_ERR))) {
		dev_err(&core->pdev->dev, "admin queue did not start (status 0x%x)\n",
			sts);
		return -EIO;
	}
	return 0;
}

/*
 * Stop the queue and finish every outstanding command with @err, as if
 * the device had answered it: the firmware performs no DMA for a command
 * once the queue is off (device.rst), so its slot and buffer are free.
 * Called with core->lock held; commands fail at once from here on.
 */
static void tern_adminq_stop_locked(struct tern_core *core, int err)
{
	int i;

	core->dead = true;
	writel(0, core->regs + TERN_PF_REG_CTRL);
	/*
	 * The write is posted: a read behind it returns only once the device
	 * has it, and from then on (device.rst) the queue is off and no
	 * command makes DMA any more.
	 */
	readl(core->regs + TERN_PF_REG_STATUS);
	for (i = 0; i < TERN_ADMIN_SLOTS; i++)
		if (core->slots[i].state != TERN_SLOT_FREE)
			tern_slot_finish(core, &core->slots[i], NULL, err);
}

/**
 * tern_adminq_quiesce() - stop the queue for a reset or error recovery
 * @core: the PF; caller holds @core->recover_lock
 *
 * Every outstanding command and every command sent until
 * tern_adminq_restart() fails at once with -ENODEV: whether it ran is
 * unknown, and the firmware's sessions end with the reset anyway.
 *
 * Return: whether the queue was running (false: quiesced or shut down
 * already).
 */
bool tern_adminq_quiesce(struct tern_core *core)
{
	unsigned long flags;
	bool was_running;

	lockdep_assert_held(&core->recover_lock);
	spin_lock_irqsave(&core->lock, flags);
	was_running = !core->dead;
	if (was_running) {
		tern_adminq_stop_locked(core, -ENODEV);
		core->recovering = true;
	}
	spin_unlock_irqrestore(&core->lock, flags);
	return was_running;
}

/**
 * tern_adminq_restart() - bring a quiesced queue back with a fresh firmware
 * @core: the PF; caller holds @core->recover_lock
 * @why: what stopped it, for the kernel log
 * @vfs_reset: the reset behind it reset the VF functions too
 *
 * Resets the firmware, which ends every VF's save, load and dirty tracking
 * session, and starts the queue again; tern_core_epoch() moves on so that
 * the VF driver learns its sessions are gone, and tern_core_vf_epoch()
 * too if the VFs were reset. A queue that was not quiesced (or was shut
 * down for removal) is left alone.
 *
 * Return: 0, or -EIO if the queue did not start (commands keep failing).
 */
int tern_adminq_restart(struct tern_core *core, const char *why,
			bool vfs_reset)
{
	unsigned long flags;
	int ret;

	lockdep_assert_held(&core->recover_lock);
	if (!core->recovering)
		return 0;
	spin_lock_irqsave(&core->lock, flags);
	if (vfs_reset)
		WRITE_ONCE(core->vf_epoch, core->vf_epoch + 1);
	/* vf_epoch before epoch: pairs with tern_core_epoch()'s smp_rmb() */
	smp_wmb();
	WRITE_ONCE(core->epoch, core->epoch + 1);
	ret = tern_adminq_enable(core);
	/* a queue that did not start stays quiesced */
	core->recovering = ret;
	core->dead = ret;
	spin_unlock_irqrestore(&core->lock, flags);
	if (ret)
		dev_err(&core->pdev->dev, "admin queue did not restart after %s\n",
			why);
	else
		dev_warn(&core->pdev->dev,
			 "firmware reset after %s: VF migration sessions ended\n",
			 why);
	return ret;
}

/*
 * STATUS.FATAL: the queue stopped on a DMA error of a ring and will answer
 * nothing. Recover as from a PF reset rather than let every command wait
 * out its timeout.
 */
static void tern_adminq_fatal_work(struct work_struct *work)
{
	struct tern_core *core = container_of(work, struct tern_core,
					      fatal_work);

	mutex_lock(&core->recover_lock);
	/* a reset under way (quiesced already) restarts the queue itself */
	if (!core->recovering && !core->dead &&
	    (readl(core->regs + TERN_PF_REG_STATUS) & TERN_PF_STS_FATAL)) {
		dev_err(&core->pdev->dev, "admin queue stopped on a DMA error\n");
		tern_adminq_quiesce(core);
		tern_adminq_restart(core, "a fatal queue error", false);
	}
	mutex_unlock(&core->recover_lock);
}

/**
 * tern_core_epoch() - count of firmware resets the PF driver performed
 * @core: the PF
 *
 * Moves on whenever the firmware was reset under its users (PF reset, AER
 * recovery, a fatal queue error): a VF driver whose sessions began in an
 * earlier epoch knows the firmware has forgotten them.
 *
 * Return: the current epoch.
 */
u32 tern_core_epoch(struct tern_core *core)
{
	u32 epoch = READ_ONCE(core->epoch);

	/* pairs with tern_adminq_restart(): tern_core_vf_epoch() is as new */
	smp_rmb();
	return epoch;
}
EXPORT_SYMBOL_GPL(tern_core_epoch);

/**
 * tern_core_vf_epoch() - count of firmware resets that reset the VFs too
 * @core: the PF
 *
 * The part of tern_core_epoch() whose resets also reset every VF function
 * (a PF FLR, the link reset of a fatal PCI error): device memory and
 * registers are gone. The others (a fatal queue error, a non-fatal PCI
 * error) reset only the firmware: VFs run on, their sessions ended.
 * Read after tern_core_epoch(), it counts every reset that one counted.
 *
 * Return: the current count.
 */
u32 tern_core_vf_epoch(struct tern_core *core)
{
	return READ_ONCE(core->vf_epoch);
}
EXPORT_SYMBOL_GPL(tern_core_vf_epoch);

/**
 * tern_core_vf_abandoned() - state commands of a VF that may still run late
 * @core: the PF
 * @vf: the VF index
 *
 * Counts the commands for @vf that stop the VF or open a session
 * (VF_QUIESCE, VF_FREEZE, SAVE_BEGIN, LOAD_BEGIN, DIRTY_START), were
 * given up on (timed out, or abandoned by their submitter) and that the
 * firmware has neither answered nor dropped (a queue stop or firmware
 * reset drops them). The firmware may still execute each of them, after
 * commands sent later (a stalled command does not hold up the ones
 * behind it), so a caller that undoes their effect does so once this
 * is 0.
 *
 * Context: any; takes the PF's queue spinlock.
 * Return: the count.
 */
unsigned int tern_core_vf_abandoned(struct tern_core *core, u16 vf)
{
	unsigned long flags;
	unsigned int n;

	if (vf >= TERN_MAX_VFS)
		return 0;
	spin_lock_irqsave(&core->lock, flags);
	n = core->vf_abandoned[vf];
	spin_unlock_irqrestore(&core->lock, flags);
	return n;
}
EXPORT_SYMBOL_GPL(tern_core_vf_abandoned);

/**
 * tern_adminq_init() - allocate the rings, wire the interrupt, start the queue
 * @core: the PF, with @regs mapped
 *
 * Return: 0 or -errno; on error nothing is left to undo but devres.
 */
int tern_adminq_init(struct tern_core *core)
{
	struct device *dev = &core->pdev->dev;
	int ret;

	spin_lock_init(&core->lock);
	sema_init(&core->slot_sem, TERN_ADMIN_SLOTS);
	INIT_LIST_HEAD(&core->free_bufs);
	INIT_DELAYED_WORK(&core->free_work, tern_free_bufs_work);
	mutex_init(&core->recover_lock);
	INIT_WORK(&core->fatal_work, tern_adminq_fatal_work);

	core->sq = dmam_alloc_coherent(dev, TERN_ADMIN_DEPTH * sizeof(*core->sq),
				       &core->sq_dma, GFP_KERNEL);
	core->cq = dmam_alloc_coherent(dev, TERN_ADMIN_DEPTH * sizeof(*core->cq),
				       &core->cq_dma, GFP_KERNEL);
	if (!core->sq || !core->cq)
		return -ENOMEM;

	ret = pci_alloc_irq_vectors(core->pdev, TERN_PF_MSIX_VECTORS,
				    TERN_PF_MSIX_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0)
		return ret;
	core->irq = pci_irq_vector(core->pdev, TERN_PF_VEC_ADMIN);
	ret = request_irq(core->irq, tern_adminq_irq, 0, "tern-adminq", core);
	if (ret)
		goto err_vectors;
	ret = tern_adminq_enable(core);
	if (ret)
		goto err_irq;
	return 0;

err_irq:
	free_irq(core->irq, core);
err_vectors:
	pci_free_irq_vectors(core->pdev);
	return ret;
}

/**
 * tern_adminq_shutdown() - stop the queue and fail everything outstanding
 * @core: the PF
 *
 * After this, tern_core_exec() returns -ENODEV at once, and every caller
 * still waiting wakes with -ENODEV. Disabling the queue first guarantees
 * the firmware touches no command buffer afterwards.
 */
void tern_adminq_shutdown(struct tern_core *core)
{
	unsigned long flags;

	/* no recovery may start the queue again */
	disable_work_sync(&core->fatal_work);
	mutex_lock(&core->recover_lock);
	spin_lock_irqsave(&core->lock, flags);
	tern_adminq_stop_locked(core, -ENODEV);
	core->recovering = false;
	spin_unlock_irqrestore(&core->lock, flags);
	mutex_unlock(&core->recover_lock);
	writel(0, core->regs + TERN_PF_REG_INTR_ENABLE);
	free_irq(core->irq, core);
	pci_free_irq_vectors(core->pdev);
	flush_delayed_work(&core->free_work);
}
