// Where the next request goes, as blkbench's JS loop decides it (same PRNG
// and seeding, so randrepeat gives the same offsets on both loops): a
// sequential cursor, pure random positions (norandommap), or fio's default
// random map (every block once per pass, in random order; as fio, a request
// is trimmed to the free blocks from its offset on).
#pragma once

#include <cstdint>
#include <vector>

#include "prng.h"

namespace blkio::bench {

class OffsetGenerator {
 public:
  enum class Kind { Sequential, PureRandom, RandomMap };
  // trim: with the random map, shorten a request to the free blocks after its
  // offset (fio's default); off for verify jobs, whose writes keep one size.
  OffsetGenerator(Kind kind, uint64_t region_len, uint32_t unit, Prng rng, bool trim = true);
  // Offset within the region for a request of len bytes, or -1 when this
  // pass over the region is complete (reset() starts another). The random
  // map may shorten len to a multiple of the unit.
  __attribute__((always_inline)) int64_t next(uint32_t& len) {
    // One block of the random map (every 4k-random job's request): inline.
    if (kind_ == Kind::RandomMap && len == unit_ && done_ < blocks_) {
      uint64_t block = find_free(rng_.below(blocks_));
      take(block);
      return int64_t(block * unit_);
    }
    return next_any(len);
  }
  void reset();
  // Sequential: the next request starts at pos (zonemode=zbd moves writes to a write pointer).
  void seek(uint64_t pos) { pos_ = pos; }

 private:
  int64_t next_any(uint32_t& len);
  // The first free block at or after from (wrapping); the word holding from is looked at inline.
  uint64_t find_free(uint64_t from) {
    uint32_t here = ~words_[from >> 5] & (0xffffffffu << (from & 31));
    return here ? (from & ~uint64_t(31)) + uint64_t(__builtin_ctz(here)) : find_free_after(from);
  }
  uint64_t find_free_after(uint64_t from);
  void take(uint64_t b) {
    uint32_t& word = words_[b >> 5];
    uint32_t bit = 1u << (b & 31);
    if (word & bit) return;
    word |= bit;
    done_++;
    if (word == 0xffffffffu) full_words_[b >> 10] |= 1u << ((b >> 5) & 31);
  }
  uint64_t take_free_run(uint64_t block, uint64_t max_blocks);

  Kind kind_;
  uint64_t region_len_;
  uint32_t unit_;
  Prng rng_;
  bool trim_;
  uint64_t pos_ = 0;           // sequential
  uint64_t blocks_ = 0;        // random map
  uint64_t done_ = 0;
  std::vector<uint32_t> words_;       // one bit per block, 1 = done this pass
  std::vector<uint32_t> full_words_;  // one bit per word of words_, 1 = all done
};

}  // namespace blkio::bench
