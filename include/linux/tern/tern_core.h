/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tern PF core driver's API to the VF variant driver: the contract.
 *
 * The PF owns the admin queue; a VF driver never touches PF registers. It
 * looks up the PF from its VF, allocates command data buffers in the PF's
 * (host) DMA domain, and executes admin commands through the PF. Command
 * layouts come from <linux/tern/tern_if.h>. What every verb guarantees:
 *
 * Lifetime. A struct tern_core stays valid from tern_core_from_vf() for as
 * long as the VF's driver stays bound (the PF disables SR-IOV, which
 * unbinds every VF driver, before it goes); not one moment longer, even
 * for an object (a file) the VF driver keeps past its remove().
 *
 * Context and locks. Verbs that sleep say so; they may be called with any
 * mutex held but never under a spinlock or with interrupts off. Verbs
 * marked "any context" take only the PF's internal spinlock (IRQ-safe).
 * No verb calls back into the VF driver.
 *
 * Commands. The firmware answers each command once, or never (a stall; a
 * reset drops it). A command the caller stopped waiting for (timeout,
 * tern_core_abandon()) may still execute later, after commands sent
 * after it: tern_core_vf_abandoned() counts such commands that change a
 * VF's state. A caller that fails with -ENODEV sent nothing, or its
 * command was dropped by a PF reset.
 *
 * Buffers. A buffer belongs to the device from tern_core_submit() until
 * tern_core_wait() returned or the firmware answered an abandoned
 * command; tern_core_buf_free() is safe at any time and defers the
 * release until then. A PF reset drops every command, and so gives every
 * buffer back at once; a buffer itself survives it.
 *
 * PF resets. An FLR, AER recovery or a fatal queue error reset the
 * firmware under the VF driver: every command in flight and every command
 * sent until the reset is over fails with -ENODEV, the firmware forgets
 * every session, and tern_core_epoch() moves on (tern_core_vf_epoch() too
 * if the VF functions were reset with it). A PF found unreachable (a
 * command timed out and the function reads all ones: surprise removal,
 * link down) fails every command with -ENODEV from then on, without a
 * firmware reset and without moving the epoch, until a PF reset finds it
 * back.
 */
#ifndef _LINUX_TERN_TERN_CORE_H
#define _LINUX_TERN_TERN_CORE_H

#include <linux/completion.h>
#include <linux/ktime.h>
#include <linux/pci.h>
#include <linux/wait.h>
#include <linux/tern/tern_if.h>

struct tern_core;
struct tern_dma_buf;

/* The PF of a VF (process context), what it is and how often it was reset. */
struct tern_core *tern_core_from_vf(struct pci_dev *vf_pdev);
/* any context; never NULL */
const struct tern_identify *tern_core_identity(struct tern_core *core);
/* any context: PF resets, and those that reset the VF functions too */
u32 tern_core_epoch(struct tern_core *core);
u32 tern_core_vf_epoch(struct tern_core *core);
/* any context: a VF's state commands given up on, not yet answered */
unsigned int tern_core_vf_abandoned(struct tern_core *core, u16 vf);

/* A VF opened by its driver keeps SR-IOV on; sleeps (the PF's vf_lock). */
int tern_core_vf_get(struct tern_core *core);
void tern_core_vf_put(struct tern_core *core);

/*
 * Command data buffers, mapped for the PF (the host's DMA domain).
 * alloc sleeps; free is process context (the release may be deferred
 * while the device owns the buffer); to_user/from_user may fault and
 * sleep; read, write and size are any context. None may be used on a
 * buffer the device owns (between submit and wait) but free.
 */
struct tern_dma_buf *tern_core_buf_alloc(struct tern_core *core, size_t size);
void tern_core_buf_free(struct tern_dma_buf *buf);
/* any context: released a second later; tern_core_vf_put() releases it */
void tern_core_buf_free_deferred(struct tern_dma_buf *buf);
size_t tern_core_buf_size(const struct tern_dma_buf *buf);
int tern_core_buf_to_user(struct tern_dma_buf *buf, size_t offset,
			  void __user *dst, size_t len);
int tern_core_buf_from_user(struct tern_dma_buf *buf, size_t offset,
			    const void __user *src, size_t len);
void tern_core_buf_read(struct tern_dma_buf *buf, size_t offset, void *dst,
			size_t len);
void tern_core_buf_write(struct tern_dma_buf *buf, size_t offset,
			 const void *src, size_t len);

/**
 * struct tern_core_req - an admin command submitted without waiting
 * @done: private: fires when the firmware answered or the queue went away
 * @cpl: private: the completion entry
 * @err: private: 0, or -ENODEV when the queue was torn down under it
 * @core: private: the PF the command went to
 * @buf: private: its data buffer, or NULL
 * @start: private: when it was submitted
 * @len: private: bytes of @buf it uses
 * @cid: private: its command id (slot and generation) while outstanding
 * @opcode: private: its opcode
 * @vf: private: its VF index
 * @wake: the submitter's, NULL or a wait queue woken (interruptible) when
 *	the answer comes: poll() of a file whose readiness is that answer
 * @nowait: the submitter's: tern_core_submit() fails with -EAGAIN rather
 *	than sleep for a free slot (O_NONBLOCK)
 *
 * The submitter embeds it and sets only @wake and @nowait; every other
 * field is the PF core's. The request is the PF core's from tern_core_submit() until
 * tern_core_wait() returned or tern_core_abandon(); tern_core_req_done()
 * may be asked meanwhile.
 */
struct tern_core_req {
	struct completion done;
	struct tern_admin_cpl cpl;
	int err;
	struct tern_core *core;
	struct tern_dma_buf *buf;
	ktime_t start;
	size_t len;
	u16 cid;
	u8 opcode;
	u16 vf;
	struct wait_queue_head *wake;
	bool nowait;
};

/*
 * Admin commands. exec, submit and wait sleep (a free slot, the answer:
 * at most the cmd_timeout_ms module parameter each; submit does not wait
 * for a slot with tern_core_req.nowait); abandon and
 * tern_core_req_done() are any context.
 */
int tern_core_exec(struct tern_core *core, struct tern_admin_cmd *cmd,
		   struct tern_dma_buf *buf, size_t len, u64 *result);
int tern_core_submit(struct tern_core *core, struct tern_core_req *req,
		     struct tern_admin_cmd *cmd, struct tern_dma_buf *buf,
		     size_t len);
int tern_core_wait(struct tern_core_req *req, u64 *result);
void tern_core_abandon(struct tern_core_req *req);

/**
 * tern_core_req_done() - whether a submitted command has its answer
 * @req: the command (tern_core_submit() succeeded, not yet waited for)
 *
 * Return: true if tern_core_wait() would return at once.
 */
static inline bool tern_core_req_done(struct tern_core_req *req)
{
	return completion_done(&req->done);
}

#endif /* _LINUX_TERN_TERN_CORE_H */
