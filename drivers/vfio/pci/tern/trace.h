/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of tern-vfio-pci: every migration arc with its outcome and
 * duration.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM tern_vfio

#if !defined(_TERN_VFIO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TERN_VFIO_TRACE_H

#include <linux/pci.h>
#include <linux/tracepoint.h>

TRACE_EVENT(tern_vf_arc,
	    TP_PROTO(struct pci_dev *pdev, u32 from, u32 to, int err,
		     u64 duration_ns),
	    TP_ARGS(pdev, from, to, err, duration_ns),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __field(u32, from)
			     __field(u32, to)
			     __field(int, err)
			     __field(u64, duration_ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->from = from;
			   __entry->to = to;
			   __entry->err = err;
			   __entry->duration_ns = duration_ns;),
	    TP_printk("%s %u -> %u err=%d duration_ns=%llu", __get_str(dev),
		      __entry->from, __entry->to, __entry->err,
		      __entry->duration_ns)
);

#endif /* _TERN_VFIO_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
