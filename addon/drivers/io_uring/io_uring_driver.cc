#include "io_uring_driver.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../../core/errors.h"
#include "io_uring_queue.h"
#include "target_fd.h"

namespace blkio {

namespace {
// The kernel's maximum SQ size since 5.4.
constexpr int32_t kMaxEntries = 32768;
}  // namespace

IoUringDriver::~IoUringDriver() {
  if (target_.fd >= 0) close(target_.fd);
}

void IoUringDriver::add_properties(PropertyTable& t) {
  t.bind("path", Access::CreatedRW, &path_);
  t.bind("fd", Access::CreatedRW, &fd_);
  t.bind("direct", Access::CreatedRW, &direct_);
  t.bind("num-entries", Access::ConnectedRW, &num_entries_,
         [](int32_t v) { return v <= 0 ? fail(EINVAL, "num-entries must be greater than 0") : 0; });
}

int IoUringDriver::connect(DeviceInfo* info, bool* read_only) {
  int fd = -1, fl = 0;
  int r = open_path_or_fd(path_, fd_, (*read_only ? O_RDONLY : O_RDWR) | (direct_ ? O_DIRECT : 0), "io_uring",
                          "a regular file or a block device", &fd, &fl);
  if (r < 0) return r;
  if (fd_ >= 0) {  // a given fd decides direct and read-only itself
    *read_only = (fl & O_ACCMODE) == O_RDONLY;
    direct_ = (fl & O_DIRECT) != 0;
  }
  target_.fd = fd;
  target_.direct = direct_;
  r = describe_target(&target_, info);
  if (r < 0) {
    if (fd_ < 0) close(fd);
    target_.fd = -1;
    return r;
  }
  fd_ = fd;  // from now on we own it, and "fd" reads it back
  return 0;
}

int IoUringDriver::start(int, int, bool) {
  if (num_entries_ > kMaxEntries)
    return fail(EINVAL, "num-entries %d exceeds the kernel maximum of %d", num_entries_, kMaxEntries);
  return 0;
}

int IoUringDriver::create_queue(bool poll, int, std::unique_ptr<QueueDriver>* out) {
  auto q = std::make_unique<UringQueue>(this, target_, poll);
  int r = q->init(unsigned(num_entries_));
  if (r < 0) return r;
  for (auto& [slot, region] : mapped_) q->register_buffer(slot, region.addr, region.len);
  live_queues_.push_back(q.get());
  *out = std::move(q);
  return 0;
}

void IoUringDriver::forget(UringQueue* q) {
  live_queues_.erase(std::remove(live_queues_.begin(), live_queues_.end(), q), live_queues_.end());
}

int IoUringDriver::map_region(int slot, const MemRegion& region) {
  // Registration is an optimization: a queue that cannot register the
  // buffer (e.g. RLIMIT_MEMLOCK) still does I/O to it with plain opcodes.
  for (UringQueue* q : live_queues_) q->register_buffer(slot, region.addr, region.len);
  mapped_.emplace_back(slot, region);
  return 0;
}

void IoUringDriver::unmap_region(int slot, const MemRegion&) {
  for (UringQueue* q : live_queues_) q->unregister_buffer(slot);
  mapped_.erase(std::remove_if(mapped_.begin(), mapped_.end(), [slot](auto& m) { return m.first == slot; }),
                mapped_.end());
}

}  // namespace blkio
