// blkbench's native units (addon/bench): the PRNG's integer draws, bssplit
// thresholds, CRC-32C (both of its paths), MD5 and the verify block format.
#include <cstring>
#include <string>
#include <vector>

#include "../../addon/bench/block_sizes.h"
#include "../../addon/bench/crc32c.h"
#include "../../addon/bench/md5.h"
#include "../../addon/bench/prng.h"
#include "../../addon/bench/verify.h"
#include "check.h"

using namespace blkio::bench;

namespace {

// Bit by bit, as the polynomial defines it: the reference the fast paths must equal.
uint32_t crc32c_bitwise(const uint8_t* p, size_t n) {
  uint32_t c = ~0u;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
  }
  return ~c;
}

std::string md5_hex(const std::string& s) {
  Md5 m;
  m.update(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  uint8_t d[16];
  m.final(d);
  std::string out;
  char two[3];
  for (uint8_t b : d) {
    snprintf(two, sizeof two, "%02x", b);
    out += two;
  }
  return out;
}

}  // namespace

TEST(crc32c_gives_the_check_value_of_123456789) {
  const char* s = "123456789";
  CHECK_EQ(crc32c(reinterpret_cast<const uint8_t*>(s), 9), 0xe3069283u);
}

TEST(crc32c_equals_the_bitwise_definition_on_every_length_and_in_pieces) {
  std::vector<uint8_t> buf(3 * 4096 + 77);
  Prng rng(7, 0, 0);
  for (uint8_t& b : buf) b = uint8_t(rng.next_u32());
  for (size_t len : {0ul, 1ul, 7ul, 8ul, 4031ul, 4032ul, 4056ul, 4096ul, 8192ul + 13, buf.size()}) {
    CHECK_EQ(crc32c(buf.data(), len), crc32c_bitwise(buf.data(), len));
    size_t cut = len / 3;
    CHECK_EQ(crc32c(buf.data() + cut, len - cut, crc32c(buf.data(), cut)), crc32c_bitwise(buf.data(), len));
  }
}

TEST(md5_gives_the_rfc_1321_test_values) {
  CHECK(md5_hex("") == "d41d8cd98f00b204e9800998ecf8427e");
  CHECK(md5_hex("abc") == "900150983cd24fb0d6963f7d28e17f72");
  CHECK(md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890") ==
        "57edf4a22be3c955ac49da2e2107b67a");
}

TEST(prng_below_stays_below_n_for_every_size_of_n) {
  Prng rng(1, 2, 3);
  for (uint64_t n : {uint64_t(1), uint64_t(100), uint64_t(1) << 21, (uint64_t(1) << 32) + 1, uint64_t(1) << 40, (uint64_t(1) << 53) - 1}) {
    for (int i = 0; i < 1000; i++) CHECK(rng.below(n) < n);
  }
}

TEST(prng_below_above_2_to_the_32_uses_two_draws_high_word_first) {
  Prng a(9, 0, 0), b(9, 0, 0);
  uint64_t n = uint64_t(1) << 40;
  uint64_t hi = b.next_u32(), lo = b.next_u32();
  CHECK_EQ(a.below(n), ((hi << 32) | lo) >> 24);  // the high 40 bits of the 64-bit draw
}

TEST(bssplit_thresholds_round_fractional_weights_the_same_way_every_time) {
  BlockSizes s;
  uint32_t sizes[3] = {4096, 8192, 16384};
  double weights[3] = {100.0 / 3, 100.0 / 3, 100.0 / 3};
  s.set(sizes, weights, 3);
  CHECK_EQ(s.threshold[0], 333333u);
  CHECK_EQ(s.threshold[2], 1000000u);
  Prng rng(5, 0, 2);
  int seen[3] = {};
  for (int i = 0; i < 3000; i++) seen[s.pick(rng)]++;
  for (int c : seen) CHECK(c > 800 && c < 1200);
}

TEST(verify_interval_gives_each_chunk_a_header_of_its_own_and_names_the_bad_chunk) {
  const uint8_t pattern[4] = {0xaa, 0x55, 0x5a, 0xa5};
  VerifyFormat f{VerifyKind::Meta, 512, pattern, 4};
  std::vector<uint8_t> block(4096);
  char why[256];
  fill_verify_block(block.data(), block.size(), 65536, f, 7);
  CHECK(block[512] == 0x42 && block[512 + 8] == 0x00 && block[512 + 9] == 0x02);  // chunk 1's header: offset 65536 + 512
  CHECK(block[40] == 0xaa && block[41] == 0x55 && block[43] == 0xa5);             // the pattern from the chunk's byte 40
  CHECK(check_verify_block(block.data(), block.size(), 65536, f, why, sizeof why));
  block[3 * 512 + 100] = 0;
  CHECK(!check_verify_block(block.data(), block.size(), 65536, f, why, sizeof why));
  CHECK(std::strstr(why, "offset 67072 (length 512): pattern mismatch at byte 100") != nullptr);
}

TEST(meta_without_a_pattern_checks_headers_only_and_pattern_checks_every_byte) {
  std::vector<uint8_t> block(1024);
  char why[256];
  VerifyFormat meta{VerifyKind::Meta, 0, nullptr, 0};
  fill_verify_block(block.data(), block.size(), 0, meta, 3);
  block[900] ^= 1;  // payload: not covered by meta's checksum
  CHECK(check_verify_block(block.data(), block.size(), 0, meta, why, sizeof why));
  block[10] ^= 1;  // header
  CHECK(!check_verify_block(block.data(), block.size(), 0, meta, why, sizeof why));
  const uint8_t p[1] = {0x5a};
  VerifyFormat only{VerifyKind::Pattern, 0, p, 1};
  fill_verify_block(block.data(), block.size(), 0, only, 3);
  for (uint8_t b : block) CHECK(b == 0x5a);
  CHECK(check_verify_block(block.data(), block.size(), 4096, only, why, sizeof why));  // no header: no offset to check
  block[0] = 0;
  CHECK(!check_verify_block(block.data(), block.size(), 0, only, why, sizeof why));
}

TEST(a_verify_block_checks_clean_and_a_flipped_bit_or_a_wrong_offset_fails) {
  for (VerifyKind kind : {VerifyKind::Crc32c, VerifyKind::Md5}) {
    std::vector<uint8_t> block(4096);
    char why[256];
    fill_verify_block(block.data(), block.size(), 8192, kind, 42);
    CHECK(check_verify_block(block.data(), block.size(), 8192, kind, why, sizeof why));
    CHECK(!check_verify_block(block.data(), block.size(), 4096, kind, why, sizeof why));
    CHECK(std::strstr(why, "written elsewhere") != nullptr);
    block[1000] ^= 0x10;
    CHECK(!check_verify_block(block.data(), block.size(), 8192, kind, why, sizeof why));
    CHECK(std::strstr(why, "mismatch") != nullptr);
  }
}
