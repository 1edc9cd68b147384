#!/usr/bin/env bash
# Build (or reuse) the guest kernel for the vhost-vdpa VM tests and print the path
# of its bzImage on stdout. Everything else goes to stderr.
#
# Source:  Debian's linux-source-6.1 (/usr/src/linux-source-6.1.tar.xz)
# Config:  make tinyconfig + test/vm/kernel.config
# Cache:   ${BLKIO_VM_CACHE:-~/.cache/blkio-vm}/kernel-<key>/{bzImage,config,build.log}
#          key = sha256(recipe revision, fragment, source package version)
#
# Concurrent runs: a per-key flock makes a second run wait for the first instead
# of building twice on a 2-core machine, and the result directory is moved into
# place with a single rename, so a reader never sees a half-written cache entry.
set -euo pipefail

# Bump when the build steps below change in a way that changes the output.
readonly RECIPE_REVISION=1

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment="$script_dir/kernel.config"
source_tarball=${BLKIO_VM_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
cache_root=${BLKIO_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blkio-vm}
jobs=${BLKIO_VM_JOBS:-2}

log() { printf 'build-kernel: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ -r $fragment ]] || die "missing Kconfig fragment $fragment"
[[ -r $source_tarball ]] ||
  die "kernel source $source_tarball not found; install it with: apt-get install linux-source-6.1"
for tool in make gcc flex bison bc xz tar flock sha256sum; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found; install the kernel build tools with: apt-get install build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils"
done
[[ -e /usr/include/libelf.h ]] || die "libelf headers missing; install them with: apt-get install libelf-dev"

# The package version names the source exactly; fall back to the tarball's
# contents when the tarball did not come from the package.
source_version=""
if [[ $source_tarball == /usr/src/linux-source-6.1.tar.xz ]] && command -v dpkg-query >/dev/null; then
  source_version=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || true)
fi
if [[ -z $source_version ]]; then
  source_version="sha256:$(sha256sum "$source_tarball" | cut -d' ' -f1)"
fi
key=$({
  printf 'recipe %s\nsource %s\n' "$RECIPE_REVISION" "$source_version"
  cat "$fragment"
} | sha256sum | cut -c1-16)

entry="$cache_root/kernel-$key"
if [[ -f $entry/bzImage ]]; then
  printf '%s\n' "$entry/bzImage"
  exit 0
fi

# shellcheck source=/dev/null
source "$script_dir/../support/build-steps.sh"

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
if ! flock -n 9; then
  log "another build of kernel-$key is running; waiting for it"
  # The lock belongs to the open file, which this shell shares with flock.
  run_step flock 9
fi
# The run holding the lock before us may have finished the job.
if [[ -f $entry/bzImage ]]; then
  printf '%s\n' "$entry/bzImage"
  exit 0
fi

# Only the lock holder builds this key, so leftovers are from killed runs.
rm -rf "$cache_root/.build-$key".*
work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
build_log="$work/build.log"
trap 'log "build failed; last lines of $build_log:"; tail -n 40 "$build_log" >&2 || true' ERR

start=$(date +%s)
log "building kernel-$key (source $source_version, make -j$jobs); log in $build_log"
log "extracting $source_tarball"
run_step tar -xJf "$source_tarball" -C "$work"
src=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'linux-*' | head -n1)
[[ -n $src ]] || die "no linux-* directory in $source_tarball"

{
  make -C "$src" tinyconfig
  # -m: merge only; olddefconfig resolves the new symbols' dependencies.
  (cd "$src" && scripts/kconfig/merge_config.sh -m .config "$fragment")
  make -C "$src" olddefconfig
} >>"$build_log" 2>&1

# tinyconfig + olddefconfig silently drop options whose dependencies are unmet.
missing=$(grep -E '^CONFIG_[A-Z0-9_]+=y$' "$fragment" | while read -r line; do
  grep -qxF "$line" "$src/.config" || printf '%s ' "${line%%=*}"
done)
[[ -z $missing ]] || die "options from $fragment did not survive olddefconfig: $missing"

log "compiling bzImage"
run_step make -C "$src" -j"$jobs" bzImage >>"$build_log" 2>&1

out="$work/out"
mkdir "$out"
cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
cp "$src/.config" "$out/config"
cp "$src/System.map" "$out/System.map"
cp "$build_log" "$out/build.log"
# rename(2) of a directory is atomic; it fails if another run already won.
if ! mv -T "$out" "$entry" 2>/dev/null; then
  [[ -f $entry/bzImage ]] || die "could not move the build result to $entry"
fi
log "built $entry/bzImage in $(($(date +%s) - start)) s"
printf '%s\n' "$entry/bzImage"
