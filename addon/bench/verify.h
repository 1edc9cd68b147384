// Data verification blocks, byte for byte as src/blkbench/verify.ts writes
// them. A block is checked in chunks of verify_interval bytes (one chunk per
// block by default); each chunk starts with a 40-byte header (magic, length,
// the chunk's own offset, seed, kind, checksum) followed by its payload:
// verify_pattern repeated from the block's start (as fio fills a buffer),
// or pseudo-random words.
// crc32c and md5 cover the header's first 24 bytes and the payload; meta
// (fio's header-only check) covers the header alone, and also compares the
// payload with verify_pattern when there is one; pattern (fio's header-less
// pattern check) has no header: the whole chunk is the pattern.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blkio::bench {

enum class VerifyKind : uint8_t { None = 0, Crc32c = 1, Md5 = 2, Meta = 3, Pattern = 4 };

constexpr uint32_t kVerifyMagic = 0x56424b42;  // "BKBV"
constexpr size_t kVerifyHeaderLen = 40;
// fio's limit on verify_pattern's length.
constexpr size_t kMaxVerifyPattern = 512;

// How blocks are laid out; pattern is borrowed (it outlives the format).
struct VerifyFormat {
  VerifyKind kind = VerifyKind::None;
  uint32_t interval = 0;  // bytes per chunk; 0 or >= the block: one chunk per block
  const uint8_t* pattern = nullptr;
  size_t pattern_len = 0;  // 0: pseudo-random payload
};

// Fills a block about to be written at offset (each chunk at least
// kVerifyHeaderLen long unless kind is Pattern).
void fill_verify_block(uint8_t* block, size_t len, uint64_t offset, const VerifyFormat& format, uint32_t seed);

// Checks a block read from offset. True when good; otherwise writes what is
// wrong with its first bad chunk into why (NUL-terminated, at most why_len bytes).
bool check_verify_block(uint8_t* block, size_t len, uint64_t offset, const VerifyFormat& format, char* why, size_t why_len);

// One chunk per block, random payload: the format of verify=crc32c|md5 alone.
inline void fill_verify_block(uint8_t* block, size_t len, uint64_t offset, VerifyKind kind, uint32_t seed) {
  fill_verify_block(block, len, offset, VerifyFormat{kind, 0, nullptr, 0}, seed);
}
inline bool check_verify_block(uint8_t* block, size_t len, uint64_t offset, VerifyKind kind, char* why, size_t why_len) {
  return check_verify_block(block, len, offset, VerifyFormat{kind, 0, nullptr, 0}, why, why_len);
}

}  // namespace blkio::bench
