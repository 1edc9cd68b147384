// Our addresses → the device's, per mapped memory region. vhost-user maps
// everything at its own address (identity), so descriptors carry our VAs
// and the lookup is skipped; a transport that allocates IOVAs records an
// offset per region. Slots match the core's RegionTable; the control thread
// writes a slot only while no I/O uses that region (libblkio's rule), so
// queue threads can read without locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "../../core/region_table.h"

namespace blkio::virtio {

class AddressMap {
 public:
  AddressMap() : slots_(new Slot[RegionTable::kSlots]) {}

  void insert(int slot, const void* addr, size_t len, uint64_t device_addr) {
    Slot& s = slots_[slot];
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    s.start.store(a, std::memory_order_relaxed);
    s.delta.store(device_addr - a, std::memory_order_relaxed);
    s.len.store(len, std::memory_order_release);
    if (device_addr != a) identity_.store(false, std::memory_order_release);
    int top = high_water_.load(std::memory_order_relaxed);
    if (slot >= top) high_water_.store(slot + 1, std::memory_order_release);
  }
  void remove(int slot) { slots_[slot].len.store(0, std::memory_order_release); }

  bool identity() const { return identity_.load(std::memory_order_relaxed); }

  // The device address of [addr, addr+len); false when no region holds it.
  // slot_hint: the region the core found for the buffer, or -1.
  bool translate(const void* addr, size_t len, int slot_hint, uint64_t* out) const {
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    if (identity()) {
      *out = a;
      return true;
    }
    if (slot_hint >= 0 && lookup(slot_hint, a, len, out)) return true;
    int top = high_water_.load(std::memory_order_acquire);
    for (int i = 0; i < top; i++)
      if (lookup(i, a, len, out)) return true;
    return false;
  }

 private:
  struct Slot {
    std::atomic<uintptr_t> start{0};
    std::atomic<size_t> len{0};
    std::atomic<uint64_t> delta{0};
  };

  bool lookup(int i, uintptr_t a, size_t len, uint64_t* out) const {
    const Slot& s = slots_[i];
    size_t l = s.len.load(std::memory_order_acquire);
    uintptr_t start = s.start.load(std::memory_order_relaxed);
    if (!l || a < start || a - start > l || len > l - (a - start)) return false;
    *out = a + s.delta.load(std::memory_order_relaxed);
    return true;
  }

  std::unique_ptr<Slot[]> slots_;
  std::atomic<int> high_water_{0};
  std::atomic<bool> identity_{true};
};

}  // namespace blkio::virtio
