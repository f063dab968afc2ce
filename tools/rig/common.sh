# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the tern rig scripts. Sourced, not run.

# Everything big (sources, kernel and QEMU builds) lives here, never in the
# repository. Keyed sub-directories let several configurations coexist.
RIG_CACHE=${TERN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tern}
RIG_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RIG_JOBS=${RIG_JOBS:-$(nproc)}

log() { printf '[rig] %s\n' "$*" >&2; }
die() { printf '[rig] error: %s\n' "$*" >&2; exit 1; }

# Serialise heavy builds: the machines have two cores, and two kernel or
# QEMU builds at once only make both slow.
build_lock() {
	mkdir -p "$RIG_CACHE"
	exec 9>"$RIG_CACHE/.build.lock"
	flock 9
}
