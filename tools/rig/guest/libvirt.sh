# SPDX-License-Identifier: GPL-2.0
# libvirt with tern VFs, as README.md's "libvirt" describes it: Debian
# trixie's libvirtd and virsh (tools/rig/mkinitramfs.sh) manage domains
# whose QEMU (the rig's 10.0 build, TCG, no disk) has a tern VF as a
# managed <hostdev>, and migrate one live between two libvirt daemons set
# up as two hosts: each in a mount namespace of its own (its own
# /etc/libvirt, /run/libvirt, /var/lib/libvirt, ...: sockets, state and
# configuration) with its own host_uuid. The source host's VFs are PF0's,
# the destination's PF1's. The destination host has tern installed
# without depmod: its modules.alias does not name tern_vfio_pci (a copy
# without that line is mounted over it in its namespace), so there a
# managed hostdev gets the generic vfio-pci unless the hostdev says
# <driver model='tern_vfio_pci'/>. TAP, one result per check:
#
#   1. destination (no alias): a managed hostdev binds vfio-pci, the
#      control that the alias is what picks tern_vfio_pci on the source
#   2. destination: <driver model='tern_vfio_pci'/> binds tern_vfio_pci
#   3. source, with tern_vfio_pci not loaded: a managed hostdev loads
#      tern_vfio_pci and binds it, through modules.alias
#   4. virsh migrate --live from the source to the destination (whose
#      hostdev is a PF1 VF with the driver model) completes: the domain
#      runs there, the destination VF is bound to tern_vfio_pci and its
#      QEMU loaded device state into it (QEMU's vfio trace), the source
#      VF went back to no driver
#
# Each check reads the VF's driver link in sysfs while the domain exists.
# On a kernel without DMA dirty logging (tern.lacks=dma_logging) the
# migrating domain's hostdev gets enable-migration=on through
# <qemu:override> and the source a downtime limit that covers the guest's
# RAM (README.md, Troubleshooting: type1 reports all of it dirty at every
# sync); there 4 SKIPs if QEMU fails the migration the way README.md's
# "libvirt" quotes.
#
# usage: sh libvirt.sh
. /rig/lib.sh
set -u

W=/tmp/libvirt
DOMAIN=tern-vm
# a hung daemon or QEMU fails the check instead of the whole VM run
VIRSH_TIMEOUT=300
n=0 rc=0
rm -rf "$W"
mkdir -p "$W"

# ok NAME / not_ok NAME REASON: one TAP result
ok() {
	n=$((n + 1))
	echo "ok $n $1"
}
not_ok() {
	n=$((n + 1))
	echo "# $2"
	echo "not ok $n $1"
	rc=1
}

# vsh HOST ARGS...: virsh on HOST's daemon (src or dst), its output and
# errors in $W/virsh.out, shown as TAP comments when it fails
vsh() {
	host=$1
	shift
	timeout "$VIRSH_TIMEOUT" virsh -c "qemu+unix:///system?socket=$W/$host/run/libvirt-sock" \
		"$@" > "$W/virsh.out" 2>&1
	st=$?
	[ $st = 0 ] || sed "s/^/# virsh($host) $1: /" "$W/virsh.out"
	return $st
}

# vf_driver BDF: the driver the VF is bound to, "none" when unbound
vf_driver() {
	if [ -e "/sys/bus/pci/devices/$1/driver" ]; then
		basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
	else
		echo none
	fi
}

# fresh_vfs PF N: enable N VFs on PF without binding them (no
# driver_override: a managed hostdev must choose the driver itself);
# prints their addresses
fresh_vfs() {
	echo 0 > "/sys/bus/pci/devices/$1/sriov_numvfs"
	echo "$2" > "/sys/bus/pci/devices/$1/sriov_numvfs"
	for vf in "/sys/bus/pci/devices/$1"/virtfn*; do
		basename "$(readlink "$vf")"
	done
}

# daemon_start HOST UUID: libvirtd for HOST in a mount namespace of its
# own, where $W/HOST/{etc,run,lib,log} are libvirt's directories; its
# socket is $W/HOST/run/libvirt-sock. Returns once the socket listens
# (libvirtd --daemon returns then; calls wait for the drivers). Both
# share one /var/cache/libvirt: the QEMU driver's probe of the QEMU
# binary, minutes under TCG, is made once and valid for both (the same
# binary, kernel and CPU).
daemon_start() {
	d=$W/$1
	mkdir -p "$d/etc" "$d/run" "$d/lib" "$d/log" "$W/cache"
	# no polkit, no dbus, no systemd: root on the socket is trusted
	cat > "$d/etc/libvirtd.conf" <<EOT
host_uuid = "$2"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOT
	# no udev, cgroups, namespaces or SELinux/AppArmor in the VM; QEMU
	# logs to a file, not through virtlogd
	cat > "$d/etc/qemu.conf" <<EOT
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
EOT
	mounts="mount --bind $d/etc /etc/libvirt && mount --bind $d/run /run/libvirt &&
		mount --bind $d/lib /var/lib/libvirt && mount --bind $W/cache /var/cache/libvirt &&
		mount --bind $d/log /var/log/libvirt"
	if [ "$1" = dst ]; then
		# the destination host ran no depmod after installing tern
		grep -v ' tern_vfio_pci$' "$ALIAS" > "$d/modules.alias"
		mounts="$mounts && mount --bind $d/modules.alias $ALIAS"
	fi
	mkdir -p /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt \
		/var/log/libvirt
	unshare -m sh -c "$mounts && exec libvirtd --daemon --pid-file $d/libvirtd.pid" \
		> "$d/start.log" 2>&1 || { sed 's/^/# /' "$d/start.log"; return 1; }
}

# daemon_stop HOST: end HOST's libvirtd and wait until it is gone
# (bounded: 60 s)
daemon_stop() {
	pid=$(cat "$W/$1/libvirtd.pid" 2> /dev/null) || return 0
	kill "$pid" 2> /dev/null || return 0
	i=0
	while [ -d "/proc/$pid" ] && [ $i -lt 600 ]; do
		usleep 100000
		i=$((i + 1))
	done
}

# host_address BDF: libvirt's <address/> of a host PCI device, as
# libvirt writes it back
host_address() {
	bus=${1#*:}
	slot=${bus#*:}
	echo "<address domain='0x${1%%:*}' bus='0x${bus%%:*}' slot='0x${slot%.*}' function='0x${1##*.}'/>"
}

# domain_xml NAME VF [DRIVER_XML]: a domain with VF as a managed hostdev
# (alias ua-tern), TCG, no disk, SeaBIOS finding nothing to boot; the
# domain that migrates ($DOMAIN) with QEMU_XML
domain_xml() {
	cat <<EOT
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$1</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
    <hostdev mode='subsystem' type='pci' managed='yes'>${3:+
      $3}
      <source>
        $(host_address "$2")
      </source>
      <alias name='ua-tern'/>
    </hostdev>
  </devices>
$([ "$1" != "$DOMAIN" ] || echo "$QEMU_XML")
</domain>
EOT
}

ALIAS=/lib/modules/$(uname -r)/modules.alias
MODEL="<driver name='vfio' model='tern_vfio_pci'/>"
# QEMU's trace of the VF's migration states and of the device state it
# loads, in the domain's log ($W/HOST/log/qemu/NAME.log)
QEMU_XML="  <qemu:commandline>
    <qemu:arg value='-trace'/>
    <qemu:arg value='vfio_migration_set_state'/>
    <qemu:arg value='-trace'/>
    <qemu:arg value='vfio_get_dirty_bitmap'/>
    <qemu:arg value='-trace'/>
    <qemu:arg value='vfio_load_state_device_data'/>
  </qemu:commandline>"
if kernel_lacks dma_logging; then
	QEMU_XML="$QEMU_XML
  <qemu:override>
    <qemu:device alias='ua-tern'>
      <qemu:frontend>
        <qemu:property name='enable-migration' type='string' value='on'/>
      </qemu:frontend>
    </qemu:device>
  </qemu:override>"
fi

echo "1..4"
echo "# $(libvirtd --version)"
# the migration stream goes over TCP on the loopback
ip link set lo up
src_vf=$(fresh_vfs "$TERN_SELFTESTS_PF" 1)
dst_vfs=$(fresh_vfs "$TERN_SELFTESTS_PF_OTHER" 2)
dst_vf=$(echo "$dst_vfs" | sed -n 1p)
dst_vf2=$(echo "$dst_vfs" | sed -n 2p)
echo "# source VF $src_vf ($(vf_driver "$src_vf")), destination VFs $dst_vf ($(vf_driver "$dst_vf")) and $dst_vf2 ($(vf_driver "$dst_vf2"))"
grep " tern_vfio_pci$" "$ALIAS" | sed 's/^/# modules.alias: /'

if ! daemon_start src 7e41a000-0000-4000-8000-00000000000a ||
   ! daemon_start dst 7e41a000-0000-4000-8000-00000000000b; then
	for t in 1 2 3 4; do
		not_ok "libvirt check $t" "libvirtd did not start"
	done
	daemon_stop src
	daemon_stop dst
	exit 1
fi

# 1 and 2: the destination's second VF, paused domains (the binding is
# done before QEMU starts)
domain_xml control "$dst_vf2" > "$W/control.xml"
if vsh dst create --paused "$W/control.xml"; then
	drv=$(vf_driver "$dst_vf2")
	vsh dst destroy control
	if [ "$drv" = vfio-pci ]; then
		ok "no tern alias in modules.alias: managed hostdev binds vfio-pci"
	else
		not_ok "no tern alias in modules.alias: managed hostdev binds vfio-pci" \
			"$dst_vf2 was bound to $drv"
	fi
else
	not_ok "no tern alias in modules.alias: managed hostdev binds vfio-pci" \
		"the domain did not start"
fi
domain_xml forced "$dst_vf2" "$MODEL" > "$W/forced.xml"
if vsh dst create --paused "$W/forced.xml"; then
	drv=$(vf_driver "$dst_vf2")
	vsh dst destroy forced
	if [ "$drv" = tern_vfio_pci ]; then
		ok "<driver model='tern_vfio_pci'/> binds tern_vfio_pci"
	else
		not_ok "<driver model='tern_vfio_pci'/> binds tern_vfio_pci" \
			"$dst_vf2 was bound to $drv"
	fi
else
	not_ok "<driver model='tern_vfio_pci'/> binds tern_vfio_pci" \
		"the domain did not start"
fi

# 3: the source, a running domain, on a host that has not loaded
# tern_vfio_pci (nothing loads an override-only driver by itself):
# libvirt loads the module the alias names (/sbin/modprobe)
domain_xml "$DOMAIN" "$src_vf" > "$W/src.xml"
name="managed hostdev loads and binds tern_vfio_pci through modules.alias"
started=0
if ! rmmod tern_vfio_pci; then
	not_ok "$name" "tern_vfio_pci could not be unloaded before"
elif vsh src create "$W/src.xml"; then
	started=1
	drv=$(vf_driver "$src_vf")
	if [ "$drv" = tern_vfio_pci ]; then
		ok "$name"
	else
		not_ok "$name" "$src_vf was bound to $drv"
	fi
else
	not_ok "$name" "the domain did not start"
fi

# 4: the live migration, the destination's hostdev on its own VF
name="virsh migrate --live to another host, onto a VF of PF1"
why=
if [ $started = 0 ]; then
	why="no domain on the source"
elif ! vsh src dumpxml --migratable "$DOMAIN"; then
	why="no migratable XML"
else
	# the same domain, with the destination's VF and driver model
	awk -v from="$(host_address "$src_vf")" -v to="$(host_address "$dst_vf")" \
	    -v model="$MODEL" '
		/<hostdev / { print; print "      " model; hostdev = 1; next }
		/<\/hostdev>/ { hostdev = 0 }
		{ line = $0; sub(/^ */, "", line) }
		hostdev && line ~ /^<driver / { next }
		line == from { print "        " to; next }
		{ print }' "$W/virsh.out" > "$W/dst.xml"
	sed -n 's/^/# dst.xml: /; /<hostdev/,/<\/hostdev>/p' "$W/dst.xml"
	if kernel_lacks dma_logging; then
		# QEMU's maximum: the switchover waits for a downtime
		# that covers sending all guest RAM again
		vsh src migrate-setmaxdowntime "$DOMAIN" 2000000
	fi
	if ! vsh src migrate --live --xml "$W/dst.xml" \
		--listen-address 127.0.0.1 --migrateuri tcp://127.0.0.1 \
		"$DOMAIN" "qemu+unix:///system?socket=$W/dst/run/libvirt-sock"; then
		why="virsh migrate failed"
	fi
fi
if [ -z "$why" ]; then
	vsh dst domstate "$DOMAIN"
	state=$(head -1 "$W/virsh.out")
	log=$W/dst/log/qemu/$DOMAIN.log
	# the trace (log backend: "PID@TIME:EVENT  (BDF) ...") and errors
	grep ':vfio_migration_set_state \|qemu-system-x86_64: ' "$log" |
		sed 's/^/# destination QEMU: /'
	loaded=$(sed -n "s/.*vfio_load_state_device_data *($dst_vf) size \([0-9]*\) ret 0\$/\1/p" "$log" |
		awk '{ n++; s += $1 } END { print s + 0, n + 0 }')
	echo "# destination QEMU loaded ${loaded% *} bytes of device state into $dst_vf in ${loaded#* } writes"
	loaded=${loaded% *}
	if [ "$state" != running ]; then
		why="domain on the destination is '$state', not running"
	elif [ "$(vf_driver "$dst_vf")" != tern_vfio_pci ]; then
		why="destination VF $dst_vf is bound to $(vf_driver "$dst_vf")"
	elif [ "$loaded" -eq 0 ]; then
		why="the destination QEMU loaded no device state into $dst_vf"
	elif ! grep -q "vfio_migration_set_state *($dst_vf) new state RUNNING," "$log"; then
		why="the destination VF $dst_vf never went to RUNNING"
	elif [ "$(vf_driver "$src_vf")" != none ]; then
		why="source VF $src_vf is still bound to $(vf_driver "$src_vf")"
	fi
fi
if [ -z "$why" ]; then
	ok "$name"
else
	not_ok "$name" "$why"
	for host in src dst; do
		grep ':vfio_\|qemu-system-x86_64: ' "$W/$host/log/qemu/$DOMAIN.log" 2> /dev/null |
			sed "s/^/# $host QEMU: /"
	done
fi

# leave the VFs free for the tests after this one
vsh src destroy "$DOMAIN" > /dev/null 2>&1
vsh dst destroy "$DOMAIN" > /dev/null 2>&1
for host in src dst; do
	[ $rc = 0 ] || sed "s/^/# $host libvirtd.log: /" "$W/$host/log/libvirtd.log" 2> /dev/null
	daemon_stop $host
done
exit $rc
