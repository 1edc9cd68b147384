// The interface every driver implements. The core (Blkio, Queue) does the
// libblkio semantics: states, properties, argument and request validation,
// backlogs, do_io. A driver only moves requests to and from its device.
#pragma once

#include <climits>
#include <cstdint>
#include <memory>

#include "deadline.h"
#include "properties.h"
#include "request.h"

namespace blkio {

// What a zoned device tells its users (all zero on a device without zones).
enum class ZonedModel : uint8_t { None, HostAware, HostManaged };
struct ZonedInfo {
  ZonedModel model = ZonedModel::None;
  uint64_t zone_size = 0;        // bytes
  uint64_t nr_zones = 0;
  uint64_t max_open_zones = 0;   // 0: no limit
  uint64_t max_active_zones = 0; // 0: no limit
  uint64_t max_append_bytes = 0; // 0: no zone append through this driver
};

// The generic properties a driver fills in at connect (libblkio's names,
// with '-' for '_').
struct DeviceInfo {
  uint64_t capacity = 0;
  int32_t max_queues = 1;
  bool supports_poll_queues = false;
  uint64_t max_mem_regions = UINT64_MAX;
  bool may_pin_mem_regions = false;
  uint64_t mem_region_alignment = 1;
  bool needs_mem_regions = false;
  bool needs_mem_region_fd = false;
  int32_t request_alignment = 1;
  int32_t optimal_io_alignment = 1;
  int32_t optimal_io_size = 0;
  bool flush_needed = true;
  int32_t buf_alignment = 1;
  int32_t optimal_buf_alignment = 1;
  bool can_grow = false;
  int32_t max_segments = 1;
  int32_t max_segment_len = 0;
  int32_t max_transfer = 0;
  bool supports_fua_natively = false;
  uint64_t max_write_zeroes_len = 0;
  int32_t discard_alignment = 512;
  int32_t discard_alignment_offset = 0;
  uint64_t max_discard_len = 0;
  ZonedInfo zoned;  // report and manage zones only where model != None
};

// One queue's device side. Used by one thread at a time.
class QueueDriver {
 public:
  virtual ~QueueDriver() = default;

  enum : int { kAccepted = 1, kFull = 0 };
  // Takes a validated request. Returns kAccepted, kFull (the core keeps it
  // in its backlog and offers it again after completions), or -errno with a
  // static *error_msg to fail just this request.
  virtual int enqueue(Request* req, const char** error_msg) = 0;

  // Makes accepted requests visible to the device. When wait_for > 0, also
  // blocks until at least that many may be reaped or the deadline passes
  // (-ETIME). EINTR is retried here.
  virtual int submit(unsigned wait_for, const Deadline& deadline) = 0;

  // Moves up to max finished requests to out. A driver that needs another
  // step for a request (short transfer, FUA flush) returns it with
  // ret == kResubmit; the core puts it at the front of its backlog.
  // Not a count a completion can carry (zone reports return how many zones
  // they filled; the core caps requests below this).
  static constexpr int kResubmit = INT32_MAX;
  virtual int reap(Finished* out, int max) = 0;

  // The eventfd that becomes readable when reap may find something.
  virtual int completion_fd() const = 0;
  virtual void set_completion_fd_enabled(bool enabled) = 0;

  // Before the queue goes away with requests in flight: make the device stop
  // touching their memory (cancel or wait), within a bound.
  virtual void quiesce(unsigned in_flight) = 0;
};

class Driver {
 public:
  virtual ~Driver() = default;

  // Driver-specific properties (path, fd, direct, num-entries, queue-size…).
  virtual void add_properties(PropertyTable& table) = 0;

  // Opens the device and fills info. *read_only holds the user's choice and
  // may be corrected (an fd opened O_RDONLY).
  virtual int connect(DeviceInfo* info, bool* read_only) = 0;

  // Checks the queue counts and brings the device up.
  virtual int start(int num_queues, int num_poll_queues, bool read_only) = 0;

  // Creates a queue (at start, and later through add_queue when the driver
  // supports it). index counts queues of the same kind.
  virtual int create_queue(bool poll, int index, std::unique_ptr<QueueDriver>* out) = 0;
  virtual bool can_add_queues() const = 0;

  // The device's size now, for a connected device: a file grown or
  // truncated from outside, a block device or backend image resized. The
  // default keeps the size seen at connect. Called with the instance lock
  // held, from the thread reading "capacity"; must answer within a bound.
  // A value the device reports that no device could have fails with EIO.
  virtual int current_capacity(uint64_t* capacity) {
    (void)capacity;
    return 0;
  }

  // Makes a region visible to the device (slot is stable while mapped).
  virtual int map_region(int slot, const MemRegion& region) = 0;
  virtual void unmap_region(int slot, const MemRegion& region) = 0;
};

// Creates the driver called name, or fails with ENOENT.
int create_driver(const char* name, std::unique_ptr<Driver>* out);

// The drivers create_driver knows, by index (nullptr past the end).
size_t driver_count();
const char* driver_name(size_t i);

}  // namespace blkio
