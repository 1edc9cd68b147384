#include "null_sink.h"

#include <algorithm>
#include <cerrno>

namespace blkio::bench {

NullSink::NullSink(size_t capacity) : ring_(std::max<size_t>(1, capacity)) {}

void NullSink::accept(void* user_data, int ret, const char* msg) {
  if (count_ == ring_.size()) {
    // The loop never has more outstanding than it said; grow rather than drop one if it ever did.
    std::vector<Completion> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; i++) bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  Completion& c = ring_[(head_ + count_) % ring_.size()];
  c = Completion{};
  c.user_data = user_data;
  c.ret = ret;
  c.error_msg = msg;
  count_++;
}

void NullSink::zone_management(RequestType, uint64_t, void* user_data) {
  accept(user_data, -ENOTSUP, "ioengine=null has no zones");
}

int NullSink::do_io(Completion* out, int min, int max, timespec* timeout) {
  if (min < 0 || max < 0 || min > max) return -EINVAL;
  if (out == nullptr && max > 0) return -EINVAL;
  int n = int(std::min<size_t>(count_, size_t(max)));
  for (int i = 0; i < n; i++) {
    out[i] = ring_[head_];
    head_ = (head_ + 1) % ring_.size();
  }
  count_ -= size_t(n);
  if (timeout) *timeout = timespec{0, 0};
  return n;
}

}  // namespace blkio::bench
