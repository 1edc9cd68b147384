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

// Numbered as src/lib/native/descriptor.ts numbers them (7 is the binding's
// "failed before submission").
enum class RequestType : uint8_t {
  Read = 0,
  Write = 1,
  Readv = 2,
  Writev = 3,
  WriteZeroes = 4,
  Discard = 5,
  Flush = 6,
  ReportZones = 8,  // buf: Zone[len], len: zone count, start: the first zone's offset
  ZoneOpen = 9,     // start: the zone's offset
  ZoneClose = 10,
  ZoneFinish = 11,
  ZoneReset = 12,
  ZoneOpenAll = 13,  // every zone the operation applies to
  ZoneCloseAll = 14,
  ZoneFinishAll = 15,
  ZoneResetAll = 16,
};

inline bool is_zone_request(RequestType t) { return t >= RequestType::ReportZones && t <= RequestType::ZoneResetAll; }
inline bool is_zone_all(RequestType t) { return t >= RequestType::ZoneOpenAll && t <= RequestType::ZoneResetAll; }
// Open, close, finish, reset (one zone or all) as 0..3.
inline int zone_action(RequestType t) {
  return is_zone_all(t) ? int(t) - int(RequestType::ZoneOpenAll) : int(t) - int(RequestType::ZoneOpen);
}

inline bool writes_data(RequestType t) {
  return t == RequestType::Write || t == RequestType::Writev || t == RequestType::WriteZeroes ||
         t == RequestType::Discard || (is_zone_request(t) && t != RequestType::ReportZones);
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

// Same layout as libblkio's struct blkio_zone: offsets and lengths in bytes.
struct Zone {
  uint64_t start;
  uint64_t len;
  uint64_t capacity;
  uint64_t write_pointer;
  uint8_t type;   // ZONE_TYPE_*
  uint8_t state;  // ZONE_STATE_*
  uint8_t reset;  // the device recommends a reset
  uint8_t reserved[29];
};
static_assert(sizeof(Zone) == 64, "struct blkio_zone is 64 bytes");

enum ZoneType : uint8_t { ZONE_TYPE_CONVENTIONAL = 1, ZONE_TYPE_SEQWRITE_REQ = 2, ZONE_TYPE_SEQWRITE_PREF = 3 };
enum ZoneState : uint8_t {
  ZONE_STATE_EMPTY = 1,
  ZONE_STATE_IMP_OPEN = 2,
  ZONE_STATE_EXP_OPEN = 3,
  ZONE_STATE_CLOSED = 4,
  ZONE_STATE_READONLY = 0xD,
  ZONE_STATE_FULL = 0xE,
  ZONE_STATE_OFFLINE = 0xF,
};

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
  void* buf = nullptr;       // Read/Write; ReportZones: Zone[len]
  std::vector<iovec> iov;    // Readv/Writev (copied: the caller's array may go away)
  void* user_data = nullptr;
  int region = -1;           // mapped-region slot holding buf, or -1 (Read/Write only)

  // Driver scratch, reset at enqueue.
  uint64_t done = 0;         // bytes completed so far (short transfers are resumed)
  uint32_t stage = 0;        // multi-step requests (e.g. write then flush for FUA)
  uint32_t pool_index = 0;   // owned by the queue's pool
  bool started = false;      // the driver accepted it once (it may have reached the device)
  // Work a driver does beside its device queue (the io_uring driver's zone
  // ioctls on a helper thread): the outcome, handed back with the request.
  int side_fd = -1;
  int side_result = 0;
  const char* side_msg = nullptr;
};

// A request the driver has finished with: ret is 0 or -errno, error_msg a
// static string explaining a failure (optional).
struct Finished {
  Request* req;
  int ret;
  const char* error_msg;
};

}  // namespace blkio
