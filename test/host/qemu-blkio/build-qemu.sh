#!/usr/bin/env bash
# Build (or reuse) QEMU's tools with QEMU's blkio block driver (block/blkio.c)
# linked against this project's C library, and print the directory holding
# qemu-img, qemu-io and qemu-storage-daemon on stdout. Everything else goes to
# stderr.
#
# Source:  Debian's qemu source package (apt-get source qemu) of the suites the
#          binary qemu packages come from (bookworm, -updates, -security), with
#          a private deb-src list, so /etc/apt is left alone.
# Patch:   enable-completion-fd.patch where QEMU lacks it (see below).
# Build:   configure --without-default-features --enable-blkio --enable-tools
#          --disable-system --disable-user --disable-docs, against blkio.h and
#          libblkio.so.1 installed by `npm run install-capi` into the entry.
# Cache:   ${BLKIO_QEMU_CACHE:-${XDG_CACHE_HOME:-~/.cache}/blkio-qemu}/qemu-<key>/
#          {bin/,blkio/,build.log,version} (blkio/: install-capi's prefix, the
#          tools' RUNPATH); key = sha256(recipe revision, QEMU
#          source version, blkio.h, blkio.pc). The binaries link libblkio.so.1 by
#          soname: tests run them with LD_LIBRARY_PATH=build/Release, so a
#          changed addon/ needs no rebuild of QEMU (only a changed header does).
#
# Concurrent runs: a per-key flock, and the entry appears with one rename
# (as test/vm/build-kernel.sh does).
set -euo pipefail

# Bump when the build steps below change in a way that changes the output.
readonly RECIPE_REVISION=3

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../../.." && pwd)
cache_root=${BLKIO_QEMU_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blkio-qemu}
jobs=${BLKIO_QEMU_JOBS:-2}

log() { printf 'build-qemu: %s\n' "$*" >&2; }
build_log=""
die() {
  log "error: $*"
  if [[ -n $build_log && -r $build_log ]]; then
    log "last lines of the build log:"
    tail -n 40 "$build_log" >&2
  fi
  exit 1
}

for tool in apt-get apt-cache dpkg-source patch meson ninja pkg-config gcc flock sha256sum node; do
  command -v "$tool" >/dev/null ||
    die "'$tool' not found; install the QEMU build tools with: apt-get install dpkg-dev patch meson ninja-build pkg-config gcc libglib2.0-dev"
done
[[ -x /usr/bin/python3 && -x /usr/bin/meson ]] || die "Debian's python3 and meson are needed; apt-get install python3 meson"
pkg-config --exists glib-2.0 || die "glib headers missing; apt-get install libglib2.0-dev"

mkdir -p "$cache_root"

# A private apt state with deb-src entries for the suites of /etc/apt's
# debian.sources (the binary qemu packages come from these).
apt_dir="$cache_root/apt"
apt_opts=(
  -o Dir::Etc::SourceList=/dev/null
  -o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache"
  -o APT::Sandbox::User=root
)
prepare_apt() {
  mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  cat >"$apt_dir/sources.list.d/qemu-src.sources" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Refresh at most once a day: the version names the cache entry.
  if [[ -z $(find "$apt_dir/lists" -maxdepth 1 -name '*Sources*' -mtime -1 2>/dev/null) ]]; then
    log "updating the deb-src lists in $apt_dir"
    if ! apt-get "${apt_opts[@]}" -qq update >&2; then
      # Offline with lists from an earlier run: their version still names a cache entry.
      [[ -n $(find "$apt_dir/lists" -maxdepth 1 -name '*Sources*' 2>/dev/null) ]] ||
        die "apt-get update of the deb-src lists failed"
      log "warning: apt-get update failed; using the deb-src lists of an earlier run"
    fi
  fi
}

# The newest qemu source version the lists offer (what `apt-get source qemu` takes).
source_version=${BLKIO_QEMU_SOURCE_VERSION:-}
if [[ -z $source_version ]]; then
  prepare_apt
  source_version=$(apt-cache "${apt_opts[@]}" showsrc qemu |
    sed -n 's/^Version: //p' | sort -V | tail -n1)
  [[ -n $source_version ]] || die "no qemu source package in the deb-src lists"
fi

key=$({
  printf 'recipe %s\nsource %s\n' "$RECIPE_REVISION" "$source_version"
  cat "$repo_root/addon/capi/blkio.h" "$repo_root/addon/capi/blkio.pc" "$script_dir"/*.patch
} | sha256sum | cut -c1-16)
entry="$cache_root/qemu-$key"
if [[ -x $entry/bin/qemu-io ]]; then
  printf '%s\n' "$entry/bin"
  exit 0
fi

# shellcheck source=/dev/null
source "$script_dir/../../support/build-steps.sh"

exec 9>"$cache_root/.lock-$key"
if ! flock -n 9; then
  log "another build of qemu-$key is running; waiting for it"
  run_step flock 9
fi
if [[ -x $entry/bin/qemu-io ]]; then
  printf '%s\n' "$entry/bin"
  exit 0
fi

rm -rf "$cache_root/.build-$key".*
work=$(mktemp -d "$cache_root/.build-$key.XXXXXX")
build_log="$work/build.log"
trap 'die "build step failed"' ERR

start=$(date +%s)
log "building qemu-$key (qemu $source_version, ninja -j$jobs); log in $build_log"
prepare_apt
(cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only "qemu=$source_version") >>"$build_log" 2>&1
dsc=$(find "$work" -maxdepth 1 -name 'qemu_*.dsc' | head -n1)
[[ -n $dsc ]] || die "apt-get source qemu=$source_version fetched no .dsc"
run_step dpkg-source --no-check -x "$dsc" "$work/src" >>"$build_log" 2>&1
src="$work/src"
[[ -f $src/block/blkio.c ]] || die "qemu $source_version has no block/blkio.c (QEMU's blkio driver came in 7.2)"
# QEMU before 8.1 never enables the completion fd, which libblkio documents as
# possibly disabled until blkioq_set_completion_fd_enabled(q, true): without
# the call, a driver that starts it disabled (this library's) never wakes
# QEMU. QEMU 8.1 added the call; older sources get it here.
if ! grep -q blkioq_set_completion_fd_enabled "$src/block/blkio.c"; then
  patch -d "$src" -p1 <"$script_dir/enable-completion-fd.patch" >>"$build_log" 2>&1 ||
    die "enable-completion-fd.patch does not apply to qemu $source_version"
fi

# The entry's own copy of the C library, where the tools' RUNPATH points (so
# they also start without LD_LIBRARY_PATH). Only the lock holder writes the
# entry; it is complete once bin/ appears (one rename, at the end).
rm -rf "$entry"
prefix="$entry/blkio"
node "$repo_root/addon/tools/install-capi.js" "--prefix=$prefix" >>"$build_log" 2>&1

mkdir "$src/build"
(
  cd "$src/build"
  export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
  # Debian's python3 and meson, whatever python3 comes first on PATH.
  export PATH="/usr/bin:$PATH"
  ../configure --meson=/usr/bin/meson \
    --without-default-features --target-list= \
    --disable-system --disable-user --enable-tools --disable-docs --disable-werror \
    --disable-guest-agent --disable-install-blobs \
    --enable-blkio
) >>"$build_log" 2>&1 || die "configure failed"
grep -qE 'blkio support +: YES' "$build_log" || die "configure did not find blkio (see $build_log)"

log "compiling qemu-img, qemu-io, qemu-storage-daemon"
run_step ninja -C "$src/build" -j"$jobs" qemu-img qemu-io storage-daemon/qemu-storage-daemon >>"$build_log" 2>&1

mkdir "$work/bin"
cp "$src/build/qemu-img" "$src/build/qemu-io" "$src/build/storage-daemon/qemu-storage-daemon" "$work/bin/"
printf '%s\n' "$source_version" >"$entry/version"
cp "$build_log" "$entry/build.log"
chmod -R a+rX "$entry" "$work/bin"
mv -T "$work/bin" "$entry/bin"
log "built $entry/bin in $(($(date +%s) - start)) s"
printf '%s\n' "$entry/bin"
