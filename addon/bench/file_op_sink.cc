#include "file_op_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace blkio::bench {

FileOpSink::FileOpSink(FileOp op, std::vector<std::string> paths, uint64_t file_size, size_t capacity)
    : op_(op), paths_(std::move(paths)), file_size_(std::max<uint64_t>(1, file_size)), done_(paths_.size(), 0),
      ring_(std::max<size_t>(1, capacity)) {}

void FileOpSink::accept(uint64_t offset, void* user_data) {
  if (count_ == ring_.size()) {
    // The loop never has more outstanding than it said; grow rather than drop one if it ever did.
    std::vector<Pending> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; i++) bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  ring_[(head_ + count_) % ring_.size()] = Pending{offset, user_data};
  count_++;
}

Completion FileOpSink::perform(const Pending& p) {
  Completion c{};
  c.user_data = p.user_data;
  if (p.offset == UINT64_MAX) return c;
  uint64_t index = p.offset / file_size_;
  if (index >= paths_.size()) {
    c.ret = -EINVAL;
    c.error_msg = "the request is past the job's last file";
    return c;
  }
  if (done_[index]) return c;  // a later block of a file whose operation is done
  done_[index] = 1;
  const char* path = paths_[index].c_str();
  int r = 0;
  switch (op_) {
    case FileOp::Create: {
      int fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0) r = -1;
      else close(fd);
      break;
    }
    case FileOp::Stat: {
      struct stat st;
      r = stat(path, &st);
      break;
    }
    case FileOp::Lstat: {
      struct stat st;
      r = lstat(path, &st);
      break;
    }
    case FileOp::Statx: {
      struct statx stx;
      r = statx(AT_FDCWD, path, 0, STATX_ALL, &stx);
      break;
    }
    case FileOp::Unlink:
      r = unlink(path);
      break;
  }
  if (r < 0) {
    c.ret = -errno;
    c.error_msg = op_ == FileOp::Create ? "creating the file failed" : op_ == FileOp::Unlink ? "unlinking the file failed" : "stat of the file failed";
  }
  return c;
}

int FileOpSink::do_io(Completion* out, int min, int max, timespec* timeout) {
  if (min < 0 || max < 0 || min > max) return -EINVAL;
  if (out == nullptr && max > 0) return -EINVAL;
  int n = int(std::min<size_t>(count_, size_t(max)));
  for (int i = 0; i < n; i++) {
    out[i] = perform(ring_[head_]);
    head_ = (head_ + 1) % ring_.size();
  }
  count_ -= size_t(n);
  if (timeout) *timeout = timespec{0, 0};
  return n;
}

}  // namespace blkio::bench
