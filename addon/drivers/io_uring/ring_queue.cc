#include "ring_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../../core/errors.h"

namespace blkio {

RingQueue::~RingQueue() {
  if (eventfd_ >= 0) close(eventfd_);
}

int RingQueue::attach_eventfd_and_file(int fd) {
  if (!poll_) {
    eventfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (eventfd_ < 0) return fail(errno, "eventfd failed: %s", strerror(errno));
    int r = ring_.register_op(IORING_REGISTER_EVENTFD, &eventfd_, 1);
    if (r < 0) return fail(-r, "registering the completion eventfd failed: %s", strerror(-r));
    ring_.set_eventfd_enabled(false);  // libblkio: disabled until asked for
  }
  fixed_file_ = ring_.register_op(IORING_REGISTER_FILES, &fd, 1) >= 0;
  return 0;
}

int RingQueue::submit(unsigned wait_for, const Deadline& deadline) {
  // Nothing to wait for (every submission, and a reap of what is ready):
  // enter only with new SQEs; enter() below when that fails (EINTR, ...).
  if (wait_for == 0 && !poll_) {
    // Also when completions wait as task work: entering runs it, so they are in the CQ after.
    if (ring_.unsubmitted() == 0) {
      if (!ring_.task_work_pending()) return 0;
      return ring_.enter(0, IORING_ENTER_GETEVENTS, nullptr) >= 0 ? 0 : enter(0, IORING_ENTER_GETEVENTS, deadline);
    }
    return ring_.enter(0, 0, nullptr) >= 0 ? 0 : enter(0, 0, deadline);
  }
  // Never ask the kernel for more completions than it will ever produce.
  if (wait_for > in_kernel_) wait_for = in_kernel_;
  unsigned flags = poll_ ? IORING_ENTER_GETEVENTS : 0;  // IOPOLL reaps only inside enter
  if (wait_for > 0) {
    if (!poll_ && ring_.unsubmitted() == 0 && ring_.cq_ready() >= wait_for) return 0;
    flags |= IORING_ENTER_GETEVENTS;
  }
  if (!flags && ring_.unsubmitted() == 0) return 0;
  return enter(wait_for, flags, deadline);
}

int RingQueue::enter(unsigned wait_for, unsigned flags, const Deadline& deadline) {
  bool timed = wait_for > 0 && !deadline.is_never();
  if (timed && !ring_.has_feature(IORING_FEAT_EXT_ARG))
    return fail(ENOTSUP, "do_io timeouts need Linux 5.11 or later (IORING_FEAT_EXT_ARG)");
  for (;;) {
    timespec left;
    if (timed) left = deadline.remaining();  // no clock read on the common path
    int r = ring_.enter(wait_for, flags, timed ? &left : nullptr);
    if (r >= 0) return 0;
    if (r == -ETIME) return fail(ETIME, "do_io timed out");
    if (r == -EINTR) {
      if (timed && deadline.expired()) return fail(ETIME, "do_io timed out");
      continue;
    }
    if (r == -EAGAIN || r == -EBUSY) return 0;  // completions pending: reap, then come back
    return fail(-r, "io_uring_enter failed: %s", strerror(-r));
  }
}

int RingQueue::reap(Finished* out, int max) {
  return reap_with(out, max, [this](Request* req, int res, const char** msg) { return finish(req, res, msg); });
}

void RingQueue::drain() {
  timespec wait{0, 100 * 1000 * 1000};
  Deadline give_up = Deadline::after(timespec{10, 0});
  while (in_kernel_ > 0 && !give_up.expired()) {
    int r = ring_.enter(1, IORING_ENTER_GETEVENTS, ring_.has_feature(IORING_FEAT_EXT_ARG) ? &wait : nullptr);
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) break;
    unsigned ready = ring_.cq_ready();
    for (unsigned i = 0; i < ready; i++)
      if (ring_.cqe(i).user_data != kInternalTag) in_kernel_--;
    ring_.advance(ready);
  }
}

}  // namespace blkio
