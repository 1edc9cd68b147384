// A blocking core step (connect, start, releasing a device: seconds on a
// stalled backend) run on the libuv thread pool instead of the event loop,
// settling a Promise: resolved, or rejected with a BlkioError carrying the
// core's errno and message.
#pragma once

#include <napi.h>

#include <cstdint>
#include <functional>

namespace blkio::napi {

// step returns a non-negative number (the Promise's value) or a negative
// errno (with the core's thread-local message). The environment's teardown
// waits for queued steps.
Napi::Promise run_in_background(Napi::Env env, const char* name, std::function<int()> step);

// The same for a step that produces a 64-bit value (0 or -errno): the Promise resolves to a BigInt.
Napi::Promise run_in_background_u64(Napi::Env env, const char* name, std::function<int(uint64_t*)> step);

}  // namespace blkio::napi
