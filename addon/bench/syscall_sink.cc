#include "syscall_sink.h"

#include <fcntl.h>
#include <linux/falloc.h>
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

int open_syscall_target(const char* path, SyscallKind kind, bool writable, std::string* why) {
  bool mem = kind == SyscallKind::ReadWrite;
  int fd = open(path, (mem && !writable ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    *why = std::string("cannot open '") + path + "': " + strerror(err);
    return -err;
  }
  struct stat st;
  bool ok = fstat(fd, &st) == 0 && (mem ? S_ISCHR(st.st_mode) && is_mem_device(st.st_rdev) : S_ISREG(st.st_mode));
  if (!ok) {
    close(fd);
    *why = std::string("'") + path + (mem ? "' is not /dev/null, /dev/zero, /dev/full, /dev/random or /dev/urandom" : "' is not a regular file");
    return -EINVAL;
  }
  return fd;
}

SyscallSink::SyscallSink(int fd, SyscallKind kind, size_t capacity) : SynchronousSink(capacity), fd_(fd), kind_(kind) {}

SyscallSink::~SyscallSink() {
  if (fd_ >= 0) close(fd_);
}

void SyscallSink::readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) {
  // The job loop's vectors have one element.
  if (iovcnt == 1) accept(SyscallPending::kRead, start, iov[0].iov_base, iov[0].iov_len, user_data);
  else accept(SyscallPending::kUnsupported, 0, nullptr, 0, user_data);
}

void SyscallSink::writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) {
  if (iovcnt == 1) accept(SyscallPending::kWrite, start, iov[0].iov_base, iov[0].iov_len, user_data);
  else accept(SyscallPending::kUnsupported, 0, nullptr, 0, user_data);
}

Completion SyscallSink::perform(const SyscallPending& p) {
  Completion c{};
  c.user_data = p.user_data;
  if (kind_ == SyscallKind::Fallocate && p.op != SyscallPending::kFlush && p.op != SyscallPending::kUnsupported) {
    // fio's falloc: reads allocate keeping the size, writes allocate, trims punch holes.
    int mode = p.op == SyscallPending::kRead ? FALLOC_FL_KEEP_SIZE : p.op == SyscallPending::kWrite ? 0 : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    if (fallocate(fd_, mode, off_t(p.offset), off_t(p.len)) < 0) {
      c.ret = -errno;
      c.error_msg = "fallocate failed";
    }
    return c;
  }
  if (kind_ == SyscallKind::Ftruncate && p.op != SyscallPending::kFlush) {
    // fio's ftruncate: a write sets the file's size to its offset; nothing else is a truncate.
    if (p.op != SyscallPending::kWrite) {
      c.ret = -EINVAL;
      c.error_msg = "ioengine=ftruncate takes only writes";
    } else if (ftruncate(fd_, off_t(p.offset)) < 0) {
      c.ret = -errno;
      c.error_msg = "ftruncate failed";
    }
    return c;
  }
  ssize_t done = 0;
  switch (p.op) {
    case SyscallPending::kRead:
    case SyscallPending::kWrite: {
      size_t at = 0;
      while (at < p.len) {
        auto* b = static_cast<uint8_t*>(p.buf) + at;
        done = p.op == SyscallPending::kRead ? pread(fd_, b, p.len - at, off_t(p.offset + at)) : pwrite(fd_, b, p.len - at, off_t(p.offset + at));
        if (done < 0 && errno == EINTR) continue;
        if (done <= 0) break;
        at += size_t(done);
      }
      if (done < 0) {
        c.ret = -errno;
        c.error_msg = p.op == SyscallPending::kRead ? "read from the memory device failed" : "write to the memory device failed";
      } else if (at < p.len) {
        c.ret = -EIO;
        c.error_msg = "short transfer on the memory device";
      }
      break;
    }
    case SyscallPending::kFlush:
      break;  // nothing is cached
    case SyscallPending::kTrim:
    case SyscallPending::kUnsupported:
      c.ret = -ENOTSUP;
      c.error_msg = "a memory character device takes only reads, writes and flushes";
      break;
  }
  return c;
}

}  // namespace blkio::bench
