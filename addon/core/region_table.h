// The memory regions currently mapped, in fixed slots so that a queue thread
// can look a buffer up while the control thread maps another region. (libblkio
// forbids mapping or unmapping a region with I/O in flight to it, so a slot
// only changes while nobody uses it.)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "byte_range.h"

namespace blkio {

class RegionTable {
 public:
  static constexpr int kSlots = 4096;

  // Returns the slot holding [addr, addr+len), or -1.
  int find(const void* addr, size_t len, int hint = -1) const {
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    if (hint >= 0 && hint < kSlots && contains(hint, a, len)) return hint;
    int top = high_water_.load(std::memory_order_acquire);
    for (int i = 0; i < top; i++)
      if (contains(i, a, len)) return i;
    return -1;
  }

  bool overlaps(const void* addr, size_t len) const {
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    int top = high_water_.load(std::memory_order_acquire);
    for (int i = 0; i < top; i++) {
      uintptr_t s = slots_[i].start.load(std::memory_order_relaxed);
      size_t l = slots_[i].len.load(std::memory_order_acquire);
      if (ranges_overlap(a, len, s, l)) return true;
    }
    return false;
  }

  // Returns the new slot, or -1 when full.
  int insert(const void* addr, size_t len) {
    for (int i = 0; i < kSlots; i++) {
      if (slots_[i].len.load(std::memory_order_relaxed) != 0) continue;
      slots_[i].start.store(reinterpret_cast<uintptr_t>(addr), std::memory_order_relaxed);
      slots_[i].len.store(len, std::memory_order_release);
      if (i >= high_water_.load(std::memory_order_relaxed)) high_water_.store(i + 1, std::memory_order_release);
      return i;
    }
    return -1;
  }

  void remove(int slot) { slots_[slot].len.store(0, std::memory_order_release); }

  // Slot of exactly this region, or -1.
  int find_exact(const void* addr, size_t len) const {
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    int top = high_water_.load(std::memory_order_acquire);
    for (int i = 0; i < top; i++)
      if (slots_[i].len.load(std::memory_order_acquire) == len &&
          slots_[i].start.load(std::memory_order_relaxed) == a)
        return i;
    return -1;
  }

 private:
  bool contains(int i, uintptr_t a, size_t len) const {
    size_t l = slots_[i].len.load(std::memory_order_acquire);
    uintptr_t s = slots_[i].start.load(std::memory_order_relaxed);
    return l && a >= s && a - s <= l && len <= l - (a - s);
  }

  struct Slot {
    std::atomic<uintptr_t> start{0};
    std::atomic<size_t> len{0};
  };
  Slot slots_[kSlots];
  std::atomic<int> high_water_{0};
};

}  // namespace blkio
