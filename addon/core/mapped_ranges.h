// Every memory region mapped by any instance in the process. Memory one
// instance allocated may be mapped into another (libblkio allows any
// region); it must not be unmapped from the process while any instance still
// has it mapped, or that instance would go on using stale pages (or pages
// that are by then someone else's). So freeing it there is refused (EBUSY),
// and an instance destroyed meanwhile leaves it here, freed when the last
// mapping overlapping it goes.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

#include "byte_range.h"
#include "request.h"

namespace blkio {

class MappedRanges {
 public:
  // Never destroyed: instances torn down at process exit may still call in.
  static MappedRanges& process() {
    static MappedRanges* ranges = new MappedRanges();
    return *ranges;
  }

  void add(const void* addr, size_t len) {
    std::lock_guard<std::mutex> lock(mutex_);
    mapped_.emplace_back(reinterpret_cast<uintptr_t>(addr), len);
  }

  // Removes one mapping of exactly this range; frees orphaned allocations
  // no mapping overlaps any more.
  void remove(const void* addr, size_t len) {
    std::vector<MemRegion> now_free;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto key = std::make_pair(reinterpret_cast<uintptr_t>(addr), len);
      for (size_t i = 0; i < mapped_.size(); i++)
        if (mapped_[i] == key) {
          mapped_.erase(mapped_.begin() + long(i));
          break;
        }
      for (size_t i = 0; i < orphans_.size();) {
        if (overlaps_locked(orphans_[i].addr, orphans_[i].len)) {
          i++;
          continue;
        }
        now_free.push_back(orphans_[i]);
        orphans_.erase(orphans_.begin() + long(i));
      }
    }
    for (const MemRegion& r : now_free) unmap(r);
  }

  bool overlaps(const void* addr, size_t len) {
    std::lock_guard<std::mutex> lock(mutex_);
    return overlaps_locked(addr, len);
  }

  // Frees an allocation whose owner is going away: now, or once no
  // instance has any part of it mapped.
  void release(const MemRegion& r) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (overlaps_locked(r.addr, r.len)) {
        orphans_.push_back(r);
        return;
      }
    }
    unmap(r);
  }

 private:
  bool overlaps_locked(const void* addr, size_t len) const {
    uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    for (const auto& [s, l] : mapped_)
      if (ranges_overlap(a, len, s, l)) return true;
    return false;
  }

  static void unmap(const MemRegion& r) {
    munmap(r.addr, r.len);
    close(r.fd);
  }

  std::mutex mutex_;
  std::vector<std::pair<uintptr_t, size_t>> mapped_;
  std::vector<MemRegion> orphans_;
};

}  // namespace blkio
