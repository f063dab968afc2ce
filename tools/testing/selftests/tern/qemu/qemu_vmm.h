/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU as the VMM under test: start a QEMU with assigned VFIO devices and
 * drive it through QMP (migration) and the qtest protocol (its "guest":
 * guest RAM, I/O ports and the assigned devices' BARs), the way QEMU's own
 * migration tests do. The L2 machine runs no guest code (-accel qtest), so
 * the test stands in for the guest driver.
 */
#ifndef TERN_SELFTEST_QEMU_VMM_H
#define TERN_SELFTEST_QEMU_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VMM_MAX_ARGS		64

struct vmm {
	char name[16];
	char dir[64];		/* sockets, qemu.log, trace.log */
	pid_t pid;
	int qmp_fd;
	int qtest_fd;
	char qmp_buf[65536];	/* unconsumed QMP input */
	size_t qmp_len;
	char *qtest_buf;	/* unconsumed qtest input */
	size_t qtest_len;
	char last_event[256];	/* latest MIGRATION event status */
	int exit_status;	/* once reaped: wait status, else -1 */
};

/*
 * Start the QEMU binary @qemu (q35, qtest accelerator, 128 MiB) named @name
 * with the extra arguments @args (NULL-terminated), and connect its QMP
 * and qtest sockets; with @incoming, wait for a migration on that URI
 * ("defer": until QMP migrate-incoming names one). QEMU's output goes to
 * <dir>/qemu.log, its vfio, switchover and downtime trace events to
 * <dir>/trace.log, each line stamped with the wall clock (vmm_trace_event()).
 * Migration events are on, and so is switchover-ack (with the return path
 * it needs): the source does not switch over before the destination has
 * loaded the devices' initial pre-copy data, as a VMM migrating VFIO
 * devices would ask. Returns 0 or -errno (QEMU's log is printed on
 * failure).
 */
int vmm_start(struct vmm *vm, const char *qemu, const char *name,
	      const char *const *args, const char *incoming);
/* quit through QMP (or kill) and reap; returns QEMU's wait status */
int vmm_stop(struct vmm *vm);
/*
 * Why a migration ended as it did: QEMU's query-migrate (its error-desc)
 * while it runs, its log, and the last @trace_lines lines of its trace.
 */
void vmm_report(struct vmm *vm, int trace_lines);
/* reap an exited QEMU within @timeout_ms; true when it has exited */
bool vmm_exited(struct vmm *vm, int timeout_ms);

/*
 * One QMP command (printf format, the JSON object without newline). Events
 * read meanwhile are recorded. Returns the reply line (static buffer, valid
 * until the next call) or NULL on EOF/timeout.
 */
const char *vmm_qmp(struct vmm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* vmm_qmp() that must return {"return": ...}; returns 0 or -EIO */
int vmm_qmp_ok(struct vmm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Wait up to @timeout_ms for a MIGRATION event whose status is one of
 * @statuses ("|" separated). Returns 0 with the status in vm->last_event.
 */
int vmm_wait_migration(struct vmm *vm, const char *statuses, int timeout_ms);

/* "key": value in a JSON text: string/number copied to @buf; false if absent */
bool json_get(const char *json, const char *key, char *buf, size_t len);
/* numeric "key" of a JSON text, 0 if absent */
uint64_t json_u64(const char *json, const char *key);

/* qtest: guest-physical memory and I/O ports of the L2 machine */
uint32_t vmm_readl(struct vmm *vm, uint64_t addr);
void vmm_writel(struct vmm *vm, uint64_t addr, uint32_t val);
uint64_t vmm_readq(struct vmm *vm, uint64_t addr);
void vmm_writeq(struct vmm *vm, uint64_t addr, uint64_t val);
uint8_t vmm_inb(struct vmm *vm, uint16_t port);
void vmm_outb(struct vmm *vm, uint16_t port, uint8_t val);
int vmm_memread(struct vmm *vm, uint64_t addr, void *buf, size_t len);
int vmm_memwrite(struct vmm *vm, uint64_t addr, const void *buf, size_t len);
int vmm_memset(struct vmm *vm, uint64_t addr, size_t len, uint8_t val);

/* PCI configuration space of bus 0 through ports 0xcf8/0xcfc */
uint32_t vmm_pci_read(struct vmm *vm, int devfn, int reg);
void vmm_pci_write(struct vmm *vm, int devfn, int reg, uint32_t val);
/*
 * Size BAR @bar of @devfn, place it at @addr (memory) or port @addr (I/O)
 * and return its size (0 if the BAR is not implemented).
 */
uint64_t vmm_pci_map_bar(struct vmm *vm, int devfn, int bar, uint64_t addr);

/* CLOCK_MONOTONIC in milliseconds, for the callers' deadlines */
int64_t vmm_now_ms(void);

/* lines of <dir>/trace.log containing every one of the NULL-ended words */
int vmm_trace_count(struct vmm *vm, ...) __attribute__((sentinel));
/*
 * Byte offset in trace.log of the first line at or after offset @from
 * matching like vmm_trace_count(), or -1. QEMU flushes every trace line.
 */
long vmm_trace_find(struct vmm *vm, long from, ...) __attribute__((sentinel));
/* vmm_trace_find(), waiting up to @timeout_ms for the line to appear */
long vmm_trace_wait(struct vmm *vm, long from, int timeout_ms, ...)
	__attribute__((sentinel));
/* current length of trace.log */
long vmm_trace_size(struct vmm *vm);
/*
 * A trace.log line's event ("vfio_save_block (...) data_size 8"), past
 * the wall-clock stamp -msg timestamp=on puts before it: "PID@SEC.USEC:"
 * (QEMU 10.0) or "YYYY-MM-DDTHH:MM:SS.UUUUUUZ " (QEMU 10.1 and later).
 * @us, if not NULL, gets the stamp in microseconds since the epoch (-1 for
 * a line without one).
 */
const char *vmm_trace_event(const char *line, int64_t *us);

#endif
