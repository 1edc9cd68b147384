#include "mem_device_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace blkio::bench {

namespace {

// Major 1's minors that hold no data (or only made-up data): null, zero, full, random, urandom.
bool is_mem_device(dev_t rdev) {
  if (major(rdev) != 1) return false;
  unsigned m = minor(rdev);
  return m == 3 || m == 5 || m == 7 || m == 8 || m == 9;
}

}  // namespace

int open_mem_device(const char* path, bool writable, std::string* why) {
  int fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    *why = std::string("cannot open '") + path + "': " + strerror(err);
    return -err;
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || !is_mem_device(st.st_rdev)) {
    close(fd);
    *why = std::string("'") + path + "' is not /dev/null, /dev/zero, /dev/full, /dev/random or /dev/urandom";
    return -EINVAL;
  }
  return fd;
}

MemDeviceSink::MemDeviceSink(int fd, size_t capacity) : fd_(fd), ring_(std::max<size_t>(1, capacity)) {}

MemDeviceSink::~MemDeviceSink() {
  if (fd_ >= 0) close(fd_);
}

void MemDeviceSink::accept(Op op, uint64_t offset, void* buf, size_t len, void* user_data) {
  if (count_ == ring_.size()) {
    // The loop never has more outstanding than it said; grow rather than drop one if it ever did.
    std::vector<Pending> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; i++) bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  ring_[(head_ + count_) % ring_.size()] = Pending{op, offset, buf, len, user_data};
  count_++;
}

void MemDeviceSink::readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) {
  // The job loop's vectors have one element.
  if (iovcnt == 1) accept(kRead, start, iov[0].iov_base, iov[0].iov_len, user_data);
  else accept(kUnsupported, 0, nullptr, 0, user_data);
}

void MemDeviceSink::writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) {
  if (iovcnt == 1) accept(kWrite, start, iov[0].iov_base, iov[0].iov_len, user_data);
  else accept(kUnsupported, 0, nullptr, 0, user_data);
}

Completion MemDeviceSink::perform(const Pending& p) {
  Completion c{};
  c.user_data = p.user_data;
  ssize_t done = 0;
  switch (p.op) {
    case kRead:
    case kWrite: {
      size_t at = 0;
      while (at < p.len) {
        auto* b = static_cast<uint8_t*>(p.buf) + at;
        done = p.op == kRead ? pread(fd_, b, p.len - at, off_t(p.offset + at)) : pwrite(fd_, b, p.len - at, off_t(p.offset + at));
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) break;
        at += size_t(done);
      }
      if (done < 0) {
        c.ret = -errno;
        c.error_msg = p.op == kRead ? "read from the memory device failed" : "write to the memory device failed";
      } else if (at < p.len) {
        c.ret = -EIO;
        c.error_msg = "short transfer on the memory device";
      }
      break;
    }
    case kFlush:
      break;  // nothing is cached
    case kUnsupported:
      c.ret = -ENOTSUP;
      c.error_msg = "a memory character device takes only reads, writes and flushes";
      break;
  }
  return c;
}

int MemDeviceSink::do_io(Completion* out, int min, int max, timespec* timeout) {
  if (min < 0 || max < 0 || min > max) return -EINVAL;
  if (out == nullptr && max > 0) return -EINVAL;
  int n = int(std::min<size_t>(count_, size_t(max)));
  for (int i = 0; i < n; i++) {
    out[i] = perform(ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
  }
  count_ -= size_t(n);
  if (timeout) *timeout = timespec{0, 0};
  return n;
}

}  // namespace blkio::bench
