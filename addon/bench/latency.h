// Latency bookkeeping as cheap as fio's: its log-linear histogram (the same
// 1856 bins, so percentiles and json+ bins match) and integer running sums
// (no division per sample; mean and variance are derived once at the end).
#pragma once

#include <cstdint>
#include <cstring>

namespace blkio::bench {

constexpr int kPlatBits = 6;
constexpr int kPlatVal = 1 << kPlatBits;
constexpr int kPlatGroups = 29;
constexpr int kPlatBuckets = kPlatGroups * kPlatVal;  // 1856

// fio's plat_val_to_idx: exact below 128 ns, then 64 bins per power of two.
// Without a branch: e is the number of low bits dropped (0 below 128), and
// the kept top 7 bits (64..127) already count the group's first bin.
inline int plat_index(uint64_t ns) {
  int e = (__builtin_clzll(ns | kPlatVal) ^ 63) - kPlatBits;  // clz ^ 63: the top bit's index (one bsr)
  uint64_t index = (uint64_t(e) << kPlatBits) + (ns >> e);
  return index < uint64_t(kPlatBuckets) ? int(index) : kPlatBuckets - 1;
}

struct LatencyStats {
  uint64_t n = 0;
  uint64_t sum = 0;
  unsigned __int128 sum_squares = 0;
  uint64_t min = UINT64_MAX;
  uint64_t max = 0;
  uint64_t hist[kPlatBuckets];

  LatencyStats() { reset(); }
  void reset() {
    n = sum = max = 0;
    sum_squares = 0;
    min = UINT64_MAX;
    std::memset(hist, 0, sizeof hist);
  }
  void add(uint64_t ns) {
    n++;
    sum += ns;
    sum_squares += (unsigned __int128)ns * ns;
    min = ns < min ? ns : min;
    max = ns > max ? ns : max;
    hist[plat_index(ns)]++;
  }
  double mean() const { return n ? double(sum) / double(n) : 0; }
  // Sum of squared differences from the mean (Welford's M2).
  double m2() const {
    if (!n) return 0;
    long double s = (long double)sum;
    long double v = (long double)sum_squares - s * s / (long double)n;
    return v > 0 ? double(v) : 0;
  }
};

// Welford running stats for the few per-interval samples (bandwidth, IOPS).
struct SampleStats {
  uint64_t n = 0;
  double mean = 0, m2 = 0, min = 0, max = 0;
  void add(double x) {
    n++;
    double d = x - mean;
    mean += d / double(n);
    m2 += d * (x - mean);
    if (n == 1 || x < min) min = x;
    if (n == 1 || x > max) max = x;
  }
};

}  // namespace blkio::bench
