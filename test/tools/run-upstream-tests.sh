#!/usr/bin/env bash
# Builds libblkio's own test programs (an upstream checkout's tests/: util.c
# plus one program per behaviour) against this project's blkio.h and
# libblkio.so.1, runs each with --driver, and prints one line per program and
# a closing "N passed, N failed, N skipped" line. Upstream's code is never
# copied into this repository: point the script at a checkout kept elsewhere.
#
#   test/tools/run-upstream-tests.sh UPSTREAM_DIR [DRIVER [PATH]]
#
#   UPSTREAM_DIR  a libblkio checkout (or any directory with tests/util.c)
#   DRIVER        default io_uring; PATH is passed as --path when given
#                 (without it, each program creates its own temp file, which
#                 only io_uring can open)
#   BLKIO_LIB_DIR directory holding libblkio.so.1 (default: build/Release)
#   BLKIO_UPSTREAM_TIMEOUT seconds per program (default 60)
#
# Exit status: 0 when nothing failed (skips, exit 77, are not failures).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
upstream=${1:?usage: $0 UPSTREAM_DIR [DRIVER [PATH]]}
driver=${2:-io_uring}
target=${3:-}
lib_dir=${BLKIO_LIB_DIR:-$repo/build/Release}
per_test=${BLKIO_UPSTREAM_TIMEOUT:-60}

[[ -f $upstream/tests/util.c ]] || { echo "error: $upstream/tests/util.c not found" >&2; exit 2; }
[[ -f $lib_dir/libblkio.so.1 ]] || { echo "error: $lib_dir/libblkio.so.1 not found (npx node-gyp build)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/blkio-upstream-XXXXXX")
trap 'rm -rf "$work"' EXIT

# Upstream's programs include "blkio.h" and link -lblkio: give them ours.
cc_flags=(-std=gnu11 -O1 -g -D_GNU_SOURCE -I"$repo/addon/capi" -I"$upstream/tests")
link_flags=(-L"$work" -lblkio -Wl,-rpath,"$lib_dir")
ln -s "$lib_dir/libblkio.so.1" "$work/libblkio.so"

passed=0 failed=0 skipped=0
failures=()
for src in "$upstream"/tests/*.c; do
  name=$(basename "$src" .c)
  [[ $name == util ]] && continue
  exe=$work/$name
  if ! out=$(cc "${cc_flags[@]}" "$upstream/tests/util.c" "$src" "${link_flags[@]}" -o "$exe" 2>&1); then
    echo "not ok - $name: does not compile against our blkio.h"
    printf '%s\n' "$out" | sed 's/^/#   /' | head -20
    failed=$((failed + 1)); failures+=("$name")
    continue
  fi
  args=(--driver="$driver")
  [[ -n $target ]] && args+=(--path="$target")
  mkdir -p "$work/run-$name"
  set +e
  out=$(cd "$work/run-$name" && LD_LIBRARY_PATH=$lib_dir timeout "$per_test" "$exe" "${args[@]}" 2>&1)
  status=$?
  set -e
  case $status in
    0) echo "ok - $name"; passed=$((passed + 1)) ;;
    77) echo "ok - $name # SKIP (the program skipped itself)"; skipped=$((skipped + 1)) ;;
    *)
      echo "not ok - $name: exit status $status"
      printf '%s\n' "$out" | sed 's/^/#   /' | head -20
      failed=$((failed + 1)); failures+=("$name")
      ;;
  esac
done

echo "upstream: $passed passed, $failed failed, $skipped skipped"
((failed == 0))
