// blkbench's job loop in plain C++ (no N-API): drives one core Queue from
// its own thread with fio's semantics and clock points, so that nothing per
// request crosses into JS. One clock read after each submission (slat ends,
// clat starts) and one after each reap (clat and lat end; the next requests'
// start time); no allocation after construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "../core/queue.h"
#include "latency.h"
#include "offsets.h"

namespace blkio::bench {

struct JobLoopSpec {
  // Percentage of reads: 100 read-only, 0 write-only, between: mixed.
  int read_percent = 100;
  bool random = false;
  bool random_map = true;  // false: norandommap
  uint32_t block_size[2] = {4096, 4096};  // read, write
  int iodepth = 1;
  int batch_submit = 1;
  int complete_min = 1;
  int complete_max = 1;
  uint64_t region_start = 0;
  uint64_t region_len = 0;
  uint64_t io_limit = 0;  // bytes per run phase unless time_based
  bool time_based = false;
  int64_t runtime_ns = 0;  // 0: no time limit
  int64_t ramp_ns = 0;
  bool busy_poll = false;  // libblkio_wait_mode=loop
  uint64_t seed = 0;
  uint32_t job_index = 0;
  // Writes carry their own device offset in their first 8 bytes, so a
  // reader can check every block landed where it was sent.
  bool stamp_writes = false;
  // Request buffers: iodepth slots of slot_stride bytes in a mapped region.
  uint8_t* buffers = nullptr;
  size_t slot_stride = 0;
  int region_slot = -1;
};

// Live counters, laid out as blkbench's progress slot (8 doubles): phase,
// fraction done, bytes read/written/trimmed, requests read/written/trimmed.
constexpr int kProgressFields = 8;
enum Phase { kSetup = 0, kRamp = 1, kRun = 2, kDone = 4 };

struct DirectionResult {
  uint64_t ios = 0, bytes = 0;
  LatencyStats slat, clat, lat;
  SampleStats bw_kib, iops;
};

struct CpuUsage {
  int64_t usr_ns = 0, sys_ns = 0, ctx = 0, majf = 0, minf = 0;
};

struct JobLoopResult {
  DirectionResult dir[2];
  uint64_t depth_level[7] = {}, depth_submit[7] = {}, depth_complete[7] = {};
  int64_t runtime_ns = 0, elapsed_ns = 0;
  CpuUsage cpu;          // the loop's own thread
  CpuUsage process_cpu;  // the whole process (with io_uring's io-wq workers)
  int error = 0;  // positive errno, as fio reports it
  std::string error_message;
  // Requests still held by the queue when the loop ended (after a failure or
  // a shutdown): their buffers must stay mapped.
  size_t left_in_flight = 0;
  bool stopped = false;
};

class JobLoop {
 public:
  // progress: kProgressFields doubles (may be null), written about every 100 ms.
  JobLoop(Queue& queue, const JobLoopSpec& spec, double* progress);
  // Runs to the end on the calling thread. The caller holds queue.claim().
  void run();
  // Thread-safe: stop issuing, let what is in flight complete, then return.
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  // Thread-safe: return at once, leaving requests in flight to the queue's
  // owner (its shutdown quiesces them). For an exiting environment.
  void request_abandon() { abandon_requested_.store(true, std::memory_order_relaxed); }
  const JobLoopResult& result() const { return result_; }

 private:
  struct Slot {
    uint64_t offset;
    int64_t start_ns;      // when the request was prepared
    int64_t submitted_ns;  // when its submission returned
    uint32_t len;
    uint8_t dir;
  };

  void begin();
  void start_measuring(int64_t now);
  void issue();
  int64_t next_offset(uint32_t len);
  void submit();
  bool reap(int min, int max);
  void complete(int n, int64_t now);
  void time_events(int64_t now);
  void update_next_event();
  void publish_progress(int64_t now);
  bool next_phase();
  void fail(int err, std::string msg);
  bool should_stop();
  void finish();

  Queue& q_;
  JobLoopSpec spec_;
  double* progress_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abandon_requested_{false};

  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::vector<uint32_t> pending_;
  std::vector<Completion> comps_;
  int depth_, complete_min_, complete_max_;
  OffsetGenerator offsets_;
  Prng mix_rng_;
  bool mixed_;
  uint8_t fixed_dir_;

  int phase_ = kRun;
  bool stop_issuing_ = false;
  bool abandon_ = false;  // the queue is going away: do not wait for completions
  uint64_t issued_bytes_ = 0;
  int64_t now_ = 0;
  int64_t started_ = 0, measure_start_ = 0, last_completion_ = 0;
  int64_t ramp_end_, run_end_, next_sample_, next_tick_, next_event_;
  int64_t last_sample_ = 0;
  uint64_t sample_ios_[2] = {}, sample_bytes_[2] = {};
  CpuUsage cpu_start_, process_cpu_start_;
  JobLoopResult result_;
};

}  // namespace blkio::bench
