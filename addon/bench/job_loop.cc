#include "job_loop.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../core/errors.h"

namespace blkio::bench {

namespace {

constexpr int64_t kSampleIntervalNs = 500'000'000;    // bandwidth/IOPS samples, as the JS loop
constexpr int64_t kProgressIntervalNs = 100'000'000;  // live counters
constexpr long kWaitSliceNs = 100'000'000;            // a blocking wait re-checks the stop flags this often
constexpr int64_t kNever = INT64_MAX;

inline int64_t clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// fio's depth tables (src/blkbench/results.ts: depthBucket, batchBucket).
int depth_bucket(size_t depth) {
  if (depth >= 64) return 6;
  if (depth <= 1) return 0;
  return 63 - __builtin_clzll(depth);
}

int batch_bucket(size_t n) {
  if (n == 0) return 0;
  if (n > 64) return 6;
  if (n <= 4) return 1;
  return 64 - __builtin_clzll(n - 1) - 1;
}

CpuUsage cpu_usage(int who) {
  rusage ru;
  CpuUsage c;
  if (getrusage(who, &ru) != 0) return c;
  c.usr_ns = int64_t(ru.ru_utime.tv_sec) * 1000000000 + int64_t(ru.ru_utime.tv_usec) * 1000;
  c.sys_ns = int64_t(ru.ru_stime.tv_sec) * 1000000000 + int64_t(ru.ru_stime.tv_usec) * 1000;
  c.ctx = ru.ru_nvcsw + ru.ru_nivcsw;
  c.majf = ru.ru_majflt;
  c.minf = ru.ru_minflt;
  return c;
}

// The progress slot is read by JS on another thread: whole-double stores.
inline void store(double* p, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  __atomic_store_n(reinterpret_cast<uint64_t*>(p), bits, __ATOMIC_RELAXED);
}

OffsetGenerator::Kind offset_kind(const JobLoopSpec& s) {
  if (!s.random) return OffsetGenerator::Kind::Sequential;
  return s.random_map ? OffsetGenerator::Kind::RandomMap : OffsetGenerator::Kind::PureRandom;
}

uint32_t map_unit(const JobLoopSpec& s) {
  if (s.read_percent >= 100) return s.block_size[0];
  if (s.read_percent <= 0) return s.block_size[1];
  return std::min(s.block_size[0], s.block_size[1]);
}

}  // namespace

JobLoop::JobLoop(Queue& queue, const JobLoopSpec& spec, double* progress)
    : q_(queue),
      spec_(spec),
      progress_(progress),
      depth_(std::max(1, spec.iodepth)),
      complete_min_(std::max(0, spec.complete_min)),
      complete_max_(std::max({1, spec.complete_max, spec.complete_min})),
      offsets_(offset_kind(spec), spec.region_len, map_unit(spec), Prng(spec.seed, spec.job_index, 0)),
      mix_rng_(spec.seed, spec.job_index, 1),
      mixed_(spec.read_percent > 0 && spec.read_percent < 100),
      fixed_dir_(spec.read_percent >= 100 ? 0 : 1) {
  spec_.batch_submit = std::max(1, spec.batch_submit);
  slots_.resize(size_t(depth_));
  for (int i = depth_ - 1; i >= 0; i--) free_.push_back(uint32_t(i));
  pending_.reserve(size_t(depth_));
  comps_.resize(size_t(std::max(complete_max_, depth_)));
}

void JobLoop::run() {
  // Write buffers hold pseudo-random data, as fio's do by default (filled here, off the JS thread).
  if (spec_.read_percent < 100) {
    Prng fill(spec_.seed, spec_.job_index, 3);
    size_t words = size_t(depth_) * spec_.slot_stride / 4;
    auto* w = reinterpret_cast<uint32_t*>(spec_.buffers);
    for (size_t i = 0; i < words; i++) w[i] = fill.next_u32();
  }
  begin();
  for (;;) {
    if (should_stop()) {
      stop_issuing_ = true;
      if (abandon_) break;
    }
    issue();
    if (!pending_.empty()) {
      submit();
      if (abandon_) break;
    }
    size_t outstanding = size_t(depth_) - free_.size();
    if (outstanding == 0) {
      if (next_phase()) continue;
      break;
    }
    if (!free_.empty() && !stop_issuing_) continue;  // room left: keep issuing, as fio does
    int min = std::min(complete_min_, int(outstanding));
    if (!reap(min, complete_max_)) break;
  }
  finish();
}

bool JobLoop::should_stop() {
  if (abandon_requested_.load(std::memory_order_relaxed)) {
    abandon_ = true;
    result_.stopped = true;
    return true;
  }
  if (q_.stop_requested()) {
    abandon_ = true;
    if (!result_.error) fail(ECANCELED, "the queue was removed or its Blkio destroyed during the run");
    return true;
  }
  if (stop_.load(std::memory_order_relaxed)) {
    result_.stopped = true;
    return true;
  }
  return false;
}

void JobLoop::begin() {
  now_ = started_ = last_completion_ = clock_ns();
  ramp_end_ = run_end_ = next_sample_ = kNever;
  if (spec_.ramp_ns > 0) {
    phase_ = kRamp;
    ramp_end_ = now_ + spec_.ramp_ns;
    cpu_start_ = cpu_usage(RUSAGE_THREAD);
    process_cpu_start_ = cpu_usage(RUSAGE_SELF);
  } else {
    start_measuring(now_);
  }
  next_tick_ = now_ + kProgressIntervalNs;
  update_next_event();
}

void JobLoop::start_measuring(int64_t now) {
  phase_ = kRun;
  measure_start_ = last_completion_ = last_sample_ = now;
  run_end_ = spec_.runtime_ns > 0 ? now + spec_.runtime_ns : kNever;
  next_sample_ = now + kSampleIntervalNs;
  issued_bytes_ = 0;
  for (DirectionResult& d : result_.dir) d = DirectionResult();
  std::fill(std::begin(sample_ios_), std::end(sample_ios_), 0);
  std::fill(std::begin(sample_bytes_), std::end(sample_bytes_), 0);
  std::fill(std::begin(result_.depth_level), std::end(result_.depth_level), 0);
  std::fill(std::begin(result_.depth_submit), std::end(result_.depth_submit), 0);
  std::fill(std::begin(result_.depth_complete), std::end(result_.depth_complete), 0);
  cpu_start_ = cpu_usage(RUSAGE_THREAD);
  process_cpu_start_ = cpu_usage(RUSAGE_SELF);
}

int64_t JobLoop::next_offset(uint32_t len) {
  if (!spec_.time_based && phase_ == kRun && issued_bytes_ >= spec_.io_limit) return -1;
  int64_t rel = offsets_.next(len);
  if (rel < 0) {
    // End of a pass: a size-bound job is done, a time-based one starts over.
    if (!spec_.time_based && phase_ == kRun) return -1;
    offsets_.reset();
    rel = offsets_.next(len);
  }
  return rel;
}

void JobLoop::issue() {
  while (!free_.empty() && !stop_issuing_) {
    uint8_t dir = mixed_ ? (mix_rng_.below(100) < uint64_t(spec_.read_percent) ? 0 : 1) : fixed_dir_;
    uint32_t len = spec_.block_size[dir];
    int64_t rel = next_offset(len);
    if (rel < 0) {
      stop_issuing_ = true;
      break;
    }
    uint32_t index = free_.back();
    free_.pop_back();
    Slot& s = slots_[index];
    s.offset = spec_.region_start + uint64_t(rel);
    s.len = len;
    s.dir = dir;
    s.start_ns = now_;
    uint8_t* buf = spec_.buffers + size_t(index) * spec_.slot_stride;
    void* user_data = reinterpret_cast<void*>(uintptr_t(index));
    if (dir == 0) {
      q_.read(s.offset, buf, len, user_data, 0, spec_.region_slot);
    } else {
      if (spec_.stamp_writes && len >= sizeof s.offset) std::memcpy(buf, &s.offset, sizeof s.offset);
      q_.write(s.offset, buf, len, user_data, 0, spec_.region_slot);
    }
    issued_bytes_ += len;
    pending_.push_back(index);
    if (pending_.size() >= size_t(spec_.batch_submit)) break;
  }
}

void JobLoop::submit() {
  int r = q_.do_io(nullptr, 0, 0, nullptr);
  int64_t t = now_ = clock_ns();
  if (r < 0) {
    fail(-r, std::string("do_io failed: ") + last_error_message());
    abandon_ = true;
    return;
  }
  for (uint32_t index : pending_) slots_[index].submitted_ns = t;
  size_t in_flight = size_t(depth_) - free_.size();
  result_.depth_submit[batch_bucket(pending_.size())]++;
  result_.depth_level[depth_bucket(in_flight)] += pending_.size();
  pending_.clear();
  if (t >= next_event_) time_events(t);
}

bool JobLoop::reap(int min, int max) {
  int n = q_.do_io(comps_.data(), 0, max, nullptr);  // what is ready: no syscall
  while (n >= 0 && n < min) {
    int r;
    if (spec_.busy_poll) {
      r = q_.do_io(comps_.data() + n, 0, max - n, nullptr);
    } else {
      timespec slice{0, kWaitSliceNs};
      r = q_.do_io(comps_.data() + n, min - n, max - n, &slice);
      if (r == -ETIME) r = 0;
    }
    if (r < 0) {
      n = r;
      break;
    }
    n += r;
    if (r == 0 && should_stop() && abandon_) break;
  }
  if (n < 0) {
    fail(-n, std::string("do_io failed: ") + last_error_message());
    abandon_ = true;
    return false;
  }
  int64_t t = now_ = clock_ns();
  if (n > 0) {
    result_.depth_complete[batch_bucket(size_t(n))]++;
    complete(n, t);
    last_completion_ = t;
  }
  if (t >= next_event_) time_events(t);
  return !abandon_;
}

void JobLoop::complete(int n, int64_t now) {
  for (int i = 0; i < n; i++) {
    const Completion& c = comps_[size_t(i)];
    auto index = uint32_t(reinterpret_cast<uintptr_t>(c.user_data));
    const Slot& s = slots_[index];
    if (c.ret < 0) {
      if (!result_.error) {
        char what[96];
        snprintf(what, sizeof what, "%s of %u bytes at offset %llu failed: ", s.dir == 0 ? "read" : "write", s.len,
                 (unsigned long long)s.offset);
        fail(-c.ret, std::string(what) + (c.error_msg ? c.error_msg : strerror(-c.ret)));
      }
      stop_issuing_ = true;
    } else if (phase_ == kRun) {
      DirectionResult& d = result_.dir[s.dir];
      d.ios++;
      d.bytes += s.len;
      d.slat.add(uint64_t(s.submitted_ns - s.start_ns));
      d.clat.add(uint64_t(now - s.submitted_ns));
      d.lat.add(uint64_t(now - s.start_ns));
      sample_ios_[s.dir]++;
      sample_bytes_[s.dir] += s.len;
    }
    free_.push_back(index);
  }
}

void JobLoop::time_events(int64_t now) {
  if (phase_ == kRamp && now >= ramp_end_) {
    ramp_end_ = kNever;
    start_measuring(now);
  }
  if (phase_ == kRun && now >= run_end_) {
    run_end_ = kNever;
    stop_issuing_ = true;
  }
  if (now >= next_sample_) {
    double secs = double(now - last_sample_) / 1e9;
    for (int d = 0; d < 2; d++) {
      if (result_.dir[d].ios == 0) continue;
      result_.dir[d].bw_kib.add(double(sample_bytes_[d]) / 1024 / secs);
      result_.dir[d].iops.add(double(sample_ios_[d]) / secs);
      sample_bytes_[d] = sample_ios_[d] = 0;
    }
    last_sample_ = now;
    next_sample_ = now + kSampleIntervalNs;
  }
  if (now >= next_tick_) {
    publish_progress(now);
    next_tick_ = now + kProgressIntervalNs;
  }
  update_next_event();
}

void JobLoop::update_next_event() { next_event_ = std::min({ramp_end_, run_end_, next_sample_, next_tick_}); }

void JobLoop::publish_progress(int64_t now) {
  if (!progress_) return;
  double fraction = 1;
  if (phase_ != kDone) {
    double total_ns = double(spec_.ramp_ns + spec_.runtime_ns);
    double by_time = spec_.runtime_ns > 0 ? double(now - started_) / total_ns : 0;
    double by_bytes = phase_ == kRamp || spec_.time_based ? 0 : double(issued_bytes_) / double(std::max<uint64_t>(1, spec_.io_limit));
    fraction = std::min(1.0, std::max(by_time, by_bytes));
  }
  store(&progress_[0], phase_);
  store(&progress_[1], fraction);
  for (int d = 0; d < 2; d++) {
    store(&progress_[2 + d], double(result_.dir[d].bytes));
    store(&progress_[5 + d], double(result_.dir[d].ios));
  }
  store(&progress_[4], 0);
  store(&progress_[7], 0);
}

bool JobLoop::next_phase() {
  if (!stop_issuing_) return true;  // nothing outstanding yet: keep issuing
  if (phase_ == kRamp && !result_.error && !result_.stopped) {
    // Ran out of work during ramp time: measure what is left from here.
    start_measuring(clock_ns());
    stop_issuing_ = false;
    return true;
  }
  return false;
}

void JobLoop::fail(int err, std::string msg) {
  if (result_.error) return;
  result_.error = err > 0 ? err : EIO;
  result_.error_message = std::move(msg);
  stop_issuing_ = true;
}

void JobLoop::finish() {
  int64_t end = clock_ns();
  auto since = [](const CpuUsage& now, const CpuUsage& start) {
    return CpuUsage{now.usr_ns - start.usr_ns, now.sys_ns - start.sys_ns, now.ctx - start.ctx, now.majf - start.majf,
                    now.minf - start.minf};
  };
  result_.cpu = since(cpu_usage(RUSAGE_THREAD), cpu_start_);
  result_.process_cpu = since(cpu_usage(RUSAGE_SELF), process_cpu_start_);
  result_.runtime_ns = phase_ == kRun ? std::max<int64_t>(0, last_completion_ - measure_start_) : 0;
  result_.elapsed_ns = end - started_;
  result_.left_in_flight = q_.outstanding();
  phase_ = kDone;
  publish_progress(end);
}

}  // namespace blkio::bench
