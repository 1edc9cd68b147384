// A PCI device bound to vfio-pci, alone in a type1 IOMMU container: the VFIO
// plumbing under the virtio-pci transport (vfio_pci.cc). It opens the
// container, group and device, reads and writes PCI config space and BARs
// through the device fd, maps BAR pages for doorbells, wires MSI-X vectors
// and ioeventfds to eventfds, and maps memory for DMA at IOVAs it allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "iova_allocator.h"

namespace blkio::virtio {

class VfioDevice {
 public:
  VfioDevice() = default;
  VfioDevice(const VfioDevice&) = delete;
  VfioDevice& operator=(const VfioDevice&) = delete;
  // Closing the fds drops the IRQs, ioeventfds, BAR mappings' device and DMA maps.
  ~VfioDevice();

  // name is the PCI address (0000:00:04.0); group_path its /dev/vfio/N.
  int open(const std::string& group_path, const std::string& name);
  const std::string& name() const { return name_; }

  int config(bool write, uint64_t offset, void* buf, size_t len);
  // [offset, offset+len) of BAR bar. A failure also sets io_error().
  int bar_access(bool write, int bar, uint64_t offset, void* buf, size_t len);
  uint64_t bar_size(int bar) const { return bar >= 0 && bar < 6 ? bar_size_[bar] : 0; }
  // Whether a BAR access failed since the last clear_io_error().
  bool io_error() const { return io_error_; }
  void clear_io_error() { io_error_ = false; }
  // Writes from any thread (a reset when the engine abandons the device).
  void write_bar_unlocked(int bar, uint64_t offset, const void* buf, size_t len) const;

  // The page holding [offset, offset+2) of a BAR mapped into our memory, or
  // nullptr where VFIO does not allow mapping it (the caller falls back to
  // an ioeventfd). Unmapped with the device.
  volatile uint16_t* map_doorbell(int bar, uint64_t offset);
  // A write of an eventfd makes the kernel store data (16 bits) at offset of a BAR.
  int add_ioeventfd(int bar, uint64_t offset, uint16_t data, int fd);
  uint32_t msix_count() const { return msix_count_; }
  // MSI-X vector i signals fds[i].
  int set_msix(const std::vector<int>& fds);

  uint64_t iova_page() const { return iova_page_; }
  uint64_t dma_entries() const { return dma_entries_; }
  int map_dma(void* addr, size_t len, uint64_t* iova);
  void unmap_dma(uint64_t iova);

  // fail()s with errno and what, naming the device; returns -errno.
  int failed(const char* what) const;

 private:
  int attach_container(const std::string& group_path);
  int read_iommu_info();
  int read_device_info();

  std::string name_;
  int container_ = -1;
  int group_ = -1;
  int device_ = -1;
  bool io_error_ = false;
  uint64_t config_offset_ = 0;
  uint64_t bar_offset_[6] = {};
  uint64_t bar_size_[6] = {};
  bool bar_mappable_[6] = {};
  uint32_t msix_count_ = 0;
  uint64_t iova_page_ = 4096;
  uint64_t dma_entries_ = 65535;
  IovaAllocator iovas_;
  struct Mapping {
    void* addr;
    size_t len;
  };
  std::vector<Mapping> bar_maps_;
};

}  // namespace blkio::virtio
