#!/bin/bash
# PID 1 of the test guest started by run-in-vm.sh.
#
# The root filesystem is the host's /, shared read-only over 9p. This script
# makes the writable and virtual filesystems the guest needs, creates the vDPA
# devices under test bound to vhost_vdpa, runs the command the host left in the
# "out" share (a writable 9p share of a host temp dir), writes its exit status
# there, and resets the machine; QEMU runs with -no-reboot, so it exits.
#
# Files in the out share (written by run-in-vm.sh unless noted):
#   vm.env      sourced first: BLKIO_VM_DEVICES, BLKIO_VM_HUGEPAGES and the
#               variables to export to the guest command (PATH, ...)
#   command.sh  the guest command, run with bash in the repo directory
#   devices.env written here: the BLKIO_* device variables, for reference
#   status      written here: the guest command's exit status, or 125 when
#               the guest could not be set up
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

readonly OUT=/run/blkio-vm/out
readonly STATE=/run/blkio-vm
readonly IMAGES=/tmp/blkio-vm
readonly IMAGE_SIZE=64M

log() { printf 'guest-init: %s\n' "$*" >&2; }

# Leave the guest. reboot(2) through systemctl's double-force path is quiet;
# if that is unavailable, exiting PID 1 panics and panic=-1 reboots as well.
leave() {
  sync
  echo 0 >/proc/sys/kernel/printk 2>/dev/null # keep "reboot: Restarting system" out of the output
  systemctl reboot --force --force >/dev/null 2>&1
  exit "${1:-0}"
}

finish() {
  local status=$1
  if mountpoint -q "$OUT"; then
    printf '%s\n' "$status" >"$OUT/status.tmp" && mv "$OUT/status.tmp" "$OUT/status"
  fi
  leave "$status"
}

setup_failed() {
  log "setup failed: $*"
  finish 125
}

mount_fs() { # type source target options
  if ! mkdir -p "$3" || ! mount -t "$1" -o "$4" "$2" "$3"; then
    setup_failed "mount -t $1 $2 $3"
  fi
}

mount_fs proc proc /proc nosuid,nodev,noexec
mount_fs sysfs sysfs /sys nosuid,nodev,noexec
# Usually the kernel has put devtmpfs on /dev already (DEVTMPFS_MOUNT).
mountpoint -q /dev || mount_fs devtmpfs devtmpfs /dev mode=0755
mount_fs tmpfs tmpfs /run mode=0755,nosuid,nodev
mount_fs tmpfs tmpfs /tmp mode=1777,nosuid,nodev
mount_fs tmpfs tmpfs /dev/shm mode=1777,nosuid,nodev
mount_fs devpts devpts /dev/pts mode=0620,ptmxmode=0666
mount_fs hugetlbfs hugetlbfs /dev/hugepages mode=1770
mount_fs 9p out "$OUT" trans=virtio,version=9p2000.L,msize=262144
: >"$OUT/booted" # for run-in-vm.sh's boot watchdog

# The console is a tty: keep "\n" as is so host logs have no "\r".
stty -F /dev/console -onlcr 2>/dev/null

[[ -r $OUT/vm.env && -r $OUT/command.sh ]] || setup_failed "no vm.env or command.sh in the out share"
# shellcheck source=/dev/null
source "$OUT/vm.env"

repo_dir=${BLKIO_VM_REPO:?vm.env must set BLKIO_VM_REPO}
# The checkout has a share of its own (it may live under /tmp, which is a tmpfs here).
mount_fs 9p repo "$repo_dir" trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro
devices=${BLKIO_VM_DEVICES:-sim,vduse-raw,vduse-qcow2}
hugepages=${BLKIO_VM_HUGEPAGES:-0}

ulimit -l unlimited || setup_failed "ulimit -l unlimited"
ip link set lo up 2>/dev/null
mkdir -p "$STATE" "$IMAGES" /tmp/home
if ((hugepages > 0)); then
  echo "$hugepages" >/proc/sys/vm/nr_hugepages || setup_failed "vm.nr_hugepages=$hugepages"
fi

# New vdpa devices would otherwise bind to virtio_vdpa (linked before vhost_vdpa)
# and turn into /dev/vdX; tests bind explicitly instead.
echo 0 >/sys/bus/vdpa/drivers_autoprobe || setup_failed "vdpa drivers_autoprobe (is CONFIG_VDPA in the kernel?)"

# bind_vhost_vdpa NAME: bind vdpa device NAME to vhost_vdpa; print /dev/vhost-vdpa-N.
bind_vhost_vdpa() {
  local name=$1 sysdev=/sys/bus/vdpa/devices/$1 node
  echo vhost_vdpa >"$sysdev/driver_override" || return 1
  echo "$name" >/sys/bus/vdpa/drivers/vhost_vdpa/bind || return 1
  for node in "$sysdev"/vhost-vdpa-*; do
    [[ -e $node && -c /dev/${node##*/} ]] || continue
    printf '/dev/%s\n' "${node##*/}"
    return 0
  done
  log "$name: bound to vhost_vdpa but no /dev/vhost-vdpa-N appeared"
  return 1
}

declare -a exported=()
export_var() { # NAME VALUE
  export "$1=$2"
  exported+=("$1")
}

setup_sim() {
  local path
  vdpa dev add name blk0 mgmtdev vdpasim_blk || setup_failed "vdpa dev add name blk0 mgmtdev vdpasim_blk"
  path=$(bind_vhost_vdpa blk0) || setup_failed "binding blk0 to vhost_vdpa"
  export_var BLKIO_VDPA_SIM "$path"
  export_var BLKIO_VDPA_SIM_NAME blk0
}

# setup_vduse KIND FORMAT QUEUES: serve an image from qemu-storage-daemon over
# VDUSE and bind it to vhost_vdpa. Exports BLKIO_VDUSE_<KIND>{,_FILE,_QMP,_PID,_NAME,_QUEUES}.
setup_vduse() {
  local kind=$1 format=$2 queues=$3
  local name="vduse-${kind,,}" prefix="BLKIO_VDUSE_${kind}"
  local image="$IMAGES/$name.$format" qmp="$STATE/$name.qmp" pidfile="$STATE/$name.pid"
  local blockdev node="$name-file" path

  qemu-img create -q -f "$format" "$image" "$IMAGE_SIZE" || setup_failed "qemu-img create $image"
  blockdev=(--blockdev "driver=file,node-name=$name-file,filename=$image")
  if [[ $format == qcow2 ]]; then
    node="$name-qcow2"
    blockdev+=(--blockdev "driver=qcow2,node-name=$node,file=$name-file")
  fi
  # Not --daemonize: that sends qsd's stderr to /dev/null, and its messages are
  # what explains a VDUSE failure. qsd writes the pid file only once the export
  # exists (its queues set up, which `vdpa dev add` needs), so wait for that.
  # TMPDIR: where libvduse keeps its reconnect log.
  TMPDIR=/tmp qemu-storage-daemon --pidfile "$pidfile" \
    --chardev "socket,id=qmp,path=$qmp,server=on,wait=off" --monitor chardev=qmp \
    "${blockdev[@]}" \
    --export "type=vduse-blk,id=$name,node-name=$node,name=$name,writable=on,num-queues=$queues,queue-size=256" \
    </dev/null &
  local qsd_pid=$! waited=0
  until [[ -s $pidfile ]]; do
    kill -0 "$qsd_pid" 2>/dev/null || setup_failed "qemu-storage-daemon for $name exited (see its message above)"
    ((waited++ < 600)) || setup_failed "qemu-storage-daemon for $name did not start within 30 s"
    sleep 0.05
  done
  vdpa dev add name "$name" mgmtdev vduse || setup_failed "vdpa dev add name $name mgmtdev vduse"
  path=$(bind_vhost_vdpa "$name") || setup_failed "binding $name to vhost_vdpa"
  export_var "$prefix" "$path"
  export_var "${prefix}_FILE" "$image"
  export_var "${prefix}_QMP" "$qmp"
  export_var "${prefix}_PID" "$qsd_pid"
  export_var "${prefix}_NAME" "$name"
  export_var "${prefix}_QUEUES" "$queues"
}

IFS=, read -r -a device_list <<<"$devices"
for device in "${device_list[@]}"; do
  case $device in
  sim) setup_sim ;;
  vduse-raw) setup_vduse RAW raw "${BLKIO_VM_VDUSE_RAW_QUEUES:-2}" ;;
  vduse-qcow2) setup_vduse QCOW2 qcow2 "${BLKIO_VM_VDUSE_QCOW2_QUEUES:-1}" ;;
  none | '') ;;
  *) setup_failed "unknown device '$device' in BLKIO_VM_DEVICES (known: sim, vduse-raw, vduse-qcow2, none)" ;;
  esac
done

# BLKIO_VM_DEVICES tells guest tests which of the variables above to expect.
export BLKIO_IN_VM=1 BLKIO_VM_DEVICES="$devices" HOME=/tmp/home TMPDIR=/tmp
for name in "${exported[@]}"; do
  printf '%s=%q\n' "$name" "${!name}"
done >"$OUT/devices.env"

cd "$repo_dir" || setup_failed "cd $repo_dir"
bash "$OUT/command.sh" </dev/null
finish $?
