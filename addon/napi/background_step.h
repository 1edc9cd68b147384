// A blocking core step (connect, start, releasing a device: seconds on a
// stalled backend) run on the libuv thread pool instead of the event loop,
// settling a Promise: resolved, or rejected with a BlkioError carrying the
// core's errno and message.
#pragma once

#include <napi.h>

#include <functional>

namespace blkio::napi {

// step returns a non-negative number (the Promise's value) or a negative
// errno (with the core's thread-local message). The environment's teardown
// waits for queued steps.
Napi::Promise run_in_background(Napi::Env env, const char* name, std::function<int()> step);

}  // namespace blkio::napi
