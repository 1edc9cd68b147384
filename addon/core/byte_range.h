// Byte ranges [start, start + len) compared without computing start + len,
// which wraps for ranges ending at or past the top of the address space.
#pragma once

#include <cstdint>

namespace blkio {

// True when start + len stays below 2^64 (the end is representable).
inline bool range_fits(uint64_t start, uint64_t len) { return len <= UINT64_MAX - start; }

// True when two non-empty ranges share at least one byte.
inline bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len) {
  if (a_len == 0 || b_len == 0) return false;
  return a >= b ? a - b < b_len : b - a < a_len;
}

}  // namespace blkio
