// The connect prologue both io_uring drivers share: exactly one of `path` and
// `fd` is set; a path is opened with the driver's flags, a given fd is checked
// and tells its own status flags (access mode, O_DIRECT).
#pragma once

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "../../core/errors.h"

namespace blkio {

// *status_flags: the fd's F_GETFL flags, or `flags` for a path we opened.
// `wants` completes "io_uring needs ..." in the message for a directory.
inline int open_path_or_fd(const std::string& path, int fd, int flags, const char* driver, const char* wants,
                           int* out_fd, int* status_flags) {
  if (!path.empty() && fd >= 0) return fail(EINVAL, "path and fd cannot be set at the same time");
  if (path.empty() && fd < 0) return fail(EINVAL, "One of path and fd must be set");
  if (fd >= 0) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return fail(EBADF, "fd %d is not an open file descriptor", fd);
    *out_fd = fd;
    *status_flags = fl;
    return 0;
  }
  int opened = open(path.c_str(), flags | O_CLOEXEC);
  // libblkio: a target of the wrong kind is EINVAL.
  if (opened < 0 && errno == EISDIR)
    return fail(EINVAL, "'%s' is a directory; %s needs %s", path.c_str(), driver, wants);
  if (opened < 0) return fail(errno, "Failed to open '%s': %s", path.c_str(), strerror(errno));
  *out_fd = opened;
  *status_flags = flags;
  return 0;
}

}  // namespace blkio
