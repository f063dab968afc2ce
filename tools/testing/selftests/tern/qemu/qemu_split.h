/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a migration's downtime goes: the events of both QEMUs and of the
 * kernel between the source QEMU's src-downtime-start and src-downtime-end
 * checkpoints, on one clock, printed for tools/tern/downtime-split.py.
 *
 * QEMU's side is its trace and its log (qemu_vmm.c starts it with -msg
 * timestamp=on, which stamps every line of both with the wall clock). The
 * kernel's side is tern's tracepoints (tern_core:tern_cmd_*,
 * tern_vfio:tern_vf_*), recorded in a tracefs instance of the test's own
 * (nobody else's tracing is touched) on trace_clock "tai": CLOCK_TAI, the
 * wall clock plus the kernel's TAI offset, which is measured and taken
 * off.
 *
 * The output, in the TAP log (the VM's files are gone after the run):
 *
 *	# SPLIT qemu=10.0.13 test=tern_1vf src=BDF[,BDF] dst=BDF[,BDF]
 *	  downtime_us=N tai_offset_s=0 events=M		(one line)
 *	# EVENT T src|dst NAME ARGS			(QEMU's trace)
 *	# EVENT T srclog|dstlog TEXT			(QEMU's log)
 *	# EVENT T ksrc|kdst|k NAME ARGS			(the kernel's)
 *
 * T is microseconds from src-downtime-start; ksrc and kdst are events of a
 * source and a destination VF (a command's VF found through its PF).
 */
#ifndef TERN_SELFTEST_QEMU_SPLIT_H
#define TERN_SELFTEST_QEMU_SPLIT_H

#include "qemu_mig.h"

/*
 * Record tern's tracepoints from now on, into a fresh instance. Returns 0,
 * -ENOENT when the kernel has no tracefs (nothing is recorded then, and
 * qemu_split_print() prints QEMU's side alone), or another -errno.
 */
int qemu_split_start(void);
/*
 * Print the downtime window of @m's last migration, named @test, as
 * above (m->nvfs 0: no tern VFs, as for mtty). Returns how many of the
 * kernel's events were migration arcs of the VFs (tern_vf_arc), or -errno
 * (-ENOENT: the source QEMU's trace has no complete downtime window).
 */
int qemu_split_print(struct qemu_mig *m, const char *test);
/* remove the instance (nothing when not started): qemu_mig_teardown() */
void qemu_split_stop(void);

#endif
