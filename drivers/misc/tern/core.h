/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern PF core driver: internal definitions shared by its files.
 */
#ifndef _TERN_CORE_INTERNAL_H
#define _TERN_CORE_INTERNAL_H

#include <linux/completion.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/semaphore.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <linux/tern/tern_core.h>

struct dentry;

/**
 * struct tern_dma_buf - a command data buffer owned by the PF
 * @core: the PF it is mapped for
 * @size: usable bytes
 * @npages: pages in @pages
 * @pages: the backing pages (order 0, in buffer order)
 * @sgt: @pages mapped for the PF's DMA
 * @sgl: the device scatter-gather list describing @sgt (coherent memory)
 * @sgl_dma: bus address of @sgl
 * @nsge: entries in @sgl
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
	struct sg_table sgt;
	struct tern_sge *sgl;
	dma_addr_t sgl_dma;
	unsigned int nsge;
	bool inflight;
	bool free_pending;
	struct list_head free_node;
};

#define TERN_ADMIN_DEPTH	64	/* SQ and CQ entries */
/* outstanding commands: below both ring sizes, so neither ring can fill */
#define TERN_ADMIN_SLOTS	32
/* a command id is its slot in the low bits, the slot's generation above */
#define TERN_CID_SLOT_MASK	(TERN_ADMIN_SLOTS - 1)
#define TERN_CID_GEN_SHIFT	5
static_assert(TERN_ADMIN_SLOTS == 1 << TERN_CID_GEN_SHIFT);
#define TERN_NUM_OPCODES	0x80

enum tern_slot_state {
	TERN_SLOT_FREE,
	TERN_SLOT_WAITING,	/* its submitter will collect the answer */
	TERN_SLOT_ABANDONED,	/* given up on; held until the device answers */
};

/**
 * struct tern_admin_slot - one outstanding admin command
 * @state: enum tern_slot_state
 * @cid: the id of the command in the slot: a completion with another id
 *	(a stale or repeated one) is not its answer
 * @opcode: the command's opcode (for stats of late completions)
 * @vf: the command's VF index (for @tern_core.vf_abandoned)
 * @req: waiting: the submitter's request, which receives the answer
 * @buf: the command's data buffer, released when the device answers
 */
struct tern_admin_slot {
	enum tern_slot_state state;
	u16 cid;
	u8 opcode;
	u16 vf;
	struct tern_core_req *req;
	struct tern_dma_buf *buf;
};

/**
 * struct tern_op_stats - per-opcode counters shown in debugfs
 * @submitted: commands sent to the firmware
 * @failed: commands that returned an error (any cause)
 * @timeouts: commands the driver gave up waiting for
 * @injected: failures injected by the kernel fault-injection attribute
 * @latency_ns: sum of submit-to-completion times of completed commands
 */
struct tern_op_stats {
	u64 submitted;
	u64 failed;
	u64 timeouts;
	u64 injected;
	u64 latency_ns;
};

/**
 * struct tern_core - one tern PF
 * @pdev: the PF
 * @regs: BAR0 registers
 * @identity: IDENTIFY data of the PF, read at probe
 * @sq: submission ring (coherent)
 * @cq: completion ring (coherent)
 * @sq_dma: bus address of @sq
 * @cq_dma: bus address of @cq
 * @lock: protects @sq_tail, @cq_head, @cq_phase, @slots, @dead,
 *	@recovering, @epoch, @vf_epoch, @vf_abandoned, @stats
 * @sq_tail: next SQ entry software writes
 * @cq_head: next CQ entry software reads
 * @cq_phase: phase bit of valid entries at @cq_head
 * @dead: the queue is stopped (remove, reset, recovery): commands fail at
 *	once
 * @recovering: stopped by tern_adminq_quiesce(), to be restarted
 * @epoch: firmware resets under the VFs' users (tern_core_epoch())
 * @vf_epoch: those of them that reset the VF functions too (a PF FLR, a
 *	link reset): tern_core_vf_epoch()
 * @link_reset: the PCI error being recovered from resets the link (and so
 *	the VFs); under @recover_lock
 * @vf_abandoned: per VF index, commands given up on whose answer has not
 *	come (tern_core_vf_abandoned())
 * @slots: outstanding commands, indexed by cid
 * @slot_sem: counts free slots; callers sleep here when all are in use
 * @irq: Linux IRQ of the admin vector
 * @vf_lock: protects @vf_users against SR-IOV reconfiguration
 * @vf_users: VFs currently opened by a VF driver
 * @sriov_disabling: SR-IOV is being disabled; no new VF users
 * @stats: per-opcode counters
 * @debugfs: this PF's debugfs directory
 * @free_bufs: buffers freed by their owner while a timed-out command held
 *	them, whose answer has now come, and buffers freed with
 *	tern_core_buf_free_deferred() (under @lock)
 * @free_work: releases @free_bufs: at once for a late answer's buffer, a
 *	while later for one freed with tern_core_buf_free_deferred()
 * @buf_bytes: bytes of command data buffers mapped for the PF now (debugfs)
 * @recover_lock: serialises stopping and restarting the queue for resets,
 *	AER recovery and fatal queue errors; @dead and @recovering change
 *	under both locks
 * @fatal_work: recovers from STATUS.FATAL
 */
struct tern_core {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct tern_identify identity;

	struct tern_admin_cmd *sq;
	struct tern_admin_cpl *cq;
	dma_addr_t sq_dma;
	dma_addr_t cq_dma;

	spinlock_t lock;		/* queue indices, slots, dead, stats */
	u16 sq_tail;
	u16 cq_head;
	u16 cq_phase;
	bool dead;
	bool recovering;
	u32 epoch;
	u32 vf_epoch;
	bool link_reset;
	unsigned int vf_abandoned[TERN_MAX_VFS];
	struct tern_admin_slot slots[TERN_ADMIN_SLOTS];
	struct semaphore slot_sem;
	int irq;

	struct mutex vf_lock;		/* vf_users, sriov_disabling */
	unsigned int vf_users;
	bool sriov_disabling;

	struct tern_op_stats stats[TERN_NUM_OPCODES];
	struct dentry *debugfs;
	struct list_head free_bufs;
	struct delayed_work free_work;
	atomic_long_t buf_bytes;
	struct mutex recover_lock;	/* see above */
	struct work_struct fatal_work;
};

extern unsigned int tern_cmd_timeout_ms;

/* fault_inject.c: the kernel fault-injection attribute and delay */
#ifdef CONFIG_FAULT_INJECTION
bool tern_should_fail_cmd(u8 opcode);
void tern_fault_delay_submit(u8 opcode);
void tern_fault_inject_init(struct dentry *root);
#else
static inline bool tern_should_fail_cmd(u8 opcode)
{
	return false;
}

static inline void tern_fault_delay_submit(u8 opcode)
{
}

static inline void tern_fault_inject_init(struct dentry *root)
{
}
#endif

int tern_adminq_init(struct tern_core *core);
void tern_adminq_shutdown(struct tern_core *core);
bool tern_adminq_quiesce(struct tern_core *core);
int tern_adminq_restart(struct tern_core *core, const char *why,
			bool vfs_reset);
const char *tern_opcode_name(unsigned int opcode);

void tern_free_bufs_work(struct work_struct *work);

void tern_debugfs_init(struct tern_core *core);
void tern_debugfs_exit(struct tern_core *core);
void tern_debugfs_register(void);
void tern_debugfs_unregister(void);

#endif /* _TERN_CORE_INTERNAL_H */
