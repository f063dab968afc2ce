#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Command-line tests of tern-migrate and tern-bench that need no device and
# no root: --help, strict values, contradictory options, unknown options
# and the exit statuses. Runs on the host, against the static binaries.
#
# A command line that must be accepted is given two PCI addresses that do
# not exist (NODEV1, NODEV2). Both tools check every option first (usage
# errors exit 2), then look the addresses up in /sys/bus/pci/devices before
# opening any VFIO file; so "exit 1, no such PCI device" shows that the
# line was accepted and nothing was opened. Where strace works, the test
# also checks that such a run opens no file at all (so no /dev/vfio).
#
# usage: cli-test.sh BINDIR     (BINDIR holds tern-migrate and tern-bench)
# Prints one "PASS cli: ..." or "FAIL cli: ..." line per check, "# ..." for
# what it cannot check here; exits 1 if any check failed.

set -u
bin=${1:?usage: cli-test.sh BINDIR}
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
NODEV1=ffff:ff:1f.6
NODEV2=ffff:ff:1f.7
failed=0

pass() { echo "PASS cli: $1"; }
fail() { echo "FAIL cli: $1"; failed=1; }

# run TOOL ARG...: exit status in $rc, output in $tmp/out and $tmp/err
run() {
	local tool=$1

	shift
	"$bin/$tool" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
}

# the arguments as one would type them: '' and ' 8' stay visible
args() {
	local a out=

	for a in "$@"; do
		case $a in
		"" | *[!A-Za-z0-9,./:=_+-]*) out+=" '$a'" ;;
		*) out+=" $a" ;;
		esac
	done
	echo "${out:- (no arguments)}"
}

# usage_error TOOL MESSAGE ARG...: exit 2, nothing on stdout, and on stderr
# exactly "TOOL: MESSAGE" and the hint at --help
usage_error() {
	local tool=$1 msg=$2 what

	shift 2
	what="$tool$(args "$@"): usage error"
	run "$tool" "$@"
	if [ "$rc" != 2 ]; then
		fail "$what (exit $rc, expected 2: $(head -1 "$tmp/err"))"
	elif [ -s "$tmp/out" ]; then
		fail "$what (wrote to stdout)"
	elif [ "$(cat "$tmp/err")" != "$tool: $msg
Try '$tool --help' for more information." ]; then
		fail "$what (stderr: $(tr '\n' '|' < "$tmp/err"), expected: $tool: $msg)"
	else
		pass "$what"
	fi
}

# accepted TOOL ARG...: the line, with NODEV1 NODEV2 added, gets as far as
# the device lookup: exit 1, "no such PCI device"
accepted() {
	local tool=$1 what

	shift
	what="$tool$(args "$@" SRC DST): accepted"
	run "$tool" "$@" "$NODEV1" "$NODEV2"
	if [ "$rc" != 1 ] ||
	   [ "$(cat "$tmp/err")" != "$tool: $NODEV1: no such PCI device" ]; then
		fail "$what (exit $rc, expected 1: $(head -1 "$tmp/err"))"
	else
		pass "$what"
	fi
}

# help_checks TOOL SOURCE: --help and -h against the option table
help_checks() {
	local tool=$1 file=$2 opts opt

	run "$tool" --help
	if [ "$rc" = 0 ] && [ -s "$tmp/out" ] && [ ! -s "$tmp/err" ]; then
		pass "$tool --help: exit 0, usage on stdout"
	else
		fail "$tool --help: exit $rc, $(wc -c < "$tmp/out") bytes on stdout, $(wc -c < "$tmp/err") on stderr"
	fi
	cp "$tmp/out" "$tmp/help"
	run "$tool" -h
	if [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/help"; then
		pass "$tool -h: same as --help"
	else
		fail "$tool -h: exit $rc or output differs from --help"
	fi
	run "$tool" --help "$NODEV1" "$NODEV2"
	if [ "$rc" = 0 ] && cmp -s "$tmp/out" "$tmp/help"; then
		pass "$tool --help SRC DST: help, no device looked up"
	else
		fail "$tool --help SRC DST: exit $rc"
	fi
	# every entry of the getopt_long table, each with a description
	opts=$(sed -n '/longopts\[\] = {/,/};/s/.*{ "\([a-z-]*\)",.*/\1/p' "$file")
	[ -n "$opts" ] || fail "$tool: no option table found in $file"
	for opt in $opts; do
		if grep -Eq -- "^  (-[a-z], )?--$opt( [A-Z]+)? +[a-z(]" "$tmp/help"; then
			pass "$tool --help: describes --$opt"
		else
			fail "$tool --help: --$opt missing or without a description"
		fi
	done
	if grep -q '^exit status:' "$tmp/help" && grep -q '^  0  ' "$tmp/help" &&
	   grep -q '^  1  failed' "$tmp/help" &&
	   grep -q '^  2  usage error' "$tmp/help"; then
		pass "$tool --help: exit statuses 0, 1 and 2"
	else
		fail "$tool --help: exit statuses 0, 1 and 2 not all described"
	fi
}

# common_checks TOOL: what both tools share
common_checks() {
	local tool=$1 hint=" (usage: $1 [options] SRC_BDF DST_BDF)"

	usage_error "$tool" "unrecognized option '--bogus'" --bogus "$NODEV1" "$NODEV2"
	usage_error "$tool" "unrecognized option '-x'" -x "$NODEV1" "$NODEV2"
	usage_error "$tool" "option '--help' takes no value" --help=1
	usage_error "$tool" "missing SRC_BDF and DST_BDF$hint"
	usage_error "$tool" "missing DST_BDF$hint" "$NODEV1"
	usage_error "$tool" "unexpected argument 'x' after DST_BDF" \
		"$NODEV1" "$NODEV2" x
	usage_error "$tool" "SRC_BDF and DST_BDF are the same VF ($NODEV1)" \
		"$NODEV1" "$NODEV1"
	usage_error "$tool" "SRC_BDF and DST_BDF are the same VF ($NODEV1)" \
		"$NODEV1" "${NODEV1^^}"
	usage_error "$tool" "SRC_BDF: '00:03.0' is not a PCI address (e.g. 0000:00:03.1)" \
		00:03.0 "$NODEV2"
	usage_error "$tool" "DST_BDF: '0000:00:03.8' is not a PCI address (e.g. 0000:00:03.1)" \
		"$NODEV1" 0000:00:03.8
	accepted "$tool"
}

for t in tern-migrate tern-bench; do
	if [ ! -x "$bin/$t" ]; then
		fail "setup: no $bin/$t (build tools/tern with OUTPUT=$bin)"
		exit 1
	fi
done
for bdf in "$NODEV1" "$NODEV2"; do
	if [ -e "/sys/bus/pci/devices/$bdf" ]; then
		fail "setup: PCI device $bdf exists here: pick other NODEV addresses"
		exit 1
	fi
done

M=tern-migrate
help_checks $M "$src/tern-migrate.c"
common_checks $M

# sizes: the message of the issue, then what strtoull() alone would take
usage_error $M "--threshold: '64Q' is not a size (e.g. 4096, 64K, 1M)" \
	--threshold 64Q "$NODEV1" "$NODEV2"
for v in "" K -1 +8 " 8" 64KB 64Ki 64iB 1.5M 0x10 1e6 "64 K" "64K,"; do
	usage_error $M "--threshold: '$v' is not a size (e.g. 4096, 64K, 1M)" \
		--threshold "$v" "$NODEV1" "$NODEV2"
done
accepted $M --threshold=64K
for v in 0 4096 64K 64k 64KiB 1M 1MiB 1G 1GiB 1T 1TiB 18446744073709551615; do
	accepted $M --threshold "$v"
done
# each suffix's factor, exactly: 2^64 / factor overflows, one less fits
max="(0 to 18446744073709551615 bytes)"
for v in 18446744073709551616 18014398509481984K 17592186044416M \
	 17179869184G 16777216T 16777216TiB; do
	usage_error $M "--threshold: '$v' is out of range $max" \
		--threshold "$v" "$NODEV1" "$NODEV2"
done
for v in 18014398509481983K 17592186044415M 17179869183G 16777215T; do
	accepted $M --threshold "$v"
done

# counts take no suffix
for o in --max-passes --workload --fill; do
	for v in 8K 1M -1 0x10 ""; do
		usage_error $M "$o: '$v' is not a whole number (digits only, e.g. 8)" \
			$o "$v" "$NODEV1" "$NODEV2"
	done
done
usage_error $M "--max-passes: '0' is out of range (1 to 4294967295)" \
	--max-passes 0 "$NODEV1" "$NODEV2"
usage_error $M "--max-passes: '4294967296' is out of range (1 to 4294967295)" \
	--max-passes 4294967296 "$NODEV1" "$NODEV2"
usage_error $M "--workload: '4294967296' is out of range (0 to 4294967295)" \
	--workload 4294967296 "$NODEV1" "$NODEV2"
usage_error $M "--fill: '18446744073709551616' is out of range (0 to 18446744073709551615)" \
	--fill 18446744073709551616 "$NODEV1" "$NODEV2"
accepted $M --max-passes 1
accepted $M --max-passes 4294967295
accepted $M --workload 0
accepted $M --fill 18446744073709551615
usage_error $M "option '--threshold' needs a value" --threshold
usage_error $M "option '--verify' takes no value" --verify=1 "$NODEV1" "$NODEV2"

# contradictions: pre-copy options without pre-copy, in either order
for o in --threshold=1M --max-passes=2 --workload=4; do
	msg="${o%%=*} only acts in pre-copy: it contradicts --no-precopy"
	usage_error $M "$msg" --no-precopy "$o" "$NODEV1" "$NODEV2"
	usage_error $M "$msg" "$o" --no-precopy "$NODEV1" "$NODEV2"
done

# --check migrates nothing: no migration option goes with it; a VF whose
# attribute cannot be read is exit 2 (the VM's test checks the answers)
for o in --verify --fill=1 --no-precopy --workload=4 --threshold=1M; do
	usage_error $M "${o%%=*} contradicts --check, which migrates nothing" \
		--check "$o" "$NODEV1" "$NODEV2"
done
run $M --check "$NODEV1" "$NODEV2"
if [ $rc = 2 ] && [ ! -s "$tmp/out" ] &&
   grep -q "^$M: /sys/bus/pci/devices/$NODEV1/migration_compat: " "$tmp/err"; then
	pass "$M --check without the VFs: exit 2, the attribute named"
else
	fail "$M --check without the VFs: exit $rc, $(head -1 "$tmp/err")"
fi

# the rig's own command lines (guest/check.sh, guest/demo.sh)
accepted $M --fill 7 --workload 4 --verify
accepted $M --legacy --fill 7 --workload 4 --verify
accepted $M --fill 1 --workload 8 --verify
accepted $M --no-precopy --fill 2 --verify

B=tern-bench
help_checks $B "$src/tern-bench.c"
common_checks $B
for v in 0 33 4294967297; do
	usage_error $B "--reps: '$v' is out of range (1 to 32)" \
		--reps $v "$NODEV1" "$NODEV2"
done
for v in 1K -1 ""; do
	usage_error $B "--reps: '$v' is not a whole number (digits only, e.g. 8)" \
		--reps "$v" "$NODEV1" "$NODEV2"
done
rows="precopy, stream, log, engine"
for v in foo logs "precopy," ,log "" "precopy stream"; do
	bad=${v%%,*}
	[ "$v" = precopy, ] && bad=
	usage_error $B "--only: '$bad' is not one of $rows" \
		--only "$v" "$NODEV1" "$NODEV2"
done
usage_error $B "--json: empty file name" --json "" "$NODEV1" "$NODEV2"
accepted $B --reps 1
accepted $B --reps 32
accepted $B --only engine,log
# guest/bench.sh's command line; the JSON file is only created later
accepted $B --reps 5 --only precopy,stream --json "$tmp/bench.json"
if [ -e "$tmp/bench.json" ]; then
	fail "$B: --json file created although no device was opened"
else
	pass "$B: no --json file without a device"
fi

# an accepted line opens no file at all before the device lookup fails
if strace -f -o /dev/null true 2> /dev/null; then
	for t in "$M --threshold=64K" "$B --reps=1"; do
		strace -f -e trace=open,openat,openat2 -o "$tmp/trace" \
			"$bin/${t%% *}" "${t#* }" "$NODEV1" "$NODEV2" 2> /dev/null
		if ! grep -q '+++ exited with 1 +++' "$tmp/trace"; then
			fail "${t%% *}: strace saw no exit 1 ($(tail -1 "$tmp/trace"))"
		elif grep -q 'open' "$tmp/trace"; then
			fail "${t%% *}: an accepted line opened $(grep -o '"[^"]*"' "$tmp/trace" | head -1) without a device"
		else
			pass "${t%% *}: an accepted line opens no file (no /dev/vfio)"
		fi
	done
else
	echo "# no usable strace: not checked that nothing is opened"
fi

exit $failed
