/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tern_if.h - the tern device ABI: registers, admin commands, engine
 * descriptors and the migration stream format.
 *
 * This is the only definition of the device interface. The kernel drivers
 * (PF core and VF variant driver), the userspace selftest library and the
 * QEMU device model all include it. Everything here is fixed-width and
 * little-endian; convert with le*_to_cpu()/cpu_to_le*() in the kernel and
 * in QEMU (qemu/bswap.h), le*toh()/htole*() in userspace.
 *
 * The prose specification is Documentation/tern/device.rst. Keep both in
 * exact agreement: every constant below is described there.
 */
#ifndef _LINUX_TERN_TERN_IF_H
#define _LINUX_TERN_TERN_IF_H

#include <linux/types.h>
#ifdef __KERNEL__
#include <linux/build_bug.h>
#else
#include <assert.h>
#endif

/* Compile-time layout checks, usable in the kernel, QEMU and userspace. */
#define TERN_ABI_CHECK_SIZE(type, size) \
	static_assert(sizeof(type) == (size), "sizeof(" #type ") != " #size)

/* ------------------------------------------------------------------------
 * Identity
 */
#define TERN_PCI_VENDOR_ID		0x1234
#define TERN_PCI_PF_DEVICE_ID		0x7e40
#define TERN_PCI_VF_DEVICE_ID		0x7e41
#define TERN_PCI_REVISION		0x01
#define TERN_PCI_CLASS			0x1200	/* processing accelerator */

#define TERN_MAGIC			0x4e524554u	/* "TERN" */
#define TERN_ABI_MAJOR			1
#define TERN_ABI_MINOR			2
#define TERN_ABI_VERSION		((TERN_ABI_MAJOR << 16) | TERN_ABI_MINOR)
#define TERN_FW_VERSION			0x00010001u	/* 1.1 */

/* SR-IOV layout of the PF capability */
#define TERN_SRIOV_VF_OFFSET		1
#define TERN_SRIOV_VF_STRIDE		1
#define TERN_MAX_VFS			7	/* upper bound of the "vfs" property */

/* Index used in admin commands that address the PF itself */
#define TERN_VF_NONE			0xffff

/* ------------------------------------------------------------------------
 * PF BARs and registers
 *
 * BAR0: registers (32-bit, non-prefetchable), BAR4: MSI-X table and PBA.
 * Registers are 32 bits wide; 64-bit registers are a LO/HI pair that may be
 * accessed with two 32-bit accesses (LO first) or one 64-bit access.
 */
#define TERN_PF_BAR_REGS		0
#define TERN_PF_BAR_REGS_SIZE		0x1000
#define TERN_PF_BAR_MSIX		4
#define TERN_PF_BAR_MSIX_SIZE		0x1000
#define TERN_PF_MSIX_VECTORS		1
#define TERN_PF_VEC_ADMIN		0

#define TERN_PF_REG_MAGIC		0x000	/* RO: TERN_MAGIC */
#define TERN_PF_REG_VERSION		0x004	/* RO: TERN_ABI_VERSION */
#define TERN_PF_REG_CAPS		0x008	/* RO: TERN_PF_CAP_* */
#define TERN_PF_REG_TOTAL_VFS		0x00c	/* RO: SR-IOV TotalVFs */
#define TERN_PF_REG_CTRL		0x010	/* RW: TERN_PF_CTRL_* */
#define TERN_PF_REG_STATUS		0x014	/* RO: TERN_PF_STS_* */
#define TERN_PF_REG_INTR_STATUS		0x018	/* RW1C: TERN_PF_INTR_* */
#define TERN_PF_REG_INTR_ENABLE		0x01c	/* RW: TERN_PF_INTR_* */
#define TERN_PF_REG_SQ_BASE_LO		0x020	/* RW: submission ring base */
#define TERN_PF_REG_SQ_BASE_HI		0x024
#define TERN_PF_REG_SQ_SIZE		0x028	/* RW: entries, power of 2 */
#define TERN_PF_REG_SQ_TAIL		0x02c	/* RW: doorbell */
#define TERN_PF_REG_SQ_HEAD		0x030	/* RO: next entry to fetch */
#define TERN_PF_REG_CQ_BASE_LO		0x038	/* RW: completion ring base */
#define TERN_PF_REG_CQ_BASE_HI		0x03c
#define TERN_PF_REG_CQ_SIZE		0x040	/* RW: entries, power of 2 */
#define TERN_PF_REG_CQ_HEAD		0x044	/* RW: next entry software reads */
#define TERN_PF_REG_CQ_TAIL		0x048	/* RO: next entry device writes */

#define TERN_PF_CAP_FAULT_INJECT	0x1u	/* FAULT_INJECT allowed */

#define TERN_PF_CTRL_ENABLE		0x1u	/* admin queue enable */
#define TERN_PF_CTRL_RESET		0x2u	/* firmware reset, self-clearing */

#define TERN_PF_STS_READY		0x1u	/* admin queue running */
#define TERN_PF_STS_CFG_ERR		0x2u	/* bad ring config at enable */
#define TERN_PF_STS_FATAL		0x4u	/* ring DMA failed, queue halted */

#define TERN_PF_INTR_ADMIN		0x1u	/* a completion was posted */

#define TERN_ADMIN_RING_MIN		2
#define TERN_ADMIN_RING_MAX		1024
#define TERN_ADMIN_RING_ALIGN		64	/* SQ and CQ base alignment */

/* ------------------------------------------------------------------------
 * VF BARs and registers
 *
 * BAR0: registers (64-bit, prefetchable as required for VF BARs; software
 * must still access it as MMIO), BAR2: device memory (64-bit prefetchable,
 * RAM-like, any access size), BAR4: MSI-X table and PBA.
 */
#define TERN_VF_BAR_REGS		0
#define TERN_VF_BAR_REGS_SIZE		0x1000
#define TERN_VF_BAR_DEVMEM		2
#define TERN_VF_BAR_MSIX		4
#define TERN_VF_BAR_MSIX_SIZE		0x1000
#define TERN_VF_MSIX_VECTORS		2
#define TERN_VF_VEC_JOB			0
#define TERN_VF_VEC_ERROR		1

#define TERN_VF_REG_MAGIC		0x000	/* RO: TERN_MAGIC */
#define TERN_VF_REG_VERSION		0x004	/* RO: TERN_ABI_VERSION */
#define TERN_VF_REG_DEVMEM_SIZE_LO	0x008	/* RO: device memory bytes */
#define TERN_VF_REG_DEVMEM_SIZE_HI	0x00c
#define TERN_VF_REG_VF_INDEX		0x010	/* RO: VF number (0-based) */
#define TERN_VF_REG_INTR_STATUS		0x020	/* RW1C: TERN_VF_INTR_* */
#define TERN_VF_REG_INTR_ENABLE		0x024	/* RW: TERN_VF_INTR_* */
#define TERN_VF_REG_RING_BASE_LO	0x040	/* RW: descriptor ring IOVA */
#define TERN_VF_REG_RING_BASE_HI	0x044
#define TERN_VF_REG_RING_SIZE		0x048	/* RW: entries, power of 2 */
#define TERN_VF_REG_RING_TAIL		0x04c	/* RW: doorbell */
#define TERN_VF_REG_RING_HEAD		0x050	/* RO: next descriptor to fetch */
#define TERN_VF_REG_RING_DONE		0x054	/* RO: next descriptor to complete */
#define TERN_VF_REG_CPL_BASE_LO		0x058	/* RW: completion ring IOVA */
#define TERN_VF_REG_CPL_BASE_HI		0x05c
#define TERN_VF_REG_ENGINE_CTRL		0x060	/* RW: TERN_ENGINE_CTRL_* */
#define TERN_VF_REG_ENGINE_STATUS	0x064	/* RO: TERN_ENGINE_STS_* */
#define TERN_VF_REG_JOBS_LO		0x080	/* RO: descriptors completed */
#define TERN_VF_REG_JOBS_HI		0x084
#define TERN_VF_REG_BYTES_LO		0x088	/* RO: bytes processed */
#define TERN_VF_REG_BYTES_HI		0x08c
#define TERN_VF_REG_ERRORS_LO		0x090	/* RO: descriptors failed */
#define TERN_VF_REG_ERRORS_HI		0x094
#define TERN_VF_REG_LAST_CSUM		0x098	/* RO: last CHECKSUM result */
#define TERN_VF_REG_CTX_LO(n)		(0x100 + 8 * (n))	/* RW: context */
#define TERN_VF_REG_CTX_HI(n)		(0x104 + 8 * (n))
#define TERN_VF_CTX_REGS		16

#define TERN_VF_INTR_JOB		0x1u	/* descriptor with F_INTR done */
#define TERN_VF_INTR_ERROR		0x2u	/* descriptor failed / halted */

#define TERN_ENGINE_CTRL_ENABLE		0x1u

#define TERN_ENGINE_STS_ENABLED		0x1u	/* ring latched, running */
#define TERN_ENGINE_STS_IDLE		0x2u	/* nothing fetched or pending */
#define TERN_ENGINE_STS_CFG_ERR		0x4u	/* bad ring config at enable */
#define TERN_ENGINE_STS_HALTED		0x8u	/* ring DMA failed, stopped */

#define TERN_ENGINE_RING_MIN		2
#define TERN_ENGINE_RING_MAX		4096
#define TERN_ENGINE_FIFO_DEPTH		8	/* descriptors fetched ahead */
#define TERN_DESC_MAX_LEN		0x4000000u	/* 64 MiB */

#define TERN_DEVMEM_PAGE_SIZE		4096
#define TERN_DEVMEM_PAGE_SHIFT		12

/* ------------------------------------------------------------------------
 * VF engine descriptors and completions
 */
enum tern_desc_op {
	TERN_DESC_OP_NOP	= 0,
	TERN_DESC_OP_COPY	= 1,
	TERN_DESC_OP_FILL	= 2,
	TERN_DESC_OP_CHECKSUM	= 3,
};

#define TERN_DESC_F_INTR		0x1u	/* JOB interrupt on completion */
#define TERN_DESC_F_SRC_DEVMEM		0x2u	/* src is a devmem offset */
#define TERN_DESC_F_DST_DEVMEM		0x4u	/* dst is a devmem offset */
#define TERN_DESC_F_ALL			0x07u

/**
 * struct tern_desc - VF engine descriptor (32 bytes, ring entry)
 * @op: TERN_DESC_OP_*
 * @flags: TERN_DESC_F_*
 * @rsvd: must be zero
 * @len: bytes to process, 1..TERN_DESC_MAX_LEN (ignored by NOP)
 * @src: source IOVA, or devmem offset with F_SRC_DEVMEM; FILL: 8-byte pattern
 * @dst: destination IOVA, or devmem offset with F_DST_DEVMEM
 * @cookie: opaque, copied to the completion
 */
struct tern_desc {
	__u8	op;
	__u8	flags;
	__le16	rsvd;
	__le32	len;
	__le64	src;
	__le64	dst;
	__le64	cookie;
};

TERN_ABI_CHECK_SIZE(struct tern_desc, 32);

enum tern_desc_status {
	TERN_DESC_ST_OK			= 0,
	TERN_DESC_ST_BAD_OP		= 1,	/* unknown op or flags, rsvd != 0 */
	TERN_DESC_ST_BAD_LEN		= 2,	/* len 0 or > TERN_DESC_MAX_LEN */
	TERN_DESC_ST_DEVMEM_RANGE	= 3,	/* devmem offset + len out of BAR */
	TERN_DESC_ST_DMA_READ		= 4,	/* host read failed (IOMMU fault) */
	TERN_DESC_ST_DMA_WRITE		= 5,	/* host write failed (IOMMU fault) */
};

#define TERN_DESC_CPL_F_PHASE		0x1u

/**
 * struct tern_desc_cpl - VF engine completion (16 bytes, ring entry)
 * @cookie: the descriptor's cookie
 * @result: CHECKSUM: CRC32C of the range; 0 otherwise
 * @status: TERN_DESC_ST_*
 * @flags: TERN_DESC_CPL_F_PHASE: 1 on the first pass over the ring, then
 *	inverted on every wrap
 */
struct tern_desc_cpl {
	__le64	cookie;
	__le32	result;
	__le16	status;
	__le16	flags;
};

TERN_ABI_CHECK_SIZE(struct tern_desc_cpl, 16);

/* ------------------------------------------------------------------------
 * Admin queue: commands, completions, scatter-gather
 */
enum tern_admin_opcode {
	TERN_OP_IDENTIFY		= 0x01,
	TERN_OP_VF_QUIESCE		= 0x02,
	TERN_OP_VF_FREEZE		= 0x03,
	TERN_OP_VF_RUN			= 0x04,
	TERN_OP_VF_RESET		= 0x05,
	TERN_OP_SAVE_BEGIN		= 0x10,
	TERN_OP_SAVE_QUERY		= 0x11,
	TERN_OP_SAVE_READ		= 0x12,
	TERN_OP_SAVE_END		= 0x13,
	TERN_OP_LOAD_BEGIN		= 0x20,
	TERN_OP_LOAD_WRITE		= 0x21,
	TERN_OP_LOAD_COMMIT		= 0x22,
	TERN_OP_LOAD_ABORT		= 0x23,
	TERN_OP_DIRTY_START		= 0x30,
	TERN_OP_DIRTY_READ_CLEAR	= 0x31,
	TERN_OP_DIRTY_STOP		= 0x32,
	TERN_OP_FAULT_INJECT		= 0x7f,
};

/*
 * Every opcode above, once, in order: TERN_OPCODES(op) expands to
 * op(IDENTIFY) op(VF_QUIESCE) ... op(FAULT_INJECT), each name the one after
 * TERN_OP_. It is the one list of the commands' names ("SAVE_QUERY" is
 * #name): the PF driver's debugfs and tracepoints, the device model and the
 * tools expand it. A new command goes in the enum and here. (@op is
 * __VA_ARGS__, in a wrapper, so that checkpatch reads one expression.)
 */
#define __TERN_OPCODES(...)	__VA_ARGS__
#define TERN_OPCODES(...)					\
	__TERN_OPCODES(__VA_ARGS__(IDENTIFY)		\
		       __VA_ARGS__(VF_QUIESCE)		\
		       __VA_ARGS__(VF_FREEZE)		\
		       __VA_ARGS__(VF_RUN)		\
		       __VA_ARGS__(VF_RESET)		\
		       __VA_ARGS__(SAVE_BEGIN)		\
		       __VA_ARGS__(SAVE_QUERY)		\
		       __VA_ARGS__(SAVE_READ)		\
		       __VA_ARGS__(SAVE_END)		\
		       __VA_ARGS__(LOAD_BEGIN)		\
		       __VA_ARGS__(LOAD_WRITE)		\
		       __VA_ARGS__(LOAD_COMMIT)		\
		       __VA_ARGS__(LOAD_ABORT)		\
		       __VA_ARGS__(DIRTY_START)		\
		       __VA_ARGS__(DIRTY_READ_CLEAR)	\
		       __VA_ARGS__(DIRTY_STOP)		\
		       __VA_ARGS__(FAULT_INJECT))

enum tern_admin_status {
	TERN_ST_SUCCESS			= 0x00,
	TERN_ST_INVALID_OPCODE		= 0x01,
	TERN_ST_INVALID_PARAM		= 0x02,
	TERN_ST_INVALID_VF		= 0x03,
	TERN_ST_BAD_STATE		= 0x04,
	TERN_ST_NO_RESOURCES		= 0x05,
	TERN_ST_DMA_ERROR		= 0x06,
	TERN_ST_INJECTED		= 0x07,
	TERN_ST_NOT_PERMITTED		= 0x08,
	TERN_ST_ABORTED			= 0x09,
	TERN_ST_STREAM_MAGIC		= 0x10,
	TERN_ST_STREAM_VERSION		= 0x11,
	TERN_ST_STREAM_MISMATCH		= 0x12,
	TERN_ST_STREAM_CRC		= 0x13,
	TERN_ST_STREAM_TRUNCATED	= 0x14,
	TERN_ST_STREAM_RECORD		= 0x15,
	TERN_ST_STREAM_PAGE_RANGE	= 0x16,
	TERN_ST_STREAM_TRAILING		= 0x17,
};

#define TERN_CMD_F_SGL			0x1u	/* data_addr -> tern_sge[] */

#define TERN_MAX_CHUNK			0x100000u	/* 1 MiB: max data_len */
#define TERN_MAX_SGE			256

/**
 * struct tern_sge - scatter-gather element (16 bytes)
 * @addr: bus address of the segment (PF DMA domain)
 * @len: segment length in bytes, non-zero
 * @rsvd: must be zero
 */
struct tern_sge {
	__le64	addr;
	__le32	len;
	__le32	rsvd;
};

TERN_ABI_CHECK_SIZE(struct tern_sge, 16);

/**
 * struct tern_cmd_save_begin - SAVE_BEGIN parameters
 * @mode: TERN_SAVE_MODE_*
 * @rsvd: must be zero
 */
struct tern_cmd_save_begin {
	__le32	mode;
	__le32	rsvd;
};

#define TERN_SAVE_MODE_PRECOPY		1	/* VF running or quiesced */
#define TERN_SAVE_MODE_STOPCOPY		2	/* VF frozen */

/**
 * struct tern_cmd_dirty_start - DIRTY_START parameters
 * @nranges: number of struct tern_dirty_range in the data buffer
 * @page_shift: log2 of the tracking page size (a bit set in
 *	tern_identify.dirty_page_sizes)
 */
struct tern_cmd_dirty_start {
	__le32	nranges;
	__le32	page_shift;
};

/**
 * struct tern_cmd_dirty_read - DIRTY_READ_CLEAR parameters
 * @iova: first IOVA to report, page aligned
 * @length: bytes to report, page aligned, non-zero
 */
struct tern_cmd_dirty_read {
	__le64	iova;
	__le64	length;
};

enum tern_fault_action {
	TERN_FAULT_FAIL		= 1,	/* fail next @count @opcode with @status */
	TERN_FAULT_STALL	= 2,	/* never complete next @count @opcode */
	TERN_FAULT_CORRUPT	= 3,	/* corrupt next @count SAVE_READ chunks */
	TERN_FAULT_CLEAR	= 4,	/* drop all rules, abort stalled commands */
	TERN_FAULT_RELEASE	= 5,	/* execute stalled commands now (late) */
	TERN_FAULT_MISCOUNT	= 6,	/* next @count DIRTY_READ_CLEARs count 0 */
	TERN_FAULT_FATAL	= 7,	/* next command fetch fails: STATUS.FATAL */
	TERN_FAULT_DUPLICATE	= 8,	/* post next @count @opcode answers twice */
	TERN_FAULT_VANISH	= 9,	/* PF unreachable for @count ms */
};

/**
 * struct tern_cmd_fault_inject - FAULT_INJECT parameters
 * @action: TERN_FAULT_*
 * @opcode: target opcode (FAIL, STALL, DUPLICATE)
 * @status: status to return (FAIL); 0 means TERN_ST_INJECTED
 * @count: number of commands or chunks affected (FAIL, STALL, CORRUPT,
 *	MISCOUNT, DUPLICATE), >= 1
 */
struct tern_cmd_fault_inject {
	__u8	action;
	__u8	opcode;
	__le16	status;
	__le32	count;
};

/**
 * struct tern_admin_cmd - admin submission queue entry (64 bytes)
 * @opcode: TERN_OP_*
 * @flags: TERN_CMD_F_*
 * @cid: command identifier, echoed in the completion
 * @vf: VF index, or TERN_VF_NONE for PF-level commands
 * @rsvd0: must be zero
 * @data_addr: data buffer bus address, or with TERN_CMD_F_SGL the bus
 *	address of an array of @data_nsge struct tern_sge
 * @data_len: data buffer length in bytes (0..TERN_MAX_CHUNK)
 * @data_nsge: number of SGEs with TERN_CMD_F_SGL (1..TERN_MAX_SGE)
 * @rsvd1: must be zero
 * @save_begin: SAVE_BEGIN parameters
 * @dirty_start: DIRTY_START parameters
 * @dirty_read: DIRTY_READ_CLEAR parameters
 * @fault: FAULT_INJECT parameters
 * @params: raw view of the command-specific parameters
 */
struct tern_admin_cmd {
	__u8	opcode;
	__u8	flags;
	__le16	cid;
	__le16	vf;
	__le16	rsvd0;
	__le64	data_addr;
	__le32	data_len;
	__le16	data_nsge;
	__le16	rsvd1;
	union {
		struct tern_cmd_save_begin	save_begin;
		struct tern_cmd_dirty_start	dirty_start;
		struct tern_cmd_dirty_read	dirty_read;
		struct tern_cmd_fault_inject	fault;
		__le64				params[5];
	};
};

TERN_ABI_CHECK_SIZE(struct tern_admin_cmd, 64);

#define TERN_ADMIN_CPL_F_PHASE		0x1u

/**
 * struct tern_admin_cpl - admin completion queue entry (32 bytes)
 * @result: command-specific results (see each command)
 * @cid: the command's cid
 * @sq_head: TERN_PF_REG_SQ_HEAD when the completion was written
 * @status: TERN_ST_*
 * @flags: TERN_ADMIN_CPL_F_PHASE: 1 on the first pass over the ring, then
 *	inverted on every wrap
 */
struct tern_admin_cpl {
	__le64	result[3];
	__le16	cid;
	__le16	sq_head;
	__le16	status;
	__le16	flags;
};

TERN_ABI_CHECK_SIZE(struct tern_admin_cpl, 32);

/*
 * SAVE_QUERY result[0]: initial bytes in bits 62:0; bit 63 is set when a new
 * first pass began (a re-init, ABI 1.1) since the previous SAVE_QUERY
 */
#define TERN_SAVE_Q_REINIT		0x8000000000000000ull
#define TERN_SAVE_Q_INITIAL		(TERN_SAVE_Q_REINIT - 1)

/* SAVE_READ result[1] flags */
#define TERN_SAVE_F_END			0x1u	/* stream complete */
#define TERN_SAVE_F_NO_DATA		0x2u	/* pre-copy: nothing more now */

/* VF migration states (tern_identify.vf_state) */
enum tern_vf_state {
	TERN_VF_STATE_RUNNING	= 0,
	TERN_VF_STATE_QUIESCED	= 1,
	TERN_VF_STATE_FROZEN	= 2,
};

/* Firmware sessions of a VF (tern_identify.vf_sessions) */
#define TERN_VF_SESS_SAVE		0x1u
#define TERN_VF_SESS_LOAD		0x2u
#define TERN_VF_SESS_DIRTY		0x4u

#define TERN_DIRTY_MAX_RANGES		8
/* 4 KiB, 2 MiB, 1 GiB */
#define TERN_DIRTY_PAGE_SIZES		(0x1000ull | 0x200000ull | 0x40000000ull)

/**
 * struct tern_identify - IDENTIFY data (128 bytes)
 * @magic: TERN_MAGIC
 * @abi_major: TERN_ABI_MAJOR
 * @abi_minor: TERN_ABI_MINOR
 * @fw_version: TERN_FW_VERSION
 * @total_vfs: SR-IOV TotalVFs
 * @num_vfs: VFs currently enabled (0 when VF Enable is clear)
 * @devmem_size: device memory bytes per VF (BAR2 size)
 * @devmem_page_size: device memory page size, TERN_DEVMEM_PAGE_SIZE
 * @max_chunk: largest data_len accepted, TERN_MAX_CHUNK
 * @dirty_page_sizes: bit n set: 2^n bytes is a valid DIRTY_START page size
 * @max_dirty_ranges: TERN_DIRTY_MAX_RANGES
 * @max_sge: TERN_MAX_SGE
 * @stream_version: TERN_STREAM_VERSION
 * @caps: TERN_PF_CAP_*
 * @ctx_regs: TERN_VF_CTX_REGS
 * @fifo_depth: TERN_ENGINE_FIFO_DEPTH
 * @vf_index: the addressed VF, or TERN_VF_NONE
 * @vf_state: TERN_VF_STATE_* of the addressed VF (0 for TERN_VF_NONE)
 * @vf_sessions: TERN_VF_SESS_* of the addressed VF (0 for TERN_VF_NONE)
 * @stream_version_min: TERN_STREAM_VERSION_MIN, the oldest stream version
 *	LOAD accepts (ABI 1.2; zero before: read it as @stream_version)
 * @rsvd: zero
 */
struct tern_identify {
	__le32	magic;
	__le16	abi_major;
	__le16	abi_minor;
	__le32	fw_version;
	__le16	total_vfs;
	__le16	num_vfs;
	__le64	devmem_size;
	__le32	devmem_page_size;
	__le32	max_chunk;
	__le64	dirty_page_sizes;
	__le32	max_dirty_ranges;
	__le32	max_sge;
	__le32	stream_version;
	__le32	caps;
	__le32	ctx_regs;
	__le32	fifo_depth;
	__le16	vf_index;
	__le16	vf_state;
	__le32	vf_sessions;
	__le32	stream_version_min;
	__u8	rsvd[52];
};

TERN_ABI_CHECK_SIZE(struct tern_identify, 128);

/**
 * struct tern_dirty_range - one DIRTY_START range (16 bytes)
 * @iova: first IOVA, aligned to the tracking page size
 * @length: bytes, non-zero multiple of the tracking page size
 */
struct tern_dirty_range {
	__le64	iova;
	__le64	length;
};

TERN_ABI_CHECK_SIZE(struct tern_dirty_range, 16);

/* ------------------------------------------------------------------------
 * Migration stream: a header followed by framed records.
 *
 * All CRCs are CRC-32C (Castagnoli, reflected, initial value 0xffffffff,
 * final XOR 0xffffffff; CRC of "123456789" is 0xe3069283).
 */
#define TERN_STREAM_MAGIC		0x4d545354u	/* "TSTM" */
#define TERN_STREAM_VERSION		2	/* what a save produces */
#define TERN_STREAM_VERSION_MIN		1	/* the oldest a load accepts */

/**
 * struct tern_stream_hdr - stream header (64 bytes, stream offset 0)
 * @magic: TERN_STREAM_MAGIC
 * @version: TERN_STREAM_VERSION
 * @hdr_len: sizeof(struct tern_stream_hdr)
 * @vendor_id: TERN_PCI_VENDOR_ID
 * @device_id: TERN_PCI_VF_DEVICE_ID
 * @page_size: TERN_DEVMEM_PAGE_SIZE
 * @devmem_size: device memory bytes of the source VF
 * @ctx_regs: TERN_VF_CTX_REGS
 * @fifo_depth: TERN_ENGINE_FIFO_DEPTH
 * @flags: zero
 * @rsvd: zero
 * @crc: CRC-32C of bytes 0..59 of this header
 */
struct tern_stream_hdr {
	__le32	magic;
	__le16	version;
	__le16	hdr_len;
	__le16	vendor_id;
	__le16	device_id;
	__le32	page_size;
	__le64	devmem_size;
	__le32	ctx_regs;
	__le32	fifo_depth;
	__le32	flags;
	__le32	rsvd[6];
	__le32	crc;
};

TERN_ABI_CHECK_SIZE(struct tern_stream_hdr, 64);

enum tern_rec_type {
	TERN_REC_PAGES	= 1,
	TERN_REC_REGS	= 2,
	TERN_REC_ENGINE	= 3,
	TERN_REC_END	= 4,
	TERN_REC_ZERO	= 5,	/* stream version 2 */
};

/**
 * struct tern_rec_hdr - record header (16 bytes), followed by @len bytes
 * @type: TERN_REC_*
 * @flags: zero
 * @len: payload bytes following this header
 * @seq: record number: 0 for the first record after the stream header
 * @crc: CRC-32C over bytes 0..11 of this header followed by the payload
 */
struct tern_rec_hdr {
	__le16	type;
	__le16	flags;
	__le32	len;
	__le32	seq;
	__le32	crc;
};

TERN_ABI_CHECK_SIZE(struct tern_rec_hdr, 16);

#define TERN_REC_MAX_PAGES		64
#define TERN_REC_MAX_LEN \
	(sizeof(struct tern_rec_pages) + TERN_REC_MAX_PAGES * TERN_DEVMEM_PAGE_SIZE)

/**
 * struct tern_rec_pages - PAGES payload, followed by @count pages of data
 * @first: index of the first device memory page
 * @count: pages in this record, 1..TERN_REC_MAX_PAGES
 */
struct tern_rec_pages {
	__le32	first;
	__le32	count;
};

TERN_ABI_CHECK_SIZE(struct tern_rec_pages, 8);

/**
 * struct tern_rec_zero - ZERO payload (stream version 2): device memory
 *	pages @first .. @first + @count - 1 are all zero
 * @first: index of the first device memory page
 * @count: pages, at least 1
 */
struct tern_rec_zero {
	__le32	first;
	__le32	count;
};

TERN_ABI_CHECK_SIZE(struct tern_rec_zero, 8);

/**
 * struct tern_rec_regs - REGS payload (168 bytes)
 * @ctx: context registers
 * @jobs: JOBS counter
 * @bytes: BYTES counter
 * @errors: ERRORS counter
 * @last_csum: LAST_CSUM
 * @intr_enable: INTR_ENABLE
 * @intr_status: INTR_STATUS
 * @intr_held: TERN_VF_INTR_* events held while not running, delivered at RUN
 */
struct tern_rec_regs {
	__le64	ctx[TERN_VF_CTX_REGS];
	__le64	jobs;
	__le64	bytes;
	__le64	errors;
	__le32	last_csum;
	__le32	intr_enable;
	__le32	intr_status;
	__le32	intr_held;
};

TERN_ABI_CHECK_SIZE(struct tern_rec_regs, 168);

/**
 * struct tern_rec_engine - ENGINE payload (304 bytes)
 * @ring_base: RING_BASE
 * @cpl_base: CPL_BASE
 * @ring_size: RING_SIZE
 * @ring_tail: RING_TAIL
 * @ring_head: RING_HEAD
 * @ring_done: RING_DONE
 * @ctrl: ENGINE_CTRL
 * @status: ENGINE_STATUS without TERN_ENGINE_STS_IDLE
 * @cpl_phase: phase bit the next completion will carry (0 or 1)
 * @nparked: valid entries in @parked, 0..TERN_ENGINE_FIFO_DEPTH
 * @parked: fetched, not yet executed descriptors, oldest first; they are
 *	the ring entries RING_DONE .. RING_HEAD - 1
 */
struct tern_rec_engine {
	__le64	ring_base;
	__le64	cpl_base;
	__le32	ring_size;
	__le32	ring_tail;
	__le32	ring_head;
	__le32	ring_done;
	__le32	ctrl;
	__le32	status;
	__le32	cpl_phase;
	__le32	nparked;
	struct tern_desc parked[TERN_ENGINE_FIFO_DEPTH];
};

TERN_ABI_CHECK_SIZE(struct tern_rec_engine, 304);

#endif /* _LINUX_TERN_TERN_IF_H */
