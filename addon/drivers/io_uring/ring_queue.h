// What every io_uring-based queue shares (io_uring, nvme-io_uring): the ring,
// its completion eventfd and fixed file, the count of SQEs whose CQE is not
// reaped, and the submit/wait, reap and drain loops. A driver's queue adds
// how a request becomes an SQE and what its CQE means.
#pragma once

#include <cstdint>

#include "../../core/driver.h"
#include "ring.h"

namespace blkio {

class RingQueue : public QueueDriver {
 public:
  ~RingQueue() override;

  int submit(unsigned wait_for, const Deadline& deadline) override;
  int reap(Finished* out, int max) override;
  int completion_fd() const override { return poll_ ? -1 : eventfd_; }
  void set_completion_fd_enabled(bool enabled) override { ring_.set_eventfd_enabled(enabled); }

 protected:
  explicit RingQueue(bool poll) : poll_(poll) {}

  // After ring_.init: the completion eventfd (not on poll queues) and fd as
  // fixed file 0 where the kernel allows.
  int attach_eventfd_and_file(int fd);
  // An SQE for one more request, or nullptr while the ring or the CQ is full.
  io_uring_sqe* claim_sqe() {
    if (in_kernel_ >= ring_.cq_entries()) return nullptr;  // never overflow the CQ
    io_uring_sqe* sqe = ring_.next_sqe();
    if (sqe) in_kernel_++;
    return sqe;
  }
  // reap() with the driver's finish passed in, so that a driver can have its
  // common case inlined (finish(req, res, &msg) returns the outcome). One
  // store of the CQ head for the whole batch.
  template <class Finish>
  int reap_with(Finished* out, int max, Finish&& finish) {
    unsigned ready = ring_.cq_ready();
    unsigned seen = 0;
    int n = 0;
    while (seen < ready && n < max) {
      const io_uring_cqe& cqe = ring_.cqe(seen++);
      if (cqe.user_data == kInternalTag) continue;
      in_kernel_--;
      auto* req = reinterpret_cast<Request*>(cqe.user_data);
      const char* msg = nullptr;
      int ret = finish(req, cqe.res, &msg);
      out[n++] = Finished{req, ret, msg};
    }
    if (seen) ring_.advance(seen);
    return n;
  }
  // The part of every request's SQE that names the target and the request:
  // fixed file 0 where registered, else fd.
  void address_sqe(io_uring_sqe* sqe, int fd, const Request* req) const {
    if (fixed_file_) {
      sqe->fd = 0;
      sqe->flags = IOSQE_FIXED_FILE;
    } else {
      sqe->fd = fd;
    }
    sqe->user_data = reinterpret_cast<uint64_t>(req);
  }
  // io_uring_enter for submit(), retried on EINTR; 0 or a failure.
  int enter(unsigned wait_for, unsigned flags, const Deadline& deadline);
  // Waits (bounded) until every SQE handed out has its CQE, so no request
  // touches its buffer after the caller frees it.
  void drain();
  // A request's CQE arrived: its result for the completion, or kResubmit.
  virtual int finish(Request* req, int res, const char** error_msg) = 0;

  static constexpr uint64_t kInternalTag = 0;  // CQEs of the queue's own SQEs (cancels)

  bool poll_;
  Ring ring_;
  int eventfd_ = -1;
  bool fixed_file_ = false;
  unsigned in_kernel_ = 0;  // SQEs handed out whose CQE is not reaped
};

}  // namespace blkio
