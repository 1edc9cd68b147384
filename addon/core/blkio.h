// A libblkio instance (struct blkio): the created → connected → started
// state machine, properties, memory regions and queues, over one Driver.
// Control operations are serialized by an internal mutex; each queue is
// used by one thread at a time (libblkio's rule).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "driver.h"
#include "properties.h"
#include "queue.h"
#include "region_table.h"

namespace blkio {

class Blkio {
 public:
  // Fails with ENOENT for an unknown driver.
  static int create(const char* driver_name, std::unique_ptr<Blkio>* out);
  ~Blkio();

  // Releases queues, mappings, regions and the device now, even if other
  // owners still hold the object; every later call fails with ENODEV.
  void shutdown();

  int connect();
  int start();
  State state() const { return state_; }
  const DeviceInfo& info() const { return info_; }

  int get(const char* name, PropType as, PropValue* out);
  int set(const char* name, PropType as, const PropValue& value);

  int alloc_mem_region(MemRegion* out, size_t len);
  int free_mem_region(const MemRegion& region);
  int map_mem_region(const MemRegion& region);
  void unmap_mem_region(const MemRegion& region);
  // Slot of the mapped region containing [addr, addr+len), or -1.
  int mapped_region_slot(const void* addr, size_t len) const { return regions_.find(addr, len); }

  // nullptr when there is no such queue.
  std::shared_ptr<Queue> get_queue(bool poll, int index);
  int add_queue(bool poll);  // returns the new index
  // EBUSY while another thread is inside the queue's doIo; before_close
  // runs once the queue is claimed, before its fds close.
  int remove_queue(bool poll, int index, const std::function<void()>& before_close = {});

 private:
  explicit Blkio(std::string driver_name, std::unique_ptr<Driver> driver);
  void add_generic_properties();
  static int destroyed_error();
  int make_queue(bool poll, int index, std::shared_ptr<Queue>* out);
  int refresh_capacity();
  std::vector<std::shared_ptr<Queue>>& queues(bool poll) { return poll ? poll_queues_ : queues_; }

  std::mutex mutex_;
  std::string driver_name_;
  std::unique_ptr<Driver> driver_;
  State state_ = State::Created;
  PropertyTable props_;
  DeviceInfo info_;
  std::atomic<uint64_t> capacity_{0};  // info_.capacity as last read from the device
  bool read_only_ = false;
  bool can_add_queues_ = false;
  int32_t num_queues_ = 1;
  int32_t num_poll_queues_ = 0;
  RegionTable regions_;
  std::vector<MemRegion> allocated_;
  std::vector<MemRegion> mapped_;
  std::vector<std::shared_ptr<Queue>> queues_;
  std::vector<std::shared_ptr<Queue>> poll_queues_;
};

}  // namespace blkio
