#include "distribution_offsets.h"

#include <algorithm>
#include <cmath>

namespace blkio::bench {

namespace {

uint64_t gcd(uint64_t a, uint64_t b) {
  while (b != 0) {
    uint64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// A multiplier coprime with n near n x golden ratio: rank x m mod n is a permutation.
uint64_t coprime_multiplier(uint64_t n) {
  if (n <= 2) return 1;
  uint64_t m = uint64_t(std::floor(double(n) * 0.6180339887)) | 1;
  while (gcd(m, n) != 1) m += 2;
  return m;
}

}  // namespace

int64_t SkipSequentialOffsets::next(uint32_t len) {
  if (len > region_len_) return -1;
  int64_t off = pos_;
  if (off < 0) off = std::max<int64_t>(0, int64_t(region_len_) + add_);
  if (uint64_t(off) + len > region_len_) off = 0;
  pos_ = off + int64_t(len) + add_;
  return off;
}

DistributionOffsets::DistributionOffsets(uint64_t region_len, uint32_t unit, const DistributionSpec& spec, Prng rng)
    : blocks_(region_len / (unit ? unit : 1)), unit_(unit ? unit : 1), spec_(spec), rng_(rng) {
  multiplier_ = coprime_multiplier(blocks_);
  // Continuous zipf on [1, blocks + 1): inverse CDF of x^-theta.
  zipf_exp_ = 1 - spec.param;
  zipf_scale_ = std::pow(double(blocks_ + 1), zipf_exp_) - 1;
  zipf_inv_exp_ = 1 / zipf_exp_;  // the same double each draw divided out before
}

int64_t DistributionOffsets::next(uint32_t len) {
  uint64_t span = std::max<uint64_t>(1, (uint64_t(len) + unit_ - 1) / unit_);
  if (span > blocks_) return -1;
  if (spec_.kind == DistributionSpec::Zoned) return zoned(span);
  int64_t rank = std::min<int64_t>(int64_t(blocks_) - 1, std::max<int64_t>(0, draw_rank()));
  // rank < blocks: with blocks and multiplier below 2^32 the product fits 64 bits (one divide).
  uint64_t block = ((blocks_ | multiplier_) >> 32) == 0 ? uint64_t(rank) * multiplier_ % blocks_
                                                   : uint64_t((unsigned __int128)uint64_t(rank) * multiplier_ % blocks_);
  if (block + span > blocks_) block = blocks_ - span;
  return int64_t(block * unit_);
}

int64_t DistributionOffsets::zoned(uint64_t span) {
  double r = rng_.next_double() * 100;
  uint64_t start = 0;
  for (int i = 0; i < spec_.zones; i++) {
    uint64_t blocks = std::max<uint64_t>(1, uint64_t(std::floor(double(blocks_) * spec_.zone_size[i] / 100)));
    if (r < spec_.zone_access[i] || i == spec_.zones - 1) {
      uint64_t block = std::min(blocks_ - 1, start + rng_.below(blocks));
      if (block + span > blocks_) block = blocks_ - span;
      return int64_t(block * unit_);
    }
    r -= spec_.zone_access[i];
    start += blocks;
  }
  return 0;
}

int64_t DistributionOffsets::draw_rank() {
  double u = rng_.next_double();
  double n = double(blocks_);
  switch (spec_.kind) {
    case DistributionSpec::Zipf:
      return int64_t(std::floor(std::pow(zipf_scale_ * u + 1, zipf_inv_exp_))) - 1;
    case DistributionSpec::Pareto:
      // rank = blocks x u^(1/power): smaller powers weigh the first ranks more.
      return int64_t(std::floor(n * std::pow(u, 1 / spec_.param)));
    case DistributionSpec::Normal: {
      // Box-Muller around the middle, the deviation in percent of the region.
      double v = std::max(4.9406564584124654e-324, rng_.next_double());
      double z = std::sqrt(-2 * std::log(v)) * std::cos(2 * M_PI * u);
      double r = std::floor(n / 2 + z * spec_.param * n / 100 + 0.5);  // rounds as JS Math.round
      int64_t ri = int64_t(r), ni = int64_t(blocks_);
      return ((ri % ni) + ni) % ni;
    }
    default:
      return int64_t(std::floor(u * n));
  }
}

}  // namespace blkio::bench
