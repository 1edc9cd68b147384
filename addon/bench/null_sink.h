// blkbench's ioengine=null: a request sink with no target. As fio's null
// engine, a request is accepted without touching its buffer and completes
// successfully at the next do_io (the one that submits it, or a later one);
// nothing ever fails and nothing blocks. Requests are kept in a ring sized
// for the job's depth at construction, so the hot path allocates nothing.
#pragma once

#include "synchronous_sink.h"

namespace blkio::bench {

class NullSink final : public UniformSink<Completion> {
 public:
  // capacity: the most requests outstanding at once (the job's iodepth, plus
  // one for a flush).
  explicit NullSink(size_t capacity) : UniformSink(capacity) {}

  // There are no zones: as a device without them, zone requests fail with ENOTSUP.
  void zone_management(RequestType, uint64_t, void* user_data) override;

 private:
  void take(void* user_data) override { accept(user_data, 0, nullptr); }
  void accept(void* user_data, int ret, const char* msg);
  // Every request is done as soon as it is accepted.
  Completion perform(const Completion& c) override { return c; }
};

}  // namespace blkio::bench
