// libblkio's C API over the driver core: argument checks, C memory
// conventions (strdup'd strings, *bp = NULL) and handle bookkeeping only.
// Everything else is the same code the N-API addon runs.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <utility>

// The public header calls the instance `struct blkio`, which C++ cannot have
// beside the core's `namespace blkio`: inside this file the struct is named
// blkio_instance. The symbols are unaffected (extern "C" names carry no
// types), and the compiler still checks every definition below against the
// header's declarations.
#define blkio blkio_instance
#include "blkio.h"
#undef blkio

#include "../core/blkio.h"
#include "../core/errors.h"

using blkio::fail;

static_assert(sizeof(blkio_completion) == sizeof(blkio::Completion), "completion layout");
static_assert(offsetof(blkio_completion, user_data) == offsetof(blkio::Completion, user_data), "completion layout");
static_assert(offsetof(blkio_completion, error_msg) == offsetof(blkio::Completion, error_msg), "completion layout");
static_assert(offsetof(blkio_completion, ret) == offsetof(blkio::Completion, ret), "completion layout");
static_assert(sizeof(blkio_mem_region) == sizeof(blkio::MemRegion), "mem region layout");
static_assert(offsetof(blkio_mem_region, len) == offsetof(blkio::MemRegion, len), "mem region layout");
static_assert(offsetof(blkio_mem_region, iova) == offsetof(blkio::MemRegion, iova), "mem region layout");
static_assert(offsetof(blkio_mem_region, fd_offset) == offsetof(blkio::MemRegion, fd_offset), "mem region layout");
static_assert(offsetof(blkio_mem_region, fd) == offsetof(blkio::MemRegion, fd), "mem region layout");
static_assert(offsetof(blkio_mem_region, flags) == offsetof(blkio::MemRegion, flags), "mem region layout");

static_assert(sizeof(blkio_zone) == sizeof(blkio::Zone), "zone layout");
static_assert(offsetof(blkio_zone, len) == offsetof(blkio::Zone, len), "zone layout");
static_assert(offsetof(blkio_zone, capacity) == offsetof(blkio::Zone, capacity), "zone layout");
static_assert(offsetof(blkio_zone, write_pointer) == offsetof(blkio::Zone, write_pointer), "zone layout");
static_assert(offsetof(blkio_zone, zone_type) == offsetof(blkio::Zone, type), "zone layout");
static_assert(offsetof(blkio_zone, zone_state) == offsetof(blkio::Zone, state), "zone layout");
static_assert(offsetof(blkio_zone, reset) == offsetof(blkio::Zone, reset), "zone layout");
static_assert(int(BLKIO_ZONE_STATE_OFFLINE) == int(blkio::ZONE_STATE_OFFLINE) &&
                  int(BLKIO_ZONE_TYPE_SEQWRITE_PREF) == int(blkio::ZONE_TYPE_SEQWRITE_PREF),
              "zone constants");

struct blkioq {
  std::shared_ptr<blkio::Queue> queue;
  // What the application asked for, restored after an interruptible wait
  // had to enable the fd.
  bool fd_enabled = false;
};

struct blkio_instance {
  std::unique_ptr<blkio::Blkio> core;
  std::mutex mutex;  // guards queues: threads may fetch their queues concurrently
  // One stable handle per queue; replaced when a removed index is reused.
  std::map<std::pair<bool, int>, std::unique_ptr<blkioq>> queues;
};

namespace {

const blkio::MemRegion& core_region(const blkio_mem_region* r) {
  return *reinterpret_cast<const blkio::MemRegion*>(r);
}

// libblkio takes names and values as Rust &str: bytes that are not UTF-8
// (overlong forms, surrogates and values past U+10FFFF included) are EINVAL.
bool valid_utf8(const char* text) {
  auto* p = reinterpret_cast<const unsigned char*>(text);
  while (*p) {
    unsigned c = *p++;
    if (c < 0x80) continue;
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;
    if (more < 0 || c >= 0xf5 || c == 0xc0 || c == 0xc1) return false;
    uint32_t cp = c & (0x3f >> more);
    for (int i = 0; i < more; i++, p++) {
      if ((*p & 0xc0) != 0x80) return false;  // also stops at the terminating NUL
      cp = (cp << 6) | (*p & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[more] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
  }
  return true;
}

int check_name(const char* name) {
  if (!name) return fail(EINVAL, "property name must be non-NULL");
  return valid_utf8(name) ? 0 : fail(EINVAL, "property name must be UTF-8");
}

template <typename T>
int get_property(blkio_instance* b, const char* name, blkio::PropType type, T* value, T fallback,
                 T (*convert)(const blkio::PropValue&)) {
  if (!value) return fail(EINVAL, "value must be non-NULL");
  *value = fallback;
  if (int r = check_name(name)) return r;
  blkio::PropValue v;
  int r = b->core->get(name, type, &v);
  if (r < 0) return r;
  *value = convert(v);
  return 0;
}

int set_property(blkio_instance* b, const char* name, blkio::PropType type, const blkio::PropValue& v) {
  if (int r = check_name(name)) return r;
  return b->core->set(name, type, v);
}

blkioq* find_queue(blkio_instance* b, bool poll, int index) {
  std::shared_ptr<blkio::Queue> q = b->core->get_queue(poll, index);
  std::lock_guard<std::mutex> lock(b->mutex);
  auto key = std::make_pair(poll, index);
  if (!q) {
    b->queues.erase(key);
    return nullptr;
  }
  auto& handle = b->queues[key];
  if (!handle || handle->queue != q) {
    handle = std::make_unique<blkioq>();
    handle->queue = std::move(q);
  }
  return handle.get();
}

int remove_queue(blkio_instance* b, bool poll, int index) {
  int r = b->core->remove_queue(poll, index);
  if (r < 0) return r;
  std::lock_guard<std::mutex> lock(b->mutex);
  b->queues.erase(std::make_pair(poll, index));
  return 0;
}

blkio::Completion* core_completions(blkio_completion* c) { return reinterpret_cast<blkio::Completion*>(c); }

}  // namespace

extern "C" {

const char* blkio_get_error_msg(void) { return blkio::last_error_message(); }

int blkio_create(const char* driver, blkio_instance** bp) {
  if (!bp) return fail(EINVAL, "bp must be non-NULL");
  *bp = nullptr;
  if (!driver) return fail(EINVAL, "driver must be non-NULL");
  if (!valid_utf8(driver)) return fail(EINVAL, "driver name must be UTF-8");
  std::unique_ptr<blkio::Blkio> core;
  int r = blkio::Blkio::create(driver, &core);
  if (r < 0) return r;
  auto* b = new blkio_instance();
  b->core = std::move(core);
  *bp = b;
  return 0;
}

int blkio_connect(blkio_instance* b) { return b->core->connect(); }

int blkio_start(blkio_instance* b) { return b->core->start(); }

void blkio_destroy(blkio_instance** bp) {
  if (!bp || !*bp) return;
  delete *bp;  // the core stops its queues, then frees mappings and regions
  *bp = nullptr;
}

int blkio_get_bool(blkio_instance* b, const char* name, bool* value) {
  return get_property<bool>(b, name, blkio::PropType::Bool, value, false,
                            [](const blkio::PropValue& v) { return v.b; });
}

int blkio_get_int(blkio_instance* b, const char* name, int* value) {
  return get_property<int>(b, name, blkio::PropType::Int, value, 0,
                           [](const blkio::PropValue& v) { return int(v.i); });
}

int blkio_get_uint64(blkio_instance* b, const char* name, uint64_t* value) {
  return get_property<uint64_t>(b, name, blkio::PropType::Uint64, value, 0,
                                [](const blkio::PropValue& v) { return v.u; });
}

int blkio_get_str(blkio_instance* b, const char* name, char** value) {
  if (!value) return fail(EINVAL, "value must be non-NULL");
  *value = nullptr;
  if (int r = check_name(name)) return r;
  blkio::PropValue v;
  int r = b->core->get(name, blkio::PropType::Str, &v);
  if (r < 0) return r;
  *value = strdup(v.s.c_str());
  return *value ? 0 : fail(ENOMEM, "out of memory copying the value of '%s'", name);
}

int blkio_set_bool(blkio_instance* b, const char* name, bool value) {
  blkio::PropValue v;
  v.b = value;
  return set_property(b, name, blkio::PropType::Bool, v);
}

int blkio_set_int(blkio_instance* b, const char* name, int value) {
  blkio::PropValue v;
  v.i = value;
  return set_property(b, name, blkio::PropType::Int, v);
}

int blkio_set_uint64(blkio_instance* b, const char* name, uint64_t value) {
  blkio::PropValue v;
  v.u = value;
  return set_property(b, name, blkio::PropType::Uint64, v);
}

int blkio_set_str(blkio_instance* b, const char* name, const char* value) {
  if (!value) return fail(EINVAL, "value must be non-NULL");
  if (!valid_utf8(value)) return fail(EINVAL, "value must be UTF-8");
  blkio::PropValue v;
  v.s = value;
  return set_property(b, name, blkio::PropType::Str, v);
}

int blkio_alloc_mem_region(blkio_instance* b, blkio_mem_region* region, size_t len) {
  if (!region) return fail(EINVAL, "region must be non-NULL");
  return b->core->alloc_mem_region(reinterpret_cast<blkio::MemRegion*>(region), len);
}

// libblkio gives no way to report a failure here: the message is still set.
void blkio_free_mem_region(blkio_instance* b, const blkio_mem_region* region) {
  if (region) b->core->free_mem_region(core_region(region));
}

int blkio_map_mem_region(blkio_instance* b, const blkio_mem_region* region) {
  if (!region) return fail(EINVAL, "region must be non-NULL");
  return b->core->map_mem_region(core_region(region));
}

void blkio_unmap_mem_region(blkio_instance* b, const blkio_mem_region* region) {
  if (region) b->core->unmap_mem_region(core_region(region));
}

blkioq* blkio_get_queue(blkio_instance* b, int index) { return find_queue(b, false, index); }

blkioq* blkio_get_poll_queue(blkio_instance* b, int index) { return find_queue(b, true, index); }

int blkio_add_queue(blkio_instance* b) { return b->core->add_queue(false); }

int blkio_add_poll_queue(blkio_instance* b) { return b->core->add_queue(true); }

int blkio_remove_queue(blkio_instance* b, int index) { return remove_queue(b, false, index); }

int blkio_remove_poll_queue(blkio_instance* b, int index) { return remove_queue(b, true, index); }

void blkioq_read(blkioq* q, uint64_t start, void* buf, size_t len, void* user_data, uint32_t flags) {
  q->queue->read(start, buf, len, user_data, flags);
}

void blkioq_write(blkioq* q, uint64_t start, const void* buf, size_t len, void* user_data, uint32_t flags) {
  q->queue->write(start, buf, len, user_data, flags);
}

void blkioq_readv(blkioq* q, uint64_t start, const struct iovec* iovec, int iovcnt, void* user_data,
                  uint32_t flags) {
  q->queue->readv(start, iovec, iovcnt, user_data, flags);
}

void blkioq_writev(blkioq* q, uint64_t start, struct iovec* iovec, int iovcnt, void* user_data, uint32_t flags) {
  q->queue->writev(start, iovec, iovcnt, user_data, flags);
}

void blkioq_write_zeroes(blkioq* q, uint64_t start, uint64_t len, void* user_data, uint32_t flags) {
  q->queue->write_zeroes(start, len, user_data, flags);
}

void blkioq_discard(blkioq* q, uint64_t start, uint64_t len, void* user_data, uint32_t flags) {
  q->queue->discard(start, len, user_data, flags);
}

void blkioq_flush(blkioq* q, void* user_data, uint32_t flags) { q->queue->flush(user_data, flags); }

void blkioq_report_zones(blkioq* q, uint64_t offset, blkio_zone* zones, uint32_t nr_zones, void* user_data,
                         uint32_t flags) {
  q->queue->report_zones(offset, reinterpret_cast<blkio::Zone*>(zones), nr_zones, user_data, flags);
}

namespace {
void zone_request(blkioq* q, blkio::RequestType type, uint64_t offset, void* user_data, uint32_t flags) {
  q->queue->zone_management(type, offset, user_data, flags);
}
}  // namespace

using blkio::RequestType;

void blkioq_open_zone(blkioq* q, uint64_t offset, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneOpen, offset, user_data, flags);
}
void blkioq_close_zone(blkioq* q, uint64_t offset, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneClose, offset, user_data, flags);
}
void blkioq_finish_zone(blkioq* q, uint64_t offset, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneFinish, offset, user_data, flags);
}
void blkioq_reset_zone(blkioq* q, uint64_t offset, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneReset, offset, user_data, flags);
}
void blkioq_open_all_zones(blkioq* q, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneOpenAll, 0, user_data, flags);
}
void blkioq_close_all_zones(blkioq* q, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneCloseAll, 0, user_data, flags);
}
void blkioq_finish_all_zones(blkioq* q, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneFinishAll, 0, user_data, flags);
}
void blkioq_reset_all_zones(blkioq* q, void* user_data, uint32_t flags) {
  zone_request(q, RequestType::ZoneResetAll, 0, user_data, flags);
}

int blkioq_do_io(blkioq* q, blkio_completion* completions, int min_completions, int max_completions,
                 struct timespec* timeout) {
  return q->queue->do_io(core_completions(completions), min_completions, max_completions, timeout);
}

// The core's waits retry EINTR, so a wait that signals may cut short is done
// here: reap what is ready without blocking, and ppoll the completion fd with
// the caller's mask in between. On -EINTR or -ETIME whatever was reaped goes
// back to the queue.
int blkioq_do_io_interruptible(blkioq* q, blkio_completion* completions, int min_completions,
                               int max_completions, struct timespec* timeout, const sigset_t* sig) {
  blkio::Queue& queue = *q->queue;
  if (queue.is_poll()) return fail(ENOTSUP, "blkioq_do_io_interruptible() is not supported on poll queues");
  if (!sig || min_completions <= 0) return blkioq_do_io(q, completions, min_completions, max_completions, timeout);
  if (max_completions < 0) return fail(EINVAL, "min_completions and max_completions must be non-negative");
  if (min_completions > max_completions) return fail(EINVAL, "min_completions must not exceed max_completions");
  if (!completions) return fail(EINVAL, "completions must be non-NULL when max_completions > 0");
  if (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000))
    return fail(EINVAL, "timeout must have tv_sec >= 0 and 0 <= tv_nsec < 1000000000");
  if (size_t(min_completions) > queue.outstanding())
    return fail(EINVAL, "min_completions is larger than total outstanding requests");

  blkio::Deadline deadline = timeout ? blkio::Deadline::after(*timeout) : blkio::Deadline::never();
  blkio::Completion* out = core_completions(completions);
  int fd = queue.completion_fd();
  // The device only signals the fd while it is enabled.
  if (!q->fd_enabled) queue.set_completion_fd_enabled(true);
  int n = 0;
  int ret;
  for (;;) {
    ret = queue.do_io(out + n, 0, max_completions - n, nullptr);
    if (ret < 0) break;
    n += ret;
    if (n >= min_completions) break;
    if (deadline.expired()) {
      ret = fail(ETIME, "timed out waiting for completions");
      break;
    }
    pollfd pfd{fd, POLLIN, 0};
    timespec left = deadline.remaining();
    int p = ppoll(&pfd, 1, deadline.is_never() ? nullptr : &left, sig);
    if (p < 0) {
      ret = errno == EINTR ? fail(EINTR, "interrupted by a signal") : fail(errno, "ppoll failed: %s", strerror(errno));
      break;
    }
    uint64_t count;
    if (p > 0) (void)!read(fd, &count, sizeof count);  // reset before looking again
  }
  if (!q->fd_enabled) queue.set_completion_fd_enabled(false);
  if (timeout) *timeout = deadline.is_never() ? timespec{} : deadline.remaining();
  if (ret < 0) {
    queue.unfill(out, n);
    return ret;
  }
  return n;
}

int blkioq_get_completion_fd(blkioq* q) { return q->queue->completion_fd(); }

void blkioq_set_completion_fd_enabled(blkioq* q, bool enable) {
  q->fd_enabled = enable;
  q->queue->set_completion_fd_enabled(enable);
}

void blkioq_set_quiesced(blkioq* q, bool quiesced) { q->queue->set_quiesced(quiesced); }

int blkioq_get_in_flight(blkioq* q) { return int(q->queue->in_flight()); }

int blkioq_take_unsubmitted(blkioq* q, void** user_data, int max_user_data) {
  if (max_user_data < 0) return fail(EINVAL, "max_user_data must be non-negative");
  if (!user_data && max_user_data > 0) return fail(EINVAL, "user_data must be non-NULL when max_user_data > 0");
  return q->queue->take_unsubmitted(user_data, max_user_data);
}

}  // extern "C"
