// libblkio's "nvme-io_uring" driver: an NVMe namespace through io_uring
// passthrough (IORING_OP_URING_CMD on its generic char device /dev/ngXnY),
// with the NVMe commands built here.
#pragma once

#include <memory>
#include <string>

#include "../../core/driver.h"

namespace blkio {

// What the queues need to build commands.
struct NvmeNamespace {
  int fd = -1;
  uint32_t nsid = 0;
  unsigned lba_shift = 9;          // log2 of the LBA size
  uint64_t max_chunk = 0;          // bytes per Read/Write command (MDTS, NLB, the kernel's limits)
  bool write_zeroes = false;       // ONCS: Write Zeroes
  bool dsm = false;                // ONCS: Dataset Management
  const void* zeros = nullptr;     // max_chunk zero bytes for write-zeroes fallback
  uint64_t zone_blocks = 0;        // a Zoned Namespace's zone size in blocks; 0: not zoned
};

class NvmeIoUringDriver : public Driver {
 public:
  ~NvmeIoUringDriver() override;
  void add_properties(PropertyTable& table) override;
  int connect(DeviceInfo* info, bool* read_only) override;
  int start(int num_queues, int num_poll_queues, bool read_only) override;
  int create_queue(bool poll, int index, std::unique_ptr<QueueDriver>* out) override;
  bool can_add_queues() const override { return true; }
  // Passthrough maps user memory per command: nothing to register.
  int map_region(int, const MemRegion&) override { return 0; }
  void unmap_region(int, const MemRegion&) override {}
  // Identify Namespace again: NSZE in the LBA size seen at connect.
  int current_capacity(uint64_t* capacity) override;

 private:
  int identify(DeviceInfo* info);
  void describe_zones(unsigned format, uint64_t nsze, DeviceInfo* info);

  std::string path_;
  int32_t fd_ = -1;
  int32_t num_entries_ = 128;
  NvmeNamespace ns_;
  void* zeros_ = nullptr;
  size_t zeros_len_ = 0;
};

}  // namespace blkio
