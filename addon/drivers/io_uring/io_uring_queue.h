// One io_uring driver queue: a ring, its eventfd, registered file and buffers.
#pragma once

#include <cstdint>
#include <vector>

#include "../../core/driver.h"
#include "ring_queue.h"
#include "target.h"
#include "zone_worker.h"

namespace blkio {

class IoUringDriver;

class UringQueue : public RingQueue {
 public:
  UringQueue(IoUringDriver* owner, const UringTarget& target, bool poll);
  ~UringQueue() override;
  int init(unsigned entries);

  int enqueue(Request* req, const char** error_msg) override;
  int reap(Finished* out, int max) override;
  void quiesce(unsigned in_flight) override;

  void register_buffer(int slot, const void* addr, size_t len);
  void unregister_buffer(int slot);

 private:
  void prepare(Request* req, io_uring_sqe* sqe);
  void prepare_read_write(Request* req, io_uring_sqe* sqe);
  int enqueue_zone_request(Request* req, const char** error_msg);
  int finish_zone_request(Request* req, int res, const char** error_msg);
  void close_zone_fds();
  int finish(Request* req, int res, const char** error_msg) override;

  IoUringDriver* owner_;
  UringTarget target_;
  std::vector<uint8_t> fixed_buffer_;  // slot registered in this ring (a byte each: no bit extraction per request)
  bool block_discard_cmd_ = true;    // until the kernel refuses io_uring's block discard command
  ZoneWorker zone_worker_;
  std::vector<int> zone_fds_;  // eventfds of zone requests in flight
};

}  // namespace blkio
