#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything the tern rig needs on a Debian bookworm machine.
# Idempotent: apt entries are added only when missing, packages only when
# not installed, and the QEMU source only when not unpacked yet.
set -euo pipefail

. "$(dirname "$0")/common.sh"

SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo

APT_LIST=/etc/apt/sources.list.d/tern-rig.sources

# The entry's URI is the machine's own archive (see rig_archive_uri).
add_apt_entries() {
	local uri want
	uri=$(rig_archive_uri)
	want=$(cat <<EOT
# Added by tern tools/rig/setup.sh: meson 1.7 and python3-pycotap come from
# bookworm-backports; QEMU 10.0 source comes from trixie (deb-src only).
Types: deb deb-src
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: $RIG_KEYRING

Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: $RIG_KEYRING
EOT
)
	[ -f "$APT_LIST" ] && [ "$(cat "$APT_LIST")" = "$want" ] && return 0
	log "adding bookworm-backports and trixie deb-src apt entries ($uri)"
	echo "$want" | $SUDO tee "$APT_LIST" >/dev/null
	rm -f "$RIG_CACHE/.apt-updated"
}

# python3-matplotlib: make bench's plots (tools/tern/plots.py)
# debhelper, dh-dkms, lintian (with dpkg-dev): the tern-dkms package
# (tools/rig/deb.sh; debian/rules needs no root, so no fakeroot)
PKGS="linux-source-6.12 build-essential bc flex bison libelf-dev libssl-dev
      sparse ninja-build libglib2.0-dev libpixman-1-dev libfdt-dev zlib1g-dev
      dpkg-dev busybox-static cpio rsync seabios qemu-system-data python3
      python3-venv python3-matplotlib xz-utils kmod git dwarves dkms
      debhelper dh-dkms lintian"
BPO_PKGS="meson python3-pycotap"

missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q '^install ok installed' || echo "$p"
	done
}

bpo_meson_ok() {
	local v
	v=$(dpkg-query -W -f='${Version}' meson 2>/dev/null) || return 1
	dpkg --compare-versions "$v" ge 1.5
}

mkdir -p "$RIG_CACHE"
add_apt_entries

need=$(missing_pkgs $PKGS $BPO_PKGS)
if [ -n "$need" ] || ! bpo_meson_ok; then
	if [ ! -f "$RIG_CACHE/.apt-updated" ]; then
		log "apt-get update"
		$SUDO apt-get update -q
		touch "$RIG_CACHE/.apt-updated"
	fi
	log "installing: $(echo $need)"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends $PKGS
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends -t bookworm-backports $BPO_PKGS
fi

# QEMU 10.0 source, patched by dpkg-source, kept in the cache.
if ! ls -d "$RIG_CACHE"/src/qemu-10.0*/ >/dev/null 2>&1; then
	log "fetching QEMU 10.0 source (apt-get source, trixie)"
	mkdir -p "$RIG_CACHE/src"
	# apt-get source runs as _apt when it can; the cache dir may be root's.
	(cd "$RIG_CACHE/src" && apt-get source -q qemu/trixie 2>&1 |
		grep -v '^W: Download is performed unsandboxed' || true)
	ls -d "$RIG_CACHE"/src/qemu-10.0*/ >/dev/null 2>&1 ||
		die "QEMU 10.0 source not found after apt-get source"
fi

# Debian's kernel source tarball, unpacked once.
if [ ! -d "$RIG_CACHE/src/linux-source-6.12" ]; then
	tarball=$(ls /usr/src/linux-source-6.12*.tar.xz | head -1)
	log "unpacking $tarball"
	mkdir -p "$RIG_CACHE/src"
	tar -C "$RIG_CACHE/src" -xf "$tarball"
fi
# The current kernel: linux-source-7.3 from trixie-backports, fetched with
# the rig's own apt configuration and unpacked, never installed.
if [ ! -f "$RIG_CACHE/src/linux-source-7.3/Makefile" ]; then
	log "fetching linux-source-7.3 (trixie-backports)"
	tmp=$(mktemp -d "$RIG_CACHE/src/.fetch.XXXXXX")
	rig_apt trixie trixie trixie-backports -- update >/dev/null
	(cd "$tmp" && rig_apt trixie -- download linux-source-7.3 >/dev/null)
	dpkg-deb -x "$tmp"/linux-source-7.3_*.deb "$tmp/deb"
	rm -rf "$RIG_CACHE/src/linux-source-7.3"
	tar -C "$RIG_CACHE/src" -xf "$tmp"/deb/usr/src/linux-source-7.3.tar.xz
	dpkg-deb -f "$tmp"/linux-source-7.3_*.deb Version \
		> "$RIG_CACHE/src/linux-source-7.3/.deb-version"
	rm -rf "$tmp"
fi

# unpack_closure CONF DIR APT_ARG...: what `apt-get install
# --no-install-recommends APT_ARG...` would install with the rig's apt
# configuration CONF (rig_apt), downloaded and unpacked into DIR/root:
# never installed, no maintainer script run. The .debs stay in CONF's
# archives until the next call.
unpack_closure() {
	local conf=$1 dir=$2 deb
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir"
	rm -f "$RIG_CACHE/apt/$conf"/archives/*.deb
	rig_apt "$conf" -- -y --download-only --no-install-recommends \
		install "$@" >/dev/null
	for deb in "$RIG_CACHE/apt/$conf"/archives/*.deb; do
		dpkg-deb -x "$deb" "$dir/root"
	done
}

# fetch_unpacked DIR SUITE VERSION_PACKAGE PACKAGE...: PACKAGEs from
# SUITE (trixie or trixie-backports) with their dependency closure, with the
# rig's own trixie apt configuration, unpacked into DIR/root (never
# installed); DIR/version is VERSION_PACKAGE's version
fetch_unpacked() {
	local dir=$1 suite=$2 vpkg=$3
	shift 3
	rig_apt trixie trixie trixie-backports -- update >/dev/null
	unpack_closure trixie "$dir" -t "$suite" "$@"
	dpkg-deb -f "$RIG_CACHE"/apt/trixie/archives/"$vpkg"_*.deb \
		Version > "$dir/version"
	rm -f "$RIG_CACHE"/apt/trixie/archives/*.deb
}

# run_unpacked DIR BINARY: BINARY (a path in DIR/root) runs through
# DIR/root's own dynamic loader and libraries (its --version)
run_unpacked() {
	"$1/root/usr/lib64/ld-linux-x86-64.so.2" --library-path \
		"$1/root/usr/lib/x86_64-linux-gnu" "$1/root/$2" --version >&2
}

# The second consumer of the uAPI: Debian's packaged QEMU from
# trixie-backports (the QEMU hosts run now), unmodified, with the
# dependency closure of its binary package, fetched with the rig's own apt
# configuration and unpacked (never installed). It runs from there through
# its own dynamic loader; tools/rig/mkinitramfs.sh takes what it loads.
qemu_debian="$RIG_CACHE/qemu-debian"
if [ ! -f "$qemu_debian/.rig-done" ]; then
	log "fetching Debian's QEMU (qemu-system-x86, trixie-backports)"
	fetch_unpacked "$qemu_debian" trixie-backports qemu-system-x86 \
		qemu-system-x86
	run_unpacked "$qemu_debian" usr/bin/qemu-system-x86_64 ||
		die "Debian's QEMU does not run from $qemu_debian/root"
	touch "$qemu_debian/.rig-done"
fi

# libvirt as a trixie host runs it: trixie's own libvirt (11.3, not
# trixie-backports' 12.x; README.md, "libvirt"), the daemon libvirtd
# (trixie's 11.3 ships no modular virtqemud), its QEMU driver and virsh,
# with the dependency closure of their packages, fetched and unpacked
# like Debian's QEMU above (never installed). The closure brings systemd
# and trixie's QEMU too, which the VM does not use: mkinitramfs.sh takes
# only what the daemon, its QEMU driver and virsh load.
libvirt_debian="$RIG_CACHE/libvirt-debian"
if [ ! -f "$libvirt_debian/.rig-done" ]; then
	log "fetching Debian's libvirt (libvirtd, its QEMU driver, virsh; trixie)"
	fetch_unpacked "$libvirt_debian" trixie libvirt-daemon-driver-qemu \
		libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
	for bin in usr/sbin/libvirtd usr/bin/virsh; do
		run_unpacked "$libvirt_debian" "$bin" ||
			die "Debian's $bin does not run from $libvirt_debian/root"
	done
	touch "$libvirt_debian/.rig-done"
fi

# unpack_kernel_debs DIR ABI: unpack DIR/debs/*.deb into DIR/root, point
# the linux-headers-ABI-amd64 Makefile's absolute include into it, and drop
# the .debs
unpack_kernel_debs() {
	local dir=$1 abi=$2 deb
	for deb in "$dir"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir/root"
	done
	sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" \
		"$dir/root/usr/src/linux-headers-$abi-amd64/Makefile"
	rm -rf "$dir/debs"
}

# --- Debian 13 trixie, the host the rig's "stock" kernel stands for ------
# Everything of trixie comes through one apt configuration of the rig's
# own (trixie-stock), whose lists are fetched when something of trixie is
# missing; the stock kernel is the default kernel those lists name
# (rig_stock_abi), so a new fetch follows trixie's kernel updates.
trixie_build="$RIG_CACHE/trixie-build"
qemu_trixie="$RIG_CACHE/qemu-trixie"
if ! stock_abi=$(rig_stock_abi 2> /dev/null) ||
   [ ! -f "$RIG_CACHE/stock-$stock_abi/.rig-done" ] ||
   [ ! -f "$trixie_build/.rig-done" ] || [ ! -f "$qemu_trixie/.rig-done" ]; then
	log "fetching Debian trixie's package lists"
	rig_apt trixie-stock trixie trixie-updates trixie-security -- update >/dev/null
	stock_abi=$(rig_stock_abi)
fi

# The stock kernel, the one a trixie host runs: trixie's default kernel
# image with its modules and the matching headers (with the kbuild tools
# they need). Unpacked, not installed; the headers' absolute paths are
# pointed into the unpacked tree. Its kbuild tools need trixie's glibc and
# its headers trixie's gcc: tern is built for it in trixie-build (below).
stock="$RIG_CACHE/stock-$stock_abi"
if [ ! -f "$stock/.rig-done" ]; then
	log "fetching Debian trixie's default kernel $stock_abi-amd64"
	rm -rf "$stock"
	mkdir -p "$stock/debs"
	(cd "$stock/debs" && rig_apt trixie-stock -- download \
		"linux-image-$stock_abi-amd64" "linux-headers-$stock_abi-amd64" \
		"linux-headers-$stock_abi-common" "linux-kbuild-$stock_abi" >/dev/null)
	# the toolchain the headers name (gcc-14), for trixie-build
	dpkg-deb -f "$stock"/debs/linux-headers-"$stock_abi"-amd64_*.deb Depends |
		tr ',' '\n' | sed 's/^ *//; s/ .*//' | grep -v '^linux-' \
		> "$stock/toolchain"
	unpack_kernel_debs "$stock" "$stock_abi"
	# trixie's /lib is /usr/lib (merged /usr): its packages put the
	# modules in /usr/lib/modules, found through /lib/modules
	ln -s usr/lib "$stock/root/lib"
	# the package's postinst would run depmod: the rig reads modules.dep
	/sbin/depmod -b "$stock/root" "$stock_abi-amd64"
	touch "$stock/.rig-done"
fi

# trixie-build: a minimal trixie root (its Essential packages) with what a
# trixie host installs to build tern with DKMS (README.md: dkms, and the
# headers' toolchain and kbuild dependencies), plus sparse, rsync and git
# for the rig's W=1 and sparse builds. tools/rig/check.sh builds tern for
# the stock kernel in it (rig_in_root); nothing of it is installed here.
if [ ! -f "$trixie_build/.rig-done" ]; then
	log "fetching a trixie root with dkms and $(tr '\n' ' ' < "$stock/toolchain")"
	# shellcheck disable=SC2046
	unpack_closure trixie-stock "$trixie_build" '?essential' dkms "linux-kbuild-$stock_abi" \
		$(cat "$stock/toolchain") sparse rsync git xz-utils openssl
	rm -f "$RIG_CACHE"/apt/trixie-stock/archives/*.deb
	# no maintainer script ran, so no alternative is set: kbuild needs
	# awk, which mawk's postinst would provide
	ln -s mawk "$trixie_build/root/usr/bin/awk"
	rig_in_root "$trixie_build/root" dkms --version >&2 ||
		die "dkms does not run in $trixie_build/root"
	touch "$trixie_build/.rig-done"
fi

# trixie's own QEMU (qemu-system-x86, 10.0), unmodified, the default
# consumer of the QEMU tests on the stock kernel: what `apt install
# qemu-system-x86` gives a trixie host. Unpacked with its dependencies like
# Debian's QEMU 11.1 above; it runs through its own dynamic loader.
if [ ! -f "$qemu_trixie/.rig-done" ]; then
	log "fetching Debian trixie's QEMU (qemu-system-x86)"
	unpack_closure trixie-stock "$qemu_trixie" qemu-system-x86
	dpkg-deb -f "$RIG_CACHE"/apt/trixie-stock/archives/qemu-system-x86_*.deb \
		Version > "$qemu_trixie/version"
	rm -f "$RIG_CACHE"/apt/trixie-stock/archives/*.deb
	run_unpacked "$qemu_trixie" usr/bin/qemu-system-x86_64 ||
		die "trixie's QEMU does not run from $qemu_trixie/root"
	touch "$qemu_trixie/.rig-done"
fi
# --- end of Debian 13 trixie ---------------------------------------------

# Debian's 6.12 kernel for bookworm (linux-6.12 from bookworm-security, of
# the same upstream release as linux-source-6.12): its headers, with the
# kbuild tools they need, which make check has DKMS build tern for on this
# machine (bookworm's dkms and gcc 12; tools/rig/check.sh). Not booted: the
# VM runs trixie's build of 6.12 (above).
bw612_abi=$(rig_bookworm612_abi)
bw612="$RIG_CACHE/bookworm-6.12"
if [ ! -f "$bw612/.rig-done" ] ||
   [ "$(cat "$bw612/release")" != "$bw612_abi-amd64" ]; then
	log "fetching Debian's 6.12 kernel headers for bookworm ($bw612_abi-amd64)"
	rm -rf "$bw612"
	mkdir -p "$bw612/debs"
	rig_apt bookworm bookworm bookworm-updates bookworm-security -- \
		update >/dev/null
	(cd "$bw612/debs" && rig_apt bookworm -- download \
		"linux-headers-$bw612_abi-amd64" "linux-headers-$bw612_abi-common" \
		"linux-kbuild-$bw612_abi" >/dev/null)
	unpack_kernel_debs "$bw612" "$bw612_abi"
	echo "$bw612_abi-amd64" > "$bw612/release"
	touch "$bw612/.rig-done"
fi
# Debian bookworm's default kernel headers (6.1, linux-headers-amd64's
# dependency), which tern does not build for: make check tests that DKMS
# refuses them (tools/rig/dkms.sh). Unpacked like the stock kernel's.
old61="$RIG_CACHE/bookworm-6.1"
if [ ! -f "$old61/.rig-done" ]; then
	log "fetching Debian bookworm's default (6.1) kernel headers"
	rm -rf "$old61"
	mkdir -p "$old61/debs"
	rig_apt bookworm bookworm bookworm-updates bookworm-security -- \
		update >/dev/null
	(cd "$old61/debs" && rig_apt bookworm -- download linux-headers-amd64 \
		>/dev/null)
	# "linux-headers-6.1.0-N-amd64 (= VERSION)"
	abi61=$(dpkg-deb -f "$old61"/debs/linux-headers-amd64_*.deb Depends |
		sed -n 's/^linux-headers-\(6\.1\.[^ ]*\)-amd64 .*/\1/p')
	[ -n "$abi61" ] || die "linux-headers-amd64 of bookworm: no 6.1 headers named"
	(cd "$old61/debs" && rig_apt bookworm -- download \
		"linux-headers-$abi61-amd64" "linux-headers-$abi61-common" \
		linux-kbuild-6.1 >/dev/null)
	rm "$old61"/debs/linux-headers-amd64_*.deb
	unpack_kernel_debs "$old61" "$abi61"
	echo "$abi61-amd64" > "$old61/release"
	touch "$old61/.rig-done"
fi
log "setup done"
