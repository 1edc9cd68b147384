// Where the next request goes, as blkbench's JS loop decides it (same PRNG
// and seeding, so randrepeat gives the same offsets on both loops): a
// sequential cursor, pure random positions (norandommap), or fio's default
// random map (every block once per pass, in random order).
#pragma once

#include <cstdint>
#include <vector>

namespace blkio::bench {

// xoshiro128** seeded through splitmix64, one stream per (seed, job, purpose).
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
  // Uniform in [0, n); n may exceed 2^32.
  uint64_t below(uint64_t n) {
    if (n <= (uint64_t(1) << 32)) return (uint64_t(next_u32()) * n) >> 32;
    uint64_t hi = next_u32() >> 5, lo = next_u32() >> 6;
    double f = double(hi * 67108864 + lo) / 9007199254740992.0;
    return uint64_t(f * double(n));
  }

 private:
  static uint32_t rotl(uint32_t x, int k) { return (x << k) | (x >> (32 - k)); }
  uint32_t a_, b_, c_, d_;
};

class OffsetGenerator {
 public:
  enum class Kind { Sequential, PureRandom, RandomMap };
  OffsetGenerator(Kind kind, uint64_t region_len, uint32_t unit, Prng rng);
  // Offset within the region for a request of len bytes, or -1 when this
  // pass over the region is complete (reset() starts another).
  int64_t next(uint32_t len);
  void reset();

 private:
  uint64_t find_free(uint64_t from);
  void take(uint64_t block);

  Kind kind_;
  uint64_t region_len_;
  uint32_t unit_;
  Prng rng_;
  uint64_t pos_ = 0;           // sequential
  uint64_t blocks_ = 0;        // random map
  uint64_t done_ = 0;
  std::vector<uint32_t> words_;       // one bit per block, 1 = done this pass
  std::vector<uint32_t> full_words_;  // one bit per word of words_, 1 = all done
};

}  // namespace blkio::bench
