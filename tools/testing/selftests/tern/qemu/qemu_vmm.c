// SPDX-License-Identifier: GPL-2.0
/*
 * Drive a QEMU process through QMP and qtest (see qemu_vmm.h).
 *
 * The test listens on both unix sockets before QEMU starts and QEMU
 * connects to them as a client (-qmp unix:..., -qtest unix:...), as
 * QEMU's libqtest does: no polling for sockets to appear.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qemu_vmm.h"
#include "tern_setup.h"

#define VMM_START_MS	60000	/* QEMU start-up under TCG takes ~2 s */
#define VMM_REPLY_MS	60000
#define QTEST_LINE	(2 * 65536 + 64)

int64_t vmm_now_ms(void)
{
	return monotonic_s() * 1000;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void dump_log(struct vmm *vm)
{
	char path[96], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/qemu.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "# %s: %s", vm->name, line);
	fclose(f);
}

/* the last @lines lines of the trace (a migration's end, for a report) */
static void dump_trace_tail(struct vmm *vm, int lines)
{
	char path[96], line[512];
	long count = 0, skip;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		count++;
	skip = count > lines ? count - lines : 0;
	rewind(f);
	for (count = 0; fgets(line, sizeof(line), f); count++)
		if (count >= skip)
			fprintf(stderr, "# %s trace: %s", vm->name, line);
	fclose(f);
}

void vmm_report(struct vmm *vm, int trace_lines)
{
	const char *r = vm->exit_status < 0 ?
			vmm_qmp(vm, "{\"execute\": \"query-migrate\"}") : NULL;

	if (r)
		fprintf(stderr, "# %s: query-migrate -> %.400s\n", vm->name, r);
	dump_log(vm);
	dump_trace_tail(vm, trace_lines);
}

bool vmm_exited(struct vmm *vm, int timeout_ms)
{
	int64_t end = vmm_now_ms() + timeout_ms;
	int status;

	if (vm->exit_status >= 0)
		return true;
	for (;;) {
		pid_t r = waitpid(vm->pid, &status, WNOHANG);

		if (r == vm->pid) {
			vm->exit_status = status;
			return true;
		}
		if (vmm_now_ms() >= end)
			return false;
		/* a child's exit has no fd to poll; re-check every 10 ms */
		poll(NULL, 0, 10);
	}
}

/* accept on @lfd within the start-up deadline, failing early if QEMU died */
static int accept_qemu(struct vmm *vm, int lfd, int64_t end)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	while (vmm_now_ms() < end) {
		if (poll(&p, 1, 100) > 0)
			return accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (vmm_exited(vm, 0))
			return -ECHILD;
	}
	return -ETIMEDOUT;
}

static int read_line(struct vmm *vm, int fd, char *buf, size_t *len,
		     size_t size, char *out, size_t outlen, int timeout_ms)
{
	int64_t end = vmm_now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(buf, '\n', *len);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			size_t l = nl - buf;

			if (l >= outlen)
				l = outlen - 1;
			memcpy(out, buf, l);
			out[l] = 0;
			*len -= nl + 1 - buf;
			memmove(buf, nl + 1, *len);
			return 0;
		}
		if (*len == size)
			return -E2BIG;
		if (poll(&p, 1, end - vmm_now_ms() > 0 ? end - vmm_now_ms() : 0) <= 0)
			return -ETIMEDOUT;
		n = read(fd, buf + *len, size - *len);
		if (n <= 0)
			return n ? -errno : -EPIPE;
		*len += n;
	}
}

static void note_event(struct vmm *vm, const char *line)
{
	char status[64];

	if (strstr(line, "\"event\": \"MIGRATION\"") &&
	    json_get(line, "status", status, sizeof(status)))
		snprintf(vm->last_event, sizeof(vm->last_event), "%s", status);
}

static char qmp_reply[65536];

static const char *qmp_vcmd(struct vmm *vm, const char *fmt, va_list ap)
{
	char cmd[1024];
	int n;

	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	cmd[n++] = '\n';
	if (write(vm->qmp_fd, cmd, n) != n)
		return NULL;
	for (;;) {
		if (read_line(vm, vm->qmp_fd, vm->qmp_buf, &vm->qmp_len,
			      sizeof(vm->qmp_buf), qmp_reply, sizeof(qmp_reply),
			      VMM_REPLY_MS))
			return NULL;
		if (strstr(qmp_reply, "\"event\"")) {
			note_event(vm, qmp_reply);
			continue;
		}
		return qmp_reply;
	}
}

const char *vmm_qmp(struct vmm *vm, const char *fmt, ...)
{
	const char *r;
	va_list ap;

	va_start(ap, fmt);
	r = qmp_vcmd(vm, fmt, ap);
	va_end(ap);
	return r;
}

int vmm_qmp_ok(struct vmm *vm, const char *fmt, ...)
{
	const char *r;
	va_list ap;

	va_start(ap, fmt);
	r = qmp_vcmd(vm, fmt, ap);
	va_end(ap);
	if (r && !strncmp(r, "{\"return\"", 9))
		return 0;
	fprintf(stderr, "# %s: QMP %s -> %s\n", vm->name, fmt, r ? r : "EOF");
	return -EIO;
}

int vmm_wait_migration(struct vmm *vm, const char *statuses, int timeout_ms)
{
	int64_t end = vmm_now_ms() + timeout_ms;
	char line[4096], want[256];

	snprintf(want, sizeof(want), "|%s|", statuses);
	for (;;) {
		if (vm->last_event[0]) {
			char key[80];

			snprintf(key, sizeof(key), "|%s|", vm->last_event);
			if (strstr(want, key))
				return 0;
		}
		if (vmm_now_ms() >= end)
			return -ETIMEDOUT;
		if (read_line(vm, vm->qmp_fd, vm->qmp_buf, &vm->qmp_len,
			      sizeof(vm->qmp_buf), line, sizeof(line),
			      end - vmm_now_ms()))
			return -ETIMEDOUT;
		note_event(vm, line);
	}
}

bool json_get(const char *json, const char *key, char *buf, size_t len)
{
	char pat[80];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(json, pat);
	if (!p)
		return false;
	p += strlen(pat);
	if (*p == '"') {
		e = strchr(++p, '"');
	} else {
		e = p + strcspn(p, ",}] ");
	}
	if (!e || (size_t)(e - p) >= len)
		return false;
	memcpy(buf, p, e - p);
	buf[e - p] = 0;
	return true;
}

uint64_t json_u64(const char *json, const char *key)
{
	char v[32];

	return json_get(json, key, v, sizeof(v)) ? strtoull(v, NULL, 0) : 0;
}

/*
 * The L2 machine's firmware: 64 KiB (the smallest x86 -bios) of HLT, so
 * that its CPU, if it runs at all, stops at the reset vector with
 * interrupts off and never touches what the test programs. Under the qtest
 * accelerator no CPU runs. Debian's QEMU 10.0 (trixie's qemu-system-x86)
 * ships without that accelerator (its packaging deletes the module), so
 * the machine falls back to TCG there (-accel qtest -accel tcg), and only
 * this firmware keeps SeaBIOS from assigning the VFs' BARs under the test.
 */
static int write_halt_firmware(const char *path)
{
	static unsigned char hlt[65536];
	int fd, ret = 0;

	memset(hlt, 0xf4, sizeof(hlt));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, hlt, sizeof(hlt)) != sizeof(hlt))
		ret = -EIO;
	close(fd);
	return ret;
}

/* Which accelerator the L2 machine got: QEMU says when qtest is missing. */
static void note_accel(struct vmm *vm, const char *log_path)
{
	char line[512];
	FILE *f = fopen(log_path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "invalid accelerator qtest")) {
			printf("# %s: this QEMU has no qtest accelerator: the L2 machine runs under TCG, halted\n",
			       vm->name);
			break;
		}
	}
	fclose(f);
}

int vmm_start(struct vmm *vm, const char *qemu, const char *name,
	      const char *const *args, const char *incoming)
{
	char qmp_path[96], qtest_path[96], log_path[96], trace_path[96];
	char bios_path[96];
	char qmp_arg[128], qtest_arg[128], line[4096];
	const char *argv[VMM_MAX_ARGS];
	int lqmp, lqtest, argc = 0, ret;
	int64_t end;

	/* a QEMU that died makes QMP writes fail (EPIPE), not kill the test */
	signal(SIGPIPE, SIG_IGN);
	memset(vm, 0, sizeof(*vm));
	vm->exit_status = -1;
	vm->qmp_fd = vm->qtest_fd = -1;
	snprintf(vm->name, sizeof(vm->name), "%s", name);
	snprintf(vm->dir, sizeof(vm->dir), "/tmp/vmm-%s", name);
	mkdir(vm->dir, 0700);
	snprintf(qmp_path, sizeof(qmp_path), "%s/qmp.sock", vm->dir);
	snprintf(qtest_path, sizeof(qtest_path), "%s/qtest.sock", vm->dir);
	snprintf(log_path, sizeof(log_path), "%s/qemu.log", vm->dir);
	snprintf(trace_path, sizeof(trace_path), "%s/trace.log", vm->dir);
	unlink(trace_path);
	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%s", qmp_path);
	snprintf(qtest_arg, sizeof(qtest_arg), "unix:%s", qtest_path);
	snprintf(bios_path, sizeof(bios_path), "%s/halt.bios", vm->dir);
	ret = write_halt_firmware(bios_path);
	if (ret)
		return ret;

	/* a qtest reply line holds up to QTEST_CHUNK bytes in hex */
	vm->qtest_buf = malloc(QTEST_LINE);
	if (!vm->qtest_buf)
		return -ENOMEM;
	lqmp = listen_unix(qmp_path);
	lqtest = listen_unix(qtest_path);
	if (lqmp < 0 || lqtest < 0) {
		ret = lqmp < 0 ? lqmp : lqtest;
		goto out_close;
	}

	argv[argc++] = qemu;
	argv[argc++] = "-M";
	argv[argc++] = "q35";
	argv[argc++] = "-accel";
	argv[argc++] = "qtest";
	argv[argc++] = "-accel";	/* without qtest (above) */
	argv[argc++] = "tcg,tb-size=64";
	argv[argc++] = "-bios";
	argv[argc++] = bios_path;
	argv[argc++] = "-nodefaults";
	argv[argc++] = "-display";
	argv[argc++] = "none";
	argv[argc++] = "-L";
	argv[argc++] = "/usr/share/qemu";
	argv[argc++] = "-m";
	argv[argc++] = "128M";
	argv[argc++] = "-qmp";
	argv[argc++] = qmp_arg;
	argv[argc++] = "-qtest";
	argv[argc++] = qtest_arg;
	argv[argc++] = "-qtest-log";	/* default: every command to stderr */
	argv[argc++] = "/dev/null";
	argv[argc++] = "-D";
	argv[argc++] = trace_path;
	/* every trace line stamped with the wall clock (qemu_split.h) */
	argv[argc++] = "-msg";
	argv[argc++] = "timestamp=on";
	argv[argc++] = "-trace";
	argv[argc++] = "vfio_*";
	/*
	 * The downtime's phases (qemu_split.h): QEMU's checkpoints and each
	 * device's save and load, the dirty syncs (the last one is in the
	 * downtime), the wait for the destination's end (its SHUT on the
	 * return path).
	 */
	argv[argc++] = "-trace";
	argv[argc++] = "vmstate_downtime_*";
	argv[argc++] = "-trace";
	argv[argc++] = "migration_bitmap_sync_*";
	argv[argc++] = "-trace";
	argv[argc++] = "migration_return_path_end_*";
	argv[argc++] = "-trace";
	argv[argc++] = "source_return_path_thread_shut*";
	argv[argc++] = "-trace";
	argv[argc++] = "iommufd_backend_*";
	/* both ends of switchover-ack (source and destination events) */
	argv[argc++] = "-trace";
	argv[argc++] = "*switchover*";
	/* a migration that failed on its stream (see qemu_migration_abort) */
	argv[argc++] = "-trace";
	argv[argc++] = "migration_thread_file_err";
	if (incoming) {
		argv[argc++] = "-incoming";
		argv[argc++] = incoming;
	}
	while (*args && argc < VMM_MAX_ARGS - 1)
		argv[argc++] = *args++;
	argv[argc] = NULL;

	vm->pid = fork();
	if (vm->pid < 0) {
		ret = -errno;
		goto out_close;
	}
	if (!vm->pid) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(qemu, (char *const *)argv);
		_exit(127);
	}

	end = vmm_now_ms() + VMM_START_MS;
	vm->qmp_fd = accept_qemu(vm, lqmp, end);
	vm->qtest_fd = vm->qmp_fd < 0 ? -1 : accept_qemu(vm, lqtest, end);
	if (vm->qmp_fd < 0 || vm->qtest_fd < 0) {
		ret = vm->qmp_fd < 0 ? vm->qmp_fd : vm->qtest_fd;
		goto out_kill;
	}
	/* greeting, then leave capability negotiation */
	ret = read_line(vm, vm->qmp_fd, vm->qmp_buf, &vm->qmp_len,
			sizeof(vm->qmp_buf), line, sizeof(line), VMM_START_MS);
	if (ret || !strstr(line, "\"QMP\"") ||
	    vmm_qmp_ok(vm, "{\"execute\": \"qmp_capabilities\"}") ||
	    vmm_qmp_ok(vm, "{\"execute\": \"migrate-set-capabilities\", "
		       "\"arguments\": {\"capabilities\": [{\"capability\": "
		       "\"events\", \"state\": true}, {\"capability\": "
		       "\"return-path\", \"state\": true}, {\"capability\": "
		       "\"switchover-ack\", \"state\": true}]}}")) {
		ret = ret ?: -EIO;
		goto out_kill;
	}
	note_accel(vm, log_path);
	close(lqmp);
	close(lqtest);
	return 0;

out_kill:
	kill(vm->pid, SIGKILL);
	vmm_exited(vm, VMM_START_MS);
	dump_log(vm);
out_close:
	if (lqmp >= 0)
		close(lqmp);
	if (lqtest >= 0)
		close(lqtest);
	if (vm->qmp_fd >= 0)
		close(vm->qmp_fd);
	if (vm->qtest_fd >= 0)
		close(vm->qtest_fd);
	free(vm->qtest_buf);
	vm->qtest_buf = NULL;
	vm->pid = 0;
	return ret;
}

int vmm_stop(struct vmm *vm)
{
	if (!vm->pid)
		return -1;
	if (vm->exit_status < 0) {
		vmm_qmp(vm, "{\"execute\": \"quit\"}");
		if (!vmm_exited(vm, 30000)) {
			kill(vm->pid, SIGKILL);
			vmm_exited(vm, 30000);
		}
	}
	close(vm->qmp_fd);
	close(vm->qtest_fd);
	free(vm->qtest_buf);
	vm->qtest_buf = NULL;
	vm->pid = 0;
	if (!WIFEXITED(vm->exit_status) || WEXITSTATUS(vm->exit_status))
		dump_log(vm);
	return vm->exit_status;
}

/* ---- qtest ---------------------------------------------------------------- */

static char qtest_reply[QTEST_LINE];

static const char *qtest_cmd(struct vmm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static const char *qtest_cmd(struct vmm *vm, const char *fmt, ...)
{
	static char cmd[QTEST_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd) - 1, fmt, ap);
	va_end(ap);
	cmd[n++] = '\n';
	if (write(vm->qtest_fd, cmd, n) != n)
		return "FAIL write";
	if (read_line(vm, vm->qtest_fd, vm->qtest_buf, &vm->qtest_len,
		      QTEST_LINE, qtest_reply, sizeof(qtest_reply),
		      VMM_REPLY_MS))
		return "FAIL no reply";
	if (strncmp(qtest_reply, "OK", 2))
		fprintf(stderr, "# %s: qtest '%.40s' -> %s\n", vm->name, cmd,
			qtest_reply);
	return qtest_reply;
}

static uint64_t qtest_value(const char *reply)
{
	return strncmp(reply, "OK ", 3) ? ~0ULL : strtoull(reply + 3, NULL, 0);
}

uint32_t vmm_readl(struct vmm *vm, uint64_t addr)
{
	return qtest_value(qtest_cmd(vm, "readl 0x%llx",
				     (unsigned long long)addr));
}

void vmm_writel(struct vmm *vm, uint64_t addr, uint32_t val)
{
	qtest_cmd(vm, "writel 0x%llx 0x%x", (unsigned long long)addr, val);
}

uint64_t vmm_readq(struct vmm *vm, uint64_t addr)
{
	return qtest_value(qtest_cmd(vm, "readq 0x%llx",
				     (unsigned long long)addr));
}

void vmm_writeq(struct vmm *vm, uint64_t addr, uint64_t val)
{
	qtest_cmd(vm, "writeq 0x%llx 0x%llx", (unsigned long long)addr,
		  (unsigned long long)val);
}

uint8_t vmm_inb(struct vmm *vm, uint16_t port)
{
	return qtest_value(qtest_cmd(vm, "inb 0x%x", port));
}

void vmm_outb(struct vmm *vm, uint16_t port, uint8_t val)
{
	qtest_cmd(vm, "outb 0x%x 0x%x", port, val);
}

static int hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

#define QTEST_CHUNK	65536

int vmm_memread(struct vmm *vm, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		size_t n = len < QTEST_CHUNK ? len : QTEST_CHUNK, i;
		const char *r = qtest_cmd(vm, "read 0x%llx 0x%zx",
					  (unsigned long long)addr, n);

		if (strncmp(r, "OK 0x", 5) || strlen(r + 5) != 2 * n)
			return -EIO;
		for (i = 0; i < n; i++)
			p[i] = hexval(r[5 + 2 * i]) << 4 | hexval(r[6 + 2 * i]);
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int vmm_memwrite(struct vmm *vm, uint64_t addr, const void *buf, size_t len)
{
	static char hex[2 * QTEST_CHUNK + 1];
	const uint8_t *p = buf;

	while (len) {
		size_t n = len < QTEST_CHUNK ? len : QTEST_CHUNK, i;

		for (i = 0; i < n; i++)
			sprintf(hex + 2 * i, "%02x", p[i]);
		if (strcmp(qtest_cmd(vm, "write 0x%llx 0x%zx 0x%s",
				     (unsigned long long)addr, n, hex), "OK"))
			return -EIO;
		p += n;
		addr += n;
		len -= n;
	}
	return 0;
}

int vmm_memset(struct vmm *vm, uint64_t addr, size_t len, uint8_t val)
{
	return strcmp(qtest_cmd(vm, "memset 0x%llx 0x%zx 0x%x",
				(unsigned long long)addr, len, val), "OK") ?
		-EIO : 0;
}

static uint32_t cf8(int devfn, int reg)
{
	return 0x80000000u | devfn << 8 | (reg & 0xfc);
}

uint32_t vmm_pci_read(struct vmm *vm, int devfn, int reg)
{
	qtest_cmd(vm, "outl 0xcf8 0x%x", cf8(devfn, reg));
	return qtest_value(qtest_cmd(vm, "inl 0xcfc"));
}

void vmm_pci_write(struct vmm *vm, int devfn, int reg, uint32_t val)
{
	qtest_cmd(vm, "outl 0xcf8 0x%x", cf8(devfn, reg));
	qtest_cmd(vm, "outl 0xcfc 0x%x", val);
}

uint64_t vmm_pci_map_bar(struct vmm *vm, int devfn, int bar, uint64_t addr)
{
	int reg = 0x10 + 4 * bar;
	uint32_t orig = vmm_pci_read(vm, devfn, reg);
	bool io = orig & 1, mem64 = !io && (orig & 6) == 4;
	uint64_t mask;

	vmm_pci_write(vm, devfn, reg, ~0u);
	mask = vmm_pci_read(vm, devfn, reg);
	if (mem64) {
		vmm_pci_write(vm, devfn, reg + 4, ~0u);
		mask |= (uint64_t)vmm_pci_read(vm, devfn, reg + 4) << 32;
	} else {
		mask |= 0xffffffff00000000ull;
	}
	mask &= io ? ~3ull : ~15ull;
	if (!(uint32_t)mask)
		return 0;
	vmm_pci_write(vm, devfn, reg, (uint32_t)addr);
	if (mem64)
		vmm_pci_write(vm, devfn, reg + 4, addr >> 32);
	return io ? (~mask + 1) & 0xffff : ~mask + 1;
}

/* ---- trace log ------------------------------------------------------------ */

long vmm_trace_size(struct vmm *vm)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "%s/trace.log", vm->dir);
	return stat(path, &st) ? 0 : st.st_size;
}

const char *vmm_trace_event(const char *line, int64_t *us)
{
	int year, mon, day, hour, min, sec, pid, n = 0, f0 = 0, f1 = 0;
	long long s, frac;
	struct tm tm = { 0 };

	if (us)
		*us = -1;
	if (sscanf(line, "%d@%lld.%lld:%n", &pid, &s, &frac, &n) == 3 && n) {
		if (us)
			*us = s * 1000000 + frac;
		return line + n;
	}
	if (sscanf(line, "%d-%d-%dT%d:%d:%d.%n%lld%nZ %n", &year, &mon, &day,
		   &hour, &min, &sec, &f0, &frac, &f1, &n) == 7 && n) {
		/* the fraction's digits, whatever their number */
		for (; f1 - f0 < 6; f1++)
			frac *= 10;
		for (; f1 - f0 > 6; f1--)
			frac /= 10;
		tm.tm_year = year - 1900;
		tm.tm_mon = mon - 1;
		tm.tm_mday = day;
		tm.tm_hour = hour;
		tm.tm_min = min;
		tm.tm_sec = sec;
		if (us)
			*us = (int64_t)timegm(&tm) * 1000000 + frac;
		return line + n;
	}
	return line;
}

static long trace_scan(struct vmm *vm, long from, bool first, va_list ap)
{
	const char *words[8];
	char path[96], line[1024];
	long count = 0, pos = 0;
	int n = 0, i;
	FILE *f;

	while (n < 8 && (words[n] = va_arg(ap, const char *)))
		n++;
	snprintf(path, sizeof(path), "%s/trace.log", vm->dir);
	f = fopen(path, "r");
	if (!f)
		return first ? -1 : 0;
	if (from) {
		fseek(f, from, SEEK_SET);
		pos = from;
	}
	while (fgets(line, sizeof(line), f)) {
		for (i = 0; i < n && strstr(line, words[i]); i++)
			;
		if (i == n) {
			if (first)
				break;
			count++;
		}
		pos = ftell(f);
	}
	if (first && feof(f))
		pos = -1;
	fclose(f);
	return first ? pos : count;
}

int vmm_trace_count(struct vmm *vm, ...)
{
	va_list ap;
	long n;

	va_start(ap, vm);
	n = trace_scan(vm, 0, false, ap);
	va_end(ap);
	return n;
}

long vmm_trace_find(struct vmm *vm, long from, ...)
{
	va_list ap;
	long n;

	va_start(ap, from);
	n = trace_scan(vm, from, true, ap);
	va_end(ap);
	return n;
}

long vmm_trace_wait(struct vmm *vm, long from, int timeout_ms, ...)
{
	int64_t end = vmm_now_ms() + timeout_ms;
	va_list ap;
	long pos;

	for (;;) {
		va_start(ap, timeout_ms);
		pos = trace_scan(vm, from, true, ap);
		va_end(ap);
		if (pos >= 0 || vmm_now_ms() >= end)
			return pos;
		/* QEMU writes its trace with no other notice: re-read it */
		poll(NULL, 0, 20);
	}
}
