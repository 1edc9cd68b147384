// blkbench's ioengine=filecreate, filestat and filedelete (fio's engines of
// those names): a job works on many small files, and what is measured is one
// file operation per file: open(O_CREAT) and close, stat/lstat/statx, or
// unlink. The job's region is its files one after another (file_size bytes
// each); a request at offset o belongs to file o / file_size, and the first
// request of each file does its operation, when the loop reaps it. The other
// requests of a file (a block size below the file size) complete as they are,
// as fio's engines do nothing per I/O. The paths are fixed at construction:
// nothing is allocated per request.
#pragma once

#include <string>
#include <vector>

#include "synchronous_sink.h"

namespace blkio::bench {

enum class FileOp : uint8_t { Create, Stat, Lstat, Statx, Unlink };

struct FileOpPending {
  uint64_t offset;  // UINT64_MAX: no file (a flush)
  void* user_data;
};

class FileOpSink final : public SynchronousSink<FileOpPending> {
 public:
  FileOpSink(FileOp op, std::vector<std::string> paths, uint64_t file_size, size_t capacity);

  void read(uint64_t start, void*, size_t, void* user_data, int) override { accept(start, user_data); }
  void write(uint64_t start, const void*, size_t, void* user_data, int) override { accept(start, user_data); }
  void readv(uint64_t start, const iovec*, int, void* user_data) override { accept(start, user_data); }
  void writev(uint64_t start, const iovec*, int, void* user_data) override { accept(start, user_data); }
  void write_zeroes(uint64_t start, uint64_t, void* user_data) override { accept(start, user_data); }
  void discard(uint64_t start, uint64_t, void* user_data) override { accept(start, user_data); }
  void flush(void* user_data) override { accept(UINT64_MAX, user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { accept(UINT64_MAX, user_data); }

 private:
  void accept(uint64_t offset, void* user_data) { SynchronousSink::accept(FileOpPending{offset, user_data}); }
  // Does the file operation of a file's first request.
  Completion perform(const FileOpPending& p) override;

  FileOp op_;
  std::vector<std::string> paths_;
  uint64_t file_size_;
  std::vector<uint8_t> done_;  // per file: its operation was done
};

}  // namespace blkio::bench
