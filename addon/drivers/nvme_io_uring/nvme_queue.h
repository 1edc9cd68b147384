// One nvme-io_uring queue: a ring with 128-byte SQEs and 32-byte CQEs
// carrying struct nvme_uring_cmd, its eventfd and the DSM range buffers.
#pragma once

#include <cstdint>
#include <vector>

#include "../../core/driver.h"
#include "../io_uring/ring.h"
#include "nvme_io_uring_driver.h"
#include "nvme_spec.h"

namespace blkio {

class NvmeQueue : public QueueDriver {
 public:
  NvmeQueue(const NvmeNamespace& ns, bool poll) : ns_(ns), poll_(poll) {}
  ~NvmeQueue() override;
  int init(unsigned entries);

  int enqueue(Request* req, const char** error_msg) override;
  int submit(unsigned wait_for, const Deadline& deadline) override;
  int reap(Finished* out, int max) override;
  int completion_fd() const override { return poll_ ? -1 : eventfd_; }
  void set_completion_fd_enabled(bool enabled) override { ring_.set_eventfd_enabled(enabled); }
  void quiesce(unsigned in_flight) override;

 private:
  void prepare(Request* req, io_uring_sqe* sqe);
  int finish(Request* req, int res, const char** error_msg);
  uint64_t chunk(const Request* req) const;

  NvmeNamespace ns_;
  bool poll_;
  Ring ring_;
  int eventfd_ = -1;
  bool fixed_file_ = false;
  unsigned in_kernel_ = 0;
  // One DSM range per request in the kernel (at most cq_entries).
  nvme::DsmRange* ranges_ = nullptr;
  std::vector<uint32_t> free_ranges_;
};

}  // namespace blkio
