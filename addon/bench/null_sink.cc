#include "null_sink.h"

#include <cerrno>

namespace blkio::bench {

void NullSink::accept(void* user_data, int ret, const char* msg) {
  Completion c{};
  c.user_data = user_data;
  c.ret = ret;
  c.error_msg = msg;
  SynchronousSink::accept(c);
}

void NullSink::zone_management(RequestType, uint64_t, void* user_data) {
  accept(user_data, -ENOTSUP, "ioengine=null has no zones");
}

}  // namespace blkio::bench
