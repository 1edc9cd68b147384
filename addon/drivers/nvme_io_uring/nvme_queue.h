// One nvme-io_uring queue: a ring with 128-byte SQEs and 32-byte CQEs
// carrying struct nvme_uring_cmd, its eventfd and the DSM range buffers.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "../../core/driver.h"
#include "../io_uring/ring_queue.h"
#include "nvme_io_uring_driver.h"
#include "nvme_spec.h"

namespace blkio {

class NvmeQueue : public RingQueue {
 public:
  NvmeQueue(const NvmeNamespace& ns, bool poll) : RingQueue(poll), ns_(ns) {}
  ~NvmeQueue() override;
  int init(unsigned entries);

  int enqueue(Request* req, const char** error_msg) override;
  void quiesce(unsigned in_flight) override;

 private:
  void prepare(Request* req, io_uring_sqe* sqe);
  int finish(Request* req, int res, const char** error_msg) override;
  uint64_t chunk(const Request* req) const;
  int finish_report(Request* req, const char** msg);

  NvmeNamespace ns_;
  // One DSM range per request in the kernel (at most cq_entries).
  nvme::DsmRange* ranges_ = nullptr;
  std::vector<uint32_t> free_ranges_;
  // Zone reports in flight: the device-format buffer each one reads into.
  std::unordered_map<Request*, std::vector<uint8_t>> reports_;
};

}  // namespace blkio
