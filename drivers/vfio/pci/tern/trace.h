/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of tern-vfio-pci: every migration arc with its outcome and
 * duration, and the DMA logging sessions (start, each report, stop).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM tern_vfio

#if !defined(_TERN_VFIO_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TERN_VFIO_TRACE_H

#include <linux/pci.h>
#include <linux/tracepoint.h>
#include <linux/vfio.h>

/* enum values, resolved for user-space trace parsers */
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_ERROR);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_STOP);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_RUNNING);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_STOP_COPY);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_RESUMING);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_RUNNING_P2P);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_PRE_COPY);
TRACE_DEFINE_ENUM(VFIO_DEVICE_STATE_PRE_COPY_P2P);

#define tern_vf_state_name(state)					\
	__print_symbolic(state,						\
		{ VFIO_DEVICE_STATE_ERROR, "ERROR" },			\
		{ VFIO_DEVICE_STATE_STOP, "STOP" },			\
		{ VFIO_DEVICE_STATE_RUNNING, "RUNNING" },		\
		{ VFIO_DEVICE_STATE_STOP_COPY, "STOP_COPY" },		\
		{ VFIO_DEVICE_STATE_RESUMING, "RESUMING" },		\
		{ VFIO_DEVICE_STATE_RUNNING_P2P, "RUNNING_P2P" },	\
		{ VFIO_DEVICE_STATE_PRE_COPY, "PRE_COPY" },		\
		{ VFIO_DEVICE_STATE_PRE_COPY_P2P, "PRE_COPY_P2P" })

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
	    TP_printk("%s %s -> %s err=%d duration_ns=%llu", __get_str(dev),
		      tern_vf_state_name(__entry->from),
		      tern_vf_state_name(__entry->to), __entry->err,
		      __entry->duration_ns)
);

TRACE_EVENT(tern_vf_dirty_start,
	    TP_PROTO(struct pci_dev *pdev, u32 nnodes, u32 nranges,
		     u64 page_size, int err),
	    TP_ARGS(pdev, nnodes, nranges, page_size, err),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __field(u32, nnodes)
			     __field(u32, nranges)
			     __field(u64, page_size)
			     __field(int, err)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->nnodes = nnodes;
			   __entry->nranges = nranges;
			   __entry->page_size = page_size;
			   __entry->err = err;),
	    TP_printk("%s ranges=%u programmed=%u page_size=%llu err=%d",
		      __get_str(dev), __entry->nnodes, __entry->nranges,
		      __entry->page_size, __entry->err)
);

TRACE_EVENT(tern_vf_dirty_report,
	    TP_PROTO(struct pci_dev *pdev, u64 iova, u64 length, u64 pages,
		     u32 reads, int err, u64 duration_ns),
	    TP_ARGS(pdev, iova, length, pages, reads, err, duration_ns),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __field(u64, iova)
			     __field(u64, length)
			     __field(u64, pages)
			     __field(u32, reads)
			     __field(int, err)
			     __field(u64, duration_ns)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->iova = iova;
			   __entry->length = length;
			   __entry->pages = pages;
			   __entry->reads = reads;
			   __entry->err = err;
			   __entry->duration_ns = duration_ns;),
	    TP_printk("%s iova=0x%llx length=0x%llx dirty_pages=%llu reads=%u err=%d duration_ns=%llu",
		      __get_str(dev), __entry->iova, __entry->length,
		      __entry->pages, __entry->reads, __entry->err,
		      __entry->duration_ns)
);

TRACE_EVENT(tern_vf_dirty_stop,
	    TP_PROTO(struct pci_dev *pdev, const char *why),
	    TP_ARGS(pdev, why),
	    TP_STRUCT__entry(__string(dev, pci_name(pdev))
			     __string(why, why)),
	    TP_fast_assign(__assign_str(dev);
			   __assign_str(why);),
	    TP_printk("%s by %s", __get_str(dev), __get_str(why))
);

#endif /* _TERN_VFIO_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
