// A growable FIFO with push at both ends. Storage only grows, so a queue
// that oscillates around a size allocates nothing in steady state (unlike
// std::deque, which frees and reallocates its blocks).
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

namespace blkio {

template <typename T>
class Fifo {
 public:
  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }

  void push_back(T v) {
    grow_if_full();
    items_[(head_ + size_) & mask()] = std::move(v);
    size_++;
  }
  void push_front(T v) {
    grow_if_full();
    head_ = (head_ - 1) & mask();
    items_[head_] = std::move(v);
    size_++;
  }
  T& front() { return items_[head_]; }
  T pop_front() {
    T v = std::move(items_[head_]);
    head_ = (head_ + 1) & mask();
    size_--;
    return v;
  }
  void clear() { head_ = size_ = 0; }
  T& at(size_t i) { return items_[(head_ + i) & mask()]; }
  // Removes count items from index from on, keeping the others in order.
  void erase(size_t from, size_t count) {
    for (size_t i = from; i + count < size_; i++) at(i) = std::move(at(i + count));
    size_ -= count;
  }

 private:
  size_t mask() const { return items_.size() - 1; }
  void grow_if_full() {
    if (size_ < items_.size()) return;
    std::vector<T> bigger(items_.empty() ? 16 : items_.size() * 2);
    for (size_t i = 0; i < size_; i++) bigger[i] = std::move(items_[(head_ + i) & mask()]);
    items_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> items_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace blkio
