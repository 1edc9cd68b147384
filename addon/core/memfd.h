// Memory backed by a memfd and mapped MAP_SHARED: what every transport can
// share (vhost-user backends map the fd, VDUSE needs shared file memory).
#pragma once

#include <cstddef>

namespace blkio {

// Creates a memfd of len bytes (zeroed) and maps it read/write, shared.
// Returns 0 or fail(...) naming `what` (e.g. "memory region").
int map_memfd(const char* name, size_t len, const char* what, void** addr, int* fd);

}  // namespace blkio
