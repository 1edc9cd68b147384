// The virtio-pci (modern) transport over VFIO: the virtio capabilities found
// in PCI config space, the common and device config structures in BARs,
// queue notifications as stores to the mapped notify BAR (or, where VFIO
// cannot map it, as ioeventfds on the kick eventfds), MSI-X vectors wired to
// the call eventfds. The VFIO plumbing (container, group, DMA maps, IOVAs)
// is vfio_device.cc.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "vfio_device.h"
#include "virtio_transport.h"

namespace blkio::virtio {

// "virtio-blk-vfio-pci": path is the device's sysfs directory
// (/sys/bus/pci/devices/0000:00:04.0) or its group's /dev/vfio/N.
extern const VirtioTransportType kVfioPciTransport;

class VfioPciTransport : public VirtioTransport {
 public:
  static int open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out);
  // Resets the device (it stops DMA); the VfioDevice then releases the rest.
  ~VfioPciTransport() override;

  uint64_t device_features() const override { return features_; }
  int set_features(uint64_t features) override;
  int read_config(uint8_t* buf, size_t len, size_t* got) override;
  unsigned max_queues() const override { return num_queues_; }
  unsigned max_queue_size() const override { return queue_size_max_; }
  uint64_t max_mem_regions() const override { return vfio_.dma_entries(); }
  uint64_t mem_region_alignment() const override { return vfio_.iova_page(); }
  bool needs_mem_region_fd() const override { return false; }
  int map_memory(void* addr, size_t len, int fd, int64_t fd_offset, uint64_t* device_addr) override;
  void unmap_memory(void* addr, size_t len, uint64_t device_addr) override;
  int setup_vring(const VringSetup& vring) override;
  volatile uint16_t* doorbell(unsigned index) const override {
    return index < doorbells_.size() ? doorbells_[index] : nullptr;
  }
  int driver_ok() override;
  // A PCI device does not go away like a daemon; a failed one shows as
  // DEVICE_NEEDS_RESET, which requests then see as timeouts.
  void watch_disconnect(std::vector<int>) override {}
  bool disconnected() const override { return false; }
  // The engine gave up on the device (a corrupt used ring): reset it, so it
  // stops touching our memory.
  void abandon() override;
  const char* disconnect_message() const override { return "virtio-blk PCI device failed"; }

 private:
  struct Structure {  // a virtio structure in a BAR
    int bar = -1;
    uint32_t offset = 0;
    uint32_t length = 0;
  };

  VfioPciTransport() = default;
  int find_structures();
  int reset_to_driver();
  int structure(bool write, const Structure& s, uint64_t offset, void* buf, size_t len);
  template <typename T>
  T common_read(uint64_t offset);
  template <typename T>
  void common_write(uint64_t offset, T value);
  int add_status(uint8_t bits, const char* step);
  void set_failed();
  const char* name() const { return vfio_.name().c_str(); }

  VfioDevice vfio_;
  Structure common_, notify_, device_cfg_;
  uint32_t notify_multiplier_ = 0;
  uint64_t features_ = 0;
  unsigned num_queues_ = 0;
  unsigned queue_size_max_ = 0;
  std::vector<int> call_fds_;                   // by virtqueue index
  std::vector<volatile uint16_t*> doorbells_;  // by virtqueue index; null: kick through the eventfd
};

}  // namespace blkio::virtio
