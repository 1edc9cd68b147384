#include "write_data.h"

#include <algorithm>
#include <cstring>

namespace blkio::bench {

void WriteData::fill(uint8_t* buf, size_t len) {
  if (s_.zero) {
    std::memset(buf, 0, len);
    return;
  }
  if (s_.dedupe_percentage > 0 && rng_.below(100) < uint64_t(s_.dedupe_percentage)) return;  // repeat
  if ((reinterpret_cast<uintptr_t>(buf) & 3) != 0) {
    for (size_t i = 0; i < len; i++) buf[i] = uint8_t(rng_.next_u32());  // unaligned: bytes, as the JS loop
  } else {
    size_t words = len / 4;
    auto* w = reinterpret_cast<uint32_t*>(buf);
    for (size_t i = 0; i < words; i++) w[i] = rng_.next_u32();
    for (size_t i = words * 4; i < len; i++) buf[i] = uint8_t(rng_.next_u32());
  }
  if (s_.compress_percentage > 0) {
    size_t chunk = std::max<uint32_t>(1, s_.compress_chunk);
    size_t zeroes = chunk * size_t(s_.compress_percentage) / 100;
    for (size_t at = 0; at < len; at += chunk) {
      size_t here = std::min(chunk, len - at);
      size_t from = at + (here > zeroes ? here - zeroes : 0);
      std::memset(buf + from, 0, at + here - from);
    }
  }
}

}  // namespace blkio::bench
