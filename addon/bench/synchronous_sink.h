// The part every sink of blkbench's own engines shares (null, cpuio, the
// system-call and file-operation sinks): they do their requests themselves,
// on the loop's thread, when the loop reaps. Accepted requests wait in a
// ring sized to the job's depth (grown rather than dropping one, should the
// loop ever exceed what it said), and do_io performs up to max of them in
// order. A sink says what a waiting request holds (Pending) and how to do
// one (perform). There is no completion fd and nothing to stop.
#pragma once

#include <algorithm>
#include <cerrno>
#include <vector>

#include "request_sink.h"

namespace blkio::bench {

template <typename Pending>
class SynchronousSink : public RequestSink {
 public:
  int do_io(Completion* out, int min, int max, timespec* timeout) final {
    if (min < 0 || max < 0 || min > max) return -EINVAL;
    if (out == nullptr && max > 0) return -EINVAL;
    int n = int(std::min<size_t>(count_, size_t(max)));
    for (int i = 0; i < n; i++) {
      out[i] = perform(ring_[head_]);
      head_ = (head_ + 1) % ring_.size();
    }
    count_ -= size_t(n);
    if (timeout) *timeout = timespec{0, 0};
    return n;
  }
  size_t outstanding() const final { return count_; }
  bool stop_requested() const final { return false; }
  int completion_fd() const final { return -1; }
  void set_completion_fd_enabled(bool) final {}

 protected:
  // capacity: the most requests outstanding at once.
  explicit SynchronousSink(size_t capacity) : ring_(std::max<size_t>(1, capacity)) {}

  void accept(const Pending& p) {
    if (count_ == ring_.size()) {
      std::vector<Pending> bigger(ring_.size() * 2);
      for (size_t i = 0; i < count_; i++) bigger[i] = ring_[(head_ + i) % ring_.size()];
      ring_.swap(bigger);
      head_ = 0;
    }
    ring_[(head_ + count_) % ring_.size()] = p;
    count_++;
  }

  // Does one waiting request; its completion is what do_io returns for it.
  virtual Completion perform(const Pending& p) = 0;

 private:
  std::vector<Pending> ring_;
  size_t head_ = 0, count_ = 0;
};

// A synchronous sink to which every kind of request is alike: it keeps only
// the request's user_data (the null and cpuio engines).
template <typename Pending>
class UniformSink : public SynchronousSink<Pending> {
 public:
  void read(uint64_t, void*, size_t, void* user_data, int) override { take(user_data); }
  void write(uint64_t, const void*, size_t, void* user_data, int) override { take(user_data); }
  void readv(uint64_t, const iovec*, int, void* user_data) override { take(user_data); }
  void writev(uint64_t, const iovec*, int, void* user_data) override { take(user_data); }
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { take(user_data); }
  void discard(uint64_t, uint64_t, void* user_data) override { take(user_data); }
  void flush(void* user_data) override { take(user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { take(user_data); }

 protected:
  using SynchronousSink<Pending>::SynchronousSink;
  virtual void take(void* user_data) = 0;
};

}  // namespace blkio::bench
