// Requests and completions as the driver core sees them.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <vector>

namespace blkio {

enum RequestFlag : uint32_t {
  REQ_FUA = 1u << 0,
  REQ_NO_UNMAP = 1u << 1,
  REQ_NO_FALLBACK = 1u << 2,
};
constexpr uint32_t kKnownRequestFlags = REQ_FUA | REQ_NO_UNMAP | REQ_NO_FALLBACK;

enum class RequestType : uint8_t { Read, Write, Readv, Writev, WriteZeroes, Discard, Flush };

inline bool writes_data(RequestType t) {
  return t == RequestType::Write || t == RequestType::Writev || t == RequestType::WriteZeroes ||
         t == RequestType::Discard;
}
inline bool is_vectored(RequestType t) { return t == RequestType::Readv || t == RequestType::Writev; }
inline bool has_buffer(RequestType t) {
  return t == RequestType::Read || t == RequestType::Write || is_vectored(t);
}

// Same layout as libblkio's struct blkio_completion, so the C ABI can hand
// these out unchanged.
struct Completion {
  void* user_data;
  const char* error_msg;  // static string or nullptr
  int ret;                // 0 or -errno
  uint8_t reserved[12];
};
static_assert(sizeof(Completion) == 32, "struct blkio_completion is 32 bytes on LP64");

// Same layout as libblkio's struct blkio_mem_region.
struct MemRegion {
  void* addr;
  size_t len;
  uint64_t iova;
  int64_t fd_offset;
  int fd;
  uint32_t flags;
};
static_assert(sizeof(MemRegion) == 40, "struct blkio_mem_region is 40 bytes on LP64");

// One request from enqueue to completion. Requests are pooled per queue and
// reused, so the iovec storage only grows, never churns.
struct Request {
  RequestType type = RequestType::Read;
  uint32_t flags = 0;
  uint64_t start = 0;
  uint64_t len = 0;          // total bytes (sum of iovecs when vectored)
  void* buf = nullptr;       // Read/Write
  std::vector<iovec> iov;    // Readv/Writev (copied: the caller's array may go away)
  void* user_data = nullptr;
  int region = -1;           // mapped-region slot holding buf, or -1 (Read/Write only)

  // Driver scratch, reset at enqueue.
  uint64_t done = 0;         // bytes completed so far (short transfers are resumed)
  uint32_t stage = 0;        // multi-step requests (e.g. write then flush for FUA)
  uint32_t pool_index = 0;   // owned by the queue's pool
  bool started = false;      // the driver accepted it once (it may have reached the device)
};

// A request the driver has finished with: ret is 0 or -errno, error_msg a
// static string explaining a failure (optional).
struct Finished {
  Request* req;
  int ret;
  const char* error_msg;
};

}  // namespace blkio
