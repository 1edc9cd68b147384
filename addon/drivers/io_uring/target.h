// What the io_uring driver learns about its file or block device at connect.
#pragma once

#include <string>

#include "../../core/driver.h"

namespace blkio {

struct UringTarget {
  int fd = -1;
  bool is_block_device = false;
  bool direct = false;
  bool native_write_zeroes = false;  // block device with write_zeroes_max_bytes > 0
  uint64_t capacity = 0;
  uint64_t zone_size = 0;  // bytes; 0 on a device without zones
};

// Fills info for an open fd (file or block device), as libblkio's io_uring
// driver reports them. Returns 0 or fail(...).
int describe_target(UringTarget* target, DeviceInfo* info);

// The target's size now: a regular file's st_size (grown by writes past its
// end or changed from outside), a block device's BLKGETSIZE64.
int target_size(const UringTarget& target, uint64_t* bytes);

}  // namespace blkio
