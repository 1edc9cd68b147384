// Driver names, as libblkio spells them.
#include <cerrno>
#include <cstring>

#include "../core/driver.h"
#include "../core/errors.h"
#include "io_uring/io_uring_driver.h"

namespace blkio {

int create_driver(const char* name, std::unique_ptr<Driver>* out) {
  if (strcmp(name, "io_uring") == 0) {
    *out = std::make_unique<IoUringDriver>();
    return 0;
  }
  return fail(ENOENT, "Unknown driver name '%s'", name);
}

}  // namespace blkio
