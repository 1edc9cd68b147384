// The vhost-vdpa transport: the kernel's /dev/vhost-vdpa-N character device
// (drivers/vhost/vdpa.c) in front of a vDPA device such as vdpa_sim_blk or a
// VDUSE device served by qemu-storage-daemon. Control is ioctls on the fd;
// memory reaches the device through IOTLB messages written to the fd, so
// descriptors and ring addresses carry IOVAs (we use IOVA = our VA whenever
// the device's IOVA range allows it).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "virtio_transport.h"

namespace blkio::virtio {

// "virtio-blk-vhost-vdpa": path is /dev/vhost-vdpa-N, or fd an open one.
extern const VirtioTransportType kVhostVdpaTransport;

class VhostVdpaTransport : public VirtioTransport {
 public:
  // VirtioTransportType::open: opens path (or adopts fd, which becomes ours
  // only on success), takes ownership of the device, checks that it is a
  // virtio-blk device and resets it to ACKNOWLEDGE|DRIVER.
  static int open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out);
  // Closing the fd makes the kernel reset the device and drop every mapping,
  // which leaves it ready for the next open.
  ~VhostVdpaTransport() override;

  uint64_t device_features() const override { return features_; }
  int set_features(uint64_t features) override;
  int read_config(uint8_t* buf, size_t len, size_t* got) override;
  unsigned max_queues() const override { return vqs_count_; }
  unsigned max_queue_size() const override { return vring_num_max_; }
  uint64_t max_mem_regions() const override;
  uint64_t mem_region_alignment() const override { return page_size_; }
  int map_memory(void* addr, size_t len, int fd, int64_t fd_offset, uint64_t* device_addr) override;
  void unmap_memory(void* addr, size_t len, uint64_t device_addr) override;
  int setup_vring(const VringSetup& vring) override;
  int driver_ok() override;
  // vhost-vdpa has no event for a vanished backend (a VDUSE daemon that
  // died): requests then simply stay in flight, and do_io's timeout bounds
  // the wait. Nothing to watch here.
  void watch_disconnect(std::vector<int>) override {}
  bool disconnected() const override { return false; }
  void own_adopted_fd() override { owns_fd_ = true; }
  const char* disconnect_message() const override { return "vhost-vdpa device failed"; }

 private:
  VhostVdpaTransport(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}
  int handshake();
  int get_status(uint8_t* status);
  // Adds bits to the device status (GET, OR, SET) and reads it back, since
  // a device may keep its old status and still return success (VDUSE when
  // its daemon refuses or does not answer).
  int add_status(uint8_t bits, const char* step);
  // Best effort, on failures after the reset: tells the device we gave up.
  void set_failed();
  // One IOTLB message (UPDATE, INVALIDATE, BATCH_BEGIN/END) on the fd.
  int iotlb(uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm);
  int update_failed(int err, void* addr, size_t len, uint64_t iova);
  // An IOVA for [addr, addr+len): addr itself when the range allows, else
  // the lowest free gap; 0 with *ok=false when none fits.
  uint64_t allocate_iova(uintptr_t addr, size_t len, bool* ok) const;
  int ioctl_failed(const char* what);

  int fd_;
  bool owns_fd_ = true;  // false for a user's fd until connect succeeds
  std::string name_;  // for messages: the path, or "fd N"
  uint64_t backend_features_ = 0;
  uint64_t features_ = 0;  // as offered
  unsigned vqs_count_ = 0;
  unsigned vring_num_max_ = 0;
  uint32_t config_size_ = 0;
  // The IOVAs the device accepts (VHOST_VDPA_GET_IOVA_RANGE), inclusive.
  uint64_t iova_first_ = 0;
  uint64_t iova_last_ = UINT64_MAX;
  uint64_t page_size_ = 4096;
  std::map<uint64_t, uint64_t> iovas_;  // mapped IOVA → length
};

}  // namespace blkio::virtio
