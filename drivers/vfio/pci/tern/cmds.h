/* SPDX-License-Identifier: GPL-2.0 */
/* tern-vfio-pci: firmware command wrappers, one per admin command. */
#ifndef _TERN_VFIO_CMDS_H
#define _TERN_VFIO_CMDS_H

#include <linux/tern/tern_core.h>

struct tern_vf;

/**
 * struct tern_save_sizes - SAVE_QUERY results
 * @initial_bytes: bytes of the first pass not yet read
 * @dirty_bytes: changed device memory not yet re-sent, page granular
 * @total_bytes: what a stop-copy would transfer now
 * @reinit: a new first pass began since the previous SAVE_QUERY
 */
struct tern_save_sizes {
	u64 initial_bytes;
	u64 dirty_bytes;
	u64 total_bytes;
	bool reinit;
};

int tern_vf_cmd_quiesce(struct tern_vf *tvf);
int tern_vf_cmd_freeze(struct tern_vf *tvf);
int tern_vf_cmd_run(struct tern_vf *tvf);
int tern_vf_cmd_reset(struct tern_vf *tvf);

int tern_vf_cmd_save_begin(struct tern_vf *tvf, u32 mode, u64 *initial_bytes);
int tern_vf_cmd_save_query(struct tern_vf *tvf, struct tern_save_sizes *sizes);
int tern_vf_submit_save_query(struct tern_vf *tvf, struct tern_core_req *req);
int tern_vf_wait_save_query(struct tern_core_req *req,
			    struct tern_save_sizes *sizes);
int tern_vf_submit_save_read(struct tern_vf *tvf, struct tern_core_req *req,
			     struct tern_dma_buf *buf, size_t len);
int tern_vf_wait_save_read(struct tern_core_req *req, size_t asked,
			   size_t *filled, u32 *flags, u64 *stream_end);
int tern_vf_cmd_save_end(struct tern_vf *tvf);

int tern_vf_cmd_load_begin(struct tern_vf *tvf);
int tern_vf_submit_load_write(struct tern_vf *tvf, struct tern_core_req *req,
			      struct tern_dma_buf *buf, size_t len);
int tern_vf_cmd_load_commit(struct tern_vf *tvf);
int tern_vf_cmd_load_abort(struct tern_vf *tvf);

int tern_vf_cmd_dirty_start(struct tern_vf *tvf, struct tern_dma_buf *ranges,
			    u32 nranges, u32 page_shift);
int tern_vf_cmd_dirty_read_clear(struct tern_vf *tvf, struct tern_dma_buf *bitmap,
				 u64 iova, u64 length, u64 *ndirty);
int tern_vf_cmd_dirty_stop(struct tern_vf *tvf);

#endif /* _TERN_VFIO_CMDS_H */
