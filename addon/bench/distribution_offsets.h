// fio's other offset patterns, as src/blkbench/offsets-fio.ts draws them:
// - skip-sequential (rw=read:N): N bytes added after each request, wrapping at
//   either end of the region;
// - random_distribution=zipf|pareto|normal: skewed block ranks (repeats
//   allowed) scattered over the region by a fixed permutation; zoned: a zone
//   by its share of accesses, then a uniform block inside it.
#pragma once

#include <cstdint>

#include "prng.h"

namespace blkio::bench {

constexpr int kMaxZones = 64;

struct DistributionSpec {
  enum Kind : uint8_t { Random = 0, Zipf, Pareto, Normal, Zoned } kind = Random;
  double param = 0;  // zipf theta, pareto power, normal: deviation in % of the region
  int zones = 0;
  double zone_access[kMaxZones] = {}, zone_size[kMaxZones] = {};  // percentages
};

class SkipSequentialOffsets {
 public:
  SkipSequentialOffsets(uint64_t region_len, int64_t add) : region_len_(region_len), add_(add) {}
  int64_t next(uint32_t len);
  void reset() { pos_ = 0; }

 private:
  uint64_t region_len_;
  int64_t add_;
  int64_t pos_ = 0;
};

class DistributionOffsets {
 public:
  DistributionOffsets(uint64_t region_len, uint32_t unit, const DistributionSpec& spec, Prng rng);
  int64_t next(uint32_t len);

 private:
  int64_t zoned(uint64_t span);
  int64_t draw_rank();

  uint64_t blocks_;
  uint32_t unit_;
  DistributionSpec spec_;
  Prng rng_;
  uint64_t multiplier_;
  double zipf_exp_, zipf_scale_, zipf_inv_exp_;
};

}  // namespace blkio::bench
