#include "crc32c.h"

#include <cstring>

namespace blkio::bench {

namespace {

struct Table {
  uint32_t t[256];
  Table() {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;  // reflected polynomial
      t[i] = c;
    }
  }
};

uint32_t crc_table(uint32_t c, const uint8_t* p, size_t n) {
  static const Table table;
  for (size_t i = 0; i < n; i++) c = table.t[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t crc_sse42(uint32_t c, const uint8_t* p, size_t n) {
  uint64_t c64 = c;
  for (; n >= 8; n -= 8, p += 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    c64 = __builtin_ia32_crc32di(c64, w);
  }
  uint32_t c32 = uint32_t(c64);
  for (; n > 0; n--, p++) c32 = __builtin_ia32_crc32qi(c32, *p);
  return c32;
}

// The crc32 instruction has a latency of 3 cycles and a throughput of 1: three
// independent streams over three chunks of kChunk bytes keep it busy. The
// chunks' registers are joined by shifting one over the kChunk zero bytes that
// follow it, a linear map of the register applied with four table lookups.
constexpr size_t kChunk = 1344;  // 3 x 1344 = 4032: one round covers a 4 KiB block's payload

struct ShiftTables {
  uint32_t t[4][256];
  ShiftTables() {
    static const uint8_t zeros[kChunk] = {};
    uint32_t basis[32];
    for (int i = 0; i < 32; i++) basis[i] = crc_sse42(1u << i, zeros, kChunk);
    for (int k = 0; k < 4; k++)
      for (int b = 0; b < 256; b++) {
        uint32_t v = 0;
        for (int j = 0; j < 8; j++)
          if (b & (1 << j)) v ^= basis[8 * k + j];
        t[k][b] = v;
      }
  }
  uint32_t shift(uint32_t c) const { return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24]; }
};

__attribute__((target("sse4.2"))) uint32_t crc_sse42_3way(uint32_t c, const uint8_t* p, size_t n) {
  static const ShiftTables tables;
  while (n >= 3 * kChunk) {
    uint64_t a = c, b = 0, d = 0;
    for (size_t i = 0; i < kChunk; i += 8) {
      uint64_t wa, wb, wd;
      std::memcpy(&wa, p + i, 8);
      std::memcpy(&wb, p + kChunk + i, 8);
      std::memcpy(&wd, p + 2 * kChunk + i, 8);
      a = __builtin_ia32_crc32di(a, wa);
      b = __builtin_ia32_crc32di(b, wb);
      d = __builtin_ia32_crc32di(d, wd);
    }
    c = tables.shift(tables.shift(uint32_t(a)) ^ uint32_t(b)) ^ uint32_t(d);
    p += 3 * kChunk;
    n -= 3 * kChunk;
  }
  return crc_sse42(c, p, n);
}

bool have_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t len, uint32_t crc) {
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_sse42()) return ~crc_sse42_3way(c, data, len);
#endif
  return ~crc_table(c, data, len);
}

}  // namespace blkio::bench
