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

#include "synchronous_sink.h"

namespace blkio::bench {

enum class SyscallKind : uint8_t { ReadWrite, Fallocate, Ftruncate };

// Opens path for kind: ReadWrite only on the memory devices above (never
// /dev/mem or /dev/port), read-only unless writable; the others on a regular
// file, read-write. Returns the fd, or -errno with what is wrong in *why.
int open_syscall_target(const char* path, SyscallKind kind, bool writable, std::string* why);

// A request waiting in a SyscallSink.
struct SyscallPending {
  enum Op : uint8_t { kRead, kWrite, kTrim, kFlush, kUnsupported };
  Op op;
  uint64_t offset;
  void* buf;
  size_t len;
  void* user_data;
};

class SyscallSink final : public SynchronousSink<SyscallPending> {
 public:
  // Takes the fd (closed on destruction); capacity: the most requests outstanding at once.
  SyscallSink(int fd, SyscallKind kind, size_t capacity);
  ~SyscallSink() override;

  void read(uint64_t start, void* buf, size_t len, void* user_data, int) override { accept(SyscallPending::kRead, start, buf, len, user_data); }
  void write(uint64_t start, const void* buf, size_t len, void* user_data, int) override {
    accept(SyscallPending::kWrite, start, const_cast<void*>(buf), len, user_data);
  }
  void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override;
  void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override;
  // Trims are hole punches for Fallocate; the rest take none, nor zeroes or zones.
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { accept(SyscallPending::kUnsupported, 0, nullptr, 0, user_data); }
  void discard(uint64_t start, uint64_t len, void* user_data) override { accept(SyscallPending::kTrim, start, nullptr, size_t(len), user_data); }
  void flush(void* user_data) override { accept(SyscallPending::kFlush, 0, nullptr, 0, user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { accept(SyscallPending::kUnsupported, 0, nullptr, 0, user_data); }

 private:
  using Op = SyscallPending::Op;
  void accept(Op op, uint64_t offset, void* buf, size_t len, void* user_data) {
    SynchronousSink::accept(SyscallPending{op, offset, buf, len, user_data});
  }
  // One system call (or none) for the request.
  Completion perform(const SyscallPending& p) override;

  int fd_;
  SyscallKind kind_;
};

}  // namespace blkio::bench
