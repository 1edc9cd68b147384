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

bool have_sse42() {
  static const bool yes = __builtin_cpu_supports("sse4.2");
  return yes;
}
#endif

}  // namespace

uint32_t crc32c(const uint8_t* data, size_t len, uint32_t crc) {
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (have_sse42()) return ~crc_sse42(c, data, len);
#endif
  return ~crc_table(c, data, len);
}

}  // namespace blkio::bench
