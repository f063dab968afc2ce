// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU as the consumer: migrations that do not complete. The destination
 * rejects a corrupted stream, the VMM cancels during pre-copy or with the
 * VM stopped and the devices in STOP_COPY, a peer is killed mid-stream,
 * and postcopy is asked for with a VFIO device. Every time the VFs that
 * stay behind must be intact and usable: the source's running with their
 * device memory and engines, a second migration right after succeeding;
 * a destination's reset and usable by the next VMM. The set-up is the one
 * of qemu_migration (qemu_mig.h), once per consumer (qemu_mig_fixture.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "qemu_mig_fixture.h"
#include "qemu_split.h"
#include "tern_vf.h"

QEMU_MIG_FIXTURE(qemu_migration_abort_test);

/*
 * The source VF goes back to RUNNING after the trace position @from; QEMU
 * may report the migration's end before it resumes the device.
 */
static bool src_running_after(struct qemu_mig *m, long from)
{
	return vmm_trace_wait(&m->src, from, MIG_TIMEOUT_MS, "set_state ",
			      m->bdf[0], "new state RUNNING,", NULL) > from;
}

/*
 * The source still holds its VF's state, and migrating it again works;
 * QEMU's figures of that migration go to the table as @name.
 */
static void migrate_again(struct __test_metadata *_metadata,
			  struct qemu_mig *m, const char *name)
{
	/* where its downtime goes (qemu_split.h): a second migration's */
	int ret = qemu_split_start();
	bool tracing = !ret;

	ASSERT_TRUE(tracing || ret == -ENOENT);
	ASSERT_EQ(0, qemu_mig_verify(m, &m->src));
	ASSERT_EQ(0, qemu_mig_start_dst(m));
	ASSERT_EQ(0, qemu_mig_migrate(m));
	ASSERT_EQ(0, qemu_mig_release(m));
	ASSERT_EQ(0, qemu_mig_wait_completed(m));
	qemu_mig_print_stats(&m->src, name);
	/* the window, and with tracefs every VF's arcs (as in one_vf) */
	ASSERT_LE(tracing ? 5 * m->nvfs : 0, qemu_split_print(m, name));
	ASSERT_EQ(0, qemu_mig_verify(m, &m->dst));
}

/*
 * QEMU's migrate_cancel shuts the migration socket down (through the
 * return path, which shares it) before it moves the state to CANCELLING:
 * a migration thread that writes in between fails the migration on that
 * socket ("failed", "Channel error: Input/output error") instead of ending
 * it "cancelled" (QEMU 10.0 and 11.1). That is still the cancel, if the
 * stream failed only after it was sent; the devices' side is the same
 * (QEMU resumes them as for any migration that did not complete). A
 * stream that failed before the cancel, or anything else, fails the test.
 */
static void cancel(struct __test_metadata *_metadata, struct vmm *vm)
{
	long sent = vmm_trace_size(vm);

	ASSERT_EQ(0, vmm_qmp_ok(vm, "{\"execute\": \"migrate_cancel\"}"));
	ASSERT_EQ(0, vmm_wait_migration(vm, "cancelled|completed|failed",
					MIG_TIMEOUT_MS));
	if (!strcmp(vm->last_event, "failed") &&
	    vmm_trace_find(vm, 0, "migration_thread_file_err", NULL) >= sent) {
		TH_LOG("QEMU's cancel race: the stream failed on the socket the cancel shut down");
		return;
	}
	if (strcmp(vm->last_event, "cancelled"))
		vmm_report(vm, 40);
	ASSERT_STREQ("cancelled", vm->last_event);
}

/* the source's pause-before-switchover capability */
static int pause_before_switchover(struct vmm *vm, bool on)
{
	return vmm_qmp_ok(vm, "{\"execute\": \"migrate-set-capabilities\", "
			  "\"arguments\": {\"capabilities\": [{\"capability\": "
			  "\"pause-before-switchover\", \"state\": %s}]}}",
			  on ? "true" : "false");
}

TEST_F_TIMEOUT(qemu_migration_abort_test, cancel_during_precopy, 600)
{
	struct qemu_mig *m = &self->m;
	long pre_copy;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, 1));
	ASSERT_EQ(1, qemu_mig_dirty_rounds(m, 1, 0));
	pre_copy = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[0],
				  "new state PRE_COPY,", NULL);
	ASSERT_LE(0, pre_copy);
	cancel(_metadata, &m->src);
	ASSERT_TRUE(src_running_after(m, pre_copy));
	/* the destination gives up on the stream it was loading */
	ASSERT_TRUE(vmm_exited(&m->dst, MIG_TIMEOUT_MS));
	migrate_again(_metadata, m, "again_cancel_precopy");
}

/*
 * With pause-before-switchover the source stops the VM, which moves the
 * VFs to STOP_COPY, and waits: the cancel comes with the devices stopped
 * and their final data unread, and must bring them back to RUNNING.
 */
TEST_F_TIMEOUT(qemu_migration_abort_test, cancel_during_stop_copy, 600)
{
	struct qemu_mig *m = &self->m;
	long stop_copy;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_MIG_OR_SKIP(qemu_mig_start(m, 1));
	ASSERT_EQ(0, pause_before_switchover(&m->src, true));
	ASSERT_EQ(0, qemu_mig_migrate(m));
	ASSERT_EQ(1, qemu_mig_dirty_rounds(m, 1, 0));
	ASSERT_EQ(0, qemu_mig_release(m));
	ASSERT_EQ(0, vmm_wait_migration(&m->src, "pre-switchover|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("pre-switchover", m->src.last_event);
	stop_copy = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[0],
				   "new state STOP_COPY", NULL);
	ASSERT_LE(0, stop_copy);
	cancel(_metadata, &m->src);
	ASSERT_TRUE(src_running_after(m, stop_copy));
	ASSERT_TRUE(vmm_exited(&m->dst, MIG_TIMEOUT_MS));
	ASSERT_EQ(0, pause_before_switchover(&m->src, false));
	migrate_again(_metadata, m, "again_cancel_stopcopy");
}

TEST_F_TIMEOUT(qemu_migration_abort_test, destination_killed, 600)
{
	struct qemu_mig *m = &self->m;
	long pre_copy;
	int kmsg;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, 1));
	ASSERT_EQ(1, qemu_mig_dirty_rounds(m, 1, 0));
	pre_copy = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[0],
				  "new state PRE_COPY,", NULL);
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, kill(m->dst.pid, SIGKILL));
	ASSERT_TRUE(vmm_exited(&m->dst, MIG_TIMEOUT_MS));
	ASSERT_EQ(0, vmm_wait_migration(&m->src, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("failed", m->src.last_event);
	/* on its stream: the trace cancel() tells QEMU's cancel race by */
	ASSERT_LT(0, vmm_trace_count(&m->src, "migration_thread_file_err",
				     NULL));
	ASSERT_TRUE(src_running_after(m, pre_copy));
	ASSERT_EQ(0, kmsg_records(kmsg));
	migrate_again(_metadata, m, "again_dst_killed");
}

/*
 * The source dies mid-stream: the destination QEMU fails the load and
 * exits, its VFs (left in RESUMING) are reset when their files close, and
 * the next VMM that takes them finds working devices.
 */
TEST_F_TIMEOUT(qemu_migration_abort_test, source_killed, 600)
{
	struct qemu_mig *m = &self->m;
	int kmsg, i;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, 2));
	ASSERT_EQ(1, qemu_mig_dirty_rounds(m, 1, 0));
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, kill(m->src.pid, SIGKILL));
	ASSERT_TRUE(vmm_exited(&m->src, MIG_TIMEOUT_MS));
	vmm_stop(&m->src);
	ASSERT_TRUE(vmm_exited(&m->dst, MIG_TIMEOUT_MS));
	ASSERT_NE(0, WEXITSTATUS(m->dst.exit_status));
	ASSERT_LE(1, vmm_trace_count(&m->dst, "set_state ", m->bdf[2],
				     "new state RESUMING", NULL));
	vmm_stop(&m->dst);
	ASSERT_EQ(0, kmsg_records(kmsg));
	/* a VMM on the destination's VFs: fresh devices that run jobs */
	ASSERT_EQ(0, qemu_mig_start_vmm(m, &m->src, "next", m->nvfs, NULL));
	for (i = 0; i < m->nvfs; i++)
		ASSERT_EQ(0, l2_vf_init(&m->vf[i], &m->src, i));
	ASSERT_EQ(0, qemu_mig_verify(m, &m->src));
}

/*
 * QEMU refuses postcopy with a VFIO device when the migration starts; the
 * VF never leaves RUNNING, and a migration without postcopy then works.
 */
TEST_F_TIMEOUT(qemu_migration_abort_test, postcopy_refused, 600)
{
	struct qemu_mig *m = &self->m;
	const char *r;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_MIG_OR_SKIP(qemu_mig_start(m, 1));
	ASSERT_EQ(0, vmm_qmp_ok(&m->src, "{\"execute\": \"migrate-set-capabilities\", "
				"\"arguments\": {\"capabilities\": [{\"capability\": "
				"\"postcopy-ram\", \"state\": true}]}}"));
	r = vmm_qmp(&m->src, "{\"execute\": \"migrate\", \"arguments\": "
		    "{\"uri\": \"%s\"}}", MIG_URI);
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, strstr(r, "\"error\"")) TH_LOG("%s", r);
	ASSERT_NE(NULL, strstr(r, "postcopy")) TH_LOG("%s", r);
	ASSERT_EQ(0, vmm_trace_count(&m->src, "set_state ", m->bdf[0],
				     "new state PRE_COPY", NULL));
	ASSERT_EQ(0, vmm_qmp_ok(&m->src, "{\"execute\": \"migrate-set-capabilities\", "
				"\"arguments\": {\"capabilities\": [{\"capability\": "
				"\"postcopy-ram\", \"state\": false}]}}"));
	migrate_again(_metadata, m, "again_no_postcopy");
}

static void dest_rejects(struct __test_metadata *_metadata,
			 struct qemu_mig *m, bool stop_copy)
{
	const char *r;
	long stop;
	int kmsg;

	TERN_SKIP_UNLESS_DESTRUCTIVE("injects a fault on PF %s, seen by all its VFs",
				     tern_pf);
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, 1));
	/* from the first chunk on: VF set-up and QEMU's opens log at info */
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_LE(0, qemu_mig_dirty_rounds(m, MIG_DIRTY_ROUNDS,
					   stop_copy ? MIG_CORRUPT_STOP_COPY : 1));
	ASSERT_EQ(0, qemu_mig_release(m));
	ASSERT_EQ(0, vmm_wait_migration(&m->src, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("failed", m->src.last_event);
	/* the destination QEMU gives up on the incoming stream and exits */
	ASSERT_TRUE(vmm_exited(&m->dst, MIG_TIMEOUT_MS));
	ASSERT_NE(0, WEXITSTATUS(m->dst.exit_status));
	ASSERT_LE(1, vmm_trace_count(&m->dst, "set_state ", m->bdf[1],
				     "new state RESUMING", NULL));

	r = vmm_qmp(&m->src, "{\"execute\": \"query-status\"}");
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, strstr(r, "\"status\": \"running\""));
	stop = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[0],
			      "new state STOP_COPY", NULL);
	if (stop_copy) {
		ASSERT_LE(0, stop);
	} else {
		ASSERT_EQ(-1, stop);
	}
	ASSERT_LE(2, vmm_trace_count(&m->src, "set_state ", m->bdf[0],
				     "new state RUNNING,", NULL));
	/* the source VF still holds its state and runs jobs */
	ASSERT_EQ(0, qemu_mig_verify(m, &m->src));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->src)));
	ASSERT_EQ(0, kmsg_records(kmsg));
}

TEST_F_TIMEOUT(qemu_migration_abort_test, dest_rejects_precopy_chunk, 600)
{
	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	dest_rejects(_metadata, &self->m, false);
}

TEST_F_TIMEOUT(qemu_migration_abort_test, dest_rejects_stopcopy_chunk, 600)
{
	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	dest_rejects(_metadata, &self->m, true);
}

/* whether QEMU's log (its stderr) has a line containing @text */
static bool vmm_log_has(struct vmm *vm, const char *text)
{
	char path[96], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/qemu.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, text);
	fclose(f);
	return found;
}

/*
 * QEMU holds VFs mid-migration (the source's in pre-copy, the
 * destination's resuming): changing sriov_numvfs and unloading
 * tern-vfio-pci are refused, and unbinding the PF fails every firmware
 * command at once. The migration fails; QEMU's arc back to RUNNING fails
 * too (the PF is gone: ERROR), and QEMU resets the VF. If the unbind
 * already holds the VF's lock (it waits there for the VF's user), the
 * reset is refused with -EAGAIN and the source QEMU stops on a "hardware
 * error"; if the reset came first, QEMU runs on, and vfio's request to
 * give the VF back reaches a QEMU that cannot unplug it from pcie.0 ("does
 * not support hotplugging"): the test then stops QEMU as an admin would.
 * Either way the unbind completes once QEMU let go (tern_core's check
 * that no buffer outlives the PF included): no hang, no splat; the PF
 * binds again.
 */
TEST_F_TIMEOUT(qemu_migration_abort_test, pf_unbound_under_qemu, 600)
{
	struct qemu_mig *m = &self->m;
	char path[128], bdf[2][16];
	pthread_t unbind;
	int64_t deadline;
	void *unbound;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	/* the PF goes from under both QEMUs: saving and resuming VFs */
	m->same_pf = true;
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, 1));
	ASSERT_EQ(1, qemu_mig_dirty_rounds(m, 1, 0));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/sriov_numvfs",
		 m->pf);
	ASSERT_EQ(-EBUSY, sysfs_write(path, "0"));
	ASSERT_EQ(-1, syscall(__NR_delete_module, TERN_VF_DRIVER, O_NONBLOCK));
	ASSERT_EQ(EWOULDBLOCK, errno);

	ASSERT_EQ(0, pthread_create(&unbind, NULL, tern_pf_unbind_thread, m->pf));
	deadline = vmm_now_ms() + MIG_TIMEOUT_MS;
	while (!vmm_exited(&m->src, 100) &&
	       !vmm_log_has(&m->src, "does not support hotplugging"))
		ASSERT_LT(vmm_now_ms(), deadline);
	qemu_mig_teardown(m);
	ASSERT_EQ(0, pthread_join(unbind, &unbound));
	ASSERT_EQ(0, (long)unbound);
	ASSERT_EQ(2, tern_prepare_vfs(TERN_PF_DRIVER, TERN_VF_DRIVER, 2, bdf));
}

TERN_TEST_HARNESS_MAIN
