// An absolute CLOCK_MONOTONIC deadline for do_io's timeout argument.
#pragma once

#include <time.h>

#include <cstdint>

namespace blkio {

inline int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class Deadline {
 public:
  static Deadline never() { return Deadline(-1); }
  static Deadline after(const timespec& t) {
    // Saturate: LONG_MAX seconds must mean "practically forever", not overflow.
    int64_t max_sec = (INT64_MAX - monotonic_ns()) / 1000000000 - 1;
    int64_t sec = t.tv_sec > max_sec ? max_sec : t.tv_sec;
    return Deadline(monotonic_ns() + sec * 1000000000 + t.tv_nsec);
  }

  bool is_never() const { return at_ns_ < 0; }
  // Nanoseconds left, 0 once expired; meaningless when is_never().
  int64_t remaining_ns() const {
    int64_t left = at_ns_ - monotonic_ns();
    return left > 0 ? left : 0;
  }
  bool expired() const { return !is_never() && remaining_ns() == 0; }
  timespec remaining() const {
    int64_t ns = remaining_ns();
    return timespec{time_t(ns / 1000000000), long(ns % 1000000000)};
  }

 private:
  explicit Deadline(int64_t at_ns) : at_ns_(at_ns) {}
  int64_t at_ns_;
};

}  // namespace blkio
