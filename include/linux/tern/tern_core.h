/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tern PF core driver's API to the VF variant driver.
 *
 * The PF owns the admin queue; a VF driver never touches PF registers. It
 * looks up the PF from its VF, allocates command data buffers in the PF's
 * (host) DMA domain, and executes admin commands through the PF. Command
 * layouts come from <linux/tern/tern_if.h>.
 */
#ifndef _LINUX_TERN_TERN_CORE_H
#define _LINUX_TERN_TERN_CORE_H

#include <linux/completion.h>
#include <linux/ktime.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/wait.h>
#include <linux/tern/tern_if.h>

struct tern_core;

/**
 * struct tern_dma_buf - a command data buffer owned by the PF
 * @core: the PF it is mapped for
 * @size: usable bytes
 * @npages: pages in @pages
 * @pages: the backing pages (order 0, in buffer order)
 * @page_offset: where the buffer starts in its first page
 * @sgt: @pages mapped for the PF's DMA
 * @sgl: the device scatter-gather list describing @sgt (coherent memory)
 * @sgl_dma: bus address of @sgl
 * @nsge: entries in @sgl
 * @user: its pages are a user buffer's, pinned (tern_core_buf_pin_user())
 * @writable: user: the device writes the pages
 * @inflight: the device may still access it: a command using it is
 *	outstanding, waited for or given up on (PF core's lock)
 * @free_pending: freed by its owner while @inflight (PF core's lock)
 * @free_node: on the PF core's list of buffers to release
 */
struct tern_dma_buf {
	struct tern_core *core;
	size_t size;
	unsigned int npages;
	struct page **pages;
	unsigned int page_offset;
	struct sg_table sgt;
	struct tern_sge *sgl;
	dma_addr_t sgl_dma;
	unsigned int nsge;
	bool user;
	bool writable;
	bool inflight;
	bool free_pending;
	struct list_head free_node;
};

struct tern_core *tern_core_from_vf(struct pci_dev *vf_pdev);
const struct tern_identify *tern_core_identity(struct tern_core *core);
u32 tern_core_epoch(struct tern_core *core);
int tern_core_vf_get(struct tern_core *core);
void tern_core_vf_put(struct tern_core *core);

struct tern_dma_buf *tern_core_buf_alloc(struct tern_core *core, size_t size);
struct tern_dma_buf *tern_core_buf_pin_user(struct tern_core *core,
					    const void __user *ubuf,
					    size_t size, bool writable);
void tern_core_buf_free(struct tern_dma_buf *buf);
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
 * @done: fires when the firmware answered or the queue went away
 * @cpl: the completion entry, valid once @done fired with @err 0
 * @err: 0, or -ENODEV when the queue was torn down under the command
 * @core: the PF the command went to
 * @buf: its data buffer, or NULL
 * @start: when it was submitted
 * @len: bytes of @buf it uses
 * @cid: its command id (slot and generation) while outstanding
 * @opcode: its opcode
 * @vf: its VF index
 * @wake: the submitter's, NULL or a wait queue woken (interruptible) when
 *	the answer comes: poll() of a file whose readiness is that answer
 *
 * Owned by the submitter from tern_core_submit() until tern_core_wait()
 * or tern_core_abandon(); the PF core writes @done, @cpl and @err, and
 * leaves @wake as the submitter set it.
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
};

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
