// Zone management for the io_uring driver on a zoned block device. The
// kernel offers it only as ioctls (BLKREPORTZONE, BLKRESETZONE, BLKOPENZONE,
// BLKCLOSEZONE, BLKFINISHZONE), which block: they run on a helper thread of
// the queue, never on the caller's (an event loop), and each request's end
// is signalled through an eventfd that the ring reads, so the result comes
// back through the ring's ordinary completion path.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>

#include "../../core/driver.h"

namespace blkio {

// The device facts a zone request needs.
struct ZoneTarget {
  int fd = -1;
  uint64_t capacity = 0;
  uint64_t zone_size = 0;
};

class ZoneWorker {
 public:
  explicit ZoneWorker(const ZoneTarget& target) : target_(target) {}
  ~ZoneWorker();

  // Runs req (a zone request) on the helper thread, which stores its outcome
  // in req->side_result/side_msg, then signals req->side_fd (an eventfd the
  // caller owns and closes once the ring has read it). False when the
  // helper thread cannot be started.
  bool post(Request* req);
  // Returns once no request is running; those not started are dropped (the
  // caller cancels the ring's reads of their eventfds). No request's memory
  // is touched after this returns.
  void stop_and_wait();

 private:
  void run();

  ZoneTarget target_;
  std::mutex mutex_;
  std::condition_variable wake_, idle_;
  std::deque<Request*> jobs_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

// Runs one zone request synchronously (the helper thread's body, exposed for
// testing): returns the completion's ret and sets *msg on failure.
int run_zone_request(const ZoneTarget& target, Request* req, const char** msg);

}  // namespace blkio
