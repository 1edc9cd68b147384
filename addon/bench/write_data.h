// What write requests carry, as src/blkbench/write-data.ts: random data by
// default, zeroes (zero_buffers), the tail of every buffer_compress_chunk
// zeroed for buffer_compress_percentage, new data per write (refill_buffers),
// and dedupe_percentage of writes repeating the buffer's previous contents.
#pragma once

#include <cstddef>
#include <cstdint>

#include "prng.h"

namespace blkio::bench {

struct WriteDataSpec {
  bool zero = false;
  bool refill = false;
  int compress_percentage = 0;
  uint32_t compress_chunk = 512;
  int dedupe_percentage = 0;
};

class WriteData {
 public:
  WriteData(const WriteDataSpec& s, Prng rng) : s_(s), rng_(rng) {}
  // Whether writes need new contents per request; else buffers are filled once.
  bool per_request() const { return !s_.zero && (s_.refill || s_.dedupe_percentage > 0); }
  void fill(uint8_t* buf, size_t len);

 private:
  WriteDataSpec s_;
  Prng rng_;
};

}  // namespace blkio::bench
