#include "offsets.h"

#include <algorithm>

namespace blkio::bench {

OffsetGenerator::OffsetGenerator(Kind kind, uint64_t region_len, uint32_t unit, Prng rng, bool trim)
    : kind_(kind), region_len_(region_len), unit_(unit ? unit : 1), rng_(rng), trim_(trim) {
  if (kind_ == Kind::RandomMap) {
    blocks_ = region_len_ / unit_;
    words_.resize(std::max<uint64_t>(1, (blocks_ + 31) / 32));
    full_words_.resize((words_.size() + 31) / 32);
  }
  reset();
}

void OffsetGenerator::reset() {
  pos_ = 0;
  if (kind_ != Kind::RandomMap) return;
  std::fill(words_.begin(), words_.end(), 0);
  std::fill(full_words_.begin(), full_words_.end(), 0);
  done_ = 0;
  // Bits past the last block count as done, so searches never return them.
  if (uint32_t tail = blocks_ % 32) words_.back() = ~((1u << tail) - 1);
  if (blocks_ == 0) words_[0] = 0xffffffffu;
  for (size_t w = 0; w < words_.size(); w++)
    if (words_[w] == 0xffffffffu) full_words_[w >> 5] |= 1u << (w & 31);
  if (uint32_t tail = words_.size() % 32) full_words_.back() |= ~((1u << tail) - 1);
}

int64_t OffsetGenerator::next_any(uint32_t& len) {
  switch (kind_) {
    case Kind::Sequential: {
      if (pos_ + len > region_len_) return -1;
      uint64_t off = pos_;
      pos_ += len;
      return int64_t(off);
    }
    case Kind::PureRandom: {
      if (len > region_len_) return -1;
      uint64_t positions = (region_len_ - len) / unit_ + 1;
      return int64_t(rng_.below(positions) * unit_);
    }
    case Kind::RandomMap: {
      if (done_ >= blocks_) return -1;
      uint64_t span = std::max<uint64_t>(1, (uint64_t(len) + unit_ - 1) / unit_);
      if (span > blocks_) return -1;
      uint64_t block = find_free(rng_.below(blocks_));
      if (!trim_) {
        // A request larger than the map's unit must fit before the region's end.
        if (block + span > blocks_) block = blocks_ - span;
        for (uint64_t b = block; b < block + span; b++) take(b);
        return int64_t(block * unit_);
      }
      // As fio: the request covers the free blocks from its (free) first
      // block on, up to the first taken one or the region's end.
      uint64_t run = take_free_run(block, std::min(span, blocks_ - block));
      if (run < span) len = uint32_t(run * unit_);
      return int64_t(block * unit_);
    }
  }
  return -1;
}

uint64_t OffsetGenerator::take_free_run(uint64_t block, uint64_t max_blocks) {
  uint64_t n = 0;
  while (n < max_blocks && !(words_[(block + n) >> 5] & (1u << ((block + n) & 31)))) take(block + n++);
  return n;
}

// The word holding from has no free block at or after it: the next free block in the words after it.
uint64_t OffsetGenerator::find_free_after(uint64_t from) {
  size_t n_words = words_.size();
  size_t w = from >> 5;
  for (size_t step = 1; step <= n_words; step++) {
    w = w + 1 == n_words ? 0 : w + 1;
    if ((w & 31) == 0 && w + 32 <= n_words && full_words_[w >> 5] == 0xffffffffu) {
      w += 31;  // skip 32 full words (the loop steps over the last one)
      step += 31;
      continue;
    }
    if (uint32_t free = ~words_[w]) return (uint64_t(w) << 5) + __builtin_ctz(free);
  }
  return 0;  // unreachable while done_ < blocks_
}

}  // namespace blkio::bench
