// The virtio-pci (modern) transport through VFIO: the device bound to
// vfio-pci, its group in a type1 IOMMU container, the virtio capabilities
// found in PCI config space, the common and device config structures in
// BARs (read and written through the VFIO device fd), queue notifications
// as VFIO ioeventfds on the kick eventfds, MSI-X vectors wired to the call
// eventfds, and memory mapped for DMA at IOVAs we allocate.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "virtio_transport.h"

namespace blkio::virtio {

// "virtio-blk-vfio-pci": path is the device's sysfs directory
// (/sys/bus/pci/devices/0000:00:04.0) or its group's /dev/vfio/N.
extern const VirtioTransportType kVfioPciTransport;

class VfioPciTransport : public VirtioTransport {
 public:
  static int open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out);
  // Resets the device (it stops DMA), then closing the fds drops the IRQs,
  // ioeventfds and DMA mappings.
  ~VfioPciTransport() override;

  uint64_t device_features() const override { return features_; }
  int set_features(uint64_t features) override;
  int read_config(uint8_t* buf, size_t len, size_t* got) override;
  unsigned max_queues() const override { return num_queues_; }
  unsigned max_queue_size() const override { return queue_size_max_; }
  uint64_t max_mem_regions() const override { return dma_entries_; }
  uint64_t mem_region_alignment() const override { return iova_page_; }
  bool needs_mem_region_fd() const override { return false; }
  int map_memory(void* addr, size_t len, int fd, int64_t fd_offset, uint64_t* device_addr) override;
  void unmap_memory(void* addr, size_t len, uint64_t device_addr) override;
  int setup_vring(const VringSetup& vring) override;
  int driver_ok() override;
  // A PCI device does not go away like a daemon; a failed one shows as
  // DEVICE_NEEDS_RESET, which requests then see as timeouts.
  void watch_disconnect(std::vector<int>) override {}
  bool disconnected() const override { return false; }
  // The engine gave up on the device (a corrupt used ring): reset it, so it
  // stops touching our memory. (Overrides VirtioTransport::abandon where the
  // interface has it.)
  void abandon();
  const char* disconnect_message() const override { return "virtio-blk PCI device failed"; }

 private:
  struct Structure {  // a virtio structure in a BAR
    int bar = -1;
    uint32_t offset = 0;
    uint32_t length = 0;
  };

  explicit VfioPciTransport(std::string name) : name_(std::move(name)) {}
  int attach(const std::string& group_path, const std::string& bdf);
  int find_structures();
  int reset_to_driver();
  int config_space(bool write, uint64_t offset, void* buf, size_t len);
  int bar(bool write, const Structure& s, uint64_t offset, void* buf, size_t len);
  template <typename T>
  T common_read(uint64_t offset);
  template <typename T>
  void common_write(uint64_t offset, T value);
  int add_status(uint8_t bits, const char* step);
  void set_failed();
  int failed(const char* what);
  uint64_t allocate_iova(size_t len, bool* ok) const;

  std::string name_;  // the device's PCI address, for messages
  int container_ = -1;
  int group_ = -1;
  int device_ = -1;
  bool io_error_ = false;  // a BAR access failed since the last check
  uint64_t config_offset_ = 0;
  uint64_t bar_offset_[6] = {};
  uint64_t bar_size_[6] = {};
  Structure common_, notify_, device_cfg_;
  uint32_t notify_multiplier_ = 0;
  uint32_t msix_count_ = 0;
  uint64_t features_ = 0;
  unsigned num_queues_ = 0;
  unsigned queue_size_max_ = 0;
  std::vector<int> call_fds_;  // by virtqueue index
  // IOVA space: the IOMMU's usable ranges (inclusive), and what is mapped.
  std::vector<std::pair<uint64_t, uint64_t>> iova_ranges_;
  std::map<uint64_t, uint64_t> iovas_;  // IOVA → length
  uint64_t iova_page_ = 4096;
  uint64_t dma_entries_ = 65535;
};

}  // namespace blkio::virtio
