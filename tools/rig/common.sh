# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the tern rig scripts. Sourced, not run.

# Everything big (sources, kernel and QEMU builds) lives here, never in the
# repository. Keyed sub-directories let several configurations coexist.
RIG_CACHE=${TERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tern}
RIG_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG_JOBS=${RIG_JOBS:-$(nproc)}
RIG_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

log() { printf '[rig] %s\n' "$*" >&2; }
die() { printf '[rig] error: %s\n' "$*" >&2; exit 1; }

# Serialise heavy builds: the machines have two cores, and two kernel or
# QEMU builds at once only make both slow.
build_lock() {
	mkdir -p "$RIG_CACHE"
	exec 9>"$RIG_CACHE/.build.lock"
	flock 9
}

# rig_archive_uri [SUITE]: the Debian archive this machine uses for SUITE
# (a local mirror or proxy on most sites), as its own apt configuration
# names it; for a suite it does not list (trixie), the one it uses for
# bookworm, and for a security suite it does not list (trixie-security),
# the one it uses for bookworm-security (the security archive is a
# separate one). Every apt entry the rig writes takes its URI from here,
# never from the repository.
rig_archive_uri() {
	local suite=${1:-bookworm} uri
	uri=$(apt-get indextargets --no-release-info \
		--format '$(RELEASE) $(TARGET_OF) $(REPO_URI)' 'Created-By: Packages' |
		awk -v s="$suite" '$1 == s && $2 == "deb" { print $3; exit }')
	if [ -z "$uri" ]; then
		case "$suite" in
		bookworm|bookworm-security)
			die "no '$suite' deb entry in this machine's apt sources" ;;
		*-security) uri=$(rig_archive_uri bookworm-security) ;;
		*) uri=$(rig_archive_uri bookworm) ;;
		esac
	fi
	echo "${uri%/}"
}

# The ABI name of Debian 12 bookworm's 6.12 kernel of the same upstream
# release as linux-source-6.12 (6.12.117-1~deb12u1 -> 6.12.117+deb12): what
# DKMS builds for in make check (tools/rig/check.sh)
rig_bookworm612_abi() {
	echo "$(dpkg-query -W -f='${Version}' linux-source-6.12 | sed 's/-.*//')+deb12"
}

# The ABI name of Debian 13 trixie's default kernel, the rig's "stock"
# kernel: what linux-image-amd64 depends on (linux-image-6.12.118+deb13-amd64
# -> 6.12.118+deb13) in the rig's trixie lists (setup.sh fetches them, and
# refreshes them whenever it fetches from trixie, so the stock kernel
# follows trixie's default kernel then)
rig_stock_abi() {
	local abi
	abi=$(rig_apt_cache trixie-stock depends --important linux-image-amd64 |
		sed -n 's/^ *Depends: linux-image-\(.*\)-amd64$/\1/p' | head -1)
	[ -n "$abi" ] || die "no linux-image-amd64 in the rig's trixie lists: run tools/rig/setup.sh"
	echo "$abi"
}

# rig_apt NAME SUITE... -- APT-GET-ARGS...: apt-get with an apt
# configuration of the rig's own ($RIG_CACHE/apt/NAME: its source list,
# lists, package cache and an empty dpkg status), for packages of other
# Debian releases that are unpacked, never installed into this system.
# Downloads land in $RIG_CACHE/apt/NAME/archives (or the current directory
# for `download`).
rig_apt() {
	local name=$1 dir suite
	shift
	dir="$RIG_CACHE/apt/$name"
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts"
	if [ ! -f "$dir/sources.list" ]; then
		while [ "$1" != -- ]; do
			echo "deb [signed-by=$RIG_KEYRING] $(rig_archive_uri "$1") $1 main"
			shift
		done > "$dir/sources.list"
	fi
	while [ "$1" != -- ]; do shift; done
	shift
	: > "$dir/status"
	rig_apt_options "$dir"
	apt-get -q "${RIG_APT_OPTS[@]}" -o APT::Sandbox::User=root "$@"
}

# rig_apt_cache NAME APT-CACHE-ARGS...: apt-cache on the lists of rig_apt's
# configuration NAME
rig_apt_cache() {
	local dir="$RIG_CACHE/apt/$1"
	shift
	[ -f "$dir/sources.list" ] || return 1
	rig_apt_options "$dir"
	apt-cache "${RIG_APT_OPTS[@]}" "$@"
}

# rig_apt_options DIR: RIG_APT_OPTS, the options that make apt use the
# configuration in DIR
rig_apt_options() {
	RIG_APT_OPTS=(-o "Dir::Etc::SourceList=$1/sources.list"
		-o "Dir::Etc::SourceParts=$1/parts" -o "Dir::State::Lists=$1/lists"
		-o "Dir::State::status=$1/status" -o "Dir::Cache=$1"
		-o "Dir::Cache::archives=$1/archives")
}

# rig_in_root ROOT CMD [ARG...]: run CMD in ROOT, an unpacked Debian root
# (setup.sh's trixie-build: a newer release's toolchain, which needs that
# release's glibc), as chroot would, with this tree and the cache at their
# own paths (every path the rig passes means the same inside), /proc, /sys
# and /dev of this system and a /tmp of its own. The mounts live in a
# mount namespace of the command's own, so nothing outside sees them;
# without root, in a user namespace where this user is root.
rig_in_root() {
	local root=$1 userns=
	shift
	[ "$(id -u)" = 0 ] || userns=--map-root-user
	unshare --mount $userns -- /bin/bash -euc '
		root=$1 top=$2 cache=$3
		shift 3
		for d in /proc /sys /dev; do
			mount --rbind "$d" "$root$d"
		done
		mount -t tmpfs tmpfs "$root/tmp"
		for d in "$top" "$cache"; do
			mkdir -p "$root$d"
			mount --bind "$d" "$root$d"
		done
		exec chroot "$root" /usr/bin/env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root TERN_CACHE="$cache" "$@"
	' rig_in_root "$root" "$RIG_TOP" "$RIG_CACHE" "$@"
}

# rig_vla_fix BUILDLOG DIR: older GCC (12 here) rejects an initialiser on
# a variable-length array ("u8 buf[n] = {};", valid C23): rewrite each one
# the build log BUILDLOG reports (paths relative to DIR, the directory make
# ran in) as a declaration and a memset(), for a build copy of upstream
# sources, never for a source of tern's. Fails if the log reports none.
rig_vla_fix() {
	local buildlog=$1 dir=$2 vlas v f line
	vlas=$(sed -n 's/^\([^: ]*\):\([0-9]*\):[0-9]*: error: variable-sized object may not be initialized.*/\1:\2/p' \
		"$buildlog" | sort -u)
	[ -n "$vlas" ] || return 1
	for v in $vlas; do
		f=${v%%:*} line=${v##*:}
		case "$f" in /*) ;; *) f="$dir/$f" ;; esac
		sed -i "${line}s/\([A-Za-z_][A-Za-z0-9_]*\)\(\[[^]]*\]\) = {[^}]*};/\1\2; memset(\1, 0, sizeof(\1));/" "$f"
		log "patched a VLA initialiser for GCC $(gcc -dumpversion): $f:$line"
	done
}
