// libblkio's "io_uring" driver: regular files and block devices through one
// io_uring per queue, with the file and mapped memory regions registered
// (fixed file, fixed buffers).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../../core/driver.h"
#include "target.h"

namespace blkio {

class UringQueue;

class IoUringDriver : public Driver {
 public:
  ~IoUringDriver() override;
  void add_properties(PropertyTable& table) override;
  int connect(DeviceInfo* info, bool* read_only) override;
  int start(int num_queues, int num_poll_queues, bool read_only) override;
  int create_queue(bool poll, int index, std::unique_ptr<QueueDriver>* out) override;
  bool can_add_queues() const override { return true; }
  int current_capacity(uint64_t* capacity) override { return target_size(target_, capacity); }
  int map_region(int slot, const MemRegion& region) override;
  void unmap_region(int slot, const MemRegion& region) override;

  // Queues tell the driver when they come and go, so mappings reach them all.
  void forget(UringQueue* q);

 private:
  std::string path_;
  int32_t fd_ = -1;
  bool direct_ = false;
  int32_t num_entries_ = 128;
  UringTarget target_;
  std::vector<UringQueue*> live_queues_;
  std::vector<std::pair<int, MemRegion>> mapped_;
};

}  // namespace blkio
