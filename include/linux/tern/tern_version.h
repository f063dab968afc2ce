/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tern's version: the one place it is written. The modules report it as
 * MODULE_VERSION (modinfo -F version); dkms.conf, debian/changelog,
 * CHANGELOG.md and README.md name it too, and tools/rig/version-check.sh
 * (part of make check) fails when any of them disagrees with this line.
 */
#ifndef _LINUX_TERN_TERN_VERSION_H
#define _LINUX_TERN_TERN_VERSION_H

#define TERN_VERSION "0.2.0"

#endif /* _LINUX_TERN_TERN_VERSION_H */
