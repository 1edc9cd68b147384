// IOVA space for DMA mappings: first fit in the IOMMU's usable ranges, page
// aligned, never at 0 (a zero address in a descriptor must not reach our
// memory). Pure bookkeeping; the caller maps what it is given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

namespace blkio::virtio {

class IovaAllocator {
 public:
  void init(std::vector<std::pair<uint64_t, uint64_t>> ranges, uint64_t page) {
    ranges_ = std::move(ranges);
    page_ = page;
    used_.clear();
  }

  // Finds room for len bytes (a multiple of the page) and records it.
  bool allocate(uint64_t len, uint64_t* iova) {
    if (len == 0) return false;
    for (const auto& [first, last] : ranges_) {
      bool ok = true;
      uint64_t candidate = align_up(first < page_ ? page_ : first, &ok);
      for (const auto& [start, length] : used_) {
        if (!ok) break;
        uint64_t end = start + (length - 1);  // inclusive: no overflow at the top
        if (end < candidate) continue;
        if (start >= candidate && start - candidate >= len) break;
        ok = end != UINT64_MAX;
        if (ok) candidate = align_up(end + 1, &ok);
      }
      if (ok && candidate >= first && candidate <= last && len - 1 <= last - candidate) {
        used_[candidate] = len;
        *iova = candidate;
        return true;
      }
    }
    return false;
  }

  // Forgets the allocation at iova; its length, or 0 when there was none.
  uint64_t release(uint64_t iova) {
    auto it = used_.find(iova);
    if (it == used_.end()) return 0;
    uint64_t len = it->second;
    used_.erase(it);
    return len;
  }

 private:
  // Clears *ok when rounding up passes the top of the address space.
  uint64_t align_up(uint64_t v, bool* ok) const {
    if (v > UINT64_MAX - (page_ - 1)) return *ok = false, 0;
    return (v + page_ - 1) / page_ * page_;
  }

  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // inclusive
  uint64_t page_ = 4096;
  std::map<uint64_t, uint64_t> used_;  // IOVA → length
};

}  // namespace blkio::virtio
