# Sourced by the cached builds (test/vm/build-kernel.sh,
# test/host/qemu-blkio/build-qemu.sh): long steps that a signal can stop.
# Bash runs a signal trap only between commands, and `wait` is the one it
# interrupts, so each step runs in the background and is waited for; the EXIT
# trap then stops the step and removes the work dir ($work, if set).
child=""
work=""
run_step() {
  local rc=0
  "$@" &
  child=$!
  wait "$child" || rc=$?
  child=""
  return "$rc"
}
cleanup() {
  [[ -z $child ]] || kill "$child" 2>/dev/null || true
  [[ -z $work ]] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
