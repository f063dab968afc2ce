// SPDX-License-Identifier: GPL-2.0
/*
 * tern-vfio-pci: firmware command wrappers.
 *
 * Each wrapper builds one admin command for this VF (see
 * Documentation/tern/device.rst for its semantics) and runs it through the
 * PF core driver. Errors are the PF core's errnos; the PF core already
 * logged them with the opcode and VF index. The data-moving commands of
 * the migration files are submitted and collected separately, so that a
 * file keeps several in flight.
 */
#include "cmds.h"
#include "tern_vfio.h"

static int tern_vf_exec(struct tern_vf *tvf, struct tern_admin_cmd *cmd,
			struct tern_dma_buf *buf, size_t len, u64 *result)
{
	cmd->vf = cpu_to_le16(tvf->vf_index);
	return tern_core_exec(tvf->core, cmd, buf, len, result);
}

static int tern_vf_simple(struct tern_vf *tvf, u8 opcode)
{
	struct tern_admin_cmd cmd = { .opcode = opcode };

	return tern_vf_exec(tvf, &cmd, NULL, 0, NULL);
}

int tern_vf_cmd_quiesce(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_VF_QUIESCE);
}

int tern_vf_cmd_freeze(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_VF_FREEZE);
}

int tern_vf_cmd_run(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_VF_RUN);
}

int tern_vf_cmd_reset(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_VF_RESET);
}

int tern_vf_cmd_save_begin(struct tern_vf *tvf, u32 mode, u64 *initial_bytes)
{
	struct tern_admin_cmd cmd = {
		.opcode = TERN_OP_SAVE_BEGIN,
		.save_begin.mode = cpu_to_le32(mode),
	};
	u64 result[3];
	int ret;

	ret = tern_vf_exec(tvf, &cmd, NULL, 0, result);
	if (!ret && initial_bytes)
		*initial_bytes = result[0];
	return ret;
}

static void tern_save_sizes_parse(const u64 *result,
				  struct tern_save_sizes *sizes)
{
	sizes->initial_bytes = result[0] & TERN_SAVE_Q_INITIAL;
	sizes->reinit = result[0] & TERN_SAVE_Q_REINIT;
	sizes->dirty_bytes = result[1];
	sizes->total_bytes = result[2];
}

int tern_vf_cmd_save_query(struct tern_vf *tvf, struct tern_save_sizes *sizes)
{
	struct tern_admin_cmd cmd = { .opcode = TERN_OP_SAVE_QUERY };
	u64 result[3];
	int ret;

	ret = tern_vf_exec(tvf, &cmd, NULL, 0, result);
	if (!ret)
		tern_save_sizes_parse(result, sizes);
	return ret;
}

/* Send a data-moving command without waiting; tern_core_wait() collects it. */
static int tern_vf_submit(struct tern_vf *tvf, struct tern_core_req *req,
			  u8 opcode, struct tern_dma_buf *buf, size_t len)
{
	struct tern_admin_cmd cmd = {
		.opcode = opcode,
		.vf = cpu_to_le16(tvf->vf_index),
	};

	return tern_core_submit(tvf->core, req, &cmd, buf, len);
}

int tern_vf_submit_save_read(struct tern_vf *tvf, struct tern_core_req *req,
			     struct tern_dma_buf *buf, size_t len)
{
	return tern_vf_submit(tvf, req, TERN_OP_SAVE_READ, buf, len);
}

int tern_vf_submit_save_query(struct tern_vf *tvf, struct tern_core_req *req)
{
	return tern_vf_submit(tvf, req, TERN_OP_SAVE_QUERY, NULL, 0);
}

int tern_vf_wait_save_query(struct tern_core_req *req,
			    struct tern_save_sizes *sizes)
{
	u64 result[3];
	int ret;

	ret = tern_core_wait(req, result);
	if (!ret)
		tern_save_sizes_parse(result, sizes);
	return ret;
}

int tern_vf_wait_save_read(struct tern_core_req *req, size_t asked,
			   size_t *filled, u32 *flags, u64 *stream_end)
{
	u64 result[3];
	int ret;

	ret = tern_core_wait(req, result);
	if (ret)
		return ret;
	if (result[0] > asked)
		return -EPROTO;
	*filled = result[0];
	*flags = result[1];
	*stream_end = result[2];
	return 0;
}

int tern_vf_cmd_save_end(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_SAVE_END);
}

int tern_vf_cmd_load_begin(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_LOAD_BEGIN);
}

int tern_vf_submit_load_write(struct tern_vf *tvf, struct tern_core_req *req,
			      struct tern_dma_buf *buf, size_t len)
{
	return tern_vf_submit(tvf, req, TERN_OP_LOAD_WRITE, buf, len);
}

int tern_vf_cmd_load_commit(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_LOAD_COMMIT);
}

int tern_vf_cmd_load_abort(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_LOAD_ABORT);
}

int tern_vf_cmd_dirty_start(struct tern_vf *tvf, struct tern_dma_buf *ranges,
			    u32 nranges, u32 page_shift)
{
	struct tern_admin_cmd cmd = {
		.opcode = TERN_OP_DIRTY_START,
		.dirty_start.nranges = cpu_to_le32(nranges),
		.dirty_start.page_shift = cpu_to_le32(page_shift),
	};

	return tern_vf_exec(tvf, &cmd, ranges,
			    nranges * sizeof(struct tern_dirty_range), NULL);
}

int tern_vf_cmd_dirty_read_clear(struct tern_vf *tvf, struct tern_dma_buf *bitmap,
				 u64 iova, u64 length, u64 *ndirty)
{
	struct tern_admin_cmd cmd = {
		.opcode = TERN_OP_DIRTY_READ_CLEAR,
		.dirty_read.iova = cpu_to_le64(iova),
		.dirty_read.length = cpu_to_le64(length),
	};
	u64 npages = length >> tvf->dirty.page_shift;
	u64 result[3];
	int ret;

	ret = tern_vf_exec(tvf, &cmd, bitmap, DIV_ROUND_UP(npages, 64) * 8,
			   result);
	if (!ret && ndirty)
		*ndirty = result[0];
	return ret;
}

int tern_vf_cmd_dirty_stop(struct tern_vf *tvf)
{
	return tern_vf_simple(tvf, TERN_OP_DIRTY_STOP);
}
