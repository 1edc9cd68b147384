#include "verify.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "crc32c.h"
#include "md5.h"

namespace blkio::bench {

namespace {

void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = uint8_t(v >> (8 * i));
}

uint32_t get32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

uint64_t get64(const uint8_t* p) { return uint64_t(get32(p)) | uint64_t(get32(p + 4)) << 32; }

inline uint32_t payload_word(uint32_t base, uint32_t n) {
  uint32_t h = base + n * 0x9e3779b9u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

// Vectorized with AVX2 where the CPU has it (8 words per instruction).
#if defined(__x86_64__)
__attribute__((target_clones("avx2", "default"), optimize("tree-vectorize")))
#endif
void fill_payload(uint8_t* payload, size_t words, uint32_t base) {
  for (size_t n = 0; n < words; n++) {
    uint32_t x = payload_word(base, uint32_t(n));
    std::memcpy(payload + 4 * n, &x, 4);  // little-endian, as the JS side writes it
  }
}

size_t digest_len(VerifyKind kind) { return kind == VerifyKind::Md5 ? 16 : 4; }

// The checksum of a chunk whose checksum field (bytes 24..40) is zero; meta's covers the header alone.
void checksum(VerifyKind kind, const uint8_t* block, size_t len, uint8_t out[16]) {
  const uint8_t* payload = block + kVerifyHeaderLen;
  size_t payload_len = kind == VerifyKind::Meta ? 0 : len - kVerifyHeaderLen;
  if (kind == VerifyKind::Md5) {
    Md5 md5;
    md5.update(block, 24);
    md5.update(payload, payload_len);
    md5.final(out);
    return;
  }
  put32(out, crc32c(payload, payload_len, crc32c(block, 24)));
}

const char* kind_name(VerifyKind kind) {
  switch (kind) {
    case VerifyKind::Md5: return "md5";
    case VerifyKind::Meta: return "meta";
    case VerifyKind::Pattern: return "pattern";
    default: return "crc32c";
  }
}

// verify_pattern repeated from the block's start (as fio fills a buffer):
// byte p of a chunk `at` bytes into its block is pattern[(at + p) % length].
void fill_pattern(uint8_t* chunk, size_t at, size_t from, size_t len, const VerifyFormat& f) {
  for (size_t p = from; p < len; p++) chunk[p] = f.pattern[(at + p) % f.pattern_len];
}

// The first byte from `from` on that is not the pattern's, or len.
size_t pattern_mismatch(const uint8_t* chunk, size_t at, size_t from, size_t len, const VerifyFormat& f) {
  for (size_t p = from; p < len; p++)
    if (chunk[p] != f.pattern[(at + p) % f.pattern_len]) return p;
  return len;
}

size_t chunk_len(size_t len, const VerifyFormat& f) { return f.interval > 0 && f.interval < len ? f.interval : len; }

void fill_chunk(uint8_t* block, size_t at, size_t len, uint64_t offset, const VerifyFormat& f, uint32_t seed) {
  VerifyKind kind = f.kind;
  if (kind == VerifyKind::Pattern) {
    fill_pattern(block, at, 0, len, f);
    return;
  }
  if (f.pattern_len > 0) {
    fill_pattern(block, at, kVerifyHeaderLen, len, f);
  } else {
    // Payload: word n is a hash of (base + n x golden ratio), as src/blkbench/verify.ts; the words do
    // not depend on each other, so the compiler fills several per instruction.
    uint32_t base = (seed ^ uint32_t(uint32_t(offset / 512) * 0x9e3779b1u) ^ uint32_t(offset >> 41)) | 1;
    size_t words = (len - kVerifyHeaderLen) / 4;
    uint8_t* payload = block + kVerifyHeaderLen;
    fill_payload(payload, words, base);
    if (size_t tail = (len - kVerifyHeaderLen) % 4) {
      uint32_t x = payload_word(base, uint32_t(words));
      for (size_t k = 0; k < tail; k++) payload[4 * words + k] = uint8_t(x >> (8 * k));
    }
  }
  put32(block, kVerifyMagic);
  put32(block + 4, uint32_t(len));
  put32(block + 8, uint32_t(offset));
  put32(block + 12, uint32_t(offset >> 32));
  put32(block + 16, seed);
  put32(block + 20, uint32_t(kind));
  std::memset(block + 24, 0, kVerifyHeaderLen - 24);
  uint8_t sum[16];
  checksum(kind, block, len, sum);
  std::memcpy(block + 24, sum, digest_len(kind));
}

bool check_chunk(uint8_t* block, size_t at, size_t len, uint64_t offset, const VerifyFormat& f, char* why, size_t why_len) {
  VerifyKind kind = f.kind;
  auto fail = [&](const char* what) {
    snprintf(why, why_len, "verify: bad block at offset %" PRIu64 " (length %zu): %s", offset, len, what);
    return false;
  };
  char detail[160];
  auto check_pattern = [&](size_t from) {
    size_t bad = pattern_mismatch(block, at, from, len, f);
    if (bad == len) return true;
    snprintf(detail, sizeof detail, "pattern mismatch at byte %zu: 0x%02x, expected 0x%02x", bad, block[bad], f.pattern[(at + bad) % f.pattern_len]);
    return fail(detail);
  };
  if (kind == VerifyKind::Pattern) return check_pattern(0);
  if (len < kVerifyHeaderLen) return fail("shorter than the verify header");
  uint32_t magic = get32(block);
  if (magic != kVerifyMagic) {
    snprintf(detail, sizeof detail, "no verify header (magic 0x%08x, expected 0x%08x)", magic, kVerifyMagic);
    return fail(detail);
  }
  uint32_t stored_len = get32(block + 4);
  if (stored_len != len) {
    snprintf(detail, sizeof detail, "header says length %u", stored_len);
    return fail(detail);
  }
  uint64_t stored_offset = get64(block + 8);
  if (stored_offset != offset) {
    snprintf(detail, sizeof detail, "header says offset %" PRIu64 ": the block was written elsewhere", stored_offset);
    return fail(detail);
  }
  uint32_t code = get32(block + 20);
  const char* name = kind_name(kind);
  if (code != uint32_t(kind)) {
    snprintf(detail, sizeof detail, "written with verify kind %u, checking as %s", code, name);
    return fail(detail);
  }
  size_t n = digest_len(kind);
  uint8_t want[16], got[16];
  std::memcpy(want, block + 24, n);
  std::memset(block + 24, 0, kVerifyHeaderLen - 24);
  checksum(kind, block, len, got);
  std::memcpy(block + 24, want, n);
  if (std::memcmp(want, got, n) == 0) return f.pattern_len == 0 || check_pattern(kVerifyHeaderLen);
  if (kind != VerifyKind::Md5) {
    snprintf(detail, sizeof detail, "%s mismatch: stored 0x%08x, computed 0x%08x", name, get32(want), get32(got));
  } else {
    char w[33], g[33];
    for (size_t i = 0; i < 16; i++) {
      snprintf(w + 2 * i, 3, "%02x", want[i]);
      snprintf(g + 2 * i, 3, "%02x", got[i]);
    }
    snprintf(detail, sizeof detail, "md5 mismatch: stored %s, computed %s", w, g);
  }
  return fail(detail);
}

}  // namespace

void fill_verify_block(uint8_t* block, size_t len, uint64_t offset, const VerifyFormat& format, uint32_t seed) {
  size_t chunk = chunk_len(len, format);
  for (size_t at = 0; at + chunk <= len; at += chunk) fill_chunk(block + at, at, chunk, offset + at, format, seed);
}

bool check_verify_block(uint8_t* block, size_t len, uint64_t offset, const VerifyFormat& format, char* why, size_t why_len) {
  size_t chunk = chunk_len(len, format);
  for (size_t at = 0; at + chunk <= len; at += chunk)
    if (!check_chunk(block + at, at, chunk, offset + at, format, why, why_len)) return false;
  return true;
}

}  // namespace blkio::bench
