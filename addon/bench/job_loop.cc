#include "job_loop.h"

#include <poll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstring>

#include "../core/errors.h"

namespace blkio::bench {

// The per-request steps, each called from one or two places: inlined there,
// so that a request pays no call, register saves or reloads between them.
#define JOB_LOOP_STEP __attribute__((always_inline)) inline

namespace {

constexpr int64_t kSampleIntervalNs = 500'000'000;    // bandwidth/IOPS samples, as the JS loop
constexpr int64_t kProgressIntervalNs = 100'000'000;  // live counters
constexpr int64_t kWaitSliceNs = 100'000'000;         // a blocking wait re-checks the stop flags this often
constexpr int64_t kNever = INT64_MAX;
constexpr int kEilseq = 84;  // verify failures, as fio reports them
const char* const kDirNames[3] = {"read", "write", "trim"};

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

bool uses(const JobLoopSpec& s, int dir) { return s.mixed ? dir != kTrim : dir == s.single_dir; }

// Random offsets are multiples of blockalign (fio's default: the smallest block size in use).
uint32_t offset_unit(const JobLoopSpec& s) {
  if (s.blockalign > 0) return s.blockalign;
  uint32_t unit = UINT32_MAX;
  for (int d = 0; d < 3; d++)
    if (uses(s, d)) unit = std::min(unit, s.bs[d].min());
  return unit;
}

OffsetGenerator::Kind offset_kind(const JobLoopSpec& s) {
  if (!s.random) return OffsetGenerator::Kind::Sequential;
  return s.random_map ? OffsetGenerator::Kind::RandomMap : OffsetGenerator::Kind::PureRandom;
}

bool plain_offsets(const JobLoopSpec& s) {
  return s.random ? s.distribution.kind == DistributionSpec::Random : s.seq_add == 0;
}

}  // namespace

JobLoop::JobLoop(Queue& queue, const JobLoopSpec& spec, double* progress)
    : JobLoop(std::make_unique<QueueSink>(queue), spec, progress) {}

JobLoop::JobLoop(std::unique_ptr<RequestSink> sink, const JobLoopSpec& spec, double* progress)
    : q_(sink.get()),
      queues_{{sink.get(), spec.region_slot}},
      spec_(spec),
      progress_(progress),
      free_(size_t(std::max(1, spec.iodepth))),
      pending_(size_t(std::max(1, spec.iodepth))),
      depth_(std::max(1, spec.iodepth)),
      complete_min_(std::max(0, spec.complete_min)),
      complete_max_(std::max({1, spec.complete_max, spec.complete_min})),
      unit_(offset_unit(spec)),
      // A generator the job does not use is built over an empty region: it costs nothing.
      offsets_(offset_kind(spec), plain_offsets(spec) ? spec.region_len : 0, unit_, Prng(spec.seed, spec.job_index, 0),
               spec.verify == VerifyKind::None),
      mix_rng_(spec.seed, spec.job_index, 1),
      size_rng_(spec.seed, spec.job_index, 2),
      write_data_(spec.write_data, Prng(spec.seed, spec.job_index, 3)),
      pacer_(spec.pace),
      verify_seed_(uint32_t(spec.seed) ^ spec.job_index) {
  spec_.batch_submit = std::max(1, spec.batch_submit);
  if (!spec.random && spec.seq_add != 0) skip_offsets_ = std::make_unique<SkipSequentialOffsets>(spec.region_len, spec.seq_add);
  if (spec.random && spec.distribution.kind != DistributionSpec::Random)
    dist_offsets_ = std::make_unique<DistributionOffsets>(spec.region_len, unit_, spec.distribution, Prng(spec.seed, spec.job_index, 0));
  uint8_t first_dir = spec.mixed ? uint8_t(kRead) : spec.single_dir;
  verify_reads_ = spec.verify != VerifyKind::None && first_dir == kRead;
  // One mark per write-sized block: written_[offset / len] (the smallest write size bounds the index).
  verify_format_ = VerifyFormat{spec_.verify, spec_.verify_interval, spec_.verify_pattern.data(), spec_.verify_pattern.size()};
  if (spec.verify != VerifyKind::None && spec.do_verify && first_dir == kWrite) written_.assign(size_t(spec.region_len / spec.bs[kWrite].min() + 1), 0);
  passes_left_ = spec.loops > 0 ? spec.loops - 1 : 0;
  plain_ = !spec.mixed && !spec.zbd.enabled && !pacer_.active() && spec.verify == VerifyKind::None && spec.bs[spec.single_dir].fixed();
  slots_.resize(size_t(depth_));
  for (int i = depth_ - 1; i >= 0; i--) free_.push_back(uint32_t(i));
  comps_.resize(size_t(std::max(complete_max_, depth_)));
  if (spec.zbd.enabled)
    zones_ = std::make_unique<ZoneTable>(spec.zbd, spec.region_len, spec.random, spec.mixed, spec.verify != VerifyKind::None,
                                         spec.bs[kRead].min(), spec.bs[kWrite].min());
  if (spec.trace_limit > 0) result_.trace.reserve(spec.trace_limit);
  if (spec.log_samples) result_.log.reserve(size_t(1) << 16);
  moves_data_ = sink->moves_data();
  sinks_.push_back(std::move(sink));
}

void JobLoop::add_switch_target(Queue& queue, int region_slot) {
  sinks_.push_back(std::make_unique<QueueSink>(queue));
  queues_.push_back({sinks_.back().get(), region_slot});
}

void JobLoop::fill_write_buffers() {
  // Write buffers hold pseudo-random data, as fio's do by default (filled here, off the JS thread).
  if (!uses(spec_, kWrite) || spec_.verify != VerifyKind::None || !spec_.buffers) return;
  size_t len = std::min<size_t>(spec_.bs[kWrite].max(), spec_.slot_stride);
  for (int i = 0; i < depth_; i++) write_data_.fill(slot_buffer(uint32_t(i)), len);
}

void JobLoop::run() {
  fill_write_buffers();
  if (spec_.wait_mode == WaitMode::Eventfd) {
    completion_fd_ = q_->completion_fd();
    q_->set_completion_fd_enabled(true);
  }
  if (spec_.startdelay_ns > 0) sleep_until(clock_ns() + spec_.startdelay_ns, false);  // before the job's clock starts
  int open_error = open_target();
  begin();
  if (open_error) stop_issuing_ = true;
  for (;;) {
    if (should_stop()) {
      stop_issuing_ = true;
      held_dir_ = -1;
      if (abandon_) break;
    }
    issue();
    if (!pending_.empty()) {
      submit();
      if (abandon_) break;
    }
    size_t outstanding = size_t(depth_) - free_.size();
    if (outstanding == 0) {
      if (switching_ && !stop_issuing_) {
        if (!switch_queue()) break;
        continue;
      }
      switching_ = false;  // the phase ended while draining: the next one switches on time
      if (held_dir_ >= 0 && !stop_issuing_) {
        wait_for_pace();
        continue;
      }
      if (next_phase()) continue;
      break;
    }
    if (!free_.empty() && !stop_issuing_ && held_dir_ < 0 && !switching_ && !zbd_held_) continue;  // room left: keep issuing, as fio does
    int min = std::min(complete_min_, int(outstanding));
    if (!reap(min, complete_max_)) break;
  }
  if (completion_fd_ >= 0) q_->set_completion_fd_enabled(false);
  finish();
}

inline bool JobLoop::should_stop() {
  bool asked = abandon_requested_.load(std::memory_order_relaxed) || stop_.load(std::memory_order_relaxed) || any_stop_requested();
  return asked && stop_asked();
}

// should_stop() once something asked for it: what to do about it.
bool JobLoop::stop_asked() {
  if (abandon_requested_.load(std::memory_order_relaxed)) {
    abandon_ = true;
    result_.stopped = true;
    return true;
  }
  if (any_stop_requested()) {
    abandon_ = true;
    if (!result_.error) fail(ECANCELED, "the queue was removed or its Blkio destroyed during the run");
    return true;
  }
  if (stop_.load(std::memory_order_relaxed)) {
    result_.stopped = true;
    return phase_ != kVerify;  // a started read-back finishes, as in the JS loop
  }
  return false;
}

// A sink with a peer (the net sink) reaches it before the clock starts, as
// fio's net engine connects or accepts before its job's time runs. It waits
// no longer than the job could run. Returns nonzero if the job cannot go on.
int JobLoop::open_target() {
  int64_t total = spec_.runtime_ns > 0 ? spec_.ramp_ns + spec_.runtime_ns : 0;
  int64_t until = total > 0 ? clock_ns() + total : kNever;
  auto stopped = [this] {
    return stop_.load(std::memory_order_relaxed) || abandon_requested_.load(std::memory_order_relaxed) || any_stop_requested();
  };
  std::string why;
  int r = q_->open_target(until, stopped, &why);
  if (r >= 0) return 0;
  if (!stopped()) fail(-r, why);  // a stop while waiting ends the job as any stop does
  return 1;
}

void JobLoop::begin() {
  now_ = started_ = last_completion_ = clock_ns();
  ramp_end_ = run_end_ = next_sample_ = kNever;
  pacer_.begin(now_);
  if (spec_.ramp_ns > 0) {
    phase_ = kRamp;
    ramp_end_ = now_ + spec_.ramp_ns;
    cpu_start_ = cpu_usage(RUSAGE_THREAD);
    process_cpu_start_ = cpu_usage(RUSAGE_SELF);
  } else {
    start_measuring(now_);
  }
  next_tick_ = now_ + kProgressIntervalNs;
  segment_start_ = now_;
  q_->set_deadline(spec_.runtime_ns > 0 ? now_ + spec_.ramp_ns + spec_.runtime_ns : kNever);
  if (queues_.size() > 1 && spec_.switch_every_ns > 0) {
    next_switch_ = now_ + spec_.switch_every_ns;
    size_t expected = size_t(std::min<int64_t>(1 << 16, (spec_.ramp_ns + spec_.runtime_ns) / spec_.switch_every_ns + 16));
    result_.switches.reserve(expected);
    result_.segments.reserve(expected + 1);
  }
  update_next_event();
}

void JobLoop::start_measuring(int64_t now) {
  phase_ = kRun;
  measure_start_ = last_completion_ = last_sample_ = now;
  run_end_ = spec_.runtime_ns > 0 ? now + spec_.runtime_ns : kNever;
  q_->set_deadline(run_end_);
  next_sample_ = now + kSampleIntervalNs;
  issued_bytes_ = issued_ios_ = 0;
  pacer_.begin(now);
  result_.log.clear();
  for (DirectionResult& d : result_.dir) {
    d.ios = d.bytes = 0;
    d.slat.reset();
    d.clat.reset();
    d.lat.reset();
    d.bw_kib = SampleStats();
    d.iops = SampleStats();
  }
  std::fill(std::begin(segment_base_), std::end(segment_base_), 0);  // the counters restart from 0
  std::fill(std::begin(sampled_ios_), std::end(sampled_ios_), 0);
  std::fill(std::begin(sampled_bytes_), std::end(sampled_bytes_), 0);
  std::fill(std::begin(unmoved_bytes_), std::end(unmoved_bytes_), 0);
  std::fill(std::begin(result_.depth_level), std::end(result_.depth_level), 0);
  std::fill(std::begin(result_.depth_submit), std::end(result_.depth_submit), 0);
  std::fill(std::begin(result_.depth_complete), std::end(result_.depth_complete), 0);
  cpu_start_ = cpu_usage(RUSAGE_THREAD);
  process_cpu_start_ = cpu_usage(RUSAGE_SELF);
}

// The next offset of the current pass, or -1 at the end of a pass.
JOB_LOOP_STEP int64_t JobLoop::next_offset(uint32_t& len) {
  if (skip_offsets_) return skip_offsets_->next(len);
  if (dist_offsets_) return dist_offsets_->next(len);
  return offsets_.next(len);
}

JOB_LOOP_STEP int64_t JobLoop::next_run_offset(uint32_t& len) {
  if (phase_ == kRun && spec_.number_ios > 0 && issued_ios_ >= spec_.number_ios) return -1;
  bool counted = !spec_.time_based && phase_ == kRun;
  if (counted && issued_bytes_ >= spec_.io_limit) {
    if (passes_left_ == 0) return -1;
    passes_left_--;  // fio's loops: the same region again
    issued_bytes_ = 0;
    offsets_.reset();
    if (skip_offsets_) skip_offsets_->reset();
  }
  int64_t rel = next_offset(len);
  if (rel < 0) {
    // End of a pass: a size-bound job is done (or loops again), a time-based one starts over.
    if (counted && passes_left_ == 0) return -1;
    if (counted) {
      passes_left_--;
      issued_bytes_ = 0;
    }
    offsets_.reset();
    if (skip_offsets_) skip_offsets_->reset();
    rel = next_offset(len);
  }
  return rel;
}

int64_t JobLoop::next_verify_offset(uint32_t len) {
  while (verify_cursor_ < written_.size() && written_[verify_cursor_] == 0) verify_cursor_++;
  if (verify_cursor_ >= written_.size()) return -1;
  uint64_t rel = verify_cursor_++ * len;
  return rel + len <= spec_.region_len ? int64_t(rel) : -1;
}

// rate, rate_iops, thinktime: holds dir back when it may not go yet.
bool JobLoop::paced(uint8_t dir) {
  int64_t now = clock_ns();
  int64_t ready = pacer_.ready_at(dir);
  if (ready <= now) return false;
  held_dir_ = dir;
  paced_until_ = ready;
  return true;
}

// issue() for a job with one direction and one block size and none of
// pacing, zones or verify (every plain benchmark job): the same requests,
// without the checks for what the job does not use.
JOB_LOOP_STEP void JobLoop::issue_plain() {
  const uint8_t dir = spec_.single_dir;
  const uint32_t size = spec_.bs[dir].size[0];
  while (!free_.empty() && !stop_issuing_ && !switching_) {
    uint32_t len = size;
    int64_t rel = next_run_offset(len);
    if (rel < 0) {
      stop_issuing_ = true;
      break;
    }
    uint32_t index = free_.back();
    free_.pop_back();
    start_request(index, dir, len, uint64_t(rel));
    issued_bytes_ += len;
    issued_ios_++;
    pending_.push_back(index);
    if (pending_.size() >= size_t(spec_.batch_submit)) break;
  }
}

JOB_LOOP_STEP void JobLoop::issue() {
  if (plain_) return issue_plain();
  while (!free_.empty() && !stop_issuing_ && !switching_) {
    bool verifying = phase_ == kVerify;
    uint8_t dir;
    uint32_t len;
    int64_t rel;
    if (zbd_held_ && !verifying) {
      if (free_.size() < size_t(depth_)) break;  // held until everything in flight has completed
      dir = zbd_dir_;
      len = zbd_len_;
      rel = int64_t(zbd_rel_);
    } else {
      dir = held_dir_ >= 0 ? uint8_t(held_dir_)
            : verifying ? uint8_t(kRead)
            : spec_.mixed ? (mix_rng_.below(100) < uint64_t(spec_.read_percent) ? uint8_t(kRead) : uint8_t(kWrite))
                          : spec_.single_dir;
      // zonemode=zbd, as fio: a mixed job writes until there is something to read.
      if (zones_ && !verifying && dir == kRead && !zones_->reads_possible()) dir = kWrite;
      if (pacer_.active() && !verifying && paced(dir)) break;
      held_dir_ = -1;
      const BlockSizes& sizes = spec_.bs[dir];
      int size_index = sizes.pick(size_rng_);
      len = sizes.size[size_index];
      rel = verifying ? next_verify_offset(len) : next_run_offset(len);
      if (rel < 0 && !sizes.fixed() && !verifying && !stop_issuing_) {
        // Variable block sizes: as fio, finish the region with a smaller size that still fits.
        for (int i = 0; i < sizes.count && rel < 0; i++) {
          if (sizes.size[i] >= len) continue;
          len = sizes.size[i];
          rel = next_run_offset(len);
        }
      }
      if (rel < 0) {
        stop_issuing_ = true;
        break;
      }
    }
    if (zones_ && !verifying) {
      uint64_t placed = uint64_t(rel);
      if (!place_in_zones(dir, placed, len)) break;
      rel = int64_t(placed);
    }
    uint32_t index = free_.back();
    free_.pop_back();
    start_request(index, dir, len, uint64_t(rel));
    issued_bytes_ += len;
    issued_ios_++;
    if (pacer_.active()) pacer_.issued(dir, len, clock_ns());
    pending_.push_back(index);
    if (pending_.size() >= size_t(spec_.batch_submit)) break;
  }
}

// zonemode=zbd: moves the drawn request to where the zones take it; false
// when it cannot go yet (held), or the job has nowhere left to go.
bool JobLoop::place_in_zones(uint8_t dir, uint64_t& rel, uint32_t& len) {
  const uint64_t drawn_rel = rel;
  const uint32_t drawn_len = len;
  for (;;) {
    size_t outstanding = size_t(depth_) - free_.size();
    switch (zones_->adjust(dir, rel, len, outstanding)) {
      case ZoneTable::kAccept:
        zbd_held_ = false;
        if (!spec_.random) offsets_.seek(rel + len);  // the sequential cursor follows the write pointer, as in fio
        return true;
      case ZoneTable::kDrain:
        zbd_held_ = true;
        zbd_dir_ = dir;
        zbd_rel_ = drawn_rel;
        zbd_len_ = drawn_len;
        return false;
      case ZoneTable::kReset:
        if (!reset_zone(zones_->reset_zone())) {
          zbd_held_ = false;
          return false;
        }
        zones_->reset_done(zones_->reset_zone());
        continue;
      case ZoneTable::kEof:
        zbd_held_ = false;
        stop_issuing_ = true;
        return false;
      case ZoneTable::kFail:
        zbd_held_ = false;
        fail(zones_->error(), "zonemode=zbd: " + zones_->message());
        return false;
    }
  }
}

// Resets one zone on the device and waits for it (nothing else is in flight).
bool JobLoop::reset_zone(uint32_t zone) {
  if (spec_.zbd.emulated) return true;
  uint64_t offset = spec_.region_start + uint64_t(zone) * spec_.zbd.zone_size;
  q_->zone_management(RequestType::ZoneReset, offset, reinterpret_cast<void*>(uintptr_t(UINT32_MAX)));
  int r = 0;
  while (r == 0) {
    timespec slice{0, long(kWaitSliceNs)};
    r = q_->do_io(comps_.data(), 1, 1, &slice);
    if (r == -ETIME) r = 0;
    if (r == 0 && (q_->stop_requested() || abandon_requested_.load(std::memory_order_relaxed))) {
      abandon_ = true;
      fail(ECANCELED, "the run was stopped during a zone reset");
      return false;
    }
  }
  if (r < 0) {
    fail(-r, std::string("do_io failed: ") + last_error_message());
    abandon_ = true;
    return false;
  }
  if (comps_[0].ret < 0) {
    char what[96];
    snprintf(what, sizeof what, "reset of the zone at offset %" PRIu64 " failed: ", offset);
    fail(-comps_[0].ret, std::string(what) + (comps_[0].error_msg ? comps_[0].error_msg : strerror(-comps_[0].ret)));
    return false;
  }
  return true;
}

JOB_LOOP_STEP void JobLoop::start_request(uint32_t index, uint8_t dir, uint32_t len, uint64_t rel) {
  Slot& s = slots_[index];
  s.offset = spec_.region_start + rel;
  s.len = len;
  s.dir = dir;
  s.start_ns = now_;
  uint8_t* buf = slot_buffer(index);
  void* user_data = reinterpret_cast<void*>(uintptr_t(index));
  if (result_.trace.size() < spec_.trace_limit) result_.trace.push_back({s.offset, len, dir, uint8_t(phase_)});
  if (dir == kTrim) {
    if (spec_.write_zeroes_on_trim) q_->write_zeroes(s.offset, len, user_data);
    else q_->discard(s.offset, len, user_data);
    return;
  }
  if (dir == kWrite && buf) {
    if (spec_.verify != VerifyKind::None) {
      fill_verify_block(buf, len, s.offset, verify_format_, verify_seed_);
      if (rel / len < written_.size()) written_[rel / len] = 1;
    } else if (write_data_.per_request()) {
      write_data_.fill(buf, len);
    }
    if (spec_.stamp_writes && len >= sizeof s.offset) std::memcpy(buf, &s.offset, sizeof s.offset);
  }
  if (spec_.vectored) {
    s.iov = {buf, len};
    if (dir == kRead) q_->readv(s.offset, &s.iov, 1, user_data);
    else q_->writev(s.offset, &s.iov, 1, user_data);
  } else if (dir == kRead) {
    q_->read(s.offset, buf, len, user_data, spec_.region_slot);
  } else {
    q_->write(s.offset, buf, len, user_data, spec_.region_slot);
  }
}

JOB_LOOP_STEP void JobLoop::submit() {
  int r = q_->do_io(nullptr, 0, 0, nullptr);
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

// Waits until at least min completions are in (n so far), by the job's wait mode.
int JobLoop::wait_completions(int n, int min, int max) {
  while (n >= 0 && n < min) {
    int r;
    if (spec_.wait_mode == WaitMode::Loop) {
      r = q_->do_io(comps_.data() + n, 0, max - n, nullptr);
    } else if (spec_.wait_mode == WaitMode::Eventfd) {
      pollfd p{completion_fd_, POLLIN, 0};
      int ready = poll(&p, 1, int(kWaitSliceNs / 1000000));
      if (ready > 0) {
        uint64_t count;
        while (read(completion_fd_, &count, sizeof count) < 0 && errno == EINTR) {
        }
      }
      // Reset the fd before draining (libblkio's contract), then take what is there.
      r = q_->do_io(comps_.data() + n, 0, max - n, nullptr);
    } else {
      timespec slice{0, long(kWaitSliceNs)};
      r = q_->do_io(comps_.data() + n, min - n, max - n, &slice);
      if (r == -ETIME) r = 0;
    }
    if (r < 0) return r;
    n += r;
    if (r == 0 && should_stop() && abandon_) break;
    if (r == 0 && stop_.load(std::memory_order_relaxed)) q_->give_up();  // a sink waiting on a peer lets go
  }
  return n;
}

JOB_LOOP_STEP bool JobLoop::reap(int min, int max) {
  int n = q_->do_io(comps_.data(), 0, max, nullptr);  // what is ready: no syscall
  if (n >= 0 && n < min) n = wait_completions(n, min, max);
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

// A measured request: fio's slat, clat and lat (their sum).
JOB_LOOP_STEP void JobLoop::count_completion(const Slot& s, int64_t now) {
  DirectionResult& d = result_.dir[s.dir];
  d.ios++;
  if (moves_data_) d.bytes += s.len;
  else unmoved_bytes_[s.dir] += s.len;  // not the job's bytes, but its bandwidth samples count them
  uint64_t slat = uint64_t(s.submitted_ns - s.start_ns), clat = uint64_t(now - s.submitted_ns);
  if (spec_.measure_slat) d.slat.add(slat);
  if (spec_.measure_clat) d.clat.add(clat);
  if (spec_.measure_lat) d.lat.add(slat + clat);
}

JOB_LOOP_STEP void JobLoop::complete(int n, int64_t now) {
  const Completion* comps = comps_.data();
  if (phase_ == kRun && !zones_ && !spec_.log_samples && !verify_reads_) {
    // The common case, with the checks for what the job does not use hoisted out of the loop.
    for (int i = 0; i < n; i++) {
      const Completion& c = comps[i];
      auto index = uint32_t(reinterpret_cast<uintptr_t>(c.user_data));
      const Slot& s = slots_[index];
      if (c.ret < 0) request_failed(s, c);
      else count_completion(s, now);
      free_.push_back(index);
    }
    return;
  }
  for (int i = 0; i < n; i++) {
    const Completion& c = comps[i];
    auto index = uint32_t(reinterpret_cast<uintptr_t>(c.user_data));
    const Slot& s = slots_[index];
    // zonemode=zbd: a write that reached its zone's end closes the zone, as fio's accounting does.
    if (zones_ && s.dir == kWrite && phase_ != kVerify) zones_->write_completed(s.offset - spec_.region_start, s.len);
    if (c.ret < 0) {
      request_failed(s, c);
    } else if (phase_ == kVerify) {
      check_read(s, slot_buffer(index));  // the read-back after a write job: checked, not counted as the job's I/O
    } else {
      if (phase_ == kRun) {
        count_completion(s, now);
        if (spec_.log_samples)
          result_.log.push_back({now - measure_start_, uint64_t(s.submitted_ns - s.start_ns), uint64_t(now - s.submitted_ns), s.offset, s.len, s.dir});
      }
      if (verify_reads_ && s.dir == kRead) check_read(s, slot_buffer(index));
    }
    free_.push_back(index);
  }
}

void JobLoop::check_read(const Slot& s, uint8_t* buf) {
  result_.verified_blocks++;
  char why[256];
  if (check_verify_block(buf, s.len, s.offset, verify_format_, why, sizeof why)) return;
  if (!result_.error) fail(kEilseq, why);
}

void JobLoop::request_failed(const Slot& s, const Completion& c) {
  if (q_->ended()) {
    stop_issuing_ = true;  // the peer is done (or the time ran out): the job ends, without an error
    held_dir_ = -1;
    return;
  }
  if (spec_.continue_on_error & (1u << s.dir)) {
    result_.ignored_errors++;  // continue_on_error: counted, and the job goes on
    return;
  }
  if (!result_.error) {
    char what[96];
    snprintf(what, sizeof what, "%s of %u bytes at offset %" PRIu64 " failed: ", kDirNames[s.dir], s.len, s.offset);
    fail(-c.ret, std::string(what) + (c.error_msg ? c.error_msg : strerror(-c.ret)));
  }
  stop_issuing_ = true;
}

// Sleeps (or spins, for thinktime_spin) until the pacer lets the held request go.
void JobLoop::wait_for_pace() {
  int64_t now = clock_ns();
  sleep_until(std::min(paced_until_, next_event_), pacer_.spinning(now));
  now_ = clock_ns();  // the paced request's slat starts when the pause ends
  if (now_ >= next_event_) time_events(now_);
}

void JobLoop::sleep_until(int64_t until, bool spin) {
  for (;;) {
    int64_t now = clock_ns();
    if (now >= until) return;
    if (stop_.load(std::memory_order_relaxed) || abandon_requested_.load(std::memory_order_relaxed) || any_stop_requested())
      return;
    if (spin) continue;  // busy, as fio's thinktime_spin
    int64_t ns = std::min(until - now, kWaitSliceNs);
    timespec ts{time_t(ns / 1000000000), long(ns % 1000000000)};
    nanosleep(&ts, nullptr);
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
    held_dir_ = -1;
  }
  if (now >= next_switch_ && !switching_) {
    switching_ = true;  // stop issuing; once drained, run() moves to the next queue
    switch_started_ = now;
    next_switch_ = kNever;
  }
  if (now >= next_sample_) {
    double secs = double(now - last_sample_) / 1e9;
    for (int d = 0; d < 3; d++) {
      if (result_.dir[d].ios == 0) continue;
      DirectionResult& r = result_.dir[d];
      uint64_t bytes = r.bytes + unmoved_bytes_[d];
      r.bw_kib.add(double(bytes - sampled_bytes_[d]) / 1024 / secs);
      r.iops.add(double(r.ios - sampled_ios_[d]) / secs);
      sampled_bytes_[d] = bytes;
      sampled_ios_[d] = r.ios;
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

void JobLoop::update_next_event() { next_event_ = std::min({ramp_end_, run_end_, next_sample_, next_tick_, next_switch_}); }

inline bool JobLoop::any_stop_requested() const {
  for (const Target& t : queues_)
    if (t.queue->stop_requested()) return true;
  return false;
}

// Nothing is in flight on the old queue: flush it (so every write it
// acknowledged is on the image whichever backend serves it next), then go on
// with the next queue. The job's state (offsets, verify marks, pacing,
// counters) is the loop's own and carries over as it is.
bool JobLoop::switch_queue() {
  switching_ = false;
  if ((uses(spec_, kWrite) || uses(spec_, kTrim)) && !flush_before_switch()) return false;
  int64_t now = clock_ns();
  close_segment(now);
  if (completion_fd_ >= 0) q_->set_completion_fd_enabled(false);
  size_t from = current_;
  current_ = (current_ + 1) % queues_.size();
  q_ = queues_[current_].queue;
  spec_.region_slot = queues_[current_].region_slot;
  if (completion_fd_ >= 0) {
    completion_fd_ = q_->completion_fd();
    q_->set_completion_fd_enabled(true);
  }
  now_ = clock_ns();
  result_.switches.push_back({switch_started_ - started_, now_ - switch_started_, uint8_t(from), uint8_t(current_)});
  segment_start_ = now_;
  next_switch_ = now_ + spec_.switch_every_ns;
  update_next_event();
  return true;
}

bool JobLoop::flush_before_switch() {
  void* const tag = reinterpret_cast<void*>(~uintptr_t(0));
  q_->flush(tag);
  for (;;) {
    timespec slice{0, long(kWaitSliceNs)};
    int r = q_->do_io(comps_.data(), 1, 1, &slice);
    if (r == -ETIME || r == 0) {
      if (should_stop() && abandon_) return false;
      continue;
    }
    if (r < 0) {
      fail(-r, std::string("do_io failed while flushing before a switch: ") + last_error_message());
      abandon_ = true;
      return false;
    }
    const Completion& c = comps_[0];
    if (c.user_data != tag) {  // cannot happen: nothing else was outstanding
      fail(EIO, "an unexpected completion came while flushing before a switch");
      return false;
    }
    if (c.ret < 0) {
      fail(-c.ret, std::string("flush before a switch failed: ") + (c.error_msg ? c.error_msg : strerror(-c.ret)));
      return false;
    }
    return true;
  }
}

// Ends the stretch on the current queue: what completed there since it began.
void JobLoop::close_segment(int64_t now) {
  if (queues_.size() < 2) return;
  uint64_t totals[3] = {};
  for (const DirectionResult& d : result_.dir) {
    totals[0] += d.ios;
    totals[1] += d.bytes;
    totals[2] += d.lat.sum;
  }
  result_.segments.push_back({uint8_t(current_), segment_start_ - started_, now - started_, totals[0] - segment_base_[0],
                              totals[1] - segment_base_[1], totals[2] - segment_base_[2]});
  std::copy(std::begin(totals), std::end(totals), std::begin(segment_base_));
}

void JobLoop::publish_progress(int64_t now) {
  if (!progress_) return;
  double fraction = 1;
  if (phase_ != kDone && phase_ != kVerify) {
    double total_ns = double(spec_.ramp_ns + spec_.runtime_ns);
    double by_time = spec_.runtime_ns > 0 ? double(now - started_) / total_ns : 0;
    double by_bytes = phase_ == kRamp || spec_.time_based ? 0 : double(issued_bytes_) / double(std::max<uint64_t>(1, spec_.io_limit));
    fraction = std::min(1.0, std::max(by_time, by_bytes));
  }
  store(&progress_[0], phase_);
  store(&progress_[1], fraction);
  for (int d = 0; d < 3; d++) {
    store(&progress_[2 + d], double(result_.dir[d].bytes));
    store(&progress_[5 + d], double(result_.dir[d].ios));
  }
}

bool JobLoop::next_phase() {
  if (!stop_issuing_) return true;  // nothing outstanding yet: keep issuing
  if (phase_ == kRamp && !result_.error && !result_.stopped) {
    // Ran out of work during ramp time: measure what is left from here.
    start_measuring(clock_ns());
    stop_issuing_ = false;
    return true;
  }
  if (phase_ == kRun && !written_.empty() && !result_.error && !abandon_) {
    // A verifying write job reads back what it wrote (not measured).
    run_ended_ = last_completion_;
    phase_ = kVerify;
    stop_issuing_ = false;
    zbd_held_ = false;
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

// rate_min: a direction that did I/O below its minimum bandwidth fails the job, as in fio.
void JobLoop::check_rate_min() {
  if (result_.error || result_.runtime_ns <= 0) return;
  for (int d = 0; d < 3; d++) {
    uint64_t min = spec_.rate_min[d], bytes = result_.dir[d].bytes;
    if (min == 0 || bytes == 0) continue;
    double bw = double(bytes) / (double(result_.runtime_ns) / 1e9);
    if (bw < double(min)) {
      char what[160];
      snprintf(what, sizeof what, "%s: min rate %" PRIu64 " B/s not met, got %" PRIu64 " B/s", kDirNames[d], min, uint64_t(bw));
      fail(EIO, what);
      return;
    }
  }
}

void JobLoop::finish() {
  q_->close_target();
  int64_t end = clock_ns();
  auto since = [](const CpuUsage& now, const CpuUsage& start) {
    return CpuUsage{now.usr_ns - start.usr_ns, now.sys_ns - start.sys_ns, now.ctx - start.ctx, now.majf - start.majf,
                    now.minf - start.minf};
  };
  result_.cpu = since(cpu_usage(RUSAGE_THREAD), cpu_start_);
  result_.process_cpu = since(cpu_usage(RUSAGE_SELF), process_cpu_start_);
  int64_t run_end = run_ended_ >= 0 ? run_ended_ : last_completion_;
  result_.runtime_ns = phase_ == kRun || phase_ == kVerify ? std::max<int64_t>(0, run_end - measure_start_) : 0;
  result_.elapsed_ns = end - started_;
  result_.left_in_flight = q_->outstanding();
  result_.dropped_reads = q_->dropped_reads();
  if (zones_) result_.zone_resets = zones_->resets();
  close_segment(end);
  check_rate_min();
  phase_ = kDone;
  publish_progress(end);
}

}  // namespace blkio::bench
