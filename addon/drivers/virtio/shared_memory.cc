#include "shared_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "../../core/errors.h"

namespace blkio::virtio {

int SharedMemory::create(const char* name, size_t len) {
  release();
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  len = (len + page - 1) / page * page;
  int fd = memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return fail(errno, "memfd_create failed: %s", strerror(errno));
  if (ftruncate(fd, off_t(len)) < 0) {
    int e = errno;
    close(fd);
    return fail(e, "ftruncate of the virtqueue memory failed: %s", strerror(e));
  }
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(fd);
    return fail(e, "mmap of the virtqueue memory failed: %s", strerror(e));
  }
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
