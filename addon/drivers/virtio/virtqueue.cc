#include "virtqueue.h"

#include <unistd.h>

namespace blkio::virtio {

namespace {

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

// The used area is written by the device and the avail area by us: keep
// them on separate cache lines.
constexpr size_t kCacheLine = 64;

}  // namespace

VirtqueueLayout VirtqueueLayout::compute(unsigned size, size_t extra_bytes) {
  VirtqueueLayout l;
  l.desc = 0;
  l.avail = align_up(sizeof(VirtqDesc) * size, kCacheLine);
  l.used = align_up(l.avail + 6 + 2 * size_t(size), kCacheLine);
  l.extra = align_up(l.used + 6 + sizeof(VirtqUsedElem) * size, kCacheLine);
  l.total = align_up(l.extra + extra_bytes, size_t(sysconf(_SC_PAGESIZE)));
  return l;
}

void SplitVirtqueue::init(uint8_t* mem, const VirtqueueLayout& layout, unsigned size, bool event_idx) {
  size_ = size;
  mask_ = uint16_t(size - 1);
  event_idx_ = event_idx;
  desc_ = reinterpret_cast<VirtqDesc*>(mem + layout.desc);
  auto* avail = reinterpret_cast<uint16_t*>(mem + layout.avail);
  avail_flags_ = avail;
  avail_idx_ = avail + 1;
  avail_ring_ = avail + 2;
  used_event_ = avail + 2 + size;
  auto* used = mem + layout.used;
  used_flags_ = reinterpret_cast<uint16_t*>(used);
  used_idx_ = reinterpret_cast<uint16_t*>(used + 2);
  used_ring_ = reinterpret_cast<VirtqUsedElem*>(used + 4);
  avail_event_ = reinterpret_cast<uint16_t*>(used + 4 + sizeof(VirtqUsedElem) * size);

  next_.resize(size);
  chain_len_.assign(size, 0);
  for (unsigned i = 0; i < size; i++) next_[i] = uint16_t((i + 1) & mask_);
  free_head_ = 0;
  free_count_ = size;
  avail_shadow_ = avail_published_ = last_used_ = used_seen_ = 0;
  disarm_interrupts();  // libblkio: a queue's completion fd starts disabled
}

uint16_t SplitVirtqueue::alloc_chain(unsigned n) {
  uint16_t head = free_head_;
  uint16_t d = head;
  for (unsigned i = 1; i < n; i++) d = next_[d];
  free_head_ = next_[d];
  free_count_ -= n;
  chain_len_[head] = uint16_t(n);
  return head;
}

void SplitVirtqueue::free_chain(uint16_t head) {
  unsigned n = chain_len_[head];
  uint16_t tail = head;
  for (unsigned i = 1; i < n; i++) tail = next_[tail];
  next_[tail] = free_head_;
  free_head_ = head;
  free_count_ += n;
}

bool SplitVirtqueue::publish() {
  if (avail_shadow_ == avail_published_) return false;
  uint16_t old_idx = avail_published_;
  uint16_t new_idx = avail_shadow_;
  // Descriptors and ring slots before the index (release), and the index
  // before we read the device's wish to be kicked (full fence: a store may
  // pass a later load even on x86, and a device going idle would miss us).
  __atomic_store_n(avail_idx_, new_idx, __ATOMIC_RELEASE);
  avail_published_ = new_idx;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  if (event_idx_) return need_event(__atomic_load_n(avail_event_, __ATOMIC_RELAXED), new_idx, old_idx);
  return !(__atomic_load_n(used_flags_, __ATOMIC_RELAXED) & kUsedNoNotify);
}

void SplitVirtqueue::arm_interrupts(unsigned n) {
  if (event_idx_)
    __atomic_store_n(used_event_, uint16_t(last_used_ + n - 1), __ATOMIC_RELAXED);
  else
    __atomic_store_n(avail_flags_, uint16_t(0), __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void SplitVirtqueue::disarm_interrupts() {
  // With EVENT_IDX an index just behind ours is not reached again until
  // the counter wraps (at most one spurious signal then).
  if (event_idx_)
    __atomic_store_n(used_event_, uint16_t(last_used_ - 1), __ATOMIC_RELAXED);
  else
    __atomic_store_n(avail_flags_, kAvailNoInterrupt, __ATOMIC_RELAXED);
}

}  // namespace blkio::virtio
