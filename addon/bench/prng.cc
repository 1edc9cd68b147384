#include "prng.h"

#include <initializer_list>

namespace blkio::bench {

namespace {

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

// Mix each stream number in, then draw two 64-bit words for the four 32-bit
// state words.
Prng::Prng(uint64_t seed, uint32_t job, uint32_t purpose) {
  uint64_t s = seed;
  for (uint32_t x : {job, purpose}) {
    uint64_t t = s ^ x;
    s = splitmix64(&t);
  }
  uint64_t w0 = splitmix64(&s), w1 = splitmix64(&s);
  a_ = uint32_t(w0), b_ = uint32_t(w0 >> 32), c_ = uint32_t(w1), d_ = uint32_t(w1 >> 32);
  if ((a_ | b_ | c_ | d_) == 0) a_ = 1;
}

}  // namespace blkio::bench
