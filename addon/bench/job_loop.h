// blkbench's job loop in plain C++ (no N-API): drives one core Queue from
// its own thread with fio's semantics and clock points, so that nothing per
// request crosses into JS. One clock read after each submission (slat ends,
// clat starts) and one after each reap (clat and lat end; the next requests'
// start time); no allocation after construction.
//
// What a request is (direction, size, offset) is drawn exactly as
// src/blkbench/loop.ts draws it, from the same PRNG streams, so that both
// loops issue the same sequence for a seed (the trace records it).
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../core/queue.h"
#include "block_sizes.h"
#include "distribution_offsets.h"
#include "latency.h"
#include "offsets.h"
#include "pacer.h"
#include "request_sink.h"
#include "slot_stack.h"
#include "verify.h"
#include "write_data.h"
#include "zbd.h"

namespace blkio::bench {

enum Direction : uint8_t { kRead = 0, kWrite = 1, kTrim = 2 };
enum class WaitMode : uint8_t { Block, Loop, Eventfd };

struct JobLoopSpec {
  // Directions: mixed read/write by read_percent, or one direction.
  bool mixed = false;
  int read_percent = 100;
  uint8_t single_dir = kRead;
  bool random = false;
  bool random_map = true;  // false: norandommap
  BlockSizes bs[3];
  uint32_t blockalign = 0;  // 0: the smallest block size in use
  int64_t seq_add = 0;      // rw=read:N
  DistributionSpec distribution;
  int iodepth = 1;
  int batch_submit = 1;
  int complete_min = 1;
  int complete_max = 1;
  uint64_t region_start = 0;
  uint64_t region_len = 0;
  uint64_t io_limit = 0;  // bytes per pass of the run phase unless time_based
  uint64_t loops = 1;
  uint64_t number_ios = 0;  // 0: no limit
  bool time_based = false;
  int64_t runtime_ns = 0;  // 0: no time limit
  int64_t ramp_ns = 0;
  int64_t startdelay_ns = 0;
  WaitMode wait_mode = WaitMode::Block;
  uint64_t seed = 0;
  uint32_t job_index = 0;
  VerifyKind verify = VerifyKind::None;
  uint32_t verify_interval = 0;        // a verify header every this many bytes (0: one per block)
  std::vector<uint8_t> verify_pattern;  // the payload (empty: pseudo-random)
  bool do_verify = true;                // false: a verifying write job does not read its blocks back
  WriteDataSpec write_data;
  PaceSpec pace;
  uint64_t rate_min[3] = {};
  uint8_t continue_on_error = 0;  // bit per direction whose request errors are counted and passed over
  bool vectored = false;
  bool write_zeroes_on_trim = false;
  // Writes carry their own device offset in their first 8 bytes, so a
  // reader can check every block landed where it was sent.
  bool stamp_writes = false;
  // Record the first trace_limit requests issued (test mode).
  size_t trace_limit = 0;
  // Keep every measured completion for fio's per-job logs (write_lat_log and
  // the others; blkbench writes the files from them).
  bool log_samples = false;
  // fio's disable_slat / disable_clat / disable_lat: that latency is not measured.
  bool measure_slat = true, measure_clat = true, measure_lat = true;
  // fio's zonemode=zbd (zbd.enabled): requests go where the zones take them.
  ZbdSpec zbd;
  // Switching (docs/switching.md): with switch targets added, the loop moves
  // to the next queue every switch_every_ns (drain, flush, swap, resume).
  int64_t switch_every_ns = 0;
  // Request buffers: iodepth slots of slot_stride bytes in a mapped region.
  uint8_t* buffers = nullptr;
  size_t slot_stride = 0;
  int region_slot = -1;
};

// Live counters, laid out as blkbench's progress slot (8 doubles): phase,
// fraction done, bytes read/written/trimmed, requests read/written/trimmed.
constexpr int kProgressFields = 8;
enum Phase { kSetup = 0, kRamp = 1, kRun = 2, kVerify = 3, kDone = 4 };

struct DirectionResult {
  uint64_t ios = 0, bytes = 0;
  LatencyStats slat, clat, lat;
  SampleStats bw_kib, iops;
};

struct CpuUsage {
  int64_t usr_ns = 0, sys_ns = 0, ctx = 0, majf = 0, minf = 0;
};

struct TraceEntry {
  uint64_t offset;
  uint32_t len;
  uint8_t dir;
  uint8_t phase;
};

// One measured completion for the logs: when (ns after the measured start),
// what, and its latencies.
struct LogSample {
  int64_t t_ns;
  uint64_t slat_ns, clat_ns, offset;
  uint32_t len;
  uint8_t dir;
};

// One switch: when it began (ns after the loop's start), how long no
// request was issued (drain, flush, swap), and the queues it went between.
struct SwitchRecord {
  int64_t at_ns;
  int64_t pause_ns;
  uint8_t from, to;
};

// A stretch on one queue between switches, with what completed there in the
// measured phase (lat_sum_ns: the sum of fio's lat over those requests).
struct PathSegment {
  uint8_t path;
  int64_t start_ns, end_ns;
  uint64_t ios, bytes, lat_sum_ns;
};

struct JobLoopResult {
  DirectionResult dir[3];
  uint64_t depth_level[7] = {}, depth_submit[7] = {}, depth_complete[7] = {};
  int64_t runtime_ns = 0, elapsed_ns = 0;
  CpuUsage cpu;          // the loop's own thread
  CpuUsage process_cpu;  // the whole process (with io_uring's io-wq workers)
  int error = 0;  // positive errno, as fio reports it
  std::string error_message;
  uint64_t verified_blocks = 0;
  uint64_t ignored_errors = 0;
  uint64_t zone_resets = 0;
  uint64_t dropped_reads = 0;  // reads the peer sent that never arrived (UDP)
  std::vector<TraceEntry> trace;
  std::vector<LogSample> log;
  // Requests still held by the queue when the loop ended (after a failure or
  // a shutdown): their buffers must stay mapped.
  size_t left_in_flight = 0;
  bool stopped = false;
  std::vector<SwitchRecord> switches;
  std::vector<PathSegment> segments;  // only when the job switches
};

class JobLoop {
 public:
  // progress: kProgressFields doubles (may be null), written about every 100 ms.
  JobLoop(Queue& queue, const JobLoopSpec& spec, double* progress);
  // The same over another sink (blkbench's null sink). Without buffers
  // (spec.buffers null) no data is prepared or checked: verify must be off.
  JobLoop(std::unique_ptr<RequestSink> sink, const JobLoopSpec& spec, double* progress);
  // Another queue over the same image (a second backend), with the loop's
  // buffers mapped there at region_slot. The caller holds its claim too.
  void add_switch_target(Queue& queue, int region_slot);
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
    iovec iov;  // libblkio_vectored: the request's one-element vector
  };

  void fill_write_buffers();
  bool place_in_zones(uint8_t dir, uint64_t& rel, uint32_t& len);
  bool reset_zone(uint32_t zone);
  int open_target();
  void begin();
  void start_measuring(int64_t now);
  void issue();
  void issue_plain();
  bool paced(uint8_t dir);
  int64_t next_offset(uint32_t& len);
  int64_t next_run_offset(uint32_t& len);
  int64_t next_verify_offset(uint32_t len);
  void start_request(uint32_t index, uint8_t dir, uint32_t len, uint64_t rel);
  void submit();
  bool reap(int min, int max);
  int wait_completions(int n, int min, int max);
  void complete(int n, int64_t now);
  void count_completion(const Slot& s, int64_t now);
  void check_read(const Slot& s, uint8_t* buf);
  void request_failed(const Slot& s, const Completion& c);
  void wait_for_pace();
  void sleep_until(int64_t until, bool spin);
  void time_events(int64_t now);
  void update_next_event();
  void publish_progress(int64_t now);
  bool next_phase();
  void fail(int err, std::string msg);
  bool switch_queue();
  bool flush_before_switch();
  void close_segment(int64_t now);
  bool any_stop_requested() const;
  bool should_stop();
  bool stop_asked();
  void check_rate_min();
  void finish();
  uint8_t* slot_buffer(uint32_t index) { return spec_.buffers ? spec_.buffers + size_t(index) * spec_.slot_stride : nullptr; }

  struct Target {
    RequestSink* queue;
    int region_slot;
  };
  std::vector<std::unique_ptr<RequestSink>> sinks_;  // what queues_ points to
  RequestSink* q_;  // the sink in use: queues_[current_]
  bool moves_data_ = true;  // false: requests are counted, their bytes are not (ioengine=cpuio)
  std::vector<Target> queues_;
  size_t current_ = 0;
  bool switching_ = false;  // drain, then move to the next queue
  int64_t switch_started_ = 0, next_switch_ = INT64_MAX, segment_start_ = 0;
  uint64_t segment_base_[3] = {};  // ios, bytes, lat sum at the segment's start
  JobLoopSpec spec_;
  double* progress_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> abandon_requested_{false};

  std::vector<Slot> slots_;
  SlotStack free_;     // slots no request uses
  SlotStack pending_;  // slots of requests prepared since the last submission
  std::vector<Completion> comps_;
  int depth_, complete_min_, complete_max_;
  uint32_t unit_;
  OffsetGenerator offsets_;
  std::unique_ptr<SkipSequentialOffsets> skip_offsets_;
  std::unique_ptr<DistributionOffsets> dist_offsets_;
  Prng mix_rng_, size_rng_;
  WriteData write_data_;
  Pacer pacer_;
  uint32_t verify_seed_;
  VerifyFormat verify_format_;  // points into spec_.verify_pattern
  bool verify_reads_;
  std::vector<uint8_t> written_;  // blocks written by a verifying write job, read back in the verify phase
  uint64_t verify_cursor_ = 0;
  int held_dir_ = -1;  // a direction drawn but held back by the pacer
  bool plain_ = false;  // issue_plain() issues this job's requests
  std::unique_ptr<ZoneTable> zones_;
  // zonemode=zbd: a request drawn but held until the requests in flight complete.
  bool zbd_held_ = false;
  uint8_t zbd_dir_ = 0;
  uint32_t zbd_len_ = 0;
  uint64_t zbd_rel_ = 0;
  int64_t paced_until_ = 0;
  int completion_fd_ = -1;  // libblkio_wait_mode=eventfd

  int phase_ = kRun;
  bool stop_issuing_ = false;
  bool abandon_ = false;  // the queue is going away: do not wait for completions
  uint64_t issued_bytes_ = 0, issued_ios_ = 0, passes_left_ = 0;
  int64_t now_ = 0;
  int64_t started_ = 0, measure_start_ = 0, last_completion_ = 0, run_ended_ = -1;
  int64_t ramp_end_, run_end_, next_sample_, next_tick_, next_event_;
  int64_t last_sample_ = 0;
  uint64_t sampled_ios_[3] = {}, sampled_bytes_[3] = {};  // the counters at the last bandwidth/IOPS sample
  uint64_t unmoved_bytes_[3] = {};  // lengths of measured requests of a sink that moves no data
  CpuUsage cpu_start_, process_cpu_start_;
  JobLoopResult result_;
};

}  // namespace blkio::bench
