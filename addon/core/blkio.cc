#include "blkio.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "byte_range.h"
#include "errors.h"
#include "mapped_ranges.h"
#include "memfd.h"
#include "zoned_properties.h"

namespace blkio {

int Blkio::create(const char* driver_name, std::unique_ptr<Blkio>* out) {
  std::unique_ptr<Driver> driver;
  int r = create_driver(driver_name, &driver);
  if (r < 0) return r;
  out->reset(new Blkio(driver_name, std::move(driver)));
  return 0;
}

Blkio::Blkio(std::string driver_name, std::unique_ptr<Driver> driver)
    : driver_name_(std::move(driver_name)), driver_(std::move(driver)) {
  can_add_queues_ = driver_->can_add_queues();
  add_generic_properties();
  driver_->add_properties(props_);
}

Blkio::~Blkio() { shutdown(); }

void Blkio::shutdown() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return;
  // Queues first: they stop the device from touching request memory.
  for (auto* list : {&queues_, &poll_queues_}) {
    for (auto& q : *list)
      if (q) q->shutdown();
    list->clear();
  }
  for (const MemRegion& r : mapped_) {
    driver_->unmap_region(regions_.find_exact(r.addr, r.len), r);
    MappedRanges::process().remove(r.addr, r.len);
  }
  mapped_.clear();
  driver_.reset();
  // Another instance may still have some of this memory mapped.
  for (const MemRegion& r : allocated_) MappedRanges::process().release(r);
  allocated_.clear();
}

int Blkio::destroyed_error() { return fail(ENODEV, "Blkio has been destroyed"); }

void Blkio::add_generic_properties() {
  using A = Access;
  props_.add("driver", PropType::Str, A::Constant, [this](PropValue* v) { v->s = driver_name_; });
  props_.bind("read-only", A::CreatedRW, &read_only_);
  props_.add("can-add-queues", PropType::Bool, A::Constant, [this](PropValue* v) { v->b = can_add_queues_; });
  auto non_negative = [](const char* name) {
    return [name](int32_t v) { return v < 0 ? fail(EINVAL, "%s must not be negative", name) : 0; };
  };
  props_.bind("num-queues", A::ConnectedRW, &num_queues_, non_negative("num-queues"));
  props_.bind("num-poll-queues", A::ConnectedRW, &num_poll_queues_, non_negative("num-poll-queues"));

  DeviceInfo* d = &info_;
  // Read fresh from the device on every get (Blkio::get), as libblkio does.
  props_.add("capacity", PropType::Uint64, A::ConnectedRO,
             [this](PropValue* v) { v->u = capacity_.load(std::memory_order_relaxed); });
  props_.bind("max-queues", A::ConnectedRO, &d->max_queues);
  props_.bind("supports-poll-queues", A::ConnectedRO, &d->supports_poll_queues);
  props_.bind("max-mem-regions", A::ConnectedRO, &d->max_mem_regions);
  props_.bind("may-pin-mem-regions", A::ConnectedRO, &d->may_pin_mem_regions);
  props_.bind("mem-region-alignment", A::ConnectedRO, &d->mem_region_alignment);
  props_.bind("needs-mem-regions", A::ConnectedRO, &d->needs_mem_regions);
  props_.bind("needs-mem-region-fd", A::ConnectedRO, &d->needs_mem_region_fd);
  props_.bind("request-alignment", A::ConnectedRO, &d->request_alignment);
  props_.bind("optimal-io-alignment", A::ConnectedRO, &d->optimal_io_alignment);
  props_.bind("optimal-io-size", A::ConnectedRO, &d->optimal_io_size);
  props_.bind("flush-needed", A::ConnectedRO, &d->flush_needed);
  props_.bind("buf-alignment", A::ConnectedRO, &d->buf_alignment);
  props_.bind("optimal-buf-alignment", A::ConnectedRO, &d->optimal_buf_alignment);
  props_.bind("can-grow", A::ConnectedRO, &d->can_grow);
  props_.bind("max-segments", A::ConnectedRO, &d->max_segments);
  props_.bind("max-segment-len", A::ConnectedRO, &d->max_segment_len);
  props_.bind("max-transfer", A::ConnectedRO, &d->max_transfer);
  props_.bind("supports-fua-natively", A::ConnectedRO, &d->supports_fua_natively);
  props_.bind("max-write-zeroes-len", A::ConnectedRO, &d->max_write_zeroes_len);
  props_.bind("discard-alignment", A::ConnectedRO, &d->discard_alignment);
  props_.bind("discard-alignment-offset", A::ConnectedRO, &d->discard_alignment_offset);
  props_.bind("max-discard-len", A::ConnectedRO, &d->max_discard_len);
  bind_zoned_properties(props_, &d->zoned);
}

int Blkio::get(const char* name, PropType as, PropValue* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  bool readable_as = as == PropType::Uint64 || as == PropType::Str;
  if (state_ != State::Created && readable_as && strcmp(name, "capacity") == 0) {
    int r = refresh_capacity();
    if (r < 0) return r;
  }
  return props_.get(state_, name, as, out);
}

int Blkio::refresh_capacity() {
  uint64_t capacity = capacity_.load(std::memory_order_relaxed);
  int r = driver_->current_capacity(&capacity);
  if (r < 0) return r;
  info_.capacity = capacity;
  capacity_.store(capacity, std::memory_order_relaxed);
  return 0;
}

int Blkio::set(const char* name, PropType as, const PropValue& value) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  return props_.set(state_, name, as, value);
}

int Blkio::connect() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  if (state_ == State::Connected) return 0;
  if (state_ == State::Started) return fail(EBUSY, "Cannot connect in started state");
  DeviceInfo info;
  int r = driver_->connect(&info, &read_only_);
  if (r < 0) return r;
  info_ = info;
  capacity_.store(info.capacity, std::memory_order_relaxed);
  state_ = State::Connected;
  return 0;
}

int Blkio::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  if (state_ == State::Started) return 0;
  if (state_ == State::Created) return fail(ENODEV, "Device must be connected");
  int total = num_queues_ + num_poll_queues_;
  if (total == 0 && !can_add_queues_) return fail(EINVAL, "num-queues + num-poll-queues must be at least 1");
  if (total > info_.max_queues)
    return fail(EINVAL, "num-queues + num-poll-queues (%d) exceeds max-queues (%d)", total, info_.max_queues);
  if (num_poll_queues_ > 0 && !info_.supports_poll_queues)
    return fail(EINVAL, "num-poll-queues is %d but this device does not support poll queues%s", num_poll_queues_,
                driver_name_ == "io_uring" ? " (they need direct=true and a block device with poll support)" : "");
  int r = driver_->start(num_queues_, num_poll_queues_, read_only_);
  if (r < 0) return r;
  for (bool poll : {false, true}) {
    int count = poll ? num_poll_queues_ : num_queues_;
    for (int i = 0; i < count; i++) {
      std::shared_ptr<Queue> q;
      r = make_queue(poll, i, &q);
      if (r < 0) {
        queues_.clear();
        poll_queues_.clear();
        return r;
      }
      queues(poll).push_back(std::move(q));
    }
  }
  state_ = State::Started;
  return 0;
}

int Blkio::make_queue(bool poll, int index, std::shared_ptr<Queue>* out) {
  std::unique_ptr<QueueDriver> qd;
  int r = driver_->create_queue(poll, index, &qd);
  if (r < 0) return r;
  *out = std::make_shared<Queue>(QueueContext{&info_, &capacity_, &read_only_, &regions_}, std::move(qd), poll);
  return 0;
}

std::shared_ptr<Queue> Blkio::get_queue(bool poll, int index) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& list = queues(poll);
  if (!driver_ || state_ != State::Started || index < 0 || size_t(index) >= list.size()) return nullptr;
  return list[size_t(index)];
}

int Blkio::add_queue(bool poll) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  if (!can_add_queues_) return fail(ENOTSUP, "Driver does not support dynamically adding queues");
  if (state_ != State::Started) return fail(EBUSY, "Device must be started");
  if (poll && !info_.supports_poll_queues) return fail(EINVAL, "this device does not support poll queues");
  auto& list = queues(poll);
  size_t index = 0;
  while (index < list.size() && list[index]) index++;
  std::shared_ptr<Queue> q;
  int r = make_queue(poll, int(index), &q);
  if (r < 0) return r;
  if (index == list.size()) list.push_back(std::move(q));
  else list[index] = std::move(q);
  return int(index);
}

int Blkio::remove_queue(bool poll, int index, const std::function<void()>& before_close) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  if (state_ != State::Started) return fail(EBUSY, "Device must be started");
  auto& list = queues(poll);
  if (index < 0 || size_t(index) >= list.size() || !list[size_t(index)])
    return fail(ENOENT, "no %squeue with index %d", poll ? "poll " : "", index);
  // Declared before the claim, so that a last reference dropped here goes
  // after the claim is released (~Queue takes it too).
  std::shared_ptr<Queue> q = list[size_t(index)];
  std::unique_lock<std::mutex> claim(q->use_mutex(), std::try_to_lock);
  if (!claim.owns_lock()) return fail(EBUSY, "queue %d is in use by another thread (inside doIo)", index);
  if (before_close) before_close();
  q->shutdown_claimed();
  list[size_t(index)].reset();
  return 0;
}

int Blkio::alloc_mem_region(MemRegion* out, size_t len) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  if (state_ == State::Created) return fail(ENODEV, "Device must be connected");
  if (len == 0) return fail(EINVAL, "len must be greater than 0");
  if (len > size_t(INT64_MAX)) return fail(EINVAL, "len %zu exceeds the largest possible memory region (2^63 - 1)", len);
  if (len % info_.mem_region_alignment)
    return fail(EINVAL, "len %zu is not a multiple of mem-region-alignment (%llu)", len,
                (unsigned long long)info_.mem_region_alignment);
  void* addr;
  int fd;
  int r = map_memfd("blkio-buf", len, "memory region", &addr, &fd);
  if (r < 0) return r;
  if (reinterpret_cast<uintptr_t>(addr) % info_.mem_region_alignment) {
    munmap(addr, len);
    close(fd);
    return fail(EOVERFLOW, "mmap returned an address not aligned to mem-region-alignment");
  }
  *out = MemRegion{addr, len, 0, 0, fd, 0};
  allocated_.push_back(*out);
  return 0;
}

int Blkio::free_mem_region(const MemRegion& region) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  for (size_t i = 0; i < allocated_.size(); i++) {
    const MemRegion& r = allocated_[i];
    if (r.addr != region.addr || r.len != region.len || r.fd != region.fd) continue;
    if (regions_.find_exact(r.addr, r.len) >= 0)
      return fail(EBUSY, "memory region is still mapped; unmap it before freeing it");
    if (MappedRanges::process().overlaps(r.addr, r.len))
      return fail(EBUSY, "memory region is mapped by another instance; unmap it there before freeing it");
    munmap(r.addr, r.len);
    close(r.fd);
    allocated_.erase(allocated_.begin() + long(i));
    return 0;
  }
  return fail(EINVAL, "memory region was not allocated by this instance (or was already freed)");
}

int Blkio::map_mem_region(const MemRegion& region) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return destroyed_error();
  if (state_ != State::Started) return fail(EBUSY, "Device must be started");
  uint64_t align = info_.mem_region_alignment;
  if (reinterpret_cast<uintptr_t>(region.addr) % align || region.len % align || region.len == 0)
    return fail(EINVAL, "memory region addr and len must be non-zero multiples of mem-region-alignment (%llu)",
                (unsigned long long)align);
  if (!range_fits(reinterpret_cast<uintptr_t>(region.addr), region.len))
    return fail(EINVAL, "memory region wraps the address space (addr + len exceeds 2^64 - 1)");
  if (region.iova != 0 || region.flags != 0) return fail(EINVAL, "memory region iova and flags must be 0");
  if (info_.needs_mem_region_fd && region.fd < 0)
    return fail(EINVAL, "this driver needs memory regions backed by a file descriptor (needs-mem-region-fd)");
  if (regions_.find_exact(region.addr, region.len) >= 0) return fail(EINVAL, "memory region already mapped");
  if (regions_.overlaps(region.addr, region.len))
    return fail(EINVAL, "memory region overlaps a mapped memory region");
  if (mapped_.size() >= info_.max_mem_regions)
    return fail(EINVAL, "too many mapped memory regions (max-mem-regions is %llu)",
                (unsigned long long)info_.max_mem_regions);
  int slot = regions_.insert(region.addr, region.len);
  if (slot < 0) return fail(ENOSPC, "too many mapped memory regions (limit %d)", RegionTable::kSlots);
  int r = driver_->map_region(slot, region);
  if (r < 0) {
    regions_.remove(slot);
    return r;
  }
  mapped_.push_back(region);
  MappedRanges::process().add(region.addr, region.len);
  return 0;
}

void Blkio::unmap_mem_region(const MemRegion& region) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!driver_) return;
  int slot = regions_.find_exact(region.addr, region.len);
  if (slot < 0) return;
  driver_->unmap_region(slot, region);
  regions_.remove(slot);
  MappedRanges::process().remove(region.addr, region.len);
  for (size_t i = 0; i < mapped_.size(); i++)
    if (mapped_[i].addr == region.addr && mapped_[i].len == region.len) {
      mapped_.erase(mapped_.begin() + long(i));
      break;
    }
}

}  // namespace blkio
