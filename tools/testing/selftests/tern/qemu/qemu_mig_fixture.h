/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the QEMU migration tests (after kselftest_harness.h):
 * struct qemu_mig per test, once per consumer. QEMU_MIG_FIXTURE(name)
 * declares fixture @name with two variants: "default" runs
 * TERN_SELFTESTS_QEMU (else /usr/bin/qemu-system-x86_64), "other"
 * TERN_SELFTESTS_QEMU_OTHER.
 *
 * A QEMU named that is not there, or does not run, is a failure. Nothing
 * named and nothing at the default path, or a second consumer not named,
 * is a SKIP that says which variable to set; so is a QEMU older than a
 * scenario needs (QEMU_SKIP_UNLESS_VERSION).
 */
#ifndef TERN_SELFTEST_QEMU_MIG_FIXTURE_H
#define TERN_SELFTEST_QEMU_MIG_FIXTURE_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "qemu_mig.h"
#include "tern_setup.h"

/* What every scenario needs: VFIO pre-copy and switchover-ack (QEMU 8.1). */
#define QEMU_MIN_VERSION	801

#define QEMU_MIG_FIXTURE(fixture)					\
FIXTURE(fixture)							\
{									\
	struct qemu_mig m;						\
};									\
									\
FIXTURE_VARIANT(fixture)						\
{									\
	const char *env;	/* names the consumer's binary */	\
	const char *fallback;	/* else this one; NULL: SKIP */		\
};									\
									\
FIXTURE_VARIANT_ADD(fixture, default)					\
{									\
	.env = QEMU_ENV,						\
	.fallback = QEMU_DEFAULT,					\
};									\
									\
FIXTURE_VARIANT_ADD(fixture, other)					\
{									\
	.env = QEMU_OTHER_ENV,						\
};									\
									\
FIXTURE_SETUP(fixture)							\
{									\
	QEMU_MIG_FIXTURE_SETUP(&self->m, variant->env, variant->fallback);\
}									\
									\
FIXTURE_TEARDOWN(fixture)						\
{									\
	qemu_mig_teardown(&self->m);					\
}

#define QEMU_MIG_FIXTURE_SETUP(m, env, fallback)			\
	do {								\
		const char *__named = getenv(env);			\
									\
		(m)->qemu = qemu_mig_binary(env, fallback);		\
		if (!(m)->qemu)						\
			SKIP(return, "no second QEMU named: set %s", env);\
		if (!(__named && *__named) && access((m)->qemu, X_OK))	\
			SKIP(return, "no QEMU at %s: set %s",		\
			     (m)->qemu, env);				\
		ASSERT_EQ(0, access((m)->qemu, X_OK))			\
			TH_LOG("no QEMU at %s", (m)->qemu);		\
		(m)->qemu_version = qemu_binary_version((m)->qemu);	\
		ASSERT_LT(0, (m)->qemu_version)				\
			TH_LOG("%s --version: %s", (m)->qemu,		\
			       strerror(-(m)->qemu_version));		\
		QEMU_SKIP_UNLESS_VERSION(m, QEMU_MIN_VERSION,		\
					 "VFIO migration with pre-copy");\
	} while (0)

/* In a test: SKIP, saying why, with a QEMU older than @version (M * 100 + m). */
#define QEMU_SKIP_UNLESS_VERSION(m, version, what)			\
	do {								\
		if ((m)->qemu_version < (version))			\
			SKIP(return, "%s needs QEMU %d.%d, %s is %d.%d",\
			     what, (version) / 100, (version) % 100,	\
			     (m)->qemu, (m)->qemu_version / 100,	\
			     (m)->qemu_version % 100);			\
	} while (0)

/* qemu_mig_setup() or _start(): SKIP when the VFs are not there to take */
#define QEMU_MIG_OR_SKIP(call)						\
	do {								\
		int __ret = (call);					\
									\
		if (__ret == -EPERM)					\
			SKIP(return, "%s", tern_setup_reason());	\
		ASSERT_EQ(0, __ret);					\
	} while (0)

#endif
