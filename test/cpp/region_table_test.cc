// The mapped-region lookup (addon/core/region_table.h).
#include <cstdint>

#include "../../addon/core/region_table.h"
#include "check.h"

using blkio::RegionTable;

namespace {
const void* at(uintptr_t a) { return reinterpret_cast<const void*>(a); }
}  // namespace

TEST(a_buffer_inside_a_region_finds_its_slot) {
  static RegionTable t;
  int s = t.insert(at(0x10000), 0x4000);
  CHECK(s >= 0);
  CHECK_EQ(t.find(at(0x10000), 0x4000), s);
  CHECK_EQ(t.find(at(0x13000), 0x1000), s);
  CHECK_EQ(t.find(at(0x12000), 0), s);
  t.remove(s);
}

TEST(a_buffer_crossing_a_region_end_is_not_inside) {
  static RegionTable t;
  int s = t.insert(at(0x10000), 0x4000);
  CHECK_EQ(t.find(at(0x13000), 0x1001), -1);
  CHECK_EQ(t.find(at(0xf000), 0x2000), -1);
  CHECK_EQ(t.find(at(0x14000), 1), -1);
  CHECK_EQ(t.find(at(0x13fff), SIZE_MAX), -1);  // a length that would wrap
  t.remove(s);
}

TEST(overlap_is_any_shared_byte) {
  static RegionTable t;
  int s = t.insert(at(0x10000), 0x4000);
  CHECK(t.overlaps(at(0x13fff), 1));
  CHECK(t.overlaps(at(0xf000), 0x1001));
  CHECK(!t.overlaps(at(0x14000), 0x1000));
  CHECK(!t.overlaps(at(0xf000), 0x1000));
  t.remove(s);
}

TEST(removed_slots_are_reused_and_exact_lookup_matches_start_and_length) {
  static RegionTable t;
  int a = t.insert(at(0x10000), 0x1000);
  int b = t.insert(at(0x20000), 0x1000);
  CHECK(a != b);
  t.remove(a);
  CHECK_EQ(t.find(at(0x10000), 1), -1);
  int c = t.insert(at(0x30000), 0x2000);
  CHECK_EQ(c, a);
  CHECK_EQ(t.find_exact(at(0x30000), 0x2000), c);
  CHECK_EQ(t.find_exact(at(0x30000), 0x1000), -1);
  t.remove(b);
  t.remove(c);
}
