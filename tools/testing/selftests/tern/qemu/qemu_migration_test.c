// SPDX-License-Identifier: GPL-2.0
/*
 * QEMU as the consumer: migrations that complete. Two QEMU processes in
 * this (L1) machine are source and destination VMMs of an L2 machine with
 * tern VFs assigned through vfio-pci and iommufd (or the legacy container,
 * the only path of a kernel without iommufd), migrating over a unix socket
 * with QMP while the test plays the L2 guest's driver (qemu_mig.h). QEMU's
 * trace events show the states, pre-copy iterations and switchover
 * acknowledgements it went through.
 *
 * Every test runs once per consumer (qemu_mig_fixture.h). The destination
 * QEMU's VFs are on another PF than the source's where one is named
 * (qemu_mig.h), as between two hosts, in every scenario but one_vf, which
 * keeps a migration between VFs of one PF.
 *
 * The kernel's mtty sample is migrated the same way as the baseline.
 * Migrations that fail, are cancelled or lose a peer:
 * qemu_migration_abort_test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvfio.h>

#include "kselftest_harness.h"
#include "qemu_mig_fixture.h"
#include "qemu_split.h"
#include "tern_vf.h"

QEMU_MIG_FIXTURE(qemu_migration_test);

/* the states each VF went through, from QEMU's vfio trace */
static void check_trace(struct __test_metadata *_metadata,
			struct qemu_mig *m)
{
	long stop_copy_first = -1, p2p, pos, pre, stop;
	int i;

	/*
	 * Migratable, no blocker. Guest RAM the VFs write is tracked by their
	 * DMA logging where the kernel offers it, else by the IOMMU (type1).
	 */
	ASSERT_EQ(m->nvfs, vmm_trace_count(&m->src,
					      "vfio_migration_realize", NULL));
	if (m->dma_logging) {
		ASSERT_LE(1, vmm_trace_count(&m->src,
					     "vfio_device_dirty_tracking_start",
					     NULL));
	} else {
		ASSERT_TRUE(m->container);
		ASSERT_EQ(0, vmm_trace_count(&m->src,
					     "vfio_device_dirty_tracking_start",
					     NULL));
		/* renamed in QEMU 10.1 */
		ASSERT_LE(1, vmm_trace_count(&m->src, "vfio_get_dirty_bitmap",
					     NULL) +
			     vmm_trace_count(&m->src,
					     "vfio_container_query_dirty_bitmap",
					     NULL));
	}
	/* pre-copy iterations that carried device data */
	ASSERT_LE(1, vmm_trace_count(&m->src, "vfio_save_iterate ", NULL));
	qemu_mig_trace_device_bytes(&m->src, &pre, &stop);
	ASSERT_LT(0, pre);
	/* over multifd the save threads read the stop-copy data untraced */
	if (!m->multifd) {
		pos = vmm_trace_find(&m->src, 0,
				     "vfio_save_complete_precopy_start", NULL);
		ASSERT_LT(0, pos);
		ASSERT_LT(0, stop);
	}

	for (i = 0; i < m->nvfs; i++) {
		const char *bdf = m->bdf[i], *dbdf = m->bdf[m->nvfs + i];

		ASSERT_LE(1, vmm_trace_count(&m->src, "set_state ", bdf,
					     "new state PRE_COPY,", NULL));
		ASSERT_LE(1, vmm_trace_count(&m->src, "set_state ", bdf,
					     "new state STOP_COPY", NULL));
		pos = vmm_trace_find(&m->src, 0, "set_state ", bdf,
				     "new state STOP_COPY", NULL);
		if (stop_copy_first < 0 || pos < stop_copy_first)
			stop_copy_first = pos;
		ASSERT_LE(1, vmm_trace_count(&m->dst, "set_state ", dbdf,
					     "new state RESUMING", NULL));
		ASSERT_LE(1, vmm_trace_count(&m->dst, "set_state ", dbdf,
					     "new state RUNNING,", NULL));
	}
	/* every VF is in a P2P state before the first one stops */
	for (i = 0; i < m->nvfs; i++) {
		p2p = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[i],
				     "new state PRE_COPY_P2P", NULL);
		if (p2p < 0)
			p2p = vmm_trace_find(&m->src, 0, "set_state ",
					     m->bdf[i],
					     "new state RUNNING_P2P", NULL);
		ASSERT_LE(0, p2p);
		ASSERT_LT(p2p, stop_copy_first);
	}
}

/*
 * Switchover-ack: the source switched over only after the destination
 * acknowledged that it loaded the devices' initial data, which the source
 * sends when the device's initial_bytes reached 0.
 */
static void check_switchover_ack(struct __test_metadata *_metadata,
				 struct qemu_mig *m)
{
	long init_done, acked, stop;

	init_done = vmm_trace_find(&m->src, 0, "vfio_save_iterate ",
				   "initial size 0 ", NULL);
	acked = vmm_trace_find(&m->src, 0,
			       "source_return_path_thread_switchover_acked",
			       NULL);
	stop = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[0],
			      "new state STOP_COPY", NULL);
	ASSERT_LE(0, init_done);
	ASSERT_LT(init_done, acked);
	ASSERT_LT(acked, stop);
	ASSERT_LE(1, vmm_trace_count(&m->dst, "loadvm_approve_switchover",
				     NULL));
}

/*
 * Record the kernel's side of the downtime (qemu_split.h): a kernel
 * without tracefs has none, and only QEMU's side is printed.
 */
static bool split_start(struct __test_metadata *_metadata)
{
	int ret = qemu_split_start();

	ASSERT_TRUE(!ret || ret == -ENOENT)
		TH_LOG("tracefs instance: %s", strerror(-ret));
	return !ret;
}

/*
 * The downtime's events for tools/tern/downtime-split.py: QEMU's window,
 * and with @tracing the kernel's arcs of every VF, at least the source's
 * two (to PRE_COPY_P2P, to STOP_COPY) and the destination's three (to
 * STOP, RUNNING_P2P, RUNNING).
 */
static void split_print(struct __test_metadata *_metadata, struct qemu_mig *m,
			const char *name, bool tracing)
{
	int arcs = qemu_split_print(m, name);

	ASSERT_LE(0, arcs) TH_LOG("no downtime window in the source's trace");
	if (tracing)
		ASSERT_LE(5 * m->nvfs, arcs);
}

static void migrate_and_verify(struct __test_metadata *_metadata,
			       struct qemu_mig *m, int nvfs, const char *name)
{
	bool tracing = split_start(_metadata);

	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, nvfs));
	ASSERT_EQ(MIG_DIRTY_ROUNDS,
		  qemu_mig_dirty_rounds(m, MIG_DIRTY_ROUNDS, 0));
	ASSERT_EQ(0, qemu_mig_release(m));
	ASSERT_EQ(0, qemu_mig_wait_completed(m));
	qemu_mig_print_stats(&m->src, name);
	split_print(_metadata, m, name, tracing);
	ASSERT_EQ(0, qemu_mig_verify(m, &m->dst));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->dst)));
	check_trace(_metadata, m);
	check_switchover_ack(_metadata, m);
}

/* between two VFs of one PF, whether or not another PF is named */
TEST_F_TIMEOUT(qemu_migration_test, one_vf, 600)
{
	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	self->m.same_pf = true;
	migrate_and_verify(_metadata, &self->m, 1, "tern_1vf");
}

/* QEMU moves both VFs to a P2P state before either stops */
TEST_F_TIMEOUT(qemu_migration_test, two_vfs, 600)
{
	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	migrate_and_verify(_metadata, &self->m, 2, "tern_2vf");
}

/*
 * QEMU's default path, the legacy group/container, which every kernel has:
 * on a kernel without iommufd (Debian's stock 6.12) the VF offers no DMA
 * logging, and QEMU tracks what it writes into guest RAM through type1.
 */
TEST_F_TIMEOUT(qemu_migration_test, one_vf_container, 600)
{
	self->m.container = true;
	migrate_and_verify(_metadata, &self->m, 1, "tern_1vf_container");
}

/*
 * Device state over multifd channels (QEMU 10.0+): the switchover data of
 * both VFs is read by QEMU's save threads and written on the destination
 * by its load thread, in packets, while the guest kept the engines and
 * device memory busy during pre-copy.
 */
TEST_F_TIMEOUT(qemu_migration_test, multifd_two_vfs, 600)
{
	struct qemu_mig *m = &self->m;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_SKIP_UNLESS_VERSION(m, 1000, "device state over multifd");
	m->multifd = 4;
	migrate_and_verify(_metadata, m, 2, "tern_2vf_multifd");
	ASSERT_LE(2, vmm_trace_count(&m->src,
				     "vfio_save_complete_precopy_thread_start",
				     NULL));
	ASSERT_LE(2, vmm_trace_count(&m->dst, "vfio_load_bufs_thread_start",
				     NULL));
	ASSERT_LE(2, vmm_trace_count(&m->dst,
				     "vfio_load_state_device_buffer_incoming",
				     NULL));
}

/*
 * The guest resizes its engine ring after the destination acknowledged the
 * initial data: the device re-inits its migration state (initial data
 * again). A consumer that reads PRECOPY_INFOv2 sees REINIT, asks for a new
 * switchover-ack and switches over only after the destination acknowledged
 * the new initial data; one that does not (v1) migrates the new ring in
 * stop-copy. Either way the destination VF runs on the resized ring.
 */
TEST_F_TIMEOUT(qemu_migration_test, reinit_during_precopy, 600)
{
	struct qemu_mig *m = &self->m;
	long acked, request, last_ack, stop;
	struct vfio_pci_device *device;
	struct iommu *iommu;
	bool v2_kernel;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	QEMU_MIG_OR_SKIP(qemu_mig_setup(m, 1));
	ASSERT_EQ(1, qemu_mig_dirty_rounds(m, 1, 0));
	ASSERT_LE(0, vmm_trace_wait(&m->src, 0, MIG_TIMEOUT_MS,
				    "source_return_path_thread_switchover_acked",
				    NULL)) TH_LOG("no switchover-ack");
	acked = vmm_trace_size(&m->src);
	ASSERT_EQ(0, l2_vf_resize_ring(&m->vf[0], 128));
	ASSERT_EQ(0, qemu_mig_release(m));
	ASSERT_EQ(0, qemu_mig_wait_completed(m));
	qemu_mig_print_stats(&m->src, "tern_1vf_reinit");
	ASSERT_EQ(0, qemu_mig_verify(m, &m->dst));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&m->dst)));
	check_trace(_metadata, m);

	/* the consumers that read PRECOPY_INFOv2 where the kernel has it */
	iommu = iommu_init(MODE_VFIO_TYPE1V2_IOMMU);
	device = vfio_pci_device_init(m->bdf[0], iommu);
	v2_kernel = tern_precopy_info_v2_available(device);
	vfio_pci_device_cleanup(device);
	iommu_cleanup(iommu);
	if (!v2_kernel ||
	    !vmm_trace_count(&m->src, "vfio_migration_init", NULL)) {
		TH_LOG("PRECOPY_INFOv2 not in use (kernel %s it): re-init migrated in stop-copy",
		       v2_kernel ? "has" : "lacks");
		return;
	}
	ASSERT_EQ(1, vmm_trace_count(&m->src, "vfio_migration_init",
				     "precopy_info_v2_used 1", NULL));
	request = vmm_trace_find(&m->src, acked,
				 "vfio_query_precopy_size_request_switchover_ack",
				 NULL);
	ASSERT_LE(0, request);
	last_ack = vmm_trace_find(&m->src, request,
				  "source_return_path_thread_switchover_acked",
				  NULL);
	stop = vmm_trace_find(&m->src, 0, "set_state ", m->bdf[0],
			      "new state STOP_COPY", NULL);
	ASSERT_LT(request, last_ack);
	ASSERT_LT(last_ack, stop);
	ASSERT_LE(2, vmm_trace_count(&m->dst, "loadvm_approve_switchover",
				     NULL));
}

/* ---- baseline: the kernel's mtty sample -------------------------------- */

#define MTTY_CREATE "/sys/class/mdev_bus/mtty/mdev_supported_types/mtty-2/create"
#define MTTY_IO(bar)	(0xc000 + 0x100 * (bar))
#define UART_SCR	7

static const char *const mtty_uuid[2] = {
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0b01",
	"5a6e1c2a-7f0b-4e36-9a3d-2c1b0e7d0b02",
};

static int start_mtty_vmm(const char *qemu, struct vmm *vm, const char *name,
			  int i, const char *incoming)
{
	char dev[160];
	const char *args[] = { "-object", "iommufd,id=i0", "-device", dev, NULL };

	/* mtty has no dirty tracking (it does no DMA): migrate regardless */
	snprintf(dev, sizeof(dev),
		 "vfio-pci,sysfsdev=/sys/bus/mdev/devices/%s,iommufd=i0,addr=0x%x,enable-migration=on",
		 mtty_uuid[i], L2_SLOT(0));
	return vmm_start(vm, qemu, name, args, incoming);
}

TEST_F_TIMEOUT(qemu_migration_test, mtty_baseline, 300)
{
	char path[128];
	bool tracing;
	int i, bar;

	SKIP_UNLESS_IOMMU_MODE(MODE_IOMMUFD);
	SKIP_UNLESS_KERNEL_HAS(!access(MTTY_CREATE, F_OK), "mtty");
	tracing = split_start(_metadata);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s",
			 mtty_uuid[i]);
		if (access(path, F_OK))
			ASSERT_EQ(0, sysfs_write(MTTY_CREATE, mtty_uuid[i]));
	}
	ASSERT_EQ(0, start_mtty_vmm(self->m.qemu, &self->m.dst, "dst", 1, MIG_URI));
	ASSERT_EQ(0, start_mtty_vmm(self->m.qemu, &self->m.src, "src", 0, NULL));
	for (bar = 0; bar < 2; bar++) {
		ASSERT_EQ(8, vmm_pci_map_bar(&self->m.src, L2_DEVFN(0), bar,
					     MTTY_IO(bar)));
	}
	vmm_pci_write(&self->m.src, L2_DEVFN(0), 0x4, 0x1);	/* I/O decode */
	for (bar = 0; bar < 2; bar++) {
		vmm_outb(&self->m.src, MTTY_IO(bar) + UART_SCR, 0x5a + bar);
		ASSERT_EQ(0x5a + bar, vmm_inb(&self->m.src, MTTY_IO(bar) + UART_SCR));
	}
	ASSERT_EQ(0, vmm_qmp_ok(&self->m.src,
		"{\"execute\": \"migrate\", \"arguments\": {\"uri\": \"%s\"}}",
		MIG_URI));
	ASSERT_EQ(0, vmm_wait_migration(&self->m.src, "completed|failed",
					MIG_TIMEOUT_MS));
	ASSERT_STREQ("completed", self->m.src.last_event);
	ASSERT_EQ(0, vmm_wait_migration(&self->m.dst, "completed|failed",
					MIG_TIMEOUT_MS));
	for (bar = 0; bar < 2; bar++)
		ASSERT_EQ(0x5a + bar, vmm_inb(&self->m.dst, MTTY_IO(bar) + UART_SCR));
	qemu_mig_print_stats(&self->m.src, "mtty");
	split_print(_metadata, &self->m, "mtty", tracing);
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->m.src)));
	ASSERT_EQ(0, WEXITSTATUS(vmm_stop(&self->m.dst)));
	ASSERT_LE(1, vmm_trace_count(&self->m.src, "set_state ", mtty_uuid[0],
				     "new state PRE_COPY,", NULL));
	ASSERT_LE(1, vmm_trace_count(&self->m.src, "set_state ", mtty_uuid[0],
				     "new state STOP_COPY", NULL));
	ASSERT_LE(1, vmm_trace_count(&self->m.dst, "set_state ", mtty_uuid[1],
				     "new state RESUMING", NULL));
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/sys/bus/mdev/devices/%s/remove",
			 mtty_uuid[i]);
		sysfs_write(path, "1");
	}
}

TERN_TEST_HARNESS_MAIN
