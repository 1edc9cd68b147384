// A libblkio queue (blkioq): request validation, the request and completion
// backlogs, and do_io, on top of a driver's QueueDriver.
#pragma once

#include <sys/uio.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

#include "driver.h"
#include "fifo.h"
#include "region_table.h"

namespace blkio {

// What a queue needs to know about its device; owned by Blkio.
struct QueueContext {
  const DeviceInfo* info;
  // The current capacity (info->capacity is the one seen at connect): the
  // control thread updates it when "capacity" is read while queues check
  // requests against it.
  const std::atomic<uint64_t>* capacity;
  const bool* read_only;
  const RegionTable* regions;
};

class Queue {
 public:
  Queue(const QueueContext& ctx, std::unique_ptr<QueueDriver> driver, bool poll);
  ~Queue();

  bool is_poll() const { return poll_; }
  // False once the queue was removed or its Blkio destroyed.
  bool alive() const { return driver_ != nullptr; }
  // Stops the device from using request memory and releases the driver.
  // Waits for a thread inside the queue's use (see use_mutex).
  void shutdown();
  // The same, for a caller that holds use_mutex.
  void shutdown_claimed();
  // Held by a binding for the whole of each call that uses the queue, so
  // that another thread removing it waits for the call or gets EBUSY
  // instead of freeing the driver under it.
  std::mutex& use_mutex() { return use_mutex_; }

  // Request submission never fails here: errors come back as completions.
  // region_hint is the mapped-region slot the caller believes holds buf (-1: unknown).
  void read(uint64_t start, void* buf, size_t len, void* user_data, uint32_t flags, int region_hint = -1);
  void write(uint64_t start, const void* buf, size_t len, void* user_data, uint32_t flags, int region_hint = -1);
  void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data, uint32_t flags);
  void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data, uint32_t flags);
  void write_zeroes(uint64_t start, uint64_t len, void* user_data, uint32_t flags);
  void discard(uint64_t start, uint64_t len, void* user_data, uint32_t flags);
  void flush(void* user_data, uint32_t flags);
  // Zoned devices: the completion's ret is the number of zones written to
  // zones (report) or 0; a device without zones fails them with ENOTSUP.
  void report_zones(uint64_t offset, Zone* zones, uint32_t nr_zones, void* user_data, uint32_t flags);
  // type is one of ZoneOpen..ZoneReset (offset: the zone's start) or
  // ZoneOpenAll..ZoneResetAll (offset ignored).
  void zone_management(RequestType type, uint64_t offset, void* user_data, uint32_t flags);
  // A request that fails before reaching the device (e.g. its buffer went
  // away before submission): completes with ret and msg, in order.
  void fail_request(void* user_data, int ret, const char* msg);

  // libblkio's blkioq_do_io: timeout (nullable) is in/out, always updated.
  int do_io(Completion* out, int min, int max, timespec* timeout);
  // Puts n completions taken from do_io back in front of the others, in
  // order, and signals the completion fd: a caller whose wait was cut short
  // after reaping loses nothing (blkioq_do_io_interruptible).
  void unfill(const Completion* out, int n);

  int completion_fd() const { return driver_->completion_fd(); }
  void set_completion_fd_enabled(bool on) { driver_->set_completion_fd_enabled(on); }

  // Moving requests to another device (docs/switching.md). While quiesced,
  // new requests are validated and kept in the queue instead of reaching
  // the device; do_io still completes the requests the device holds (and
  // their further steps: short transfers, the flush of a FUA write).
  // Lifting it gives the kept requests to the device at the next do_io.
  void set_quiesced(bool on) { quiesced_ = on; }
  bool quiesced() const { return quiesced_; }
  // Requests the device holds (accepted by the driver, not yet reaped).
  size_t in_flight() const { return in_flight_; }
  // Removes up to max of the requests that never reached the device, oldest
  // first, and writes their user_data to out: no completion comes for them,
  // so the caller can submit them elsewhere. Returns how many.
  int take_unsubmitted(void** out, int max);

  // Requests enqueued and not yet returned by do_io.
  size_t outstanding() const { return in_flight_ + backlog_.size() + completed_.size(); }

  // A job loop (addon/bench) drives the queue from a thread of its own: it
  // claims the queue for the whole run (false if claimed already or shut
  // down) and releases it when it no longer touches the queue. shutdown()
  // asks it to stop and waits for the release, so the driver never goes away
  // under it; other users check claimed() and keep off.
  bool claim();
  void release_claim();
  bool claimed() const { return claimed_.load(std::memory_order_acquire); }
  bool stop_requested() const { return stop_requested_.load(std::memory_order_relaxed); }

 private:
  // Requests come from the pool and go back to it (no allocation once it has grown).
  Request* acquire() {
    if (free_.empty()) return grow_pool();
    Request* r = free_.back();
    free_.pop_back();
    return r;
  }
  void release(Request* req) { free_.push_back(req); }
  Request* grow_pool();
  bool plainly_valid_read_write(const Request& req) const;
  int poll_now(Completion* out, int max);
  int do_io_waiting(Completion* out, int min, int max, timespec* timeout);
  void submit_new(Request* req, int region_hint);
  void vectored(RequestType type, uint64_t start, const iovec* iov, int iovcnt, void* user_data, uint32_t flags);
  const char* validate(const Request& req, int* err) const;
  const char* validate_zone_request(const Request& req, int* err) const;
  void complete_now(Request* req, int ret, const char* msg);
  void feed_driver();
  int reap_into(Completion* out, int max);
  unsigned wait_count(unsigned wanted) const;

  std::mutex use_mutex_;
  QueueContext ctx_;
  std::unique_ptr<QueueDriver> driver_;
  bool poll_;
  std::vector<std::unique_ptr<Request>> pool_;
  std::vector<Request*> free_;
  Fifo<Request*> backlog_;        // validated, waiting for room in the driver
  Fifo<Completion> completed_;    // finished, not yet returned by do_io
  size_t in_flight_ = 0;          // held by the driver
  std::unique_ptr<Finished[]> reaped_;  // scratch for reap (only grows)
  size_t reaped_capacity_ = 0;
  std::mutex claim_mutex_;
  std::condition_variable claim_released_;
  std::atomic<bool> claimed_{false};
  std::atomic<bool> stop_requested_{false};
  bool quiesced_ = false;
  uint64_t request_alignment_mask_;  // see alignment_mask() in queue.cc
  uint64_t buf_alignment_mask_;
};

}  // namespace blkio
