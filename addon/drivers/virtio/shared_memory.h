// A memfd mapped MAP_SHARED: memory another process (a vhost-user backend)
// or the kernel (vhost-vdpa in VA mode) can map too, through the fd.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blkio::virtio {

class SharedMemory {
 public:
  SharedMemory() = default;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory() { release(); }

  // len is rounded up to the page size; the memory starts zeroed.
  int create(const char* name, size_t len);
  void release();

  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }
  int fd() const { return fd_; }

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;
};

}  // namespace blkio::virtio
