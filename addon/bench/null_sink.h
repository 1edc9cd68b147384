// blkbench's ioengine=null: a request sink with no target. As fio's null
// engine, a request is accepted without touching its buffer and completes
// successfully at the next do_io (the one that submits it, or a later one);
// nothing ever fails and nothing blocks. Requests are kept in a ring sized
// for the job's depth at construction, so the hot path allocates nothing.
#pragma once

#include <vector>

#include "synchronous_sink.h"

namespace blkio::bench {

class NullSink final : public SynchronousSink<Completion> {
 public:
  // capacity: the most requests outstanding at once (the job's iodepth, plus
  // one for a flush).
  explicit NullSink(size_t capacity);

  void read(uint64_t, void*, size_t, void* user_data, int) override { accept(user_data); }
  void write(uint64_t, const void*, size_t, void* user_data, int) override { accept(user_data); }
  void readv(uint64_t, const iovec*, int, void* user_data) override { accept(user_data); }
  void writev(uint64_t, const iovec*, int, void* user_data) override { accept(user_data); }
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { accept(user_data); }
  void discard(uint64_t, uint64_t, void* user_data) override { accept(user_data); }
  void flush(void* user_data) override { accept(user_data); }
  // There are no zones: as a device without them, zone requests fail with ENOTSUP.
  void zone_management(RequestType, uint64_t, void* user_data) override;

 private:
  void accept(void* user_data, int ret = 0, const char* msg = nullptr);
  // Every request is done as soon as it is accepted.
  Completion perform(const Completion& c) override { return c; }
};

}  // namespace blkio::bench
