// JS functions startJobLoop/stopJobLoop (internal; src/job-loop.ts wraps
// them): run addon/bench's JobLoop on a thread of its own over a queue.
#pragma once

#include <napi.h>

namespace blkio::napi {

void register_job_loop(Napi::Env env, Napi::Object exports);

}  // namespace blkio::napi
