// libblkio's virtio-blk drivers (virtio-blk-vhost-user, and later
// virtio-blk-vhost-vdpa): feature negotiation, the config space turned into
// libblkio properties, ring memory and queues, over a VirtioTransport.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../../core/driver.h"
#include "address_map.h"
#include "shared_memory.h"
#include "virtio_blk_queue.h"
#include "virtio_transport.h"
#include "virtqueue.h"

namespace blkio::virtio {

class VirtioBlkDriver : public Driver {
 public:
  explicit VirtioBlkDriver(const VirtioTransportType& type) : type_(type) {}
  ~VirtioBlkDriver() override;

  void add_properties(PropertyTable& table) override;
  int connect(DeviceInfo* info, bool* read_only) override;
  int start(int num_queues, int num_poll_queues, bool read_only) override;
  int create_queue(bool poll, int index, std::unique_ptr<QueueDriver>* out) override;
  bool can_add_queues() const override { return false; }
  // Reads the config space's capacity field again (vhost-user GET_CONFIG,
  // VHOST_VDPA_GET_CONFIG, the PCI device config). After a disconnect the
  // size seen last stays.
  int current_capacity(uint64_t* capacity) override;
  int map_region(int slot, const MemRegion& region) override;
  void unmap_region(int slot, const MemRegion& region) override;

 private:
  struct Eventfds {
    int kick = -1;
    int call = -1;
  };

  // Turns the config space into properties; -EIO when a field is insane.
  int describe(const uint8_t* config, DeviceInfo* info);
  int set_up_rings(unsigned count);
  void tear_down_rings();

  const VirtioTransportType& type_;
  std::string path_;
  int32_t fd_ = -1;
  int32_t queue_size_ = 256;
  int32_t reconnect_timeout_ms_ = 0;  // 0: a vanished backend fails requests at once

  std::unique_ptr<VirtioTransport> transport_;
  uint64_t features_ = 0;  // negotiated
  BlkQueueParams params_;
  AddressMap addresses_;
  DeviceFault fault_;

  VirtqueueLayout layout_;
  SharedMemory rings_;
  uint64_t rings_device_ = 0;
  bool rings_mapped_ = false;
  std::vector<Eventfds> eventfds_;  // per virtqueue: regular queues, then poll queues
  QueueTable queues_;                // for re-offering requests after a reconnect
  int num_queues_ = 0;
};

}  // namespace blkio::virtio
