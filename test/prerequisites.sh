#!/usr/bin/env bash
# What the test suite needs beyond Node, python3, make and g++ (one list, used
# by `npm test` and .ci/run). As root on Debian, installs what is missing;
# otherwise stops with one line naming the packages and the command.
set -uo pipefail

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
need_cmd qemu-storage-daemon qemu-system-common   # vhost-user and VDUSE peers
need_cmd qemu-system-x86_64 qemu-system-x86       # the vhost-vdpa test guest
need_cmd qemu-img qemu-utils
need_cmd qemu-nbd qemu-utils                      # NBD exports for the network-storage tests
need_cmd nbdkit nbdkit
need_cmd ceph-mon ceph-mon                        # a one-node Ceph cluster for RBD (about 20 s to start)
need_cmd ceph-mgr ceph-mgr
need_cmd ceph-osd ceph-osd
need_cmd rbd ceph-common
need_pkg qemu-block-extra                         #   qemu-storage-daemon's rbd driver
need_cmd vdpa iproute2
need_cmd losetup mount
need_cmd fio fio                                  # blkbench parity and benchmark references
need_pkg fio-examples                             #   fio's example job files (blkbench runs those fio runs)
need_pkg libpmemblk1                              #   libpmemblk.so.1 for ioengine=pmemblk (fio's dependency too)
need_pkg linux-cpupower                           #   turbostat, which fio's examples/exec.fio runs (fio 3.33 misbehaves when it is missing)
need_cmd pkg-config pkg-config                    # the C ABI tests
need_cmd gcc gcc
need_cmd flex flex                                # the guest kernel build
need_cmd bison bison
need_cmd bc bc
need_cmd cpio cpio
need_cmd python3 python3                          # the vfio fault test resets a device through its BAR
need_cmd setpriv util-linux                       # vfio memlock tests drop CAP_IPC_LOCK
need_pkg libelf-dev
need_cmd dpkg-source dpkg-dev                     # QEMU's tools with its blkio driver (test/host/qemu-blkio): apt-get source qemu
need_cmd patch patch                              #   the completion-fd patch for QEMU < 8.1
need_cmd meson meson                              #   QEMU's build system
need_cmd ninja ninja-build
need_pkg libglib2.0-dev                           #   QEMU's one required library
need_pkg libssl-dev
need_pkg python3-pandas                           # fio's fiologparser_hist.py reads blkbench's histogram logs
[ -f /usr/src/linux-source-6.1.tar.xz ] || missing+=(linux-source-6.1)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test prerequisites missing: ${missing[*]}; install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "== installing test prerequisites: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get -o DPkg::Lock::Timeout=600 update -qq && apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null; }; then
  echo "apt-get install ${missing[*]} failed" >&2
  exit 1
fi
