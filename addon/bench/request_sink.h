// Where a job loop's requests go. A QueueSink hands them to a libblkio queue
// of this addon; blkbench's NullSink (null_sink.h) completes them without a
// target, as fio's null engine does. The loop's accounting (clock points,
// histograms, offsets) is the same for both: only the sink differs.
#pragma once

#include <sys/uio.h>
#include <time.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "../core/queue.h"

namespace blkio::bench {

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  // Request submission never fails here: errors come back as completions.
  virtual void read(uint64_t start, void* buf, size_t len, void* user_data, int region_hint) = 0;
  virtual void write(uint64_t start, const void* buf, size_t len, void* user_data, int region_hint) = 0;
  virtual void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) = 0;
  virtual void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) = 0;
  virtual void write_zeroes(uint64_t start, uint64_t len, void* user_data) = 0;
  virtual void discard(uint64_t start, uint64_t len, void* user_data) = 0;
  virtual void flush(void* user_data) = 0;
  virtual void zone_management(RequestType type, uint64_t offset, void* user_data) = 0;
  // libblkio's blkioq_do_io.
  virtual int do_io(Completion* out, int min, int max, timespec* timeout) = 0;
  virtual size_t outstanding() const = 0;
  virtual bool stop_requested() const = 0;
  virtual int completion_fd() const = 0;
  virtual void set_completion_fd_enabled(bool on) = 0;
  // False for a sink whose requests move no data (fio's FIO_NOIO engines):
  // the loop counts them, but not their bytes.
  virtual bool moves_data() const { return true; }

  // A sink with a peer to reach first (blkbench's net sink; a queue has
  // none). open_target runs on the loop's thread before the job's clock
  // starts and waits at most until until_ns (CLOCK_MONOTONIC, INT64_MAX: no
  // limit) while stopped() is false: 0, or -errno with the reason in *why.
  virtual int open_target(int64_t /*until_ns*/, const std::function<bool()>& /*stopped*/, std::string* /*why*/) { return 0; }
  // When the job's time runs out: requests still waiting then are given up.
  virtual void set_deadline(int64_t /*ns*/) {}
  // The job was stopped while requests wait: give them up at the next do_io.
  virtual void give_up() {}
  // True once the peer ended the exchange (or the sink gave up its requests):
  // the requests it fails from then on are not the job's errors, and the job ends.
  virtual bool ended() const { return false; }
  // The job is over (on the loop's thread): tell the peer, close the connection.
  virtual void close_target() {}
  // Reads the peer sent that never arrived (fio's drop_ios: UDP datagrams lost).
  virtual uint64_t dropped_reads() const { return 0; }
};

// A core queue of this addon's drivers (the caller holds its claim).
class QueueSink final : public RequestSink {
 public:
  explicit QueueSink(Queue& q) : q_(q) {}
  void read(uint64_t start, void* buf, size_t len, void* user_data, int region_hint) override {
    q_.read(start, buf, len, user_data, 0, region_hint);
  }
  void write(uint64_t start, const void* buf, size_t len, void* user_data, int region_hint) override {
    q_.write(start, buf, len, user_data, 0, region_hint);
  }
  void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override { q_.readv(start, iov, iovcnt, user_data, 0); }
  void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override { q_.writev(start, iov, iovcnt, user_data, 0); }
  void write_zeroes(uint64_t start, uint64_t len, void* user_data) override { q_.write_zeroes(start, len, user_data, 0); }
  void discard(uint64_t start, uint64_t len, void* user_data) override { q_.discard(start, len, user_data, 0); }
  void flush(void* user_data) override { q_.flush(user_data, 0); }
  void zone_management(RequestType type, uint64_t offset, void* user_data) override { q_.zone_management(type, offset, user_data, 0); }
  int do_io(Completion* out, int min, int max, timespec* timeout) override { return q_.do_io(out, min, max, timeout); }
  size_t outstanding() const override { return q_.outstanding(); }
  bool stop_requested() const override { return q_.stop_requested(); }
  int completion_fd() const override { return q_.completion_fd(); }
  void set_completion_fd_enabled(bool on) override { q_.set_completion_fd_enabled(on); }

 private:
  Queue& q_;
};

}  // namespace blkio::bench
