// blkbench's synchronous targets, one system call per request, done when the
// loop reaps (as with fio's synchronous engines, the call's time is clat):
//  - ReadWrite: pread/pwrite on one of the kernel's memory character devices
//    (/dev/null, /dev/zero, /dev/full, /dev/random, /dev/urandom: major 1),
//    which libblkio's io_uring driver refuses as it refuses every character
//    device (fio runs its steadystate example on them);
//  - Fallocate: fio's falloc engine on a regular file: a read allocates
//    without changing the size, a write allocates, a trim punches a hole;
//  - Ftruncate: fio's ftruncate engine: a write truncates the file to its
//    offset; reads and trims fail with EINVAL.
// Requests wait in a ring sized at construction: nothing is allocated per request.
#pragma once

#include <string>
#include <vector>

#include "request_sink.h"

namespace blkio::bench {

enum class SyscallKind : uint8_t { ReadWrite, Fallocate, Ftruncate };

// Opens path for kind: ReadWrite only on the memory devices above (never
// /dev/mem or /dev/port), read-only unless writable; the others on a regular
// file, read-write. Returns the fd, or -errno with what is wrong in *why.
int open_syscall_target(const char* path, SyscallKind kind, bool writable, std::string* why);

class SyscallSink final : public RequestSink {
 public:
  // Takes the fd (closed on destruction); capacity: the most requests outstanding at once.
  SyscallSink(int fd, SyscallKind kind, size_t capacity);
  ~SyscallSink() override;

  void read(uint64_t start, void* buf, size_t len, void* user_data, int) override { accept(kRead, start, buf, len, user_data); }
  void write(uint64_t start, const void* buf, size_t len, void* user_data, int) override {
    accept(kWrite, start, const_cast<void*>(buf), len, user_data);
  }
  void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override;
  void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override;
  // Trims are hole punches for Fallocate; the rest take none, nor zeroes or zones.
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { accept(kUnsupported, 0, nullptr, 0, user_data); }
  void discard(uint64_t start, uint64_t len, void* user_data) override { accept(kTrim, start, nullptr, size_t(len), user_data); }
  void flush(void* user_data) override { accept(kFlush, 0, nullptr, 0, user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { accept(kUnsupported, 0, nullptr, 0, user_data); }
  // Does up to max of the waiting requests, in order, and returns them.
  int do_io(Completion* out, int min, int max, timespec* timeout) override;
  size_t outstanding() const override { return count_; }
  bool stop_requested() const override { return false; }
  int completion_fd() const override { return -1; }
  void set_completion_fd_enabled(bool) override {}

 private:
  enum Op : uint8_t { kRead, kWrite, kTrim, kFlush, kUnsupported };
  struct Pending {
    Op op;
    uint64_t offset;
    void* buf;
    size_t len;
    void* user_data;
  };
  void accept(Op op, uint64_t offset, void* buf, size_t len, void* user_data);
  Completion perform(const Pending& p);

  int fd_;
  SyscallKind kind_;
  std::vector<Pending> ring_;
  size_t head_ = 0, count_ = 0;
};

}  // namespace blkio::bench
