// blkbench's ioengine=cpuio, fio's CPU burner: every request is a burst of
// CPU work of cycle_ns on the loop's own thread, done when the loop reaps
// (the job's thinktime, set from cpuload, is the idle part of each cycle).
// noop spins on the clock; qsort sorts a buffer of pseudo-random 32-bit
// numbers (filled at construction) round after round until the cycle is
// over. No data moves, so the loop counts the requests but no bytes (fio's
// FIO_NOIO). Nothing is allocated per request.
#pragma once

#include <vector>

#include "synchronous_sink.h"

namespace blkio::bench {

enum class CpuMode : uint8_t { Noop, Qsort };

class CpuSink final : public UniformSink<void*> {
 public:
  CpuSink(CpuMode mode, int64_t cycle_ns, size_t capacity);

  bool moves_data() const override { return false; }

 private:
  void take(void* user_data) override { SynchronousSink::accept(user_data); }
  // Burns one cycle per request returned.
  Completion perform(void* const& user_data) override;
  void burn();

  CpuMode mode_;
  int64_t cycle_ns_;
  std::vector<uint32_t> sort_data_;
  uint32_t mwc_z_ = 362436069u, mwc_w_ = 521288629u;
};

}  // namespace blkio::bench
