#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# tern's additions to the kernel's VFIO selftests (this repository's
# tools/testing/selftests/vfio) as a patch series for upstream, against
# Linux 7.3, made from the files as they are now, and checked the way a
# maintainer would: it applies with `git am` to a clean tree, builds there
# with upstream's own Makefile, and checkpatch.pl --strict finds nothing.
#
#   1/3 the migration helper library: lib/vfio_pci_migration.c, its
#       header lib/include/libvfio/vfio_pci_migration.h and every other
#       file of lib/ outside lib/drivers
#   2/3 the tests: vfio_pci_migration_test.c (every *_test.c)
#   3/3 the tern libvfio driver: lib/drivers/tern, with tern_if.h as a
#       regular file (here it is a link to include/linux/tern/tern_if.h,
#       which upstream does not have)
#
# Each patch registers its files with tools/rig/vfio-overlay.sh, the edits
# the rig's own builds make (driver table, LIBVFIO_C, libvfio.h,
# TEST_GEN_PROGS). The commit messages and the cover letter (first line:
# its subject) are tools/rig/upstream-series/; the author and
# Signed-off-by are RIG_SERIES_FROM (default: the project's neutral
# identity), set in the scratch repositories only. To: and Cc: come from
# 7.3's MAINTAINERS (scripts/get_maintainer.pl).
#
# The base is a git repository of the parts of linux-source-7.3
# ($RIG_CACHE/src) that the series touches, builds with and is checked
# with, committed once as "Linux 7.3 (parts)" and cached in
# $RIG_CACHE/upstream-series. checkpatch runs in a clone of it (not
# --no-tree: the uAPI headers seed its CamelCase list, MAINTAINERS and
# get_maintainer.pl its checks of paths). Its one exception:
# FILE_PATH_CHANGES ("does MAINTAINERS need updating?"), which fires for
# any new file; instead every new file must be covered by the same
# MAINTAINERS entries as the directory it goes into.
#
# OUTDIR gets patches/ (the series: 0000-cover-letter.patch, then one file
# per patch), am.log, build.log, checkpatch.log, and verify/, the clean
# tree with the series applied. Prints OUTDIR/patches.
#
# usage: upstream-series.sh OUTDIR
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 1 ] || die "usage: $0 OUTDIR"
src=linux-source-7.3
ksrc="$RIG_CACHE/src/$src"
[ -f "$ksrc/tools/testing/selftests/vfio/lib/libvfio.mk" ] ||
	die "no VFIO selftests in $ksrc: run tools/rig/setup.sh"
ver=$(cat "$ksrc/.deb-version" 2>/dev/null || dpkg-query -W -f='${Version}' "$src")
uapi=$("$RIG_TOP/tools/rig/uapi-headers.sh" "$src")
overlay="$RIG_TOP/tools/testing/selftests/vfio"
msgs="$RIG_TOP/tools/rig/upstream-series"
from=${RIG_SERIES_FROM:-"tern developers <dev@tern.invalid>"}
from_name=${from% <*}
from_email=${from##*<}
from_email=${from_email%>}
[ "$from" = "$from_name <$from_email>" ] ||
	die "RIG_SERIES_FROM=$from: expected 'Name <address>'"

mkdir -p "$1"
out=$(cd "$1" && pwd)
rm -rf "$out/patches" "$out/work" "$out/verify" "$out/stage"
cache="$RIG_CACHE/upstream-series"
mkdir -p "$cache"

# git in the scratch repositories: this identity, no one's configuration
sgit() {
	GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
		GIT_AUTHOR_NAME="$from_name" GIT_AUTHOR_EMAIL="$from_email" \
		GIT_COMMITTER_NAME="$from_name" GIT_COMMITTER_EMAIL="$from_email" \
		git "$@"
}

# The base. What the vfio Makefile and libvfio.mk reach (as
# tools/rig/upstream-vfio.sh copies them), checkpatch.pl and what it reads
# (its data files; include/uapi, whose headers seed its CamelCase
# exceptions, e.g. VFIO_DEVICE_FEATURE_MIG_PRECOPY_INFOv2; MAINTAINERS and
# get_maintainer.pl), and one file of each top-level entry checkpatch
# looks for to believe it runs in a kernel tree (top_of_kernel_tree).
# Upstream's symlinks stay links; their targets are added.
parts=(
	tools/testing/selftests/lib.mk
	tools/testing/selftests/vfio
	tools/include
	tools/arch
	scripts/subarch.include
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
	Documentation/dev-tools/checkpatch.rst
	scripts/get_maintainer.pl
	MAINTAINERS
	include/uapi
	COPYING CREDITS Kbuild Makefile README
	arch/Kconfig fs/Makefile init/Makefile ipc/Makefile kernel/Makefile
	lib/Makefile
)
for f in "$ksrc"/tools/testing/selftests/kselftest*; do
	parts+=("${f#"$ksrc/"}")
done

# held to the end: a run with another version of this script replaces
# the base the clones below are made from
exec 8>"$cache/.lock"
flock 8

key=$(printf '%s\n' "$ksrc" "$ver" "${parts[@]}" | cat - "$0" | sha256sum | cut -c1-16)
base="$cache/base-$key"
if [ ! -f "$base/.rig-done" ]; then
	log "base: the parts of $src $ver in a git repository"
	rm -rf "$cache"/base-* "$base.new"
	mkdir -p "$base.new"
	(cd "$ksrc" && cp -a --parents "${parts[@]}" "$base.new/")
	# the targets of upstream's symlinks (register headers in drivers/,
	# include/linux/pci_ids.h), until none dangles
	while dangling=$(cd "$base.new" && find . -xtype l | sed 's|^\./||') &&
	      [ -n "$dangling" ]; do
		for l in $dangling; do
			t=$(realpath -m --relative-to="$ksrc" "$ksrc/$(dirname "$l")/$(readlink "$base.new/$l")")
			case "$t" in ../*) die "$l links out of the tree" ;; esac
			[ -e "$ksrc/$t" ] || die "$l: no $t in $ksrc"
			(cd "$ksrc" && cp -a --parents "$t" "$base.new/")
		done
	done
	sgit -C "$base.new" init -q -b v7.3-parts
	sgit -C "$base.new" add -f -A .
	date="@$(stat -c %Y "$ksrc/Makefile") +0000"
	GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date \
		sgit -C "$base.new" commit -q -F - <<-EOF
	Linux 7.3 (parts)

	The parts of Debian's linux-source-7.3 $ver that tern's series
	for the VFIO selftests touches, builds with and is checked with:
	tools/testing/selftests (lib.mk, kselftest*, vfio), tools/include,
	tools/arch, scripts/subarch.include, the targets of the vfio
	selftests' symlinks, checkpatch.pl and what it reads (its data
	files, include/uapi, MAINTAINERS, get_maintainer.pl, a file of each
	top-level directory it looks for).
	EOF
	touch "$base.new/.rig-done"
	mv "$base.new" "$base"
fi
base_commit=$(git -C "$base" rev-parse HEAD)

# The overlay's files by patch. Any other file is an error: a file of the
# overlay that no patch takes would be in the rig's builds and not in
# the series.
# files[i]: the files of patch i, one a line
files=("" "" "" "")
while IFS= read -r rel; do
	case "$rel" in
	lib/drivers/tern/*)		i=3 ;;
	lib/drivers/*)			die "$rel: a driver the series has no patch for" ;;
	lib/*.[ch] | lib/include/*)	i=1 ;;
	*_test.c)			i=2 ;;
	*)				die "$rel: a file no patch of the series takes" ;;
	esac
	files[i]+="$rel"$'\n'
done < <(cd "$overlay" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
for i in 1 2 3; do
	[ -n "${files[i]}" ] || die "patch $i has no files in $overlay"
	[ -f "$msgs/000$i.msg" ] || die "no $msgs/000$i.msg"
done
[ -f "$msgs/cover-letter.txt" ] || die "no $msgs/cover-letter.txt"

# Commit dates: the last commit of this repository that changed the
# series' sources, so the same sources give the same patches.
date=$(git -C "$RIG_TOP" log -1 --format=%cI -- tools/testing/selftests/vfio \
	include/linux/tern/tern_if.h tools/rig/upstream-series 2>/dev/null || true)
date=${date:-$(date -R)}
export GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date"

work="$out/work"
sgit clone -q "$base" "$work"
sgit -C "$work" checkout -q -b series
for i in 1 2 3; do
	mapfile -t list < <(printf '%s' "${files[i]}")
	stage="$out/stage/$i"
	mkdir -p "$stage"
	# -L: a link of the overlay (tern_if.h) becomes the file it names
	(cd "$overlay" && cp -L --parents "${list[@]}" "$stage/")
	"$RIG_TOP/tools/rig/vfio-overlay.sh" "$base/tools/testing/selftests/vfio" \
		"$work/tools/testing/selftests/vfio" "$stage"
	sgit -C "$work" add -A tools/testing/selftests/vfio
	sgit -C "$work" commit -q -s -F "$msgs/000$i.msg"
done
rm -rf "$out/stage"

# To: the maintainers, Cc: the reviewers and lists of what the series
# changes, as 7.3's get_maintainer.pl names them
mapfile -t changed < <(git -C "$work" diff --name-only "$base_commit" series)
gm=(perl scripts/get_maintainer.pl --nogit --nogit-fallback --norolestats)
# (sorted: get_maintainer.pl's order varies from run to run)
mapfile -t to < <(cd "$work" && "${gm[@]}" --m --no-r --no-l -f "${changed[@]}" | sort)
mapfile -t cc < <(cd "$work" && "${gm[@]}" --no-m --r --l -f "${changed[@]}" | sort)
[ ${#to[@]} -gt 0 ] || die "get_maintainer.pl names no maintainer"

sgit -C "$work" config branch.series.description "$(cat "$msgs/cover-letter.txt")"
sgit -C "$work" format-patch -q --cover-letter --cover-from-description=subject \
	"${to[@]/#/--to=}" "${cc[@]/#/--cc=}" \
	-o "$out/patches" "$base_commit..series"
rm -rf "$work"
patches=()
for p in "$out/patches"/*.patch; do
	[ "${p##*/}" = 0000-cover-letter.patch ] || patches+=("$p")
done
[ ${#patches[@]} = 3 ] || die "format-patch made ${#patches[@]} patches, not 3"
log "series: $(cd "$out/patches" && echo *.patch)"

# 1. applies with git am to a clean tree
verify="$out/verify"
sgit clone -q "$base" "$verify"
if ! sgit -C "$verify" am --whitespace=error "${patches[@]}" > "$out/am.log" 2>&1; then
	cat "$out/am.log" >&2
	die "the series does not apply to a clean $src tree (log: $out/am.log)"
fi

# 2. builds there with upstream's Makefile, as tools/rig/upstream-vfio.sh
# builds (static, the 7.3 uAPI headers); the GCC 12 workaround edits the
# built copy only, after git am
vfio="$verify/tools/testing/selftests/vfio"
buildlog="$out/build.log"
mk_args=(-C "$vfio" OUTPUT="$out/build" KHDR_INCLUDES="-isystem $uapi"
	 USERLDFLAGS=-static)
build() {
	make -k -j"$RIG_JOBS" "${mk_args[@]}" > "$buildlog" 2>&1
}
build_failed() {
	grep -E ': (error|warning|undefined reference)|\*\*\*' "$buildlog" | head -40 >&2
	die "the series does not build in a clean $src tree (log: $buildlog)"
}
rm -rf "$out/build"
if ! build; then
	rig_vla_fix "$buildlog" "$vfio" || build_failed
	build || build_failed
fi
progs=$(make -s "${mk_args[@]}" COLLECTION=vfio emit_tests | sed -n 's/^vfio://p')
for t in $progs; do
	[ -x "$out/build/$t" ] || die "$t was not built (log: $buildlog)"
done
echo "$progs" | grep -qx vfio_pci_migration_test ||
	die "the vfio Makefile does not build vfio_pci_migration_test"

# 3. checkpatch --strict, in the tree. Two warnings are upstream's own
# layout, and accepted where nothing else can be meant:
#  - FILE_PATH_CHANGES ("added, moved or deleted file(s), does MAINTAINERS
#    need updating?") fires for any new file: each one must instead be
#    covered by every MAINTAINERS entry that covers its directory
#    (tools/testing/selftests/vfio);
#  - AVOID_EXTERNS ("externs should be avoided in .c files") on
#    "extern struct vfio_pci_driver_ops <name>_ops;" in
#    lib/vfio_pci_driver.c, where upstream declares every libvfio
#    driver's ops the same way.
# Any other error, warning or check fails.
gm_sections() {
	(cd "$verify" && perl scripts/get_maintainer.pl --nogit --nogit-fallback \
		--sections -f "$1" | grep -v -e '^[A-Z]:' -e '^$' | sort -u)
}
want=$(gm_sections tools/testing/selftests/vfio/Makefile)
while IFS= read -r f; do
	have=$(gm_sections "$f")
	[ -z "$(comm -23 <(echo "$want") <(echo "$have"))" ] ||
		die "MAINTAINERS covers $f not as tools/testing/selftests/vfio: $(echo "$have" | tr '\n' ',')"
done < <(git -C "$verify" diff --name-only --diff-filter=A "$base_commit" HEAD)

: > "$out/checkpatch.log"
accepted=0
for p in "${patches[@]}"; do
	(cd "$verify" && ./scripts/checkpatch.pl --strict --show-types "$p") \
		> "$out/checkpatch.one" 2>&1 || true
	cat "$out/checkpatch.one" >> "$out/checkpatch.log"
	# one "total:" line, and each message (type, FILE: line, code line)
	# accepted, else it is printed and the step fails
	if ! n=$(awk '
		function judge() {
			if (msg ~ /^WARNING:FILE_PATH_CHANGES:/ ||
			    (msg ~ /^WARNING:AVOID_EXTERNS:/ &&
			     file ~ /^tools\/testing\/selftests\/vfio\/lib\/vfio_pci_driver\.c:/ &&
			     code ~ /^\+extern struct vfio_pci_driver_ops [a-z0-9_]+_ops;$/))
				ok++
			else {
				print msg "\n" where "\n" code > "/dev/stderr"
				bad = 1
			}
			msg = ""
		}
		/^(ERROR|WARNING|CHECK):/ { if (msg != "") judge(); msg = $0; where = file = code = ""; next }
		msg != "" && /^#[0-9]+: FILE: / { where = $0; file = $3; next }
		msg != "" && /^\+/ && code == "" { code = $0; next }
		msg != "" && /^$/ { judge() }
		/^total: / { totals++; split($0, t, /[ ,]+/); reported += t[2] + t[4] + t[6] }
		END {
			if (msg != "") judge()
			if (totals != 1 || reported != ok) bad = 1
			print ok
			exit bad
		}' "$out/checkpatch.one"); then
		die "checkpatch --strict: $(basename "$p") is not clean (log: $out/checkpatch.log)"
	fi
	accepted=$((accepted + n))
done
rm -f "$out/checkpatch.one"

log "upstream series: ${#patches[@]} patches on $src $ver apply, build ($(echo "$progs" | wc -l) tests) and are checkpatch --strict clean (but for $accepted warnings of upstream's layout)"
echo "$out/patches"
