// SPDX-License-Identifier: GPL-2.0
/*
 * tern PF core driver: the kernel fault-injection attribute.
 *
 * <debugfs>/tern_core/fail_cmd/ fails admin commands with -EIO before
 * they reach the firmware (Documentation/fault-injection/), restricted
 * to one opcode by <debugfs>/tern_core/fail_cmd_opcode (0xff: any). Built
 * only with CONFIG_FAULT_INJECTION; core.h has the stubs otherwise. The
 * firmware's own fault rules (<pf>/fw_fault) are firmware commands, in
 * debugfs.c.
 */
#include <linux/debugfs.h>
#include <linux/fault-inject.h>

#include "core.h"

static u32 tern_fail_cmd_opcode = 0xff;
static DECLARE_FAULT_ATTR(tern_fail_cmd);

/**
 * tern_should_fail_cmd() - whether to fail a command before sending it
 * @opcode: the command's opcode
 *
 * Return: true if the fault-injection attribute says so.
 */
bool tern_should_fail_cmd(u8 opcode)
{
	u32 filter = READ_ONCE(tern_fail_cmd_opcode);

	if (filter != 0xff && filter != opcode)
		return false;
	return should_fail(&tern_fail_cmd, 1);
}

/**
 * tern_fault_inject_init() - create the attribute's debugfs files
 * @root: <debugfs>/tern_core
 */
void tern_fault_inject_init(struct dentry *root)
{
	debugfs_create_x32("fail_cmd_opcode", 0600, root,
			   &tern_fail_cmd_opcode);
	fault_create_debugfs_attr("fail_cmd", root, &tern_fail_cmd);
}
