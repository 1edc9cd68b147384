// The driver side of a split virtqueue (VIRTIO 1.2 §2.7) in memory shared
// with the device: descriptor allocation, publishing chains, popping used
// entries, kick and interrupt suppression (EVENT_IDX or the flag fields).
// One thread uses a queue at a time; the device is another process or the
// kernel, so SMP barriers order our accesses against it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "virtio_spec.h"

namespace blkio::virtio {

// Where a queue's areas lie in its block of shared memory. `extra` is room
// after the rings for the user of the queue (per-request headers).
struct VirtqueueLayout {
  size_t desc = 0;
  size_t avail = 0;
  size_t used = 0;
  size_t extra = 0;
  size_t total = 0;  // a multiple of the page size, so queues start page-aligned

  static VirtqueueLayout compute(unsigned size, size_t extra_bytes);
};

class SplitVirtqueue {
 public:
  // mem is the queue's block (zeroed), laid out as `layout` says.
  void init(uint8_t* mem, const VirtqueueLayout& layout, unsigned size, bool event_idx);

  unsigned size() const { return size_; }
  unsigned free_count() const { return free_count_; }

  // Takes n (1..free_count) descriptors, already linked as a chain, and
  // returns the head. Fill them with set(), walking with next().
  uint16_t alloc_chain(unsigned n);
  uint16_t next(uint16_t d) const { return next_[d]; }
  // last: no NEXT flag (the chain ends here).
  void set(uint16_t d, uint64_t addr, uint32_t len, bool device_writable, bool last) {
    VirtqDesc& desc = desc_[d];
    desc.addr = addr;
    desc.len = len;
    desc.flags = uint16_t((device_writable ? kDescWrite : 0) | (last ? 0 : kDescNext));
    desc.next = last ? 0 : next_[d];
  }
  // Puts a filled chain in the avail ring; the device sees it after publish().
  void make_available(uint16_t head) {
    avail_ring_[avail_shadow_ & mask_] = head;
    avail_shadow_++;
  }
  // Makes everything made available visible; true when the device asked
  // for a kick.
  bool publish();

  // Used entries the device has returned and we have not popped.
  uint16_t used_pending() {
    used_seen_ = __atomic_load_n(used_idx_, __ATOMIC_ACQUIRE);
    return uint16_t(used_seen_ - last_used_);
  }
  // Pops one used entry (the head of a finished chain); false when none.
  bool pop_used(uint16_t* head, uint32_t* len) {
    if (last_used_ == used_seen_ && used_pending() == 0) return false;
    const VirtqUsedElem& e = used_ring_[last_used_ & mask_];
    last_used_++;
    *head = uint16_t(e.id);
    *len = e.len;
    return true;
  }
  // Returns a popped chain's descriptors to the free list.
  void free_chain(uint16_t head);

  // For re-offering chains to a new device after a reconnect: the next
  // avail index we will fill, the next used entry we will pop, the device's
  // used index and the head of used entry idx (the ring as it stands).
  uint16_t avail_shadow() const { return avail_shadow_; }
  uint16_t last_used() const { return last_used_; }
  uint16_t device_used_idx() const { return __atomic_load_n(used_idx_, __ATOMIC_ACQUIRE); }
  uint32_t used_id_at(uint16_t idx) const { return used_ring_[idx & mask_].id; }

  // Interrupts (call signals). arm(n): signal once n more entries are used
  // (n > 1 only with EVENT_IDX; without it any completion signals). Both
  // end with a full fence, so a used_pending() afterwards closes the race
  // with a device that completed just before.
  void arm_interrupts(unsigned n);
  void disarm_interrupts();

 private:
  // avail area: le16 flags, idx, ring[size], used_event.
  // used area: le16 flags, idx, {le32 id, len} ring[size], le16 avail_event.
  VirtqDesc* desc_ = nullptr;
  uint16_t* avail_flags_ = nullptr;
  uint16_t* avail_idx_ = nullptr;
  uint16_t* avail_ring_ = nullptr;
  uint16_t* used_flags_ = nullptr;
  uint16_t* used_idx_ = nullptr;
  VirtqUsedElem* used_ring_ = nullptr;
  uint16_t* used_event_ = nullptr;   // in the avail area, written by us
  uint16_t* avail_event_ = nullptr;  // in the used area, written by the device
  unsigned size_ = 0;
  uint16_t mask_ = 0;
  bool event_idx_ = false;

  // Free descriptors form a list through next_ (private, so the device
  // cannot corrupt our bookkeeping); chain_len_ is indexed by head.
  std::vector<uint16_t> next_;
  std::vector<uint16_t> chain_len_;
  uint16_t free_head_ = 0;
  unsigned free_count_ = 0;

  uint16_t avail_shadow_ = 0;     // next avail idx, not yet published
  uint16_t avail_published_ = 0;  // what the device can see
  uint16_t last_used_ = 0;        // next used entry to pop
  uint16_t used_seen_ = 0;        // last used idx read from the device
};

}  // namespace blkio::virtio
