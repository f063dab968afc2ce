/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of the tern PF core driver: every admin command's submit and
 * completion, with the latency the caller saw.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM tern_core

#if !defined(_TERN_CORE_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TERN_CORE_TRACE_H

#include <linux/pci.h>
#include <linux/tracepoint.h>
#include <linux/tern/tern_if.h>

/* enum values, resolved for user-space trace parsers */
TRACE_DEFINE_ENUM(TERN_OP_IDENTIFY);
TRACE_DEFINE_ENUM(TERN_OP_VF_QUIESCE);
TRACE_DEFINE_ENUM(TERN_OP_VF_FREEZE);
TRACE_DEFINE_ENUM(TERN_OP_VF_RUN);
TRACE_DEFINE_ENUM(TERN_OP_VF_RESET);
TRACE_DEFINE_ENUM(TERN_OP_SAVE_BEGIN);
TRACE_DEFINE_ENUM(TERN_OP_SAVE_QUERY);
TRACE_DEFINE_ENUM(TERN_OP_SAVE_READ);
TRACE_DEFINE_ENUM(TERN_OP_SAVE_END);
TRACE_DEFINE_ENUM(TERN_OP_LOAD_BEGIN);
TRACE_DEFINE_ENUM(TERN_OP_LOAD_WRITE);
TRACE_DEFINE_ENUM(TERN_OP_LOAD_COMMIT);
TRACE_DEFINE_ENUM(TERN_OP_LOAD_ABORT);
TRACE_DEFINE_ENUM(TERN_OP_DIRTY_START);
TRACE_DEFINE_ENUM(TERN_OP_DIRTY_READ_CLEAR);
TRACE_DEFINE_ENUM(TERN_OP_DIRTY_STOP);
TRACE_DEFINE_ENUM(TERN_OP_FAULT_INJECT);

#define tern_op_name(op)						\
	__print_symbolic(op,						\
		{ TERN_OP_IDENTIFY, "IDENTIFY" },			\
		{ TERN_OP_VF_QUIESCE, "VF_QUIESCE" },			\
		{ TERN_OP_VF_FREEZE, "VF_FREEZE" },			\
		{ TERN_OP_VF_RUN, "VF_RUN" },				\
		{ TERN_OP_VF_RESET, "VF_RESET" },			\
		{ TERN_OP_SAVE_BEGIN, "SAVE_BEGIN" },			\
		{ TERN_OP_SAVE_QUERY, "SAVE_QUERY" },			\
		{ TERN_OP_SAVE_READ, "SAVE_READ" },			\
		{ TERN_OP_SAVE_END, "SAVE_END" },			\
		{ TERN_OP_LOAD_BEGIN, "LOAD_BEGIN" },			\
		{ TERN_OP_LOAD_WRITE, "LOAD_WRITE" },			\
		{ TERN_OP_LOAD_COMMIT, "LOAD_COMMIT" },			\
		{ TERN_OP_LOAD_ABORT, "LOAD_ABORT" },			\
		{ TERN_OP_DIRTY_START, "DIRTY_START" },			\
		{ TERN_OP_DIRTY_READ_CLEAR, "DIRTY_READ_CLEAR" },	\
		{ TERN_OP_DIRTY_STOP, "DIRTY_STOP" },			\
		{ TERN_OP_FAULT_INJECT, "FAULT_INJECT" })

TRACE_EVENT(tern_cmd_submit,
	    TP_PROTO(struct pci_dev *pdev, u8 opcode, u16 vf, u16 cid,
		     u32 len),
	    TP_ARGS(pdev, opcode, vf, cid, len),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __field(u8, opcode)
			     __field(u16, vf)
			     __field(u16, cid)
			     __field(u32, len)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->opcode = opcode;
			   __entry->vf = vf;
			   __entry->cid = cid;
			   __entry->len = len;),
	    TP_printk("%s %s vf=%u cid=%u len=%u", __get_str(dev),
		      tern_op_name(__entry->opcode), __entry->vf, __entry->cid,
		      __entry->len)
);

TRACE_EVENT(tern_cmd_complete,
	    TP_PROTO(struct pci_dev *pdev, u8 opcode, u16 vf, u16 cid,
		     u16 status, int err, u64 latency_ns),
	    TP_ARGS(pdev, opcode, vf, cid, status, err, latency_ns),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __field(u8, opcode)
			     __field(u16, vf)
			     __field(u16, cid)
			     __field(u16, status)
			     __field(int, err)
			     __field(u64, latency_ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->opcode = opcode;
			   __entry->vf = vf;
			   __entry->cid = cid;
			   __entry->status = status;
			   __entry->err = err;
			   __entry->latency_ns = latency_ns;),
	    TP_printk("%s %s vf=%u cid=%u status=0x%x err=%d latency_ns=%llu",
		      __get_str(dev), tern_op_name(__entry->opcode), __entry->vf,
		      __entry->cid, __entry->status, __entry->err,
		      __entry->latency_ns)
);

#endif /* _TERN_CORE_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
