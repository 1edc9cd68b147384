#include "md5.h"

#include <algorithm>
#include <cstring>

namespace blkio::bench {

namespace {

// Per-round shift amounts and the sine-derived constants K[i] = floor(2^32 * |sin(i + 1)|).
constexpr uint8_t kShift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

struct Constants {
  uint32_t k[64];
  Constants() {
    static const uint32_t values[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    std::memcpy(k, values, sizeof k);
  }
};

inline uint32_t rotl(uint32_t x, int s) { return (x << s) | (x >> (32 - s)); }

}  // namespace

Md5::Md5() : h_{0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476} {}

void Md5::block(const uint8_t* p) {
  static const Constants c;
  uint32_t m[16];
  for (int i = 0; i < 16; i++)
    m[i] = uint32_t(p[4 * i]) | uint32_t(p[4 * i + 1]) << 8 | uint32_t(p[4 * i + 2]) << 16 | uint32_t(p[4 * i + 3]) << 24;
  uint32_t a = h_[0], b = h_[1], cc = h_[2], d = h_[3];
  for (int i = 0; i < 64; i++) {
    int round = i / 16;
    uint32_t f;
    int g;
    switch (round) {
      case 0: f = (b & cc) | (~b & d); g = i; break;
      case 1: f = (d & b) | (~d & cc); g = (5 * i + 1) & 15; break;
      case 2: f = b ^ cc ^ d; g = (3 * i + 5) & 15; break;
      default: f = cc ^ (b | ~d); g = (7 * i) & 15; break;
    }
    uint32_t next = b + rotl(a + f + c.k[i] + m[g], kShift[round][i & 3]);
    a = d;
    d = cc;
    cc = b;
    b = next;
  }
  h_[0] += a;
  h_[1] += b;
  h_[2] += cc;
  h_[3] += d;
}

void Md5::update(const uint8_t* data, size_t len) {
  total_ += len;
  if (buffered_ > 0) {
    size_t take = std::min(len, 64 - buffered_);
    std::memcpy(buf_ + buffered_, data, take);
    buffered_ += take;
    data += take;
    len -= take;
    if (buffered_ < 64) return;
    block(buf_);
    buffered_ = 0;
  }
  for (; len >= 64; len -= 64, data += 64) block(data);
  std::memcpy(buf_, data, len);
  buffered_ = len;
}

void Md5::final(uint8_t digest[16]) {
  uint64_t bits = total_ * 8;
  uint8_t pad[72] = {0x80};
  size_t pad_len = (buffered_ < 56 ? 56 : 120) - buffered_;
  update(pad, pad_len);
  uint8_t len_le[8];
  for (int i = 0; i < 8; i++) len_le[i] = uint8_t(bits >> (8 * i));
  update(len_le, 8);
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) digest[4 * i + j] = uint8_t(h_[i] >> (8 * j));
}

}  // namespace blkio::bench
