// The job loop's sinks that run something of another program's: ioengine=exec
// (a program of the job's) and ioengine=pmemblk (libpmemblk's pools), built
// from the sixth argument of startJobLoop, and pmemblkPoolInfo, which opens
// (or creates) a pool so blkbench knows its size before the job starts.
#pragma once

#include <napi.h>

#include <memory>

#include "../bench/exec_sink.h"
#include "../bench/pmemblk_pool.h"

namespace blkio::napi {

// { program, argv: string[], stdout?, stderr?, graceNs } -> the sink (the program is not started yet).
std::unique_ptr<bench::ExecSink> exec_sink_from(Napi::Env env, Napi::Object o, size_t capacity);
// { pmemblk: path, bsize, poolSize, create } -> the pool, shared with the job's other clones.
std::shared_ptr<bench::PmemblkPool> pmemblk_pool_from(Napi::Env env, Napi::Object o);
// pmemblkPoolInfo({ pmemblk, bsize, poolSize, create }) -> { bsize, nblocks }.
Napi::Value pmemblk_pool_info(const Napi::CallbackInfo& info);

}  // namespace blkio::napi
