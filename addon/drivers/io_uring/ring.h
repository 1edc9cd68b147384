// A minimal io_uring ring on the raw syscalls and the kernel's uapi header
// (no liburing: a fresh machine lacks it). One ring per queue, one thread.
#pragma once

#include <linux/io_uring.h>
#include <time.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace blkio {

class Ring {
 public:
  Ring() = default;
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring();

  // Returns 0 or -errno.
  int init(unsigned entries, unsigned setup_flags);
  int fd() const { return fd_; }
  unsigned cq_entries() const { return cq_entries_; }
  bool has_feature(unsigned f) const { return (features_ & f) != 0; }

  // A zeroed SQE to fill, or nullptr when the submission queue is full.
  // With IORING_SETUP_SQE128 it is 128 bytes long (the uring_cmd area).
  // Inline: one per request.
  io_uring_sqe* next_sqe() {
    if (sqe_tail_ - sq_head_seen_ >= sq_entries_) {
      // Looks full: the kernel may have consumed some since the head was last read.
      sq_head_seen_ = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
      if (sqe_tail_ - sq_head_seen_ >= sq_entries_) return nullptr;
    }
    io_uring_sqe* sqe = &sqes_[(sqe_tail_ & sq_mask_) << sqe_shift_];
    sqe_tail_++;
    // Constant sizes, so that the compiler zeroes with a few wide stores.
    if (sqe_shift_) memset(static_cast<void*>(sqe), 0, 2 * sizeof *sqe);
    else memset(static_cast<void*>(sqe), 0, sizeof *sqe);
    return sqe;
  }
  // SQEs filled and not yet consumed by the kernel.
  unsigned unsubmitted() const { return sqe_tail_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE); }

  // io_uring_enter for everything filled; min_complete/timeout as the
  // syscall (timeout needs IORING_FEAT_EXT_ARG). Returns >= 0 or -errno.
  int enter(unsigned min_complete, unsigned flags, const timespec* timeout);

  // Completions wait as task work for this thread's next system call
  // (IORING_SETUP_COOP_TASKRUN): a reap that makes none must make one.
  bool task_work_pending() const {
    return sq_flags_ && (__atomic_load_n(sq_flags_, __ATOMIC_RELAXED) & IORING_SQ_TASKRUN) != 0;
  }

  unsigned cq_ready() const {
    return __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE) - *cq_head_;
  }
  // The i-th ready CQE (i < cq_ready()); then advance(n) to release n.
  // With IORING_SETUP_CQE32 each entry is two io_uring_cqe long (big_cqe[]).
  const io_uring_cqe& cqe(unsigned i) const { return cqes_[((*cq_head_ + i) & cq_mask_) << cqe_shift_]; }
  void advance(unsigned n) { __atomic_store_n(cq_head_, *cq_head_ + n, __ATOMIC_RELEASE); }

  // Sets or clears IORING_CQ_EVENTFD_DISABLED.
  void set_eventfd_enabled(bool on);

  int register_op(unsigned opcode, const void* arg, unsigned nr_args);

 private:
  int fd_ = -1;
  unsigned features_ = 0;
  void* sq_ring_ = nullptr;
  size_t sq_ring_size_ = 0;
  void* cq_ring_ = nullptr;
  size_t cq_ring_size_ = 0;
  io_uring_sqe* sqes_ = nullptr;
  size_t sqes_size_ = 0;
  unsigned sq_entries_ = 0, sq_mask_ = 0;
  unsigned* sq_head_ = nullptr;
  unsigned* sq_tail_ = nullptr;
  unsigned* sq_flags_ = nullptr;  // with IORING_SETUP_TASKRUN_FLAG
  unsigned sqe_tail_ = 0;  // local tail, published in enter()
  unsigned sq_head_seen_ = 0;  // the kernel's head when last read (it only moves on)
  unsigned sqe_shift_ = 0;  // 1 with IORING_SETUP_SQE128
  unsigned cqe_shift_ = 0;  // 1 with IORING_SETUP_CQE32
  unsigned cq_entries_ = 0, cq_mask_ = 0;
  unsigned* cq_head_ = nullptr;
  unsigned* cq_tail_ = nullptr;
  unsigned* cq_flags_ = nullptr;
  io_uring_cqe* cqes_ = nullptr;
};

}  // namespace blkio
