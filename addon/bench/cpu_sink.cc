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
    : mode_(mode), cycle_ns_(cycle_ns), ring_(std::max<size_t>(1, capacity)) {
  if (mode_ == CpuMode::Qsort) sort_data_.resize(kSortWords);
}

void CpuSink::accept(void* user_data) {
  if (count_ == ring_.size()) {
    // The loop never has more outstanding than it said; grow rather than drop one if it ever did.
    std::vector<void*> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; i++) bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  ring_[(head_ + count_) % ring_.size()] = user_data;
  count_++;
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

int CpuSink::do_io(Completion* out, int min, int max, timespec* timeout) {
  if (min < 0 || max < 0 || min > max) return -EINVAL;
  if (out == nullptr && max > 0) return -EINVAL;
  int n = int(std::min<size_t>(count_, size_t(max)));
  for (int i = 0; i < n; i++) {
    burn();
    out[i] = Completion{};
    out[i].user_data = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
  }
  count_ -= size_t(n);
  if (timeout) *timeout = timespec{0, 0};
  return n;
}

}  // namespace blkio::bench
