// One io_uring driver queue: a ring, its eventfd, registered file and buffers.
#pragma once

#include <cstdint>
#include <vector>

#include "../../core/driver.h"
#include "ring.h"
#include "target.h"

namespace blkio {

class IoUringDriver;

class UringQueue : public QueueDriver {
 public:
  UringQueue(IoUringDriver* owner, const UringTarget& target, bool poll);
  ~UringQueue() override;
  int init(unsigned entries);

  int enqueue(Request* req, const char** error_msg) override;
  int submit(unsigned wait_for, const Deadline& deadline) override;
  int reap(Finished* out, int max) override;
  int completion_fd() const override { return poll_ ? -1 : eventfd_; }
  void set_completion_fd_enabled(bool enabled) override { ring_.set_eventfd_enabled(enabled); }
  void quiesce(unsigned in_flight) override;

  void register_buffer(int slot, const void* addr, size_t len);
  void unregister_buffer(int slot);

 private:
  void prepare(Request* req, io_uring_sqe* sqe);
  int finish(Request* req, int res, const char** error_msg);

  IoUringDriver* owner_;
  UringTarget target_;
  bool poll_;
  Ring ring_;
  int eventfd_ = -1;
  bool fixed_file_ = false;
  std::vector<bool> fixed_buffer_;  // slot registered in this ring
  unsigned in_kernel_ = 0;          // SQEs handed out whose CQE is not reaped
};

}  // namespace blkio
