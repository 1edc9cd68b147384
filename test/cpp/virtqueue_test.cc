// Split virtqueue ring arithmetic (addon/drivers/virtio/virtqueue.cc), with
// this test playing the device.
#include <cstdlib>
#include <cstring>

#include "../../addon/drivers/virtio/virtqueue.h"
#include "check.h"

using blkio::virtio::SplitVirtqueue;
using blkio::virtio::VirtqDesc;
using blkio::virtio::VirtqUsedElem;
using blkio::virtio::VirtqueueLayout;

namespace {

// A queue in zeroed, page-aligned memory, with the device's view of it.
struct Fixture {
  VirtqueueLayout layout;
  uint8_t* mem;
  SplitVirtqueue vq;
  unsigned size;

  Fixture(unsigned n, bool event_idx) : layout(VirtqueueLayout::compute(n, 0)), size(n) {
    mem = static_cast<uint8_t*>(std::aligned_alloc(4096, layout.total));
    std::memset(mem, 0, layout.total);
    vq.init(mem, layout, n, event_idx);
  }
  ~Fixture() { std::free(mem); }

  VirtqDesc* desc() { return reinterpret_cast<VirtqDesc*>(mem + layout.desc); }
  uint16_t avail_idx() { return reinterpret_cast<uint16_t*>(mem + layout.avail)[1]; }
  uint16_t avail_ring(unsigned i) { return reinterpret_cast<uint16_t*>(mem + layout.avail)[2 + i % size]; }
  uint16_t used_event() { return reinterpret_cast<uint16_t*>(mem + layout.avail)[2 + size]; }
  uint16_t& used_flags() { return *reinterpret_cast<uint16_t*>(mem + layout.used); }
  uint16_t& used_idx() { return *reinterpret_cast<uint16_t*>(mem + layout.used + 2); }
  VirtqUsedElem& used_ring(unsigned i) { return reinterpret_cast<VirtqUsedElem*>(mem + layout.used + 4)[i % size]; }
  uint16_t& avail_event() { return *reinterpret_cast<uint16_t*>(mem + layout.used + 4 + sizeof(VirtqUsedElem) * size); }

  // The device returns the chain at head with len bytes written.
  void device_uses(uint16_t head, uint32_t len) {
    used_ring(used_idx()) = VirtqUsedElem{head, len};
    used_idx() = uint16_t(used_idx() + 1);
  }
};

}  // namespace

TEST(layout_keeps_areas_apart_and_page_sized) {
  VirtqueueLayout l = VirtqueueLayout::compute(256, 100);
  CHECK(l.avail >= 16 * 256);
  CHECK(l.used >= l.avail + 6 + 2 * 256);
  CHECK(l.extra >= l.used + 6 + 8 * 256);
  CHECK(l.total >= l.extra + 100);
  CHECK_EQ(l.used % 64, 0u);
  CHECK_EQ(l.total % 4096, 0u);
}

TEST(a_chain_is_linked_and_ends_without_next) {
  Fixture f(8, true);
  uint16_t head = f.vq.alloc_chain(3);
  CHECK_EQ(f.vq.free_count(), 5u);
  uint16_t d = head;
  for (int i = 0; i < 3; i++) {
    f.vq.set(d, 0x1000 * (i + 1), 512, i == 1, i == 2);
    if (i < 2) d = f.vq.next(d);
  }
  const VirtqDesc* desc = f.desc();
  CHECK_EQ(desc[head].addr, 0x1000u);
  CHECK(desc[head].flags & blkio::virtio::kDescNext);
  CHECK(desc[desc[head].next].flags & blkio::virtio::kDescWrite);
  CHECK_EQ(desc[d].flags & blkio::virtio::kDescNext, 0);
}

TEST(published_chains_appear_in_the_avail_ring_in_order) {
  Fixture f(8, true);
  uint16_t a = f.vq.alloc_chain(2), b = f.vq.alloc_chain(2);
  f.vq.make_available(a);
  f.vq.make_available(b);
  CHECK_EQ(f.avail_idx(), 0);  // nothing visible before publish()
  f.vq.publish();
  CHECK_EQ(f.avail_idx(), 2);
  CHECK_EQ(f.avail_ring(0), a);
  CHECK_EQ(f.avail_ring(1), b);
}

TEST(event_idx_kicks_only_when_the_device_asked) {
  Fixture f(8, true);
  f.avail_event() = 0;  // the device wants to hear about entry 0
  f.vq.make_available(f.vq.alloc_chain(1));
  CHECK(f.vq.publish());
  f.avail_event() = 5;  // ...and now not before entry 5
  f.vq.make_available(f.vq.alloc_chain(1));
  CHECK(!f.vq.publish());
  CHECK(!f.vq.publish());  // nothing new: no kick
}

TEST(without_event_idx_no_notify_suppresses_kicks) {
  Fixture f(8, false);
  f.vq.make_available(f.vq.alloc_chain(1));
  CHECK(f.vq.publish());
  f.used_flags() = blkio::virtio::kUsedNoNotify;
  f.vq.make_available(f.vq.alloc_chain(1));
  CHECK(!f.vq.publish());
}

TEST(used_entries_pop_once_and_free_their_descriptors) {
  Fixture f(8, true);
  uint16_t a = f.vq.alloc_chain(3);
  f.vq.make_available(a);
  f.vq.publish();
  uint16_t head;
  uint32_t len;
  CHECK(!f.vq.pop_used(&head, &len));
  f.device_uses(a, 4097);
  CHECK_EQ(f.vq.used_pending(), 1);
  CHECK(f.vq.pop_used(&head, &len));
  CHECK_EQ(head, a);
  CHECK_EQ(len, 4097u);
  CHECK(!f.vq.pop_used(&head, &len));
  f.vq.free_chain(head);
  CHECK_EQ(f.vq.free_count(), 8u);
}

TEST(indices_wrap_at_65536_without_losing_an_entry) {
  Fixture f(4, true);
  for (unsigned round = 0; round < 70000; round++) {
    uint16_t h = f.vq.alloc_chain(2);
    f.vq.make_available(h);
    f.vq.publish();
    CHECK_EQ(f.avail_ring(uint16_t(f.avail_idx() - 1)), h);
    f.device_uses(h, round & 0xff);
    uint16_t head;
    uint32_t len;
    CHECK(f.vq.pop_used(&head, &len));
    CHECK_EQ(head, h);
    CHECK_EQ(len, round & 0xff);
    f.vq.free_chain(head);
  }
  CHECK_EQ(f.avail_idx(), uint16_t(70000));
  CHECK_EQ(f.vq.free_count(), 4u);
}

TEST(arming_interrupts_sets_used_event_to_the_nth_next_entry) {
  Fixture f(8, true);
  f.vq.arm_interrupts(3);
  CHECK_EQ(f.used_event(), 2);  // signal when used idx passes 2: after 3 entries
  f.vq.disarm_interrupts();
  CHECK_EQ(f.used_event(), uint16_t(0xffff));  // just behind: not reached until the counter wraps
}
