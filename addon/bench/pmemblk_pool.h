// libpmemblk pools for blkbench's ioengine=pmemblk. The library is loaded
// at run time (dlopen of libpmemblk.so.1), so the addon does not depend on
// it; without it, opening a pool fails with a message naming it. A pool
// file can be opened only once at a time (libpmemblk locks it), so the
// clones of a job, which all name the same pool as fio's threads do, share
// one handle here: the pool is opened by the first and closed by the last.
// libpmemblk's reads and writes are thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace blkio::bench {

class PmemblkPool {
 public:
  // Opens the pool at path (bsize 0: whatever block size it has; else it
  // must be that), or, if it does not exist and create is set, creates it
  // with bsize-byte blocks in a file of pool_size bytes (mode 0644), as
  // fio's engine does. nullptr with -errno in *err and the reason in *why.
  static std::shared_ptr<PmemblkPool> open(const std::string& path, size_t bsize, size_t pool_size, bool create, int* err, std::string* why);
  ~PmemblkPool();

  size_t bsize() const { return bsize_; }
  size_t nblocks() const { return nblocks_; }
  // One block: 0, or -errno.
  int read(void* buf, long long block) const;
  int write(const void* buf, long long block) const;

  // One open pool, shared by the handles to it (pmemblk_pool.cc).
  struct Shared;

 private:
  explicit PmemblkPool(std::shared_ptr<Shared> s);
  std::shared_ptr<Shared> s_;
  size_t bsize_, nblocks_;
};

}  // namespace blkio::bench
