# SPDX-License-Identifier: GPL-2.0
# The README's "Troubleshooting" quotes, checked against the software: each
# cause below makes the error happen as a host admin would meet it and
# checks that every line of the README's quote (QUOTES/NAME, written by
# the script tools/rig/readme-blocks.py messages generates from README.md) is a
# line of what was printed: QEMU's stderr, a QMP error's "desc", the new
# kernel log lines (without their time stamps). One TAP result per quote,
# one for the type1 migration that never switches over (a behaviour, no
# quote), and one that fails if the README has a quote with no cause here.
#
# usage: sh troubleshoot.sh QUOTES
. /rig/lib.sh

Q=$1
# a write to a QEMU that has ended fails (EPIPE) instead of ending the test
trap "" PIPE
W=/tmp/troubleshoot
rm -rf "$W"
mkdir -p "$W"
PF=/sys/bus/pci/devices/$TERN_SELFTESTS_PF
# As the QEMU tests start their QEMUs (tools/testing/selftests/tern/qemu/
# qemu_vmm.c): the qtest accelerator, or where QEMU has none (trixie's
# 10.0) TCG with a firmware of 64 KiB of HLT, on which the CPU halts
dd if=/dev/zero bs=65536 count=1 2> /dev/null | tr '\000' '\364' > "$W/halt.bios"
QEMU_ARGS="-M q35 -accel qtest -accel tcg,tb-size=64 -bios $W/halt.bios -nodefaults -display none -L /usr/share/qemu -m 128M"
n=0 rc=0

# result NAME: compare QUOTES/NAME with $W/out
result() {
	n=$((n + 1))
	touch "$W/used.$1"
	sed 's/^\[ *[0-9.]*\] //' "$W/out" > "$W/printed"
	echo "# $1: printed:"
	sed 's/^/#   /' "$W/printed"
	if ! [ -f "$Q/$1" ]; then
		echo "not ok $n $1 # README.md quotes no message $1"
		rc=1
		return
	fi
	missing=0
	while IFS= read -r line; do
		grep -qxF -- "$line" "$W/printed" && continue
		echo "# README.md's line not printed: $line"
		missing=1
	done < "$Q/$1"
	if [ $missing = 0 ]; then
		echo "ok $n $1"
	else
		echo "not ok $n $1"
		rc=1
	fi
}

skip() {
	n=$((n + 1))
	touch "$W/used.$1"
	echo "ok $n $1 # SKIP $2"
}

# klog_mark, klog_new: the kernel log lines since the mark, a line of
# its own (not a count of lines: the ring buffer is full by the time a
# whole make check gets here, and drops a line for each new one)
klog_marks=0
klog_mark() {
	klog_marks=$((klog_marks + 1))
	echo "tern-rig: readme-messages mark $klog_marks" > /dev/kmsg
}
klog_new() {
	dmesg | sed -n "/tern-rig: readme-messages mark $klog_marks\$/,\$p" | sed 1d
}

# vf_bind BDF DRIVER: bind the VF to DRIVER through its driver_override
vf_bind() {
	echo "$2" > "/sys/bus/pci/devices/$1/driver_override"
	[ -e "/sys/bus/pci/devices/$1/driver" ] &&
		echo "$1" > "/sys/bus/pci/devices/$1/driver/unbind"
	echo "$1" > /sys/bus/pci/drivers_probe
}

# qemu_start QEMU DEVICE_ARG [ARGS]: QEMU with one VF (-device DEVICE_ARG,
# after ARGS), QMP on its stdin and stdout (fd 3 and 4 here), stderr to
# $W/qemu.err; returns non-zero if QEMU ended before its QMP greeting (its
# error in qemu.err).
# Every wait is a blocking read of QEMU's answer; a watchdog ends a QEMU
# that hangs (no answer in 120 s), which fails the test.
qemu_start() {
	rm -f "$W/in" "$W/qmpout"
	mkfifo "$W/in" "$W/qmpout"
	# shellcheck disable=SC2086
	"$1" $QEMU_ARGS $3 -device "$2" -qmp stdio \
		< "$W/in" > "$W/qmpout" 2> "$W/qemu.err" &
	qpid=$!
	(sleep 120; kill $qpid 2> /dev/null) &
	watchdog=$!
	exec 3> "$W/in" 4< "$W/qmpout"
	if ! read -r _ <&4; then
		qemu_end
		return 1
	fi
	qmp '{"execute": "qmp_capabilities"}'
}

# qmp JSON: send a command, leave the reply in $reply (events skipped)
qmp() {
	echo "$1" >&3
	while read -r reply <&4; do
		case $reply in
		'{"event"'*) ;;
		*) return 0 ;;
		esac
	done
	reply=
	return 1
}

# qmp_desc: the "desc" of the QMP error in $reply
qmp_desc() {
	echo "$reply" | sed -n 's/.*"desc": "\(.*\)"}.*$/\1/p'
}

qemu_end() {
	echo '{"execute": "quit"}' >&3 2> /dev/null
	exec 3>&- 4<&-
	wait $qpid
	kill $watchdog 2> /dev/null
	wait $watchdog 2> /dev/null
}

echo "1..12"
vfs=$(tern_vfs 2)
vf=$(echo $vfs | cut -d' ' -f1)
echo "# VFs" $vfs "on $TERN_SELFTESTS_PF (README.md quotes 0000:01:00.1 on 0000:01:00.0)"

# sriov_numvfs: a different count while VFs exist
klog_mark
(echo 3 > "$PF/sriov_numvfs") 2> "$W/out"
klog_new >> "$W/out"
result sriov_busy_count

# sriov_numvfs: 0 while QEMU has a VF, and on a kernel without DMA
# logging, that QEMU's migration blocker
: > "$W/out"
if qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf"; then
	klog_mark
	(echo 0 > "$PF/sriov_numvfs") 2>> "$W/out"
	klog_new >> "$W/out"
	qmp '{"execute": "migrate", "arguments": {"uri": "unix:/tmp/troubleshoot/none"}}'
	qemu_end
	result sriov_busy_in_use
	qmp_desc > "$W/out"
	if kernel_lacks dma_logging; then
		result dirty_tracking_blocker
	else
		skip dirty_tracking_blocker "the kernel has DMA logging (QEMU: $reply)"
	fi
else
	cat "$W/qemu.err" >> "$W/out"
	result sriov_busy_in_use
	result dirty_tracking_blocker
fi

# enable-migration=on on a kernel without DMA logging: a warning
if kernel_lacks dma_logging; then
	: > "$W/out"
	qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf,enable-migration=on" &&
		qemu_end
	cat "$W/qemu.err" > "$W/out"
	result dirty_tracking_warning
else
	skip dirty_tracking_warning "the kernel has DMA logging"
fi

# the same kernels' migration that never switches over: type1 reports all
# guest RAM dirty at every sync, so with the default downtime-limit the
# source is still "active" after 10 syncs (MIGRATION_PASS events, read as
# they come); then cancelled, and what the destination printed
if kernel_lacks dma_logging; then
	vf1=$(echo $vfs | cut -d' ' -f2)
	rm -f "$W/din" "$W/dout"
	mkfifo "$W/din" "$W/dout"
	# shellcheck disable=SC2086
	"$TERN_SELFTESTS_QEMU" $QEMU_ARGS \
		-device "vfio-pci,host=$vf1,enable-migration=on" \
		-incoming unix:$W/mig.sock -qmp stdio \
		< "$W/din" > "$W/dout" 2> "$W/dst.err" &
	dpid=$!
	(sleep 120; kill $dpid 2> /dev/null) &
	dwatchdog=$!
	exec 5> "$W/din" 6< "$W/dout"
	read -r _ <&6		# the greeting
	# its answer comes from the main loop: -incoming listens by then
	echo '{"execute": "qmp_capabilities"}' >&5
	read -r _ <&6
	: > "$W/out"
	status=none pass=0
	if qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf,enable-migration=on"; then
		qmp '{"execute": "migrate-set-capabilities", "arguments": {"capabilities": [{"capability": "events", "state": true}]}}'
		qmp '{"execute": "migrate", "arguments": {"uri": "unix:/tmp/troubleshoot/mig.sock"}}'
		while read -r ev <&4; do
			case $ev in
			*'"MIGRATION_PASS"'*)
				pass=$(echo "$ev" | sed -n 's/.*"pass": \([0-9]*\).*/\1/p')
				[ "$pass" -ge 10 ] && break ;;
			*'"MIGRATION"'*'"setup"'* | *'"MIGRATION"'*'"active"'*) ;;
			*'"MIGRATION"'*)
				echo "# $ev"
				break ;;
			esac
		done
		qmp '{"execute": "query-migrate"}'
		status=$(echo "$reply" | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p')
		echo "# after pass $pass: $(echo "$reply" | cut -c1-400)"
		qmp '{"execute": "migrate_cancel"}'
		qemu_end
	fi
	# the destination ends by itself once its stream breaks
	exec 5>&- 6<&-
	wait $dpid
	kill $dwatchdog 2> /dev/null
	wait $dwatchdog 2> /dev/null
	echo "# the destination printed:"
	sed 's/^/#   /' "$W/dst.err"
	n=$((n + 1))
	if [ "$status" = active ] && [ "$pass" -ge 10 ]; then
		echo "ok $n type1_never_switches_over"
	else
		echo "not ok $n type1_never_switches_over # status $status after pass $pass"
		rc=1
	fi
else
	n=$((n + 1))
	echo "ok $n type1_never_switches_over # SKIP the kernel has DMA logging"
fi

# a vIOMMU in the VM: QEMU 10.0's blocker (where the dirty tracking one
# does not come first)
if kernel_lacks dma_logging; then
	skip viommu_blocker "QEMU blocks for the dirty tracking first on this kernel"
else
	: > "$W/out"
	if qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf" "-device intel-iommu,caching-mode=on"; then
		qmp '{"execute": "migrate", "arguments": {"uri": "unix:/tmp/troubleshoot/none"}}'
		qemu_end
		qmp_desc > "$W/out"
	else
		cat "$W/qemu.err" > "$W/out"
	fi
	result viommu_blocker
fi

# ... and an intel-iommu without caching-mode: QEMU does not start
qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf" "-device intel-iommu" &&
	qemu_end
cat "$W/qemu.err" > "$W/out"
result viommu_caching_mode

# the VF on the generic vfio-pci: QEMU 10.0's blocker, and each QEMU's
# error with enable-migration=on
vf_bind "$vf" vfio-pci
: > "$W/out"
if qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf"; then
	qmp '{"execute": "migrate", "arguments": {"uri": "unix:/tmp/troubleshoot/none"}}'
	qemu_end
	qmp_desc > "$W/out"
else
	cat "$W/qemu.err" > "$W/out"
fi
result vfio_pci_blocker
qemu_start "$TERN_SELFTESTS_QEMU" "vfio-pci,host=$vf,enable-migration=on" &&
	qemu_end
cat "$W/qemu.err" > "$W/out"
result vfio_pci_qemu10
qemu_start "$TERN_SELFTESTS_QEMU_OTHER" "vfio-pci,host=$vf,enable-migration=on" &&
	qemu_end
cat "$W/qemu.err" > "$W/out"
result vfio_pci_qemu11
# the same start's warning: none of the rig's kernels has vfio-pci's
# dma-buf export (CONFIG_VFIO_PCI_DMABUF)
result qemu11_dmabuf
vf_bind "$vf" tern_vfio_pci

# a quote in the README that no cause above checks
n=$((n + 1))
unused=
for f in "$Q"/*; do
	[ -e "$W/used.${f##*/}" ] || unused="$unused ${f##*/}"
done
if [ -z "$unused" ]; then
	echo "ok $n every quote has a cause"
else
	echo "not ok $n every quote has a cause # none for:$unused"
	rc=1
fi
exit $rc
