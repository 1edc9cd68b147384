// blkbench's PRNG, bit for bit the same as src/blkbench/random.ts: xoshiro128**
// seeded through splitmix64, one stream per (seed, job, purpose). Every draw
// that decides what a request is (direction, size, offset) is integer
// arithmetic, so both job loops issue the same sequence for a seed.
#pragma once

#include <cstdint>

namespace blkio::bench {

class Prng {
 public:
  Prng(uint64_t seed, uint32_t job, uint32_t purpose);
  uint32_t next_u32() {
    uint32_t result = rotl(b_ * 5, 7) * 9;
    uint32_t t = b_ << 9;
    c_ ^= a_;
    d_ ^= b_;
    b_ ^= c_;
    a_ ^= d_;
    c_ ^= t;
    d_ = rotl(d_, 11);
    return result;
  }
  // Uniform in [0, n): the high half of a multiply by n (32 random bits up to
  // 2^32, 64 above: the first draw is the high word).
  uint64_t below(uint64_t n) {
    if (n <= (uint64_t(1) << 32)) return (uint64_t(next_u32()) * n) >> 32;
    uint64_t hi = next_u32();
    uint64_t r = (hi << 32) | next_u32();
    return uint64_t(((unsigned __int128)r * n) >> 64);
  }
  // Uniform in [0, 1) with 53 random bits (shapes of distributions only).
  double next_double() {
    uint32_t hi = next_u32() >> 5, lo = next_u32() >> 6;
    return (double(hi) * 67108864.0 + double(lo)) / 9007199254740992.0;
  }

 private:
  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t a_, b_, c_, d_;
};

}  // namespace blkio::bench
