/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU as the consumer of the uAPI, the pieces the QEMU migration tests
 * share: two QEMU processes in this (L1) machine are the source and the
 * destination VMM of an L2 machine with tern VFs assigned through vfio-pci
 * (iommufd, or the legacy container), and the test plays the L2 guest's
 * driver over qtest (qemu_vmm.h).
 *
 * Which QEMU: TERN_SELFTESTS_QEMU (default /usr/bin/qemu-system-x86_64),
 * and a second consumer, TERN_SELFTESTS_QEMU_OTHER, for the tests' "other"
 * variant (they SKIP when it is not named). The rig names QEMU 10.0 with
 * the tern model (Debian trixie's own QEMU 10.0 on trixie's kernel) and
 * Debian's packaged QEMU 11.1.
 *
 * Which VFs: the source QEMU gets VFs of the PF (TERN_SELFTESTS_PF), the
 * destination QEMU VFs of the other PF where one is named
 * (TERN_SELFTESTS_PF_OTHER), as between two hosts; else, or for a
 * scenario that sets same_pf, other VFs of the same PF.
 *
 * The functions return 0 or a negative errno and print why on failure
 * ("# ..."), for the tests to ASSERT on.
 */
#ifndef TERN_SELFTEST_QEMU_MIG_H
#define TERN_SELFTEST_QEMU_MIG_H

#include <stdbool.h>
#include <stdint.h>

#include "qemu_vmm.h"
#include <tern/tern_if.h>

#define QEMU_ENV		"TERN_SELFTESTS_QEMU"
#define QEMU_OTHER_ENV		"TERN_SELFTESTS_QEMU_OTHER"
#define QEMU_DEFAULT		"/usr/bin/qemu-system-x86_64"

#define MIG_URI			"unix:/tmp/vmm-mig.sock"
/* every VF of a PF (qemu_migration_nvf_test) */
#define MIG_MAX_VFS		TERN_MAX_VFS
#define MIG_TIMEOUT_MS		300000
#define MIG_DIRTY_ROUNDS	4
/* qemu_mig_dirty_rounds(): corrupt the first chunk after pre-copy */
#define MIG_CORRUPT_STOP_COPY	(-1)

/* the L2 machine's slot of its VF @i */
#define L2_SLOT(i)		(4 + (i))
#define L2_DEVFN(i)		(L2_SLOT(i) << 3)

/* one tern VF as the L2 guest's driver sees it */
struct l2_vf {
	struct vmm *vm;
	int idx;
	uint64_t regs, devmem;
	size_t size;		/* device memory bytes */
	uint32_t ring_size;	/* entries; the ring at L2_RING(idx) */
	uint32_t tail;		/* next ring index */
	uint64_t jobs;		/* descriptors completed, as the test counts */
	uint8_t *shadow;	/* device memory as the test wrote it */
	uint64_t ctx[TERN_VF_CTX_REGS];
	uint64_t ram_fills;	/* pages FILLed into L2 RAM by the engine */
};

/*
 * Play the guest driver on a fresh source: place the BARs, enable decoding
 * and bus mastering, give device memory a background byte and 32 distinct
 * pages, set the context registers, start the engine and COPY a buffer
 * from guest RAM into device memory.
 */
int l2_vf_init(struct l2_vf *v, struct vmm *vm, int idx);
/*
 * One round of a running guest: CPU writes to two pages of device memory,
 * an engine FILL of 64 KiB of device memory and an engine FILL of one page
 * of guest RAM (DMA the VMM only learns about from the VF's dirty log).
 */
int l2_vf_dirty(struct l2_vf *v, unsigned int round);
/*
 * The guest resizes its engine ring: stop the engine, start it again with
 * @ring_size entries. The device re-inits its migration state (initial
 * data again, REINIT for a PRECOPY_INFOv2 reader).
 */
int l2_vf_resize_ring(struct l2_vf *v, uint32_t ring_size);
/* everything the source's guest put into the VF and RAM is on @vm now */
int l2_vf_verify(struct l2_vf *v, struct vmm *vm);

struct qemu_mig {
	const char *qemu;	/* the consumer's binary */
	int qemu_version;	/* its version, major * 100 + minor */
	struct vmm src, dst;
	char bdf[2 * MIG_MAX_VFS][16];	/* source VFs, then destination's */
	char pf[16];		/* the source VFs' PF */
	bool same_pf;		/* destination VFs on it too, even with another */
	struct l2_vf vf[MIG_MAX_VFS];
	int nvfs;
	bool container;		/* legacy group/container instead of iommufd */
	bool dma_logging;	/* the VFs offer DMA logging (else: type1's) */
	int multifd;		/* multifd channels, device state over them */
};

/* the binary named by @env (else @fallback, may be NULL); NULL: none */
const char *qemu_mig_binary(const char *env, const char *fallback);
/*
 * What `@qemu --version` says, major * 100 + minor ("QEMU emulator version
 * 10.0.3" is 1000): -errno if it does not run or says something else.
 */
int qemu_binary_version(const char *qemu);
/* query-version: "11.1.3" into @buf */
int qemu_mig_version(struct vmm *vm, char *buf, size_t len);

/* start a VMM with VFs m->bdf[@first ..] at the fixed L2 slots */
int qemu_mig_start_vmm(struct qemu_mig *m, struct vmm *vm, const char *name,
		       int first, const char *incoming);
/*
 * Take @nvfs VFs for each VMM (the destination's on the other PF, if
 * named, unless same_pf), start both VMMs (the destination listening) and
 * play the source's guest driver. -EPERM: the VFs are not there to take
 * (tern_setup_reason() says why).
 */
int qemu_mig_start(struct qemu_mig *m, int nvfs);
/* (re)start the destination VMM, listening on MIG_URI */
int qemu_mig_start_dst(struct qemu_mig *m);
/*
 * Start migrating with the switchover held (the downtime limit is too
 * small for what the device has left); returns when QEMU has set up the
 * migration (status "active").
 */
int qemu_mig_migrate(struct qemu_mig *m);
/* qemu_mig_start() and qemu_mig_migrate() */
int qemu_mig_setup(struct qemu_mig *m, int nvfs);
/*
 * Dirty device memory and guest RAM during pre-copy, @rounds times, each
 * time until QEMU's next pre-copy iteration has sent device data again.
 * From @corrupt_round on the firmware corrupts the next saved chunk
 * (MIG_CORRUPT_STOP_COPY: the first one once pre-copy has nothing left).
 * Returns the number of rounds whose changes QEMU went on to send, or
 * -errno. The switchover stays held.
 */
int qemu_mig_dirty_rounds(struct qemu_mig *m, int rounds, int corrupt_round);
/* lift the switchover hold: QEMU's downtime limit back to a usable one */
int qemu_mig_release(struct qemu_mig *m);
/* wait until both ends report "completed"; -EIO with the status if not */
int qemu_mig_wait_completed(struct qemu_mig *m);
/* every VF's state and RAM on @vm is the source guest's */
int qemu_mig_verify(struct qemu_mig *m, struct vmm *vm);
/* stop the VMMs that still run, free the shadows */
void qemu_mig_teardown(struct qemu_mig *m);

/* device bytes QEMU read before and after the switchover, from its trace */
void qemu_mig_trace_device_bytes(struct vmm *vm, long *pre, long *stop);
/*
 * QEMU's account of the migration, for the log, the demo and the table
 * of tools/rig/qemu-table.py: one "# STATS" line naming @test.
 */
void qemu_mig_print_stats(struct vmm *src, const char *test);

/* The records logged since kmsg_open() (tern_setup.h), printed; closes @fd */
int kmsg_records(int fd);

#endif
