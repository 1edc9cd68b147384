#include "memfd.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace blkio {

int map_memfd(const char* name, size_t len, const char* what, void** addr, int* fd) {
  int f = memfd_create(name, MFD_CLOEXEC);
  if (f < 0) return fail(errno, "memfd_create for the %s failed: %s", what, strerror(errno));
  if (ftruncate(f, off_t(len)) < 0) {
    int e = errno;
    close(f);
    return fail(e, "ftruncate of the %s failed: %s", what, strerror(e));
  }
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    close(f);
    return fail(e, "mmap of the %s failed: %s", what, strerror(e));
  }
  *addr = p;
  *fd = f;
  return 0;
}

}  // namespace blkio
