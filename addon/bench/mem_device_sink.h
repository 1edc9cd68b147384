// blkbench's target for the kernel's memory character devices (/dev/null,
// /dev/zero, /dev/full, /dev/random, /dev/urandom: major 1), which libblkio's
// io_uring driver refuses as it refuses every character device. fio runs
// jobs on them (its steadystate example does), so the job loop can too: each
// request is a pread/pwrite on the device, done when the loop reaps (as a
// synchronous engine's call, its time is clat). Requests wait in a ring sized
// at construction: nothing is allocated per request.
#pragma once

#include <string>
#include <vector>

#include "request_sink.h"

namespace blkio::bench {

// Opens path read-only or read-write after checking it is one of the memory
// devices above (never /dev/mem or /dev/port). Returns the fd, or -errno with
// what is wrong in *why.
int open_mem_device(const char* path, bool writable, std::string* why);

class MemDeviceSink final : public RequestSink {
 public:
  // Takes the fd (closed on destruction); capacity: the most requests outstanding at once.
  MemDeviceSink(int fd, size_t capacity);
  ~MemDeviceSink() override;

  void read(uint64_t start, void* buf, size_t len, void* user_data, int) override { accept(kRead, start, buf, len, user_data); }
  void write(uint64_t start, const void* buf, size_t len, void* user_data, int) override {
    accept(kWrite, start, const_cast<void*>(buf), len, user_data);
  }
  void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override;
  void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override;
  // A character device has no blocks to discard or zero, and no zones.
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { accept(kUnsupported, 0, nullptr, 0, user_data); }
  void discard(uint64_t, uint64_t, void* user_data) override { accept(kUnsupported, 0, nullptr, 0, user_data); }
  void flush(void* user_data) override { accept(kFlush, 0, nullptr, 0, user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { accept(kUnsupported, 0, nullptr, 0, user_data); }
  // Does up to max of the waiting requests, in order, and returns them.
  int do_io(Completion* out, int min, int max, timespec* timeout) override;
  size_t outstanding() const override { return count_; }
  bool stop_requested() const override { return false; }
  int completion_fd() const override { return -1; }
  void set_completion_fd_enabled(bool) override {}

 private:
  enum Op : uint8_t { kRead, kWrite, kFlush, kUnsupported };
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
  std::vector<Pending> ring_;
  size_t head_ = 0, count_ = 0;
};

}  // namespace blkio::bench
