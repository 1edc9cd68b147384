// The job loop's spec from JS (src/lib/job-loop.ts JobLoopSpec, read field by
// field as JS wrote it): every field checked for type and range here, so that
// whatever JS passes, the loop only touches memory it owns.
#pragma once

#include <napi.h>

#include "../bench/job_loop.h"

namespace blkio::napi {

bench::JobLoopSpec parse_job_loop_spec(Napi::Env env, Napi::Object spec);

// Largest block size any direction of the spec can use (the slot size).
uint32_t max_block_size(const bench::JobLoopSpec& spec);

}  // namespace blkio::napi
