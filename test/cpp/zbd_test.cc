// zonemode=zbd's zone table (addon/bench/zbd.cc): where writes and reads go,
// when zones open, close and are reset, as fio decides it.
#include <vector>

#include "../../addon/bench/zbd.h"
#include "check.h"

using namespace blkio::bench;

namespace {

constexpr uint64_t kZone = 64 * 1024;
constexpr uint32_t kBs = 4096;
constexpr uint8_t kR = 0, kW = 1;

ZbdSpec zones(std::vector<uint64_t> written, uint32_t max_open = 0) {
  ZbdSpec s;
  s.enabled = true;
  s.zone_size = kZone;
  s.max_open = max_open;
  for (uint64_t w : written) s.zones.push_back({kZone, w, kZoneSequential});
  return s;
}

ZoneTable table(const ZbdSpec& s, bool random = true, bool verify = false, bool mixed = false) {
  return ZoneTable(s, kZone * s.zones.size(), random, mixed, verify, kBs, kBs);
}

}  // namespace

TEST(zbd_write_goes_to_the_write_pointer_of_its_zone) {
  ZoneTable t = table(zones({8192, 0, 0, 0}));
  uint64_t rel = 40960;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 8192u);
  CHECK_EQ(len, kBs);
  CHECK_EQ(t.write_pointer(0), 8192u + kBs);  // counted as issued
}

TEST(zbd_write_beyond_the_open_limit_goes_to_an_open_zone) {
  ZoneTable t = table(zones({0, 0, 0, 0}, 1));
  uint64_t rel = 0;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(t.open_count(), 1u);
  rel = 3 * kZone + 4096;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, uint64_t(kBs));  // zone 0's write pointer
  CHECK_EQ(t.open_count(), 1u);
  CHECK(!t.is_open(3));
}

TEST(zbd_a_zone_filled_by_a_write_closes_when_it_completes) {
  ZoneTable t = table(zones({kZone - kBs, 0}, 1));
  uint64_t rel = 0;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, kZone - kBs);
  CHECK(t.is_open(0));
  t.write_completed(rel, len);
  CHECK(!t.is_open(0));
  CHECK_EQ(t.open_count(), 0u);
}

TEST(zbd_at_the_open_limit_with_writes_in_flight_the_loop_drains_first) {
  ZoneTable t = table(zones({kZone - kBs, 0, 0}, 1));
  uint64_t rel = 0;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);  // fills zone 0 (in flight)
  rel = kZone;
  len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 1), ZoneTable::kDrain);  // zone 0 is as good as full, the limit reached
  t.write_completed(kZone - kBs, kBs);                      // it completes and closes zone 0
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, kZone);  // the scan opens the zone after the full one
  CHECK(t.is_open(1));
}

TEST(zbd_a_write_to_a_full_zone_resets_it_after_draining) {
  ZoneTable t = table(zones({kZone, 0}));
  uint64_t rel = 4096;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 2), ZoneTable::kDrain);
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kReset);
  CHECK_EQ(t.reset_zone(), 0u);
  t.reset_done(0);
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 0u);
  CHECK_EQ(t.resets(), 1u);
}

TEST(zbd_above_the_reset_threshold_every_nth_write_resets_its_zone) {
  ZbdSpec s = zones({kZone, kZone, 0, 0});
  s.reset_threshold = 0.5;    // 128 KiB of 256 KiB written: at the threshold
  s.reset_frequency = 0.5;    // every second write
  ZoneTable t = table(s);
  uint64_t rel = 2 * kZone;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 2 * kZone);
  rel = 2 * kZone;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kReset);
  CHECK_EQ(t.reset_zone(), 2u);
  t.reset_done(2);
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 2 * kZone);
  CHECK_EQ(t.write_pointer(2), 2 * kZone + kBs);
}

TEST(zbd_below_the_reset_threshold_no_zone_is_reset) {
  ZbdSpec s = zones({0, 0, 0, 0});
  s.reset_threshold = 0.5;
  s.reset_frequency = 1;
  ZoneTable t = table(s);
  for (int i = 0; i < 16; i++) {
    uint64_t rel = 0;
    uint32_t len = kBs;
    CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  }
  CHECK_EQ(t.resets(), 0u);
}

TEST(zbd_under_verify_a_full_zone_is_passed_over_not_reset) {
  ZoneTable t = table(zones({kZone, 0}), true, true);
  uint64_t rel = 0;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, kZone);
  CHECK_EQ(t.resets(), 0u);
}

TEST(zbd_a_write_larger_than_a_zone_fails) {
  ZoneTable t = table(zones({0}));
  uint64_t rel = 0;
  uint32_t len = uint32_t(2 * kZone);
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kFail);
  CHECK(t.error() != 0);
}

TEST(zbd_a_write_is_shortened_to_the_zone_capacity) {
  ZbdSpec s = zones({0});
  s.zones[0].capacity = 10 * kBs;
  s.zones[0].written = 8 * kBs;
  ZoneTable t = table(s);
  uint64_t rel = 0;
  uint32_t len = 4 * kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 8u * kBs);
  CHECK_EQ(len, 2 * kBs);
}

TEST(zbd_random_reads_stay_below_the_write_pointer) {
  ZoneTable t = table(zones({8192, 0}));
  for (uint64_t drawn = 0; drawn < kZone; drawn += kBs) {
    uint64_t rel = drawn;
    uint32_t len = kBs;
    CHECK_EQ(t.adjust(kR, rel, len, 0), ZoneTable::kAccept);
    CHECK(rel + len <= 8192);
  }
  uint64_t rel = kZone + 4096;  // an empty zone: the nearest one with data
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kR, rel, len, 0), ZoneTable::kAccept);
  CHECK(rel + len <= 8192);
}

TEST(zbd_a_sequential_read_past_the_written_data_moves_on_or_ends) {
  ZoneTable t = table(zones({8192, 0, 4096, 0}), false);
  uint64_t rel = 8192;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kR, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 2 * kZone);
  rel = 2 * kZone + 4096;
  CHECK_EQ(t.adjust(kR, rel, len, 0), ZoneTable::kEof);
}

TEST(zbd_a_mixed_job_reads_only_once_there_is_data) {
  ZoneTable t = table(zones({0, 0}), true, false, true);
  CHECK(!t.reads_possible());
  uint64_t rel = 0;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK(t.reads_possible());
}

TEST(zbd_job_max_open_zones_limits_the_job_below_the_global_limit) {
  ZbdSpec s = zones({0, 0, 0, 0}, 4);
  s.job_max_open = 1;
  ZoneTable t = table(s);
  uint64_t rel = 0;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  rel = 2 * kZone;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, uint64_t(kBs));  // zone 0 again: the job may hold one zone open
  CHECK_EQ(t.open_count(), 1u);
}

TEST(zbd_zones_open_at_the_start_count_against_the_limit) {
  ZbdSpec s = zones({8192, 0, 0}, 1);
  s.zones[0].kind = kZoneOpen;
  ZoneTable t = table(s);
  CHECK(t.is_open(0));
  uint64_t rel = 2 * kZone;
  uint32_t len = kBs;
  CHECK_EQ(t.adjust(kW, rel, len, 0), ZoneTable::kAccept);
  CHECK_EQ(rel, 8192u);
}
