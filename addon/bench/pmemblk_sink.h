// blkbench's ioengine=pmemblk (fio's pmemblk engine): each read or write is
// done, when the loop reaps it, as one pmemblk_read or pmemblk_write per
// pool block it covers, into or out of the loop's buffer. As in fio, a
// request must start and end on the pool's blocks and stay within them
// (else EINVAL); a flush has nothing to do (libpmemblk writes through);
// trims, zeroes and zones fail with EINVAL. A block that fails ends the
// request with libpmemblk's errno. Nothing is allocated per request.
#pragma once

#include <memory>

#include "pmemblk_pool.h"
#include "synchronous_sink.h"

namespace blkio::bench {

struct PmemblkPending {
  enum Op : uint8_t { kRead, kWrite, kFlush, kInvalid };
  Op op;
  uint64_t offset;
  void* buf;
  size_t len;
  void* user_data;
};

class PmemblkSink final : public SynchronousSink<PmemblkPending> {
 public:
  PmemblkSink(std::shared_ptr<PmemblkPool> pool, size_t capacity) : SynchronousSink(capacity), pool_(std::move(pool)) {}

  void read(uint64_t start, void* buf, size_t len, void* user_data, int) override { accept(PmemblkPending::kRead, start, buf, len, user_data); }
  void write(uint64_t start, const void* buf, size_t len, void* user_data, int) override {
    accept(PmemblkPending::kWrite, start, const_cast<void*>(buf), len, user_data);
  }
  // The job loop's vectors have one element.
  void readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override {
    if (iovcnt == 1) accept(PmemblkPending::kRead, start, iov[0].iov_base, iov[0].iov_len, user_data);
    else accept(PmemblkPending::kInvalid, 0, nullptr, 0, user_data);
  }
  void writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data) override {
    if (iovcnt == 1) accept(PmemblkPending::kWrite, start, iov[0].iov_base, iov[0].iov_len, user_data);
    else accept(PmemblkPending::kInvalid, 0, nullptr, 0, user_data);
  }
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { accept(PmemblkPending::kInvalid, 0, nullptr, 0, user_data); }
  void discard(uint64_t, uint64_t, void* user_data) override { accept(PmemblkPending::kInvalid, 0, nullptr, 0, user_data); }
  void flush(void* user_data) override { accept(PmemblkPending::kFlush, 0, nullptr, 0, user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { accept(PmemblkPending::kInvalid, 0, nullptr, 0, user_data); }
  // Lets go of the pool once the loop is done (on its thread): the last clone's closes it then,
  // not when the loop's JS handle is collected.
  void close() { pool_.reset(); }

 private:
  void accept(PmemblkPending::Op op, uint64_t offset, void* buf, size_t len, void* user_data) {
    SynchronousSink::accept(PmemblkPending{op, offset, buf, len, user_data});
  }
  Completion perform(const PmemblkPending& p) override;

  std::shared_ptr<PmemblkPool> pool_;
};

}  // namespace blkio::bench
