# SPDX-License-Identifier: GPL-2.0
#
# tern: live-migratable SR-IOV VFs through the VFIO migration v2 uAPI.
#
#   make                 build the modules against KDIR (default: running kernel)
#   make demo            build everything, boot the emulated host, show it working
#   make check           every test and static check on every kernel (what CI
#                        runs); KERNELS=debug,stock,current picks some;
#                        T=name[,name] runs only those tests (debug kernel)
#   make bench           pre-copy, stream and dirty-logging figures, and the
#                        downtime with N VFs (slow, not in check)
#   make check-kasan     the same suite on a KASAN kernel (slower)
#   make setup           install the packages the rig needs (Debian bookworm)
#   make cache-clean     drop the cached kernel and QEMU builds

KDIR ?= /lib/modules/$(shell uname -r)/build
# What the in-tree Kconfig entries (Kconfig in this directory) would set.
TERN_CONFIG := CONFIG_TERN_CORE=m CONFIG_TERN_VFIO_PCI=m
TERN_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/tern

# The module targets need a kernel build tree (a kernel's headers): say so,
# rather than make's bare "No such file or directory" from -C $(KDIR).
MODULE_GOALS := all modules modules_install modules_clean clean
ifneq ($(filter $(MODULE_GOALS),$(or $(MAKECMDGOALS),all)),)
ifeq ($(wildcard $(KDIR)/Makefile),)
$(error no kernel build tree in KDIR=$(KDIR): install the kernel's headers \
(Debian: linux-headers-$(shell uname -r) for the running kernel) or set KDIR= \
to the build directory of the kernel to build for)
endif
# and a kernel tern cannot build for (it needs VFIO_MIGRATION_PRE_COPY and
# more of 6.12): say which kernel that is, rather than compile errors
KDIR_VERSION_CODE := $(shell sed -n 's/^\#define LINUX_VERSION_CODE //p' \
	$(KDIR)/include/generated/uapi/linux/version.h 2>/dev/null)
ifneq ($(KDIR_VERSION_CODE),)
ifeq ($(shell test $(KDIR_VERSION_CODE) -lt 396288 && echo old),old)
$(error KDIR=$(KDIR) is Linux $(shell cat $(KDIR)/include/config/kernel.release \
2>/dev/null): tern needs 6.12 or later (Debian 12 bookworm: \
linux-image-6.12-amd64 and linux-headers-6.12-amd64; README.md, "The kernel"))
endif
endif
endif

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(TERN_CONFIG) modules

modules_install:
	$(MAKE) -C $(KDIR) M=$(CURDIR) $(TERN_CONFIG) modules_install

modules_clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

clean: modules_clean

setup:
	bash tools/rig/setup.sh

check:
	KERNELS="$(KERNELS)" T="$(T)" bash tools/rig/check.sh check

check-kasan:
	KERNELS=kasan bash tools/rig/check.sh check

# the long versions of the randomised tests: FUZZ=N resume streams,
# TORTURE=S seconds of concurrency torture, SEED=N the seed of both
stress:
	KERNELS="$(KERNELS)" RIG_TIMEOUT=$${RIG_TIMEOUT:-21600} \
		RIG_APPEND="$(if $(FUZZ),tern.fuzz=$(FUZZ)) $(if $(TORTURE),tern.torture=$(TORTURE)) $(if $(SEED),tern.seed=$(SEED))" \
		bash tools/rig/check.sh stress

demo:
	bash tools/rig/demo.sh

bench:
	bash tools/rig/bench.sh

cache-clean:
	rm -rf $(TERN_CACHE)/qemu-* $(TERN_CACHE)/kernel-* $(TERN_CACHE)/run \
		$(TERN_CACHE)/qemu $(TERN_CACHE)/src $(TERN_CACHE)/stock-* \
		$(TERN_CACHE)/trixie-build $(TERN_CACHE)/bookworm-6.12 \
		$(TERN_CACHE)/uapi-* $(TERN_CACHE)/modules $(TERN_CACHE)/apt \
		$(TERN_CACHE)/dkms $(TERN_CACHE)/intree $(TERN_CACHE)/upstream-vfio

.PHONY: all modules modules_install modules_clean clean setup check check-kasan stress demo bench \
	cache-clean
