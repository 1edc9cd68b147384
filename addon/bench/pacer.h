// Pacing of a job's requests, as src/blkbench/pace.ts: fio's rate and
// rate_iops (per direction, the n-th request may start once its bytes or its
// count fit under rate x elapsed time) and thinktime (a pause after every
// thinktime_blocks requests, its first thinktime_spin busy-waited).
#pragma once

#include <algorithm>
#include <cstdint>

namespace blkio::bench {

struct PaceSpec {
  uint64_t rate[3] = {};       // bytes/s per direction, 0: no cap
  uint64_t rate_iops[3] = {};  // requests/s per direction, 0: no cap
  int64_t thinktime_ns = 0;
  int64_t thinktime_spin_ns = 0;
  uint64_t thinktime_blocks = 1;
};

class Pacer {
 public:
  explicit Pacer(const PaceSpec& s) : s_(s) {
    active_ = s.thinktime_ns > 0;
    for (int d = 0; d < 3; d++) active_ = active_ || s.rate[d] > 0 || s.rate_iops[d] > 0;
  }
  bool active() const { return active_; }
  // Restarts the schedule (at the start of the measured phase).
  void begin(int64_t now) {
    start_ = now;
    std::fill(std::begin(bytes_), std::end(bytes_), 0);
    std::fill(std::begin(ios_), std::end(ios_), 0);
  }
  // When a request in direction dir may be issued (<= now: at once).
  int64_t ready_at(int dir) const {
    int64_t until = think_until_;
    if (s_.rate[dir] > 0) until = std::max(until, start_ + int64_t((unsigned __int128)bytes_[dir] * 1000000000 / s_.rate[dir]));
    if (s_.rate_iops[dir] > 0) until = std::max(until, start_ + int64_t((unsigned __int128)ios_[dir] * 1000000000 / s_.rate_iops[dir]));
    return until;
  }
  // Whether waiting at now should spin (thinktime_spin) rather than sleep.
  bool spinning(int64_t now) const { return now < spin_until_; }
  void issued(int dir, uint32_t len, int64_t now) {
    bytes_[dir] += len;
    ios_[dir]++;
    if (s_.thinktime_ns > 0 && ++since_think_ >= s_.thinktime_blocks) {
      since_think_ = 0;
      think_until_ = now + s_.thinktime_ns;
      spin_until_ = now + s_.thinktime_spin_ns;
    }
  }

 private:
  PaceSpec s_;
  bool active_;
  int64_t start_ = 0, think_until_ = 0, spin_until_ = 0;
  uint64_t bytes_[3] = {}, ios_[3] = {};
  uint64_t since_think_ = 0;
};

}  // namespace blkio::bench
