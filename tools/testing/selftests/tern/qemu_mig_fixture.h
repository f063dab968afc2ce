/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture of the QEMU migration tests (after kselftest_harness.h):
 * struct qemu_mig per test, once per consumer. The variant "default" runs
 * TERN_SELFTESTS_QEMU (else /usr/bin/qemu-system-x86_64), "other"
 * TERN_SELFTESTS_QEMU_OTHER and SKIPs when that is unset.
 */
#ifndef TERN_SELFTEST_QEMU_MIG_FIXTURE_H
#define TERN_SELFTEST_QEMU_MIG_FIXTURE_H

#include <errno.h>
#include <unistd.h>

#include "qemu_mig.h"
#include "tern_setup.h"

FIXTURE(qemu)
{
	struct qemu_mig m;
};

FIXTURE_VARIANT(qemu)
{
	const char *env;	/* names the consumer's binary */
	const char *fallback;	/* else this one; NULL: SKIP */
};

FIXTURE_VARIANT_ADD(qemu, default)
{
	.env = QEMU_ENV,
	.fallback = QEMU_DEFAULT,
};

FIXTURE_VARIANT_ADD(qemu, other)
{
	.env = QEMU_OTHER_ENV,
};

FIXTURE_SETUP(qemu)
{
	self->m.qemu = qemu_mig_binary(variant->env, variant->fallback);
	if (!self->m.qemu)
		SKIP(return, "no second QEMU named: set %s", variant->env);
	ASSERT_EQ(0, access(self->m.qemu, X_OK))
		TH_LOG("no QEMU at %s", self->m.qemu);
}

FIXTURE_TEARDOWN(qemu)
{
	qemu_mig_teardown(&self->m);
}

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
