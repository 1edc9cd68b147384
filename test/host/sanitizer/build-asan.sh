#!/usr/bin/env bash
# Builds the addon (blkio.node) and libblkio.so.1 with AddressSanitizer and
# UndefinedBehaviorSanitizer into OUT_DIR, apart from node-gyp's build/:
#   test/host/sanitizer/build-asan.sh OUT_DIR
# The same sources as binding.gyp (every .cc under addon/core, addon/drivers,
# addon/napi, addon/capi), compiled with g++ directly, two at a time.
# Load the addon into node with LD_PRELOAD of gcc's libasan (see
# sanitizer.test.ts); C programs run against OUT_DIR/libblkio.so.1 the same way.
set -euo pipefail

out=${1:?usage: build-asan.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
mkdir -p "$out/obj"

node_include=${BLKIO_NODE_INCLUDE:-$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")}
napi_include=$(node -p "require('node-addon-api').include_dir")
[ -f "$node_include/node_api.h" ] || { echo "node headers not found in $node_include (set BLKIO_NODE_INCLUDE)" >&2; exit 1; }

sanitize=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
cxxflags=(-std=c++17 -O1 -g -fPIC -Wall -Wextra -Wno-missing-field-initializers -Wno-unused-parameter "${sanitize[@]}")
napi_flags=(-I"$node_include" -I"$napi_include" -DNAPI_VERSION=8 -DNODE_ADDON_API_DISABLE_DEPRECATED -DNAPI_CPP_EXCEPTIONS)

core=$(ls addon/core/*.cc addon/drivers/*.cc addon/drivers/*/*.cc)
napi=$(ls addon/napi/*.cc)
capi=$(ls addon/capi/*.cc)

obj() { echo "$out/obj/$(echo "$1" | tr '/' '_' | sed 's/\.cc$/.o/')"; }
export -f obj
export out

# One line per compile job: the source, then whether it needs N-API headers.
{
  for f in $core $capi; do echo "$f plain"; done
  for f in $napi; do echo "$f napi"; done
} | CXXFLAGS="${cxxflags[*]}" NAPI_FLAGS="${napi_flags[*]}" xargs -P "${BLKIO_ASAN_JOBS:-2}" -L 1 bash -c '
  src=$0 kind=$1
  extra=""
  [ "$kind" = napi ] && extra=$NAPI_FLAGS
  g++ $CXXFLAGS $extra -c "$src" -o "$(obj "$src")"
'

core_objs=$(for f in $core; do obj "$f"; done)
napi_objs=$(for f in $napi; do obj "$f"; done)
capi_objs=$(for f in $capi; do obj "$f"; done)

g++ -shared "${sanitize[@]}" -o "$out/blkio.node" $napi_objs $core_objs
g++ -shared "${sanitize[@]}" -o "$out/libblkio.so.1" $capi_objs $core_objs \
  -Wl,-soname,libblkio.so.1 -Wl,--version-script=addon/capi/libblkio.map
ln -sf libblkio.so.1 "$out/libblkio.so"
rm -rf "$out/obj"
echo "built $out/blkio.node and $out/libblkio.so.1"
