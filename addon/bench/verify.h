// Data verification blocks, byte for byte as src/blkbench/verify.ts writes
// them: a 40-byte header (magic, length, the block's own offset, seed, kind,
// checksum) and a pseudo-random payload; the checksum (crc32c or md5) covers
// the header's first 24 bytes and the payload.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blkio::bench {

enum class VerifyKind : uint8_t { None = 0, Crc32c = 1, Md5 = 2 };

constexpr uint32_t kVerifyMagic = 0x56424b42;  // "BKBV"
constexpr size_t kVerifyHeaderLen = 40;

// Fills a block about to be written at offset (len >= kVerifyHeaderLen).
void fill_verify_block(uint8_t* block, size_t len, uint64_t offset, VerifyKind kind, uint32_t seed);

// Checks a block read from offset. True when good; otherwise writes what is
// wrong into why (a NUL-terminated message of at most why_len bytes).
bool check_verify_block(uint8_t* block, size_t len, uint64_t offset, VerifyKind kind, char* why, size_t why_len);

}  // namespace blkio::bench
