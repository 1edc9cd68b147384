#include "cpu_sink.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <functional>

namespace blkio::bench {

namespace {

constexpr size_t kSortWords = 256 * 1024;  // 1 MiB of numbers, as fio's qsort mode sorts

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

CpuSink::CpuSink(CpuMode mode, int64_t cycle_ns, size_t capacity)
    : UniformSink(capacity), mode_(mode), cycle_ns_(cycle_ns) {
  if (mode_ == CpuMode::Qsort) sort_data_.resize(kSortWords);
}

void CpuSink::burn() {
  int64_t end = now_ns() + cycle_ns_;
  if (mode_ == CpuMode::Noop) {
    while (now_ns() < end) {
    }
    return;
  }
  do {
    // Marsaglia's multiply-with-carry numbers, sorted up, then down.
    for (uint32_t& v : sort_data_) {
      mwc_z_ = 36969 * (mwc_z_ & 65535) + (mwc_z_ >> 16);
      mwc_w_ = 18000 * (mwc_w_ & 65535) + (mwc_w_ >> 16);
      v = (mwc_z_ << 16) + mwc_w_;
    }
    std::sort(sort_data_.begin(), sort_data_.end());
    std::sort(sort_data_.begin(), sort_data_.end(), std::greater<uint32_t>());
  } while (now_ns() < end);
}

Completion CpuSink::perform(void* const& user_data) {
  burn();
  Completion c{};
  c.user_data = user_data;
  return c;
}

}  // namespace blkio::bench
