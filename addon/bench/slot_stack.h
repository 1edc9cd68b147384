// A stack of request slot indexes whose capacity (the job's iodepth) is set
// once: push and pop check no capacity, since a job never holds more slots
// than it has.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace blkio::bench {

class SlotStack {
 public:
  explicit SlotStack(size_t capacity) : items_(new uint32_t[capacity > 0 ? capacity : 1]) {}
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  uint32_t back() const { return items_[size_ - 1]; }
  void pop_back() { size_--; }
  void push_back(uint32_t v) { items_[size_++] = v; }
  void clear() { size_ = 0; }
  const uint32_t* begin() const { return items_.get(); }
  const uint32_t* end() const { return items_.get() + size_; }

 private:
  std::unique_ptr<uint32_t[]> items_;
  size_t size_ = 0;
};

}  // namespace blkio::bench
