// SPDX-License-Identifier: GPL-2.0
/*
 * tern PF core driver: kernel fault injection.
 *
 * <debugfs>/tern_core/fail_cmd/ fails admin commands with -EIO before
 * they reach the firmware (Documentation/fault-injection/), restricted
 * to one opcode by <debugfs>/tern_core/fail_cmd_opcode (0xff: any).
 * <debugfs>/tern_core/submit_delay_ms holds each submission of opcode
 * submit_delay_opcode that long between reserving its slot and posting
 * it (submits_delayed counts them): the window in which a PF reset can
 * finish the slot first. Built only with CONFIG_FAULT_INJECTION; core.h
 * has the stubs otherwise. The firmware's own fault rules (<pf>/fw_fault)
 * are firmware commands, in debugfs.c.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/fault-inject.h>

#include "core.h"

static u32 tern_fail_cmd_opcode = 0xff;
static DECLARE_FAULT_ATTR(tern_fail_cmd);
static u32 tern_delay_submit_opcode = 0xff;
static u32 tern_delay_submit_ms;
static atomic_t tern_submits_delayed = ATOMIC_INIT(0);

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
 * tern_fault_delay_submit() - hold a submission before it is posted
 * @opcode: the command's opcode
 *
 * Sleeps submit_delay_ms if @opcode is submit_delay_opcode.
 */
void tern_fault_delay_submit(u8 opcode)
{
	u32 ms = READ_ONCE(tern_delay_submit_ms);

	if (!ms || READ_ONCE(tern_delay_submit_opcode) != opcode)
		return;
	atomic_inc(&tern_submits_delayed);
	msleep(ms);
}

/**
 * tern_fault_inject_init() - create the fault-injection debugfs files
 * @root: <debugfs>/tern_core
 */
void tern_fault_inject_init(struct dentry *root)
{
	debugfs_create_x32("fail_cmd_opcode", 0600, root,
			   &tern_fail_cmd_opcode);
	fault_create_debugfs_attr("fail_cmd", root, &tern_fail_cmd);
	debugfs_create_x32("submit_delay_opcode", 0600, root,
			   &tern_delay_submit_opcode);
	debugfs_create_u32("submit_delay_ms", 0600, root,
			   &tern_delay_submit_ms);
	debugfs_create_atomic_t("submits_delayed", 0400, root,
				&tern_submits_delayed);
}
