#include "ring.h"

#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>

namespace blkio {

namespace {

int sys_setup(unsigned entries, io_uring_params* p) {
  return int(syscall(__NR_io_uring_setup, entries, p));
}

int sys_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags, const void* arg, size_t argsz) {
  return int(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, arg, argsz));
}

void* map_ring(int fd, size_t size, off_t offset) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
  return p == MAP_FAILED ? nullptr : p;
}

}  // namespace

Ring::~Ring() {
  if (sqes_) munmap(sqes_, sqes_size_);
  if (cq_ring_ && cq_ring_ != sq_ring_) munmap(cq_ring_, cq_ring_size_);
  if (sq_ring_) munmap(sq_ring_, sq_ring_size_);
  if (fd_ >= 0) close(fd_);
}

int Ring::init(unsigned entries, unsigned setup_flags) {
  io_uring_params p;
  // Completions that the kernel finishes elsewhere (io-wq workers, device
  // interrupts) reach this thread as task work. Without COOP_TASKRUN each one
  // interrupts it with an IPI; with it they wait for its next system call
  // (or a sleeping thread is woken), and TASKRUN_FLAG says when some are
  // pending, so a reap without a system call knows to make one (submit()).
  // Older kernels (before 5.19) refuse the flags: then without them.
  for (unsigned coop : {unsigned(IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG), 0u}) {
    memset(&p, 0, sizeof p);
    p.flags = setup_flags | coop;
    fd_ = sys_setup(entries, &p);
    if (fd_ >= 0 || errno != EINVAL || coop == 0) break;
  }
  if (fd_ < 0) {
    fd_ = -1;
    return -errno;
  }
  features_ = p.features;
  sqe_shift_ = (setup_flags & IORING_SETUP_SQE128) ? 1 : 0;
  cqe_shift_ = (setup_flags & IORING_SETUP_CQE32) ? 1 : 0;
  sq_ring_size_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
  cq_ring_size_ = p.cq_off.cqes + (size_t(p.cq_entries) * sizeof(io_uring_cqe) << cqe_shift_);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) sq_ring_size_ = cq_ring_size_ = sq_ring_size_ > cq_ring_size_ ? sq_ring_size_ : cq_ring_size_;
  sq_ring_ = map_ring(fd_, sq_ring_size_, IORING_OFF_SQ_RING);
  if (!sq_ring_) return -errno;
  cq_ring_ = single ? sq_ring_ : map_ring(fd_, cq_ring_size_, IORING_OFF_CQ_RING);
  if (!cq_ring_) return -errno;
  sqes_size_ = size_t(p.sq_entries) * sizeof(io_uring_sqe) << sqe_shift_;
  sqes_ = static_cast<io_uring_sqe*>(map_ring(fd_, sqes_size_, IORING_OFF_SQES));
  if (!sqes_) return -errno;

  auto* sq = static_cast<char*>(sq_ring_);
  sq_head_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
  sq_tail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
  sq_entries_ = p.sq_entries;
  sq_mask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
  sq_flags_ = (p.flags & IORING_SETUP_TASKRUN_FLAG) ? reinterpret_cast<unsigned*>(sq + p.sq_off.flags) : nullptr;
  // SQEs are used in ring order, so the indirection array is the identity.
  auto* array = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
  for (unsigned i = 0; i < sq_entries_; i++) array[i] = i;
  sqe_tail_ = sq_head_seen_ = *sq_tail_;

  auto* cq = static_cast<char*>(cq_ring_);
  cq_head_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
  cq_tail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
  cq_entries_ = p.cq_entries;
  cq_mask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
  cq_flags_ = p.cq_off.flags ? reinterpret_cast<unsigned*>(cq + p.cq_off.flags) : nullptr;
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq + p.cq_off.cqes);
  return 0;
}

int Ring::enter(unsigned min_complete, unsigned flags, const timespec* timeout) {
  __atomic_store_n(sq_tail_, sqe_tail_, __ATOMIC_RELEASE);
  unsigned to_submit = unsubmitted();
  if (timeout) {
    io_uring_getevents_arg arg;
    memset(&arg, 0, sizeof arg);
    __kernel_timespec ts{timeout->tv_sec, timeout->tv_nsec};
    arg.ts = reinterpret_cast<uint64_t>(&ts);
    int r = sys_enter(fd_, to_submit, min_complete, flags | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
    return r < 0 ? -errno : r;
  }
  int r = sys_enter(fd_, to_submit, min_complete, flags, nullptr, 0);
  return r < 0 ? -errno : r;
}

void Ring::set_eventfd_enabled(bool on) {
  if (!cq_flags_) return;
  unsigned flags = __atomic_load_n(cq_flags_, __ATOMIC_RELAXED);
  flags = on ? (flags & ~IORING_CQ_EVENTFD_DISABLED) : (flags | IORING_CQ_EVENTFD_DISABLED);
  __atomic_store_n(cq_flags_, flags, __ATOMIC_RELEASE);
}

int Ring::register_op(unsigned opcode, const void* arg, unsigned nr_args) {
  int r = int(syscall(__NR_io_uring_register, fd_, opcode, arg, nr_args));
  return r < 0 ? -errno : r;
}

}  // namespace blkio
