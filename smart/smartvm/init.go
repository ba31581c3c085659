package smartvm

// initScript is the guest's /init. It mounts the pseudo file systems,
// loads the drivers, waits until every disk is there and is the one it
// should be, then runs /smartvm/script.sh with stdout and stderr on the
// second serial port (ttyS1, a file on the host), and powers off.
//
// /init's own sections on the output port (see Result.Sections):
//
//	=== smartvm-init   kernel release, device list, boot time to ready
//	=== smartvm-error  a setup step failed (with the end of dmesg); the script did not run
//	=== smartvm-exit   "status N": the script's exit status; always the last section
//
// /smartvm/config (shell variables), /smartvm/modules-base and
// /smartvm/modules-scsi-debug ("name params" lines, load order) are
// written by Run.
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin HOME=/tmp TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /smartvm/config

# Hold the output port open for the whole run: its raw mode then sticks,
# and the last close (in finish) waits until the UART has sent everything.
if ! exec 3>/dev/ttyS1; then
	echo "smartvm: cannot open /dev/ttyS1 (the output port)"
	poweroff -f
fi
stty -F /dev/ttyS1 raw -echo || echo "smartvm: stty raw on /dev/ttyS1 failed"

finish() {
	exec 3>&-
	poweroff -f
	sleep 10
}
fail() {
	{
		echo "=== smartvm-error"
		echo "$*"
		echo "--- last 40 lines of dmesg:"
		dmesg | tail -n 40
	} >&3 2>&1
	finish
}
# waitfor FILE: up to SMARTVM_WAIT tenths of a second.
waitfor() {
	n=0
	while [ ! -e "$1" ]; do
		n=$((n + 1))
		[ "$n" -gt "$SMARTVM_WAIT" ] && return 1
		usleep 100000
	done
}
load() {
	while read -r name params; do
		[ -n "$name" ] || continue
		insmod "/lib/smartvm/$name.ko" $params || fail "insmod $name $params failed"
	done <"$1"
}
sysfs() { read -r v <"$1" 2>/dev/null; echo "$v"; }

{
	echo "=== smartvm-init"
	echo "kernel $(uname -r)"
	load /smartvm/modules-base
	waitfor /sys/block/sda/device/vendor || fail "the IDE disk did not appear as sda"
	[ "$(sysfs /sys/block/sda/device/vendor)" = ATA ] || fail "sda is not the IDE disk (vendor $(sysfs /sys/block/sda/device/vendor))"
	waitfor /dev/sda || fail "no /dev/sda node"
	waitfor /sys/class/nvme/nvme0/serial || fail "the NVMe controller did not appear as nvme0"
	[ "$(sysfs /sys/class/nvme/nvme0/serial)" = "$SMARTVM_NVME_SERIAL" ] || fail "nvme0 serial is '$(sysfs /sys/class/nvme/nvme0/serial)', want '$SMARTVM_NVME_SERIAL'"
	waitfor /dev/nvme0 || fail "no /dev/nvme0 node"
	waitfor /dev/nvme0n1 || fail "no /dev/nvme0n1 (the NVMe namespace)"
	if [ "$SMARTVM_SCSI_DEBUG" = 1 ]; then
		# Loaded after sda exists so that the scsi_debug disk is always sdb.
		load /smartvm/modules-scsi-debug
		waitfor /sys/block/sdb/device/model || fail "the scsi_debug disk did not appear as sdb"
		[ "$(sysfs /sys/block/sdb/device/model)" = "$SMARTVM_SCSI_DEBUG_PRODUCT" ] || fail "sdb is not the scsi_debug disk (model $(sysfs /sys/block/sdb/device/model))"
		waitfor /dev/sdb || fail "no /dev/sdb node"
		waitfor /sys/block/sdb/device/scsi_generic || fail "the scsi_debug disk has no sg device"
		sg=$(ls /sys/block/sdb/device/scsi_generic)
		waitfor "/dev/$sg" || fail "no /dev/$sg node"
		export SMARTVM_SCSI_DEBUG_DISK=/dev/sdb SMARTVM_SCSI_DEBUG_SG="/dev/$sg"
	fi
	echo "devices:" /dev/sd* /dev/sg* /dev/nvme*
	echo "ready after $(cut -d ' ' -f 1 /proc/uptime) s of guest uptime"
} >&3 2>&1

export SMARTVM_IDE_DISK=/dev/sda SMARTVM_NVME=/dev/nvme0 SMARTVM_NVME_NAMESPACE=/dev/nvme0n1
cd /tmp
set -o pipefail
sh /smartvm/script.sh </dev/null 2>&1 | tee /tmp/smartvm-script.out >&3
status=$?
# Markers start a line: end an unterminated last line first.
[ -z "$(tail -c 1 /tmp/smartvm-script.out)" ] || echo >&3
{
	echo "=== smartvm-exit"
	echo "status $status"
} >&3
finish
`
