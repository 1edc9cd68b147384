#include "file_op_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace blkio::bench {

FileOpSink::FileOpSink(FileOp op, std::vector<std::string> paths, uint64_t file_size, size_t capacity)
    : SynchronousSink(capacity), op_(op), paths_(std::move(paths)), file_size_(std::max<uint64_t>(1, file_size)),
      done_(paths_.size(), 0) {}

Completion FileOpSink::perform(const FileOpPending& p) {
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

}  // namespace blkio::bench
