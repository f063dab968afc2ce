/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bring a tern PF and its VFs into the configuration a test needs: the PF
 * bound to a driver (tern_core, or pci-pf-stub for stock vfio-pci runs),
 * N VFs enabled, each bound to a VF driver.
 */
#ifndef TERN_SELFTEST_SETUP_H
#define TERN_SELFTEST_SETUP_H

#define TERN_PF_DRIVER		"tern_core"
#define TERN_VF_DRIVER		"tern_vfio_pci"

/*
 * Returns the number of VFs now bound to @vf_driver (their BDFs in @vf_bdf,
 * sorted), or -errno. @pf_bdf receives the PF's BDF if not NULL.
 */
int tern_prepare_vfs(const char *pf_driver, const char *vf_driver, int nvfs,
		     char (*vf_bdf)[16], char *pf_bdf);

#endif
