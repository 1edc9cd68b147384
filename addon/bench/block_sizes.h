// Block sizes of one direction, drawn by bssplit weight as
// src/blkbench/offsets.ts's BlockSizePicker does: integer thresholds in units
// of 1/10000 % and one Prng::below draw per request (none for a single size).
#pragma once

#include <cmath>
#include <cstdint>

#include "prng.h"

namespace blkio::bench {

constexpr int kMaxBlockSizes = 64;

struct BlockSizes {
  int count = 1;
  uint32_t size[kMaxBlockSizes] = {4096};
  uint64_t threshold[kMaxBlockSizes] = {1000000};

  // weights: percentages adding up to 100 (fractions allowed).
  void set(const uint32_t* sizes, const double* weights, int n) {
    count = n;
    double sum = 0;
    for (int i = 0; i < n; i++) {
      size[i] = sizes[i];
      sum += weights[i];
      threshold[i] = uint64_t(std::floor(sum * 10000 + 0.5));
    }
  }
  bool fixed() const { return count == 1; }
  int pick(Prng& rng) const {
    if (count == 1) return 0;
    uint64_t r = rng.below(threshold[count - 1]);
    for (int i = 0; i < count; i++)
      if (r < threshold[i]) return i;
    return count - 1;
  }
  uint32_t min() const {
    uint32_t m = size[0];
    for (int i = 1; i < count; i++) m = size[i] < m ? size[i] : m;
    return m;
  }
  uint32_t max() const {
    uint32_t m = size[0];
    for (int i = 1; i < count; i++) m = size[i] > m ? size[i] : m;
    return m;
  }
};

}  // namespace blkio::bench
