// fio's log-linear histogram index and the running sums (addon/bench/latency.h).
#include "../../addon/bench/latency.h"
#include "check.h"

using blkio::bench::kPlatBuckets;
using blkio::bench::LatencyStats;
using blkio::bench::plat_index;

TEST(histogram_index_is_exact_below_128_ns) {
  for (uint64_t ns = 0; ns < 128; ns++) CHECK_EQ(plat_index(ns), int(ns));
}

TEST(histogram_index_has_64_bins_per_power_of_two) {
  CHECK_EQ(plat_index(128), 128);
  CHECK_EQ(plat_index(129), 128);  // two ns per bin from 128 to 255
  CHECK_EQ(plat_index(130), 129);
  CHECK_EQ(plat_index(255), 191);
  CHECK_EQ(plat_index(256), 192);
  CHECK_EQ(plat_index(1000000), 14 * 64 + ((1000000 >> 13) & 63));  // msb 19: 13 error bits
}

TEST(histogram_index_never_leaves_the_table) {
  CHECK_EQ(plat_index(UINT64_MAX), kPlatBuckets - 1);
  CHECK_EQ(plat_index(uint64_t(1) << 40), kPlatBuckets - 1);
  int last = 0;
  for (uint64_t ns = 1; ns < (uint64_t(1) << 36); ns = ns * 3 / 2 + 1) {
    int i = plat_index(ns);
    CHECK(i >= last);  // monotonic
    CHECK(i < kPlatBuckets);
    last = i;
  }
}

TEST(running_sums_give_mean_and_spread) {
  LatencyStats s;
  for (uint64_t v : {100u, 200u, 300u}) s.add(v);
  CHECK_EQ(s.n, 3u);
  CHECK_EQ(s.min, 100u);
  CHECK_EQ(s.max, 300u);
  CHECK(s.mean() == 200.0);
  CHECK(s.m2() == 20000.0);  // (100² + 0 + 100²)
  CHECK_EQ(s.hist[plat_index(200)], 1u);
}
