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

/*
 * The opcodes of TERN_OPCODES(): their values, resolved for user-space
 * trace parsers, and their names. tern_trace_list() only keeps checkpatch
 * from reading these macros as statements.
 */
#define tern_trace_list(...)		__VA_ARGS__
#define TERN_OP_TRACE_ENUM(name)	\
	tern_trace_list(TRACE_DEFINE_ENUM(TERN_OP_##name);)
TERN_OPCODES(TERN_OP_TRACE_ENUM)

/* ", { TERN_OP_IDENTIFY, "IDENTIFY" }" each: no comma after the last one */
#define TERN_OP_SYMBOL(name)		tern_trace_list(, { TERN_OP_##name, #name })
#define tern_print_op(...)		__print_symbolic(__VA_ARGS__)
#define tern_op_name(op)		tern_print_op(op TERN_OPCODES(TERN_OP_SYMBOL))

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
