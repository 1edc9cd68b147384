#!/usr/bin/env bash
# Run one command inside a throwaway QEMU (TCG) guest that has vDPA devices.
#
#   test/vm/run-in-vm.sh <guest-command> [args...]
#
# The guest boots the kernel from build-kernel.sh with the host's / as its
# read-only root (9p), so it runs the host's node, qemu-storage-daemon, vdpa and
# this checkout as they are. guest-init.sh (PID 1) sets up /tmp, /run, memlock
# and the devices, then runs the command in the repo directory with the
# BLKIO_* variables described in test/vm/README.md.
#
# The guest console (the command's stdout and stderr, merged, plus kernel
# warnings) is copied to stdout as it arrives. Exit status: the guest command's;
# 124 if the guest did not finish within BLKIO_VM_TIMEOUT seconds (QEMU is
# killed); 125 if the guest could not be started or set up.
#
# Settings (environment):
#   BLKIO_VM_TIMEOUT=600          seconds from QEMU start to guest exit
#   BLKIO_VM_DEVICES=sim,vduse-raw,vduse-qcow2   devices guest-init creates ("none": none)
#   BLKIO_VM_VDUSE_RAW_QUEUES=2, BLKIO_VM_VDUSE_QCOW2_QUEUES=1
#   BLKIO_VM_HUGEPAGES=64         2 MiB huge pages reserved in the guest
#   BLKIO_VM_IOTLB_ENTRIES=32768  vhost_vdpa/vdpa_sim max_iotlb_entries ("" = kernel default 2048)
#   BLKIO_VM_MEM=2048, BLKIO_VM_CPUS=2
#   BLKIO_VM_APPEND               extra kernel command line
#   BLKIO_VM_PASS_ENV="A B"       host variables to pass to the guest command
#   BLKIO_VM_NVME_IMAGE           raw image behind the guest's NVMe controller (serial
#                                 blkio-nvme0, /dev/ng0n1); default: a fresh 64 MiB temp file
#   BLKIO_VM_VFIO_IMAGE           raw image behind the virtio-blk-pci disk at 0000:00:10.0
#                                 (behind the emulated IOMMU, for virtio-blk-vfio-pci); default:
#                                 a fresh 64 MiB temp file
#   BLKIO_VM_KERNEL               use this bzImage instead of build-kernel.sh's
#   BLKIO_VM_KEEP=1               keep the host temp dir (console.log, status, ...)
#   BLKIO_VM_VERBOSE=1            say how long the run took
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_dir=$(cd "$script_dir/../.." && pwd)

log() { printf 'run-in-vm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 125; }

(($# > 0)) || die "usage: $0 <guest-command> [args...]"

# vdpa lives in /usr/sbin, which a non-root PATH may lack.
[[ :$PATH: == *:/usr/sbin:* ]] || PATH=$PATH:/usr/sbin:/sbin

timeout_s=${BLKIO_VM_TIMEOUT:-600}
iotlb_entries=${BLKIO_VM_IOTLB_ENTRIES-32768}

need() { # command debian-package
  command -v "$1" >/dev/null || die "'$1' not found; install it with: apt-get install $2"
}
need qemu-system-x86_64 qemu-system-x86
need qemu-storage-daemon qemu-system-common
need qemu-img qemu-utils
need vdpa iproute2
need timeout coreutils

if [[ -n ${BLKIO_VM_KERNEL:-} ]]; then
  kernel=$BLKIO_VM_KERNEL
else
  kernel=$("$script_dir/build-kernel.sh") || die "could not build the guest kernel (see above)"
fi
[[ -r $kernel ]] || die "kernel image $kernel not readable"

out=$(mktemp -d "${TMPDIR:-/tmp}/blkio-vm.XXXXXX")
qemu_pid_file="$out/qemu.pid"
stop_qemu() {
  if [[ -s $qemu_pid_file ]]; then
    kill "$(cat "$qemu_pid_file")" 2>/dev/null || true
  fi
}
cleanup() {
  stop_qemu
  if [[ ${BLKIO_VM_KEEP:-} == 1 ]]; then
    log "kept $out"
  else
    rm -rf "$out"
  fi
}
trap cleanup EXIT
# Bash runs traps only between commands, hence QEMU runs in the background below.
for signal in INT:130 TERM:143 HUP:129; do
  # shellcheck disable=SC2064 # the exit status is meant to be expanded now
  trap "log 'interrupted; stopping QEMU'; exit ${signal#*:}" "${signal%:*}"
done

# vm.env: plain assignments configure guest-init; exports reach the guest command.
{
  printf 'BLKIO_VM_REPO=%q\n' "$repo_dir"
  for name in BLKIO_VM_DEVICES BLKIO_VM_HUGEPAGES BLKIO_VM_VDUSE_RAW_QUEUES BLKIO_VM_VDUSE_QCOW2_QUEUES; do
    [[ -n ${!name+set} ]] && printf '%s=%q\n' "$name" "${!name}"
  done
  [[ -n ${BLKIO_VM_HUGEPAGES+set} ]] || printf 'BLKIO_VM_HUGEPAGES=64\n'
  printf 'export PATH=%q\n' "$PATH"
  # The guest's stdout is always a tty (the console); colours only if ours is one too.
  if [[ -t 1 ]]; then printf 'export TERM=%q\n' "${TERM:-dumb}"; else printf 'export TERM=dumb\n'; fi
  for name in LANG LC_ALL CI ${BLKIO_VM_PASS_ENV:-}; do
    [[ -n ${!name+set} ]] && printf 'export %s=%q\n' "$name" "${!name}"
  done
  true
} >"$out/vm.env"
{
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$out/command.sh"

# shellcheck disable=SC2054 # commas are part of the option values
append=(
  console=ttyS0 quiet panic=-1
  # TCG on a loaded host: the kernel's check that the 8254 timer reaches the
  # IO-APIC can time out and panic ("IO-APIC + timer doesn't work"); skip it.
  no_timer_check
  # cache=loose: the root is read-only and does not change under a test run;
  # it makes node start about 3x faster than uncached 9p.
  root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose ro
  "init=$script_dir/guest-init.sh"
)
if [[ -n $iotlb_entries ]]; then
  # Room for memory that pins as many small runs (vdpa_sim maps per physical run).
  append+=("vhost_vdpa.max_iotlb_entries=$iotlb_entries" "vdpa_sim.max_iotlb_entries=$iotlb_entries")
fi
# /dev/vda: a virtio-blk disk with a poll queue, for the io_uring driver's
# IOPOLL poll queues (no device on the host offers polling).
# virtio_blk gives poll queues only beyond one queue per possible CPU, and the
# guest kernel finds a single CPU (no ACPI/MP tables): possible_cpus makes room
# for the poll queue, else /dev/vda would not poll (queue/io_poll 0).
append+=(virtio_blk.poll_queues=1 "possible_cpus=${BLKIO_VM_CPUS:-2}")
truncate -s 16M "$out/poll-disk.img"
# An NVMe controller with a poll queue, for nvme-io_uring (io_uring passthrough
# on /dev/ng0n1, IOPOLL poll queues).
append+=(nvme.poll_queues=1)
nvme_image=${BLKIO_VM_NVME_IMAGE:-$out/nvme.img}
[[ -e $nvme_image ]] || truncate -s 64M "$nvme_image"
truncate -s 4M "$out/nvme-md.img"
# A Zoned Namespace (ZNS): 16 zones of 1 MiB, for nvme-io_uring's zone requests.
truncate -s 16M "$out/nvme-zns.img"
# An emulated Intel IOMMU (q35) and a modern virtio-blk-pci disk behind it
# at a fixed address, for virtio-blk-vfio-pci. iommu=pt keeps the kernel's
# own drivers on identity mappings (fast under TCG); vfio-pci gets a real
# translating domain anyway. The IOMMU has no interrupt remapping (that
# would need IRQ_REMAP and x2APIC in the guest), which VFIO accepts only when told.
append+=(intel_iommu=on iommu=pt vfio_iommu_type1.allow_unsafe_interrupts=1)
vfio_image=${BLKIO_VM_VFIO_IMAGE:-$out/vfio.img}
[[ -e $vfio_image ]] || truncate -s 64M "$vfio_image"
read -r -a extra_append <<<"${BLKIO_VM_APPEND:-}"
append+=("${extra_append[@]}")

# shellcheck disable=SC2054
qemu=(
  qemu-system-x86_64 -accel tcg -cpu max -machine q35
  # The IOMMU first: QEMU wants it created before the devices behind it.
  -device intel-iommu,intremap=off,caching-mode=on
  -smp "${BLKIO_VM_CPUS:-2}" -m "${BLKIO_VM_MEM:-2048}"
  -nodefaults -no-user-config -display none -no-reboot
  -pidfile "$qemu_pid_file"
  -chardev stdio,id=console -serial chardev:console
  -kernel "$kernel" -append "${append[*]}"
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
  -virtfs "local,path=$out,mount_tag=out,security_model=none,multidevs=remap"
  # The checkout again, on its own: guest-init mounts it at its host path, so a
  # checkout under /tmp survives the guest's tmpfs on /tmp.
  -virtfs "local,path=$repo_dir,mount_tag=repo,security_model=none,readonly=on,multidevs=remap"
  -device virtio-rng-pci
  -drive "file=$out/poll-disk.img,if=none,id=polldisk,format=raw,cache=unsafe"
  -device virtio-blk-pci,drive=polldisk,num-queues=2
  -drive "file=$nvme_image,if=none,id=n0,format=raw"
  -device nvme,serial=blkio-nvme0,drive=n0
  # A namespace with 8 bytes of metadata per block, which nvme-io_uring refuses.
  -drive "file=$out/nvme-md.img,if=none,id=n1,format=raw"
  -device nvme,serial=blkio-nvme-md,id=nvmemd -device nvme-ns,drive=n1,bus=nvmemd,nsid=1,ms=8
  -drive "file=$vfio_image,if=none,id=v1,format=raw"
  -device virtio-blk-pci,drive=v1,disable-legacy=on,iommu_platform=on,addr=10
  # Last, so the controllers above keep their numbers; tests find it by serial.
  -drive "file=$out/nvme-zns.img,if=none,id=z0,format=raw"
  -device nvme,serial=blkio-zns,id=nvmezns
  -device nvme-ns,drive=z0,bus=nvmezns,nsid=1,zoned=true,zoned.zone_size=1M,zoned.zone_capacity=1M,zoned.max_open=3,zoned.max_active=4
)

# A guest that never reaches guest-init (seen once under heavy host load: no
# output at all, QEMU idle until the timeout) is started once more rather than
# waited for: guest-init marks $out/booted as soon as it has the out share.
boot_timeout=${BLKIO_VM_BOOT_TIMEOUT:-240}
for attempt in 1 2; do
  rm -f "$out/booted" "$out/no-boot" "$out/qemu.rc"
  start=$(date +%s)
  # --foreground keeps QEMU in our process group; -k: SIGKILL if SIGTERM is ignored.
  {
    qemu_rc=0
    timeout --foreground -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 || qemu_rc=$?
    echo "$qemu_rc" >"$out/qemu.rc"
  } | tee "$out/console.log" &
  qemu_job=$!
  # Polls, so it ends by itself within a second of the guest booting.
  (
    for ((waited = 0; waited < boot_timeout; waited++)); do
      [[ -e $out/booted || -e $out/qemu.rc ]] && exit 0
      sleep 1
    done
    touch "$out/no-boot"
    stop_qemu
  ) &
  watchdog=$!
  wait "$qemu_job" || true
  wait "$watchdog" 2>/dev/null || true
  [[ -e $out/no-boot && ! -s $out/status ]] || break
  log "attempt $attempt: the guest did not reach guest-init within ${boot_timeout}s (BLKIO_VM_BOOT_TIMEOUT)"
done
elapsed=$(($(date +%s) - start))
qemu_rc=$(cat "$out/qemu.rc" 2>/dev/null || echo '?')

show_console_tail() {
  log "last lines of the guest console:"
  tail -n 40 "$out/console.log" | sed 's/^/  | /' >&2
}

if [[ -s $out/status ]]; then
  status=$(cat "$out/status")
  [[ $status =~ ^[0-9]+$ ]] || die "malformed guest status '$status'"
  if ((status == 125)); then
    log "guest setup failed after ${elapsed}s"
    show_console_tail
  elif [[ ${BLKIO_VM_VERBOSE:-} == 1 ]]; then
    log "guest command exited with $status after ${elapsed}s"
  fi
  exit "$status"
fi
if [[ $qemu_rc == 124 || $qemu_rc == 137 ]]; then
  log "the guest did not finish within ${timeout_s}s (BLKIO_VM_TIMEOUT); QEMU was killed"
  show_console_tail
  exit 124
fi
log "the guest stopped after ${elapsed}s without reporting a status (QEMU exit status $qemu_rc)"
show_console_tail
exit 125
