/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Command-line helpers shared by tern-migrate and tern-bench. Define
 * CLI_PROG to the tool's name before including it.
 *
 * Every usage error is one line on stderr naming the option and the value,
 * a hint at --help, and exit status CLI_EXIT_USAGE: a typo must never run
 * a migration with some other value. Failures after the command line was
 * accepted exit CLI_EXIT_FAIL.
 */
#ifndef TERN_CLI_H
#define TERN_CLI_H

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#ifndef CLI_PROG
#error "define CLI_PROG before including cli.h"
#endif

#define CLI_EXIT_FAIL	1
#define CLI_EXIT_USAGE	2

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static inline void __attribute__((noreturn))
cli_die(const char *what, int err)
{
	fprintf(stderr, CLI_PROG ": %s: %s\n", what,
		strerror(err < 0 ? -err : err));
	exit(CLI_EXIT_FAIL);
}

static inline void __attribute__((noreturn, format(printf, 1, 2)))
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" CLI_PROG " --help' for more information.\n", stderr);
	exit(CLI_EXIT_USAGE);
}

/*
 * getopt_long() returned '?' or ':' (opterr = 0, optstring ":h"). Our own
 * message rather than getopt's, so that it is prefixed with the tool's
 * name and not with however argv[0] was spelled.
 */
static inline void __attribute__((noreturn))
cli_bad_option(int c, char **argv)
{
	const char *arg = argv[optind - 1];

	if (c == ':')
		cli_usage_error("option '%s' needs a value", arg);
	if (!optopt)
		cli_usage_error("unrecognized option '%s'", arg);
	if (!strncmp(arg, "--", 2))
		cli_usage_error("option '%.*s' takes no value",
				(int)strcspn(arg, "="), arg);
	cli_usage_error("unrecognized option '-%c'", optopt);
}

/*
 * @arg, the value of option @opt, as a decimal number in [@min, @max]. A
 * size (@size) may end in K, M, G or T, or KiB, MiB, GiB or TiB: powers
 * of 1024. Checked by hand because strtoull() as the tools used it (base
 * 0, no end check) takes "-1" as 2^64-1, " 8" and "+8" as 8, "64K" as 64
 * and "010" as 8; here "010" is 10. "KB" is refused: it could as well
 * mean 1000.
 */
static inline uint64_t cli_num(const char *opt, const char *arg, bool size,
			       uint64_t min, uint64_t max)
{
	static const char units[] = "KMGT";
	const char *u;
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!isdigit((unsigned char)arg[0]))
		goto bad;
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno == ERANGE)
		goto range;
	u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
	if (size && u) {
		shift = 10 * (u - units + 1);
		if (!strcmp(++end, "iB"))
			end += 2;
	}
	if (*end)
		goto bad;
	if (v > max >> shift || v << shift < min)
		goto range;
	return v << shift;
bad:
	cli_usage_error("%s: '%s' is not %s", opt, arg, size ?
			"a size (e.g. 4096, 64K, 1M)" :
			"a whole number (digits only, e.g. 8)");
range:
	cli_usage_error("%s: '%s' is out of range (%llu to %llu%s)", opt, arg,
			(unsigned long long)min, (unsigned long long)max,
			size ? " bytes" : "");
}

static inline uint64_t cli_size(const char *opt, const char *arg)
{
	return cli_num(opt, arg, true, 0, UINT64_MAX);
}

static inline uint64_t cli_count(const char *opt, const char *arg,
				 uint64_t min, uint64_t max)
{
	return cli_num(opt, arg, false, min, max);
}

/*
 * @arg, the value of option @opt, as a comma-separated list of @names:
 * returns the set as a bit mask (bit i: names[i]). Whole words only, so
 * that a typo is an error instead of a row silently not run.
 */
static inline unsigned int cli_list(const char *opt, const char *arg,
				    const char *const *names, unsigned int n)
{
	unsigned int set = 0, i;
	char all[256] = "";
	size_t len, used;

	for (;; arg += len + 1) {
		len = strcspn(arg, ",");
		for (i = 0; i < n; i++)
			if (strlen(names[i]) == len &&
			    !strncmp(arg, names[i], len))
				break;
		if (i == n) {
			/* name them all: the fix is one of these */
			for (i = 0; i < n; i++) {
				used = strlen(all);
				snprintf(all + used, sizeof(all) - used, "%s%s",
					 i ? ", " : "", names[i]);
			}
			cli_usage_error("%s: '%.*s' is not one of %s", opt,
					(int)len, arg, all);
		}
		set |= 1u << i;
		if (!arg[len])
			return set;
	}
}

#define CLI_HEX		"0123456789abcdefABCDEF"

/*
 * A VF is named by its full PCI address, DDDD:BB:DD.F, as the directory
 * under /sys/bus/pci/devices: anything else would only fail later with a
 * less helpful error.
 */
static inline void cli_bdf(const char *what, const char *arg)
{
	size_t d = strspn(arg, CLI_HEX);
	const char *p = arg + d;

	if (d < 4 || d > 8 || p[0] != ':' || strspn(p + 1, CLI_HEX) != 2 ||
	    p[3] != ':' || strspn(p + 4, CLI_HEX) != 2 || p[6] != '.' ||
	    p[7] < '0' || p[7] > '7' || p[8])
		cli_usage_error("%s: '%s' is not a PCI address (%s)", what,
				arg, "e.g. 0000:00:03.1");
}

/* SRC_BDF DST_BDF, the positional arguments of both tools: two VFs. */
static inline void cli_src_dst(int argc, char **argv)
{
	if (argc - optind < 2)
		cli_usage_error("missing %s (usage: " CLI_PROG
				" [options] SRC_BDF DST_BDF)", argc - optind ?
				"DST_BDF" : "SRC_BDF and DST_BDF");
	if (argc - optind > 2)
		cli_usage_error("unexpected argument '%s' after DST_BDF",
				argv[optind + 2]);
	cli_bdf("SRC_BDF", argv[optind]);
	cli_bdf("DST_BDF", argv[optind + 1]);
	if (!strcasecmp(argv[optind], argv[optind + 1]))
		cli_usage_error("SRC_BDF and DST_BDF are the same VF (%s)",
				argv[optind]);
}

/*
 * Fail (not a usage error) unless PCI device @bdf exists: checked before
 * any VFIO file is opened, so a wrong address says so plainly, and so the
 * command-line tests can see a line accepted without a device.
 */
static inline void cli_pci_present(const char *bdf)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	if (stat(path, &st) && errno == ENOENT) {
		fprintf(stderr, CLI_PROG ": %s: no such PCI device\n", bdf);
		exit(CLI_EXIT_FAIL);
	}
}

/* A size for humans; returned by value so that a printf() can take two. */
struct cli_human {
	char s[48];
};

/* "16.0 MiB (16777216 bytes)": readable, and still exact. */
static inline struct cli_human cli_human(uint64_t bytes)
{
	static const char *const units[] = {
		"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"
	};
	struct cli_human h;
	double v = bytes;
	int u = -1;

	if (bytes < 1024) {
		snprintf(h.s, sizeof(h.s), "%llu bytes",
			 (unsigned long long)bytes);
		return h;
	}
	/* 1023.95 and up would print as "1024.0": take the next unit */
	while (v >= 1023.95 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(h.s, sizeof(h.s), "%.1f %s (%llu bytes)", v, units[u],
		 (unsigned long long)bytes);
	return h;
}

#endif /* TERN_CLI_H */
