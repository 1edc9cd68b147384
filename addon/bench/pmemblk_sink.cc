#include "pmemblk_sink.h"

#include <cerrno>

namespace blkio::bench {

Completion PmemblkSink::perform(const PmemblkPending& p) {
  Completion c{};
  c.user_data = p.user_data;
  if (p.op == PmemblkPending::kFlush) return c;
  if (!pool_) {
    c.ret = -EBADF;
    c.error_msg = "the pmemblk pool is closed";
    return c;
  }
  const uint64_t bs = pool_->bsize();
  if (p.op == PmemblkPending::kInvalid) {
    c.ret = -EINVAL;
    c.error_msg = "ioengine=pmemblk takes only reads, writes and flushes";
    return c;
  }
  if (bs == 0 || p.offset % bs != 0 || p.len % bs != 0 || p.offset / bs + p.len / bs > pool_->nblocks()) {
    c.ret = -EINVAL;
    c.error_msg = "the request is not on the pmemblk pool's blocks, or goes past them";
    return c;
  }
  auto* buf = static_cast<uint8_t*>(p.buf);
  long long block = (long long)(p.offset / bs);
  for (uint64_t done = 0; done < p.len; done += bs, block++) {
    int r = p.op == PmemblkPending::kRead ? pool_->read(buf + done, block) : pool_->write(buf + done, block);
    if (r < 0) {
      c.ret = r;
      c.error_msg = p.op == PmemblkPending::kRead ? "pmemblk_read failed" : "pmemblk_write failed";
      break;
    }
  }
  return c;
}

}  // namespace blkio::bench
