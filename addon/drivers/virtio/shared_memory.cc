#include "shared_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../../core/memfd.h"

namespace blkio::virtio {

int SharedMemory::create(const char* name, size_t len) {
  release();
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  len = (len + page - 1) / page * page;
  void* p;
  int fd;
  int r = map_memfd(name, len, "virtqueue memory", &p, &fd);
  if (r < 0) return r;
  base_ = static_cast<uint8_t*>(p);
  size_ = len;
  fd_ = fd;
  return 0;
}

void SharedMemory::release() {
  if (base_) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
  base_ = nullptr;
  size_ = 0;
  fd_ = -1;
}

}  // namespace blkio::virtio
