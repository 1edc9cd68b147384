#!/usr/bin/env bash
# Builds the addon (blkio.node) and libblkio.so.1 with AddressSanitizer and
# UndefinedBehaviorSanitizer into OUT_DIR, apart from node-gyp's build/:
#   test/host/sanitizer/build-asan.sh OUT_DIR
# Sources and the addon's defines come from binding.gyp (targets blkio_core,
# blkio and libblkio), so this build follows the real one; g++ directly, two
# compiles at a time. Load the addon into node with LD_PRELOAD of gcc's
# libasan (see sanitizer.test.ts); C programs use OUT_DIR/libblkio.so.1 the
# same way.
set -euo pipefail

out=${1:?usage: build-asan.sh OUT_DIR}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
mkdir -p "$out/obj"

node_include=${BLKIO_NODE_INCLUDE:-$(node -p "require('path').join(process.execPath, '..', '..', 'include', 'node')")}
napi_include=$(node -p "require('node-addon-api').include_dir")
[ -f "$node_include/node_api.h" ] || { echo "node headers not found in $node_include (set BLKIO_NODE_INCLUDE)" >&2; exit 1; }

# binding.gyp is a Python literal (plus comment lines).
eval "$(python3 - <<'PY'
import ast, re, shlex
gyp = ast.literal_eval(re.sub(r'(?m)^\s*#.*$', '', open('binding.gyp').read()))
targets = list(gyp.get('targets', []))
for cond in gyp.get('conditions', []):
    for branch in cond[1:]:
        if isinstance(branch, dict):
            targets += branch.get('targets', [])
by_name = {t['target_name']: t for t in targets}
def emit(var, items):
    print(var + '=(' + ' '.join(shlex.quote(i) for i in items) + ')')
emit('core', by_name['blkio_core']['sources'])
emit('napi', by_name['blkio']['sources'])
emit('napi_defines', ['-D' + d for d in by_name['blkio'].get('defines', [])])
emit('capi', by_name['libblkio']['sources'])
PY
)"

sanitize=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
cxxflags=(-std=c++17 -O1 -g -fPIC -Wall -Wextra -Wno-missing-field-initializers -Wno-unused-parameter "${sanitize[@]}")
napi_flags=(-I"$node_include" -I"$napi_include" "${napi_defines[@]}")

obj() { echo "$out/obj/$(echo "$1" | tr '/' '_' | sed 's/\.cc$/.o/')"; }
export -f obj
export out

# One line per compile job: the source, then whether it needs N-API headers.
{
  for f in "${core[@]}" "${capi[@]}"; do echo "$f plain"; done
  for f in "${napi[@]}"; do echo "$f napi"; done
} | CXXFLAGS="${cxxflags[*]}" NAPI_FLAGS="${napi_flags[*]}" xargs -P "${BLKIO_ASAN_JOBS:-2}" -L 1 bash -c '
  src=$0 kind=$1
  extra=""
  [ "$kind" = napi ] && extra=$NAPI_FLAGS
  g++ $CXXFLAGS $extra -c "$src" -o "$(obj "$src")"
'

objs() { for f in "$@"; do obj "$f"; done; }
g++ -shared "${sanitize[@]}" -o "$out/blkio.node" $(objs "${napi[@]}") $(objs "${core[@]}")
g++ -shared "${sanitize[@]}" -o "$out/libblkio.so.1" $(objs "${capi[@]}") $(objs "${core[@]}") \
  -Wl,-soname,libblkio.so.1 -Wl,--version-script=addon/capi/libblkio.map
ln -sf libblkio.so.1 "$out/libblkio.so"
rm -rf "$out/obj"
echo "built $out/blkio.node and $out/libblkio.so.1"
