#include "queue.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "errors.h"

namespace blkio {

namespace {

// Flags each request type accepts (libblkio §5.1).
uint32_t allowed_flags(RequestType t) {
  switch (t) {
    case RequestType::Write:
    case RequestType::Writev: return REQ_FUA;
    case RequestType::WriteZeroes: return REQ_FUA | REQ_NO_UNMAP | REQ_NO_FALLBACK;
    default: return 0;
  }
}

const char* disallowed_flag_message(uint32_t bad) {
  if (bad & REQ_FUA) return "BLKIO_REQ_FUA is invalid for this request type";
  if (bad & REQ_NO_UNMAP) return "BLKIO_REQ_NO_UNMAP is invalid for this request type";
  return "BLKIO_REQ_NO_FALLBACK is invalid for this request type";
}

bool misaligned(uint64_t v, int32_t alignment) { return alignment > 1 && v % uint64_t(alignment) != 0; }

// For plainly_valid_read_write: v & mask == 0 when v is a multiple of the
// alignment. An alignment that is not a power of two gets all bits, so that
// only 0 passes and validate() decides the rest.
uint64_t alignment_mask(int32_t alignment) {
  if (alignment <= 1) return 0;
  uint64_t a = uint64_t(alignment);
  return (a & (a - 1)) == 0 ? a - 1 : ~uint64_t(0);
}

}  // namespace

// The device's alignments are fixed from connect on, so before any queue exists.
Queue::Queue(const QueueContext& ctx, std::unique_ptr<QueueDriver> driver, bool poll)
    : ctx_(ctx),
      driver_(std::move(driver)),
      poll_(poll),
      request_alignment_mask_(alignment_mask(ctx.info->request_alignment)),
      buf_alignment_mask_(alignment_mask(ctx.info->buf_alignment)) {}

Queue::~Queue() { shutdown(); }

bool Queue::claim() {
  std::lock_guard<std::mutex> lock(claim_mutex_);
  if (claimed_.load() || !driver_ || stop_requested_.load()) return false;
  claimed_.store(true, std::memory_order_release);
  return true;
}

void Queue::release_claim() {
  {
    std::lock_guard<std::mutex> lock(claim_mutex_);
    claimed_.store(false, std::memory_order_release);
  }
  claim_released_.notify_all();
}

void Queue::shutdown() {
  std::lock_guard<std::mutex> claim(use_mutex_);
  shutdown_claimed();
}

void Queue::shutdown_claimed() {
  {
    // A job loop on another thread stops within one wait slice.
    std::unique_lock<std::mutex> lock(claim_mutex_);
    stop_requested_.store(true, std::memory_order_relaxed);
    claim_released_.wait(lock, [this] { return !claimed_.load(); });
  }
  if (!driver_) return;
  // The device may still write into request buffers: stop it first.
  if (in_flight_) driver_->quiesce(unsigned(in_flight_));
  driver_.reset();
  in_flight_ = 0;
  backlog_.clear();
  completed_.clear();
}

Request* Queue::grow_pool() {
  pool_.push_back(std::make_unique<Request>());
  pool_.back()->pool_index = uint32_t(pool_.size() - 1);
  free_.reserve(pool_.capacity());
  return pool_.back().get();
}

const char* Queue::validate(const Request& req, int* err) const {
  const DeviceInfo& info = *ctx_.info;
  *err = EINVAL;
  if (req.flags & ~kKnownRequestFlags) return "unsupported bits in request flags";
  if (uint32_t bad = req.flags & ~allowed_flags(req.type)) return disallowed_flag_message(bad);
  if (writes_data(req.type) && *ctx_.read_only) {
    *err = EBADF;
    return "device is read-only";
  }
  if (req.type == RequestType::Flush) return nullptr;
  if (is_zone_request(req.type)) return validate_zone_request(req, err);
  // Device offsets are signed 64-bit in the kernel and the virtio/NVMe
  // checks: a range past 2^63 - 1 (or one whose end wraps) is never valid,
  // also on a device that can grow.
  if (req.len > uint64_t(INT64_MAX) || req.start > uint64_t(INT64_MAX) - req.len)
    return "start + length exceeds 2^63 - 1";
  if (is_vectored(req.type) && info.max_segments > 0 && req.iov.size() > size_t(info.max_segments))
    return "iovcnt exceeds max-segments";
  if (misaligned(req.start, info.request_alignment) || misaligned(req.len, info.request_alignment))
    return "start and length must be multiples of request-alignment";
  uint64_t capacity = ctx_.capacity->load(std::memory_order_relaxed);
  if (!info.can_grow && (req.start > capacity || req.len > capacity - req.start))
    return "request extends beyond the end of the device";
  if (req.type == RequestType::Read || req.type == RequestType::Write) {
    if (misaligned(uintptr_t(req.buf), info.buf_alignment) || misaligned(req.len, info.buf_alignment))
      return "buffer address and length must be multiples of buf-alignment";
    if (info.needs_mem_regions && req.region < 0 && req.len > 0)
      return "buffer is not inside a mapped memory region";
  } else if (is_vectored(req.type)) {
    for (const iovec& v : req.iov) {
      if (misaligned(uintptr_t(v.iov_base), info.buf_alignment) || misaligned(v.iov_len, info.buf_alignment))
        return "buffer address and length must be multiples of buf-alignment";
      if (info.needs_mem_regions && v.iov_len > 0 && ctx_.regions->find(v.iov_base, v.iov_len) < 0)
        return "buffer is not inside a mapped memory region";
    }
  }
  return nullptr;
}

// A read or write that passes every check validate() makes, tested in one
// go (the common case of every request). False does not mean invalid: then
// validate() decides, with its message.
inline bool Queue::plainly_valid_read_write(const Request& req) const {
  const DeviceInfo& info = *ctx_.info;
  bool writing = req.type == RequestType::Write;
  if (req.flags & ~(writing ? allowed_flags(RequestType::Write) : allowed_flags(RequestType::Read))) return false;
  if (writing && *ctx_.read_only) return false;
  if (req.len > uint64_t(INT64_MAX) || req.start > uint64_t(INT64_MAX) - req.len) return false;
  if ((req.start | req.len) & request_alignment_mask_) return false;
  if (!info.can_grow) {
    uint64_t capacity = ctx_.capacity->load(std::memory_order_relaxed);
    if (req.start > capacity || req.len > capacity - req.start) return false;
  }
  if ((uintptr_t(req.buf) | req.len) & buf_alignment_mask_) return false;
  return !(info.needs_mem_regions && req.region < 0 && req.len > 0);
}

const char* Queue::validate_zone_request(const Request& req, int* err) const {
  const DeviceInfo& info = *ctx_.info;
  const ZonedInfo& z = info.zoned;
  if (z.model == ZonedModel::None || z.zone_size == 0) {
    *err = ENOTSUP;
    return "zone requests need a zoned device (zoned-model is \"none\")";
  }
  if (is_zone_all(req.type)) return nullptr;
  if (req.start >= info.capacity) {
    return req.type == RequestType::ReportZones ? "report zones offset is beyond the end of the device"
                                                : "zone offset is beyond the end of the device";
  }
  if (req.type == RequestType::ReportZones) {
    if (req.len > 0 && !req.buf) return "zones must be non-NULL when nr_zones > 0";
    return nullptr;
  }
  if (req.start % z.zone_size != 0) return "zone offset must be the start of a zone (a multiple of zone-size)";
  return nullptr;
}

void Queue::complete_now(Request* req, int ret, const char* msg) {
  bool was_empty = completed_.empty();
  completed_.push_back(Completion{req->user_data, msg, ret, {}});
  release(req);
  // Completions made at enqueue time must still wake an event loop.
  if (was_empty) {
    uint64_t one = 1;
    ssize_t r = ::write(driver_->completion_fd(), &one, sizeof one);
    (void)r;
  }
}

// Inlined into each kind of request (a read or write pays no call for it).
__attribute__((always_inline)) inline void Queue::submit_new(Request* req, int region_hint) {
  req->done = 0;
  req->stage = 0;
  req->started = false;
  bool read_write = req->type == RequestType::Read || req->type == RequestType::Write;
  req->region = read_write ? ctx_.regions->find(req->buf, req->len, region_hint) : -1;
  if (!read_write || !plainly_valid_read_write(*req)) {
    int err;
    if (const char* msg = validate(*req, &err)) return complete_now(req, -err, msg);
  }
  bool nothing_to_do =
      req->len == 0 && req->type != RequestType::Flush && (!is_zone_request(req->type) || req->type == RequestType::ReportZones);
  if (nothing_to_do) return complete_now(req, 0, nullptr);
  if (!backlog_.empty() || quiesced_) return backlog_.push_back(req);  // keep submission order
  const char* msg = nullptr;
  int r = driver_->enqueue(req, &msg);
  if (r == QueueDriver::kAccepted) in_flight_++, req->started = true;
  else if (r == QueueDriver::kFull) backlog_.push_back(req);
  else complete_now(req, r, msg);
}

void Queue::read(uint64_t start, void* buf, size_t len, void* user_data, uint32_t flags, int region_hint) {
  Request* r = acquire();
  r->type = RequestType::Read;
  r->start = start, r->buf = buf, r->len = len, r->user_data = user_data, r->flags = flags;
  submit_new(r, region_hint);
}

void Queue::write(uint64_t start, const void* buf, size_t len, void* user_data, uint32_t flags,
                  int region_hint) {
  Request* r = acquire();
  r->type = RequestType::Write;
  r->start = start, r->buf = const_cast<void*>(buf), r->len = len, r->user_data = user_data, r->flags = flags;
  submit_new(r, region_hint);
}

void Queue::vectored(RequestType type, uint64_t start, const iovec* iov, int iovcnt, void* user_data,
                     uint32_t flags) {
  Request* r = acquire();
  r->type = type;
  r->start = start, r->buf = nullptr, r->len = 0, r->user_data = user_data, r->flags = flags;
  if (iovcnt < 0) return complete_now(r, -EINVAL, "iovcnt must be non-negative and fit in a signed 32-bit integer");
  r->iov.assign(iov, iov + iovcnt);
  for (const iovec& v : r->iov) {
    // As the kernel: the iovecs together may not exceed SSIZE_MAX (the sum never wraps).
    if (v.iov_len > size_t(SSIZE_MAX) - r->len)
      return complete_now(r, -EINVAL, "the iovec lengths add up to more than SSIZE_MAX");
    r->len += v.iov_len;
  }
  submit_new(r, -1);
}

void Queue::readv(uint64_t start, const iovec* iov, int iovcnt, void* user_data, uint32_t flags) {
  vectored(RequestType::Readv, start, iov, iovcnt, user_data, flags);
}

void Queue::writev(uint64_t start, const iovec* iov, int iovcnt, void* user_data, uint32_t flags) {
  vectored(RequestType::Writev, start, iov, iovcnt, user_data, flags);
}

void Queue::write_zeroes(uint64_t start, uint64_t len, void* user_data, uint32_t flags) {
  Request* r = acquire();
  r->type = RequestType::WriteZeroes;
  r->start = start, r->buf = nullptr, r->len = len, r->user_data = user_data, r->flags = flags;
  submit_new(r, -1);
}

void Queue::discard(uint64_t start, uint64_t len, void* user_data, uint32_t flags) {
  Request* r = acquire();
  r->type = RequestType::Discard;
  r->start = start, r->buf = nullptr, r->len = len, r->user_data = user_data, r->flags = flags;
  submit_new(r, -1);
}

void Queue::flush(void* user_data, uint32_t flags) {
  Request* r = acquire();
  r->type = RequestType::Flush;
  r->start = 0, r->buf = nullptr, r->len = 0, r->user_data = user_data, r->flags = flags;
  submit_new(r, -1);
}

void Queue::report_zones(uint64_t offset, Zone* zones, uint32_t nr_zones, void* user_data, uint32_t flags) {
  Request* r = acquire();
  r->type = RequestType::ReportZones;
  // The completion's ret (an int) carries the count, and must never equal kResubmit.
  uint32_t most = uint32_t(QueueDriver::kResubmit - 1);
  r->start = offset, r->buf = zones, r->len = nr_zones < most ? nr_zones : most, r->user_data = user_data, r->flags = flags;
  submit_new(r, -1);
}

void Queue::zone_management(RequestType type, uint64_t offset, void* user_data, uint32_t flags) {
  Request* r = acquire();
  if (!is_zone_request(type) || type == RequestType::ReportZones) {
    r->user_data = user_data;
    return complete_now(r, -EINVAL, "not a zone management request");
  }
  r->type = type;
  r->start = is_zone_all(type) ? 0 : offset, r->buf = nullptr, r->len = 0, r->user_data = user_data, r->flags = flags;
  submit_new(r, -1);
}

void Queue::fail_request(void* user_data, int ret, const char* msg) {
  Request* r = acquire();
  r->type = RequestType::Flush;
  r->user_data = user_data;
  complete_now(r, ret, msg);
}

void Queue::feed_driver() {
  while (!backlog_.empty()) {
    // Quiesced: only the further steps of requests already started (they
    // are in front, put back there by reap_into).
    if (quiesced_ && !backlog_.front()->started) return;
    const char* msg = nullptr;
    int r = driver_->enqueue(backlog_.front(), &msg);
    if (r == QueueDriver::kFull) return;
    Request* req = backlog_.pop_front();
    if (r == QueueDriver::kAccepted) in_flight_++, req->started = true;
    else complete_now(req, r, msg);
  }
}

int Queue::take_unsubmitted(void** out, int max) {
  // Started requests (resubmitted steps) come first in the backlog, new
  // ones after them in submission order.
  size_t first = 0;
  while (first < backlog_.size() && backlog_.at(first)->started) first++;
  size_t n = backlog_.size() - first;
  if (max >= 0 && n > size_t(max)) n = size_t(max);
  for (size_t i = 0; i < n; i++) {
    Request* req = backlog_.at(first + i);
    out[i] = req->user_data;
    release(req);
  }
  backlog_.erase(first, n);
  return int(n);
}

int Queue::reap_into(Completion* out, int max) {
  int n = 0;
  while (n < max) {
    int asked = max - n;
    if (reaped_capacity_ < size_t(asked)) {
      reaped_.reset(new Finished[size_t(asked)]);
      reaped_capacity_ = size_t(asked);
    }
    Finished* reaped = reaped_.get();
    int got = driver_->reap(reaped, asked);
    if (got <= 0) break;
    in_flight_ -= size_t(got);
    for (int i = 0; i < got; i++) {
      const Finished& f = reaped[i];
      if (f.ret == QueueDriver::kResubmit) {
        backlog_.push_front(f.req);
        continue;
      }
      out[n++] = Completion{f.req->user_data, f.ret < 0 ? f.error_msg : nullptr, f.ret, {}};
      release(f.req);
    }
    if (got < asked) break;  // the driver had no more ready: asking again finds nothing
  }
  return n;
}

unsigned Queue::wait_count(unsigned wanted) const {
  // The driver holds at most in_flight_ requests (the rest wait in the
  // backlog): asking it for more would wait forever.
  unsigned held = unsigned(in_flight_);
  unsigned want = wanted < held ? wanted : held;
  // With a backlog, wake when half the driver's requests are done to refill
  // it, so the device keeps working while do_io waits for the rest.
  if (!backlog_.empty() && !quiesced_ && want > held / 2) want = held / 2 > 0 ? held / 2 : 1;
  return want;
}

// do_io that waits for nothing (min 0, no timeout): the first round of
// do_io's loop, which then ends at once. A job loop's every call.
int Queue::poll_now(Completion* out, int max) {
  if (!backlog_.empty()) feed_driver();
  int n = 0;
  while (n < max && !completed_.empty()) out[n++] = completed_.pop_front();
  if (n < max) n += reap_into(out + n, max - n);
  if (!backlog_.empty()) feed_driver();  // reaping made room, or resubmitted
  int ret = driver_->submit(0, Deadline::never());
  // Page-cache hits complete inside the submit: hand them out now.
  if (ret >= 0 && n < max) n += reap_into(out + n, max - n);
  if (ret < 0) {
    unfill(out, n);  // nothing is lost
    return ret;
  }
  return n;
}

int Queue::do_io(Completion* out, int min, int max, timespec* timeout) {
  if (min == 0 && !timeout && max >= 0 && (out || max == 0)) return poll_now(out, max);  // every check of do_io_waiting holds
  return do_io_waiting(out, min, max, timeout);
}

int Queue::do_io_waiting(Completion* out, int min, int max, timespec* timeout) {
  if (min < 0 || max < 0) return fail(EINVAL, "min_completions and max_completions must be non-negative");
  if (min > max) return fail(EINVAL, "min_completions must not exceed max_completions");
  if (!out && max > 0) return fail(EINVAL, "completions must be non-NULL when max_completions > 0");
  if (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000))
    return fail(EINVAL, "timeout must have tv_sec >= 0 and 0 <= tv_nsec < 1000000000");
  if (size_t(min) > outstanding())
    return fail(EINVAL, "min_completions is larger than total outstanding requests");

  Deadline deadline = timeout ? Deadline::after(*timeout) : Deadline::never();
  int n = 0;
  int ret = 0;
  for (;;) {
    feed_driver();
    while (n < max && !completed_.empty()) out[n++] = completed_.pop_front();
    n += reap_into(out + n, max - n);
    if (!backlog_.empty()) feed_driver();  // reaping made room, or resubmitted
    if (n >= min) {
      ret = driver_->submit(0, deadline);
      // Page-cache hits complete inside the submit: hand them out now.
      if (ret >= 0 && n < max) n += reap_into(out + n, max - n);
      break;
    }
    if (!completed_.empty()) continue;
    if (in_flight_ == 0) {
      // Cannot happen (min was checked against outstanding()); fail rather than wait forever.
      ret = fail(EIO, "do_io: nothing in flight to wait for");
      break;
    }
    ret = driver_->submit(wait_count(unsigned(min - n)), deadline);
    if (ret < 0) break;
  }
  if (timeout) *timeout = deadline.is_never() ? timespec{} : deadline.remaining();
  if (ret < 0) {
    unfill(out, n);  // nothing is lost
    return ret;
  }
  return n;
}

void Queue::unfill(const Completion* out, int n) {
  for (int i = n - 1; i >= 0; i--) completed_.push_front(out[i]);
  if (n) {
    uint64_t one = 1;
    ssize_t r = ::write(driver_->completion_fd(), &one, sizeof one);
    (void)r;
  }
}

}  // namespace blkio
