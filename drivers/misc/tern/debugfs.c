// SPDX-License-Identifier: GPL-2.0
/*
 * tern PF core driver: debugfs.
 *
 * <debugfs>/tern_core/
 *   fail_cmd/, fail_cmd_opcode   kernel fault injection (fault_inject.c)
 *   <pf>/stats         per-opcode submitted/failed/timeouts/injected/latency
 *   <pf>/identify      the PF's IDENTIFY data
 *   <pf>/vf_users      VFs held open by the VF driver
 *   <pf>/buf_bytes     command data buffers mapped for the PF now, bytes
 *   <pf>/resets        firmware resets under the VFs' users (PF reset, AER
 *                      recovery, fatal queue error): tern_core_epoch()
 *   <pf>/fw_fault      write a firmware fault rule (model's FAULT_INJECT):
 *                      "fail OPCODE COUNT [STATUS]", "stall OPCODE COUNT",
 *                      "corrupt COUNT", "miscount COUNT", "fatal",
 *                      "duplicate OPCODE COUNT", "vanish MS", "clear",
 *                      "release"
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>

#include "core.h"

static struct dentry *tern_debugfs_root;

static int tern_stats_show(struct seq_file *s, void *unused)
{
	struct tern_core *core = s->private;
	unsigned long flags;
	unsigned int op;

	seq_puts(s, "opcode            submitted   failed timeouts injected avg_latency_us\n");
	for (op = 0; op < TERN_NUM_OPCODES; op++) {
		struct tern_op_stats st;

		spin_lock_irqsave(&core->lock, flags);
		st = core->stats[op];
		spin_unlock_irqrestore(&core->lock, flags);
		if (!st.submitted && !st.failed)
			continue;
		seq_printf(s, "%-17s %9llu %8llu %8llu %8llu %14llu\n",
			   tern_opcode_name(op), st.submitted, st.failed,
			   st.timeouts, st.injected,
			   st.submitted ? div64_u64(st.latency_ns,
						    st.submitted * 1000) : 0);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tern_stats);

static int tern_identify_show(struct seq_file *s, void *unused)
{
	struct tern_core *core = s->private;
	const struct tern_identify *id = &core->identity;

	seq_printf(s, "abi %u.%u\nfw_version 0x%08x\ntotal_vfs %u\n",
		   le16_to_cpu(id->abi_major), le16_to_cpu(id->abi_minor),
		   le32_to_cpu(id->fw_version), le16_to_cpu(id->total_vfs));
	seq_printf(s, "devmem_size %llu\ndevmem_page_size %u\nmax_chunk %u\n",
		   le64_to_cpu(id->devmem_size),
		   le32_to_cpu(id->devmem_page_size),
		   le32_to_cpu(id->max_chunk));
	seq_printf(s, "dirty_page_sizes 0x%llx\nmax_dirty_ranges %u\nstream_version %u\nstream_version_min %u\ncaps 0x%x\n",
		   le64_to_cpu(id->dirty_page_sizes),
		   le32_to_cpu(id->max_dirty_ranges),
		   le32_to_cpu(id->stream_version),
		   le32_to_cpu(id->stream_version_min), le32_to_cpu(id->caps));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(tern_identify);

static int tern_vf_users_get(void *data, u64 *val)
{
	struct tern_core *core = data;

	mutex_lock(&core->vf_lock);
	*val = core->vf_users;
	mutex_unlock(&core->vf_lock);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(tern_vf_users_fops, tern_vf_users_get, NULL, "%llu\n");

static int tern_buf_bytes_get(void *data, u64 *val)
{
	struct tern_core *core = data;

	*val = atomic_long_read(&core->buf_bytes);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(tern_buf_bytes_fops, tern_buf_bytes_get, NULL,
			 "%llu\n");

static int tern_parse_fault(char *line, struct tern_cmd_fault_inject *f)
{
	unsigned int opcode, count, status = 0;
	char action[16];
	int n;

	n = sscanf(line, "%15s", action);
	if (n != 1)
		return -EINVAL;
	if (!strcmp(action, "clear")) {
		f->action = TERN_FAULT_CLEAR;
		return 0;
	}
	if (!strcmp(action, "release")) {
		f->action = TERN_FAULT_RELEASE;
		return 0;
	}
	if (!strcmp(action, "fatal")) {
		f->action = TERN_FAULT_FATAL;
		return 0;
	}
	if (!strcmp(action, "corrupt") || !strcmp(action, "miscount") ||
	    !strcmp(action, "vanish")) {
		if (sscanf(line, "%*s %u", &count) != 1)
			return -EINVAL;
		f->action = action[0] == 'c' ? TERN_FAULT_CORRUPT :
			    action[0] == 'm' ? TERN_FAULT_MISCOUNT :
					       TERN_FAULT_VANISH;
		f->count = cpu_to_le32(count);
		return 0;
	}
	n = sscanf(line, "%*s %i %u %i", &opcode, &count, &status);
	if (n < 2 || opcode > 0xff || status > 0xffff)
		return -EINVAL;
	if (!strcmp(action, "fail"))
		f->action = TERN_FAULT_FAIL;
	else if (!strcmp(action, "stall"))
		f->action = TERN_FAULT_STALL;
	else if (!strcmp(action, "duplicate"))
		f->action = TERN_FAULT_DUPLICATE;
	else
		return -EINVAL;
	f->opcode = opcode;
	f->count = cpu_to_le32(count);
	f->status = cpu_to_le16(status);
	return 0;
}

static ssize_t tern_fw_fault_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct tern_core *core = file->private_data;
	struct tern_admin_cmd cmd = {
		.opcode = TERN_OP_FAULT_INJECT,
		.vf = cpu_to_le16(TERN_VF_NONE),
	};
	char line[64];
	int ret;

	if (len >= sizeof(line))
		return -EINVAL;
	if (copy_from_user(line, ubuf, len))
		return -EFAULT;
	line[len] = 0;
	ret = tern_parse_fault(line, &cmd.fault);
	if (ret)
		return ret;
	ret = tern_core_exec(core, &cmd, NULL, 0, NULL);
	return ret ? ret : len;
}

static const struct file_operations tern_fw_fault_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = tern_fw_fault_write,
	.llseek = noop_llseek,
};

void tern_debugfs_init(struct tern_core *core)
{
	core->debugfs = debugfs_create_dir(pci_name(core->pdev),
					   tern_debugfs_root);
	debugfs_create_file("stats", 0444, core->debugfs, core,
			    &tern_stats_fops);
	debugfs_create_file("identify", 0444, core->debugfs, core,
			    &tern_identify_fops);
	debugfs_create_file("vf_users", 0444, core->debugfs, core,
			    &tern_vf_users_fops);
	debugfs_create_file("buf_bytes", 0444, core->debugfs, core,
			    &tern_buf_bytes_fops);
	debugfs_create_u32("resets", 0444, core->debugfs, &core->epoch);
	debugfs_create_file("fw_fault", 0200, core->debugfs, core,
			    &tern_fw_fault_fops);
}

void tern_debugfs_exit(struct tern_core *core)
{
	debugfs_remove_recursive(core->debugfs);
	core->debugfs = NULL;
}

void tern_debugfs_register(void)
{
	tern_debugfs_root = debugfs_create_dir("tern_core", NULL);
	tern_fault_inject_init(tern_debugfs_root);
}

void tern_debugfs_unregister(void)
{
	debugfs_remove_recursive(tern_debugfs_root);
}
