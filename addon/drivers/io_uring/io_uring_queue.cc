#include "io_uring_queue.h"

#include <linux/falloc.h>
#include <linux/fs.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../../core/errors.h"
#include "../../core/region_table.h"
#include "io_uring_driver.h"

namespace blkio {

namespace {

// Request stages beyond the first SQE.
enum Stage : uint32_t { kPrimary = 0, kZeroFill = 1, kFuaFlush = 2, kDiscardFallocate = 3 };

// io_uring's own discard for block devices (Linux 6.12+, include/uapi/linux/fs.h):
// _IO(0x12, 0), start in addr, length in addr3. Newer kernels no longer
// discard through fallocate(PUNCH_HOLE | NO_HIDE_STALE); older ones have no
// command. The driver tries the command and falls back to fallocate once.
constexpr uint32_t kBlockUringCmdDiscard = (0x12u << 8) | 0u;

constexpr uint64_t kMaxChunk = 1ull << 30;  // below the kernel's MAX_RW_COUNT
constexpr size_t kZeroBufferSize = 1 << 20;

// Source of zeros for write-zeroes on files without native zeroing.
const void* zero_buffer() {
  static const void* zeros =
      mmap(nullptr, kZeroBufferSize, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return zeros;
}

const char* errno_text(int neg) { return strerrordesc_np(-neg); }

void zero_fill_rest(Request* req) {
  if (req->type == RequestType::Read) {
    memset(static_cast<char*>(req->buf) + req->done, 0, req->len - req->done);
    return;
  }
  for (const iovec& v : req->iov) memset(v.iov_base, 0, v.iov_len);
}

// Drops the first n bytes of a vectored request's remaining iovecs.
void consume_iov(Request* req, uint64_t n) {
  auto& iov = req->iov;
  size_t i = 0;
  while (i < iov.size() && n >= iov[i].iov_len) n -= iov[i++].iov_len;
  iov.erase(iov.begin(), iov.begin() + long(i));
  if (n && !iov.empty()) {
    iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + n;
    iov[0].iov_len -= n;
  }
}

}  // namespace

UringQueue::UringQueue(IoUringDriver* owner, const UringTarget& target, bool poll)
    : RingQueue(poll),
      owner_(owner),
      target_(target),
      zone_worker_(ZoneTarget{target.fd, target.capacity, target.zone_size}) {}

UringQueue::~UringQueue() {
  zone_worker_.stop_and_wait();
  close_zone_fds();
  owner_->forget(this);
}

void UringQueue::close_zone_fds() {
  for (int fd : zone_fds_) close(fd);
  zone_fds_.clear();
}

int UringQueue::init(unsigned entries) {
  int r = ring_.init(entries, poll_ ? IORING_SETUP_IOPOLL : 0);
  if (r < 0) return fail(-r, "io_uring_setup with %u entries failed: %s", entries, strerror(-r));
  if ((r = attach_eventfd_and_file(target_.fd)) < 0) return r;
  io_uring_rsrc_register sparse;
  memset(&sparse, 0, sizeof sparse);
  sparse.nr = RegionTable::kSlots;
  sparse.flags = IORING_RSRC_REGISTER_SPARSE;
  if (ring_.register_op(IORING_REGISTER_BUFFERS2, &sparse, sizeof sparse) >= 0)
    fixed_buffer_.assign(RegionTable::kSlots, 0);
  return 0;
}

void UringQueue::register_buffer(int slot, const void* addr, size_t len) {
  if (fixed_buffer_.empty()) return;
  iovec iov{const_cast<void*>(addr), len};
  io_uring_rsrc_update2 update;
  memset(&update, 0, sizeof update);
  update.offset = unsigned(slot);
  update.data = reinterpret_cast<uint64_t>(&iov);
  update.nr = 1;
  fixed_buffer_[size_t(slot)] = ring_.register_op(IORING_REGISTER_BUFFERS_UPDATE, &update, sizeof update) >= 0;
}

void UringQueue::unregister_buffer(int slot) {
  if (fixed_buffer_.empty() || !fixed_buffer_[size_t(slot)]) return;
  iovec none{nullptr, 0};
  io_uring_rsrc_update2 update;
  memset(&update, 0, sizeof update);
  update.offset = unsigned(slot);
  update.data = reinterpret_cast<uint64_t>(&none);
  update.nr = 1;
  ring_.register_op(IORING_REGISTER_BUFFERS_UPDATE, &update, sizeof update);
  fixed_buffer_[size_t(slot)] = 0;
}

// Reads and writes: the SQE of every request in a benchmark.
inline void UringQueue::prepare_read_write(Request* req, io_uring_sqe* sqe) {
  address_sqe(sqe, target_.fd, req);
  bool reading = req->type == RequestType::Read;
  bool fixed = req->region >= 0 && size_t(req->region) < fixed_buffer_.size() && fixed_buffer_[size_t(req->region)];
  if (fixed) {
    sqe->opcode = reading ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
    sqe->buf_index = uint16_t(req->region);
  } else {
    sqe->opcode = reading ? IORING_OP_READ : IORING_OP_WRITE;
  }
  sqe->addr = reinterpret_cast<uint64_t>(req->buf) + req->done;
  sqe->len = unsigned(std::min(req->len - req->done, kMaxChunk));
  sqe->off = req->start + req->done;
  if (!reading && (req->flags & REQ_FUA)) sqe->rw_flags = RWF_DSYNC;
}

int UringQueue::enqueue(Request* req, const char** error_msg) {
  RequestType t = req->type;
  if (t == RequestType::Read || t == RequestType::Write) {  // the common case, first
    io_uring_sqe* sqe = claim_sqe();
    if (!sqe) return kFull;
    prepare_read_write(req, sqe);
    return kAccepted;
  }
  bool data_op = has_buffer(t);
  if (poll_ && !data_op) {
    *error_msg = "request not supported on poll queues for this driver";
    return -ENOTSUP;
  }
  if (is_zone_request(t)) return enqueue_zone_request(req, error_msg);
  if (t == RequestType::WriteZeroes && req->stage == kPrimary && (req->flags & REQ_NO_FALLBACK) &&
      target_.is_block_device && !target_.native_write_zeroes) {
    *error_msg = "write zeroes without fallback: the device has no native write zeroes";
    return -ENOTSUP;
  }
  io_uring_sqe* sqe = claim_sqe();
  if (!sqe) return kFull;
  prepare(req, sqe);
  return kAccepted;
}

void UringQueue::prepare(Request* req, io_uring_sqe* sqe) {
  if (req->type == RequestType::Read || req->type == RequestType::Write) return prepare_read_write(req, sqe);
  address_sqe(sqe, target_.fd, req);
  bool fua = (req->flags & REQ_FUA) != 0;
  switch (req->type) {
    case RequestType::Readv:
    case RequestType::Writev:
      sqe->opcode = req->type == RequestType::Readv ? IORING_OP_READV : IORING_OP_WRITEV;
      sqe->addr = reinterpret_cast<uint64_t>(req->iov.data());
      sqe->len = unsigned(req->iov.size());
      sqe->off = req->start + req->done;
      if (req->type == RequestType::Writev && fua) sqe->rw_flags = RWF_DSYNC;
      return;
    case RequestType::Flush:
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fsync_flags = IORING_FSYNC_DATASYNC;
      return;
    case RequestType::Discard:
      if (target_.is_block_device && req->stage == kPrimary && block_discard_cmd_) {
        sqe->opcode = IORING_OP_URING_CMD;
        sqe->cmd_op = kBlockUringCmdDiscard;
        sqe->addr = req->start;
        sqe->addr3 = req->len;
        return;
      }
      sqe->opcode = IORING_OP_FALLOCATE;
      sqe->off = req->start;
      sqe->addr = req->len;  // fallocate's length travels in addr
      // On a block device, NO_HIDE_STALE turns the punch into a discard.
      sqe->len = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE |
                 (target_.is_block_device ? FALLOC_FL_NO_HIDE_STALE : 0);
      return;
    case RequestType::WriteZeroes:
      if (req->stage == kFuaFlush) {
        sqe->opcode = IORING_OP_FSYNC;
        sqe->fsync_flags = IORING_FSYNC_DATASYNC;
      } else if (req->stage == kZeroFill) {
        sqe->opcode = IORING_OP_WRITE;
        sqe->addr = reinterpret_cast<uint64_t>(zero_buffer());
        sqe->len = unsigned(std::min<uint64_t>(req->len - req->done, kZeroBufferSize));
        sqe->off = req->start + req->done;
      } else {
        sqe->opcode = IORING_OP_FALLOCATE;
        sqe->off = req->start;
        sqe->addr = req->len;
        bool unmap_ok = !(req->flags & REQ_NO_UNMAP);
        bool native = !target_.is_block_device || target_.native_write_zeroes;
        if (unmap_ok && native) sqe->len = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
        else sqe->len = FALLOC_FL_ZERO_RANGE | (target_.is_block_device ? FALLOC_FL_KEEP_SIZE : 0);
      }
      return;
    default: return;  // zone requests: enqueue_zone_request
  }
}

// A zone request runs on the zone worker; the ring reads the eventfd the
// worker signals when it is done, so its completion arrives as a CQE.
int UringQueue::enqueue_zone_request(Request* req, const char** error_msg) {
  if (target_.zone_size == 0) return *error_msg = "zone requests need a zoned block device", -ENOTSUP;
  io_uring_sqe* sqe = claim_sqe();
  if (!sqe) return kFull;
  int done = eventfd(0, EFD_CLOEXEC);
  req->side_fd = done;
  req->side_result = -EIO;
  req->side_msg = "zone request did not run";
  if (done < 0 || !zone_worker_.post(req)) {
    // The SQE is claimed: it still completes the request, with the error.
    req->side_msg = done < 0 ? "eventfd for a zone request failed" : "no helper thread for zone requests";
    req->side_result = done < 0 ? -errno : -EAGAIN;
    if (done >= 0) close(done);
    req->side_fd = -1;
    sqe->opcode = IORING_OP_NOP;
    sqe->fd = -1;
    sqe->user_data = reinterpret_cast<uint64_t>(req);
    return kAccepted;
  }
  zone_fds_.push_back(done);
  sqe->opcode = IORING_OP_READ;
  sqe->fd = done;
  sqe->addr = reinterpret_cast<uint64_t>(&req->done);  // the eventfd's 8-byte count; unused otherwise
  sqe->len = sizeof req->done;
  sqe->off = uint64_t(-1);
  sqe->user_data = reinterpret_cast<uint64_t>(req);
  return kAccepted;
}

int UringQueue::finish_zone_request(Request* req, int res, const char** msg) {
  if (req->side_fd >= 0) {
    zone_fds_.erase(std::remove(zone_fds_.begin(), zone_fds_.end(), req->side_fd), zone_fds_.end());
    close(req->side_fd);
    req->side_fd = -1;
  }
  if (res < 0) return *msg = errno_text(res), res;  // the read was cancelled
  *msg = req->side_msg;
  return req->side_result;
}

int UringQueue::reap(Finished* out, int max) {
  return reap_with(out, max, [this](Request* req, int res, const char** msg) {
    // A read or write done in one go (the common case) has no further step.
    bool rw = req->type == RequestType::Read || req->type == RequestType::Write;
    if (rw && res > 0 && uint64_t(res) == req->len - req->done) {
      req->done = req->len;
      return 0;
    }
    return finish(req, res, msg);
  });
}

// Turns a CQE result into the request's outcome: 0, -errno, or kResubmit.
int UringQueue::finish(Request* req, int res, const char** msg) {
  if (is_zone_request(req->type)) return finish_zone_request(req, res, msg);
  switch (req->type) {
    case RequestType::Read:
    case RequestType::Write:
    case RequestType::Readv:
    case RequestType::Writev: {
      if (res < 0) return *msg = errno_text(res), res;
      bool reading = req->type == RequestType::Read || req->type == RequestType::Readv;
      if (res == 0) {
        // End of file: a growable file reads as zeros past its end.
        if (reading && !target_.is_block_device) {
          zero_fill_rest(req);
          return 0;
        }
        *msg = reading ? "read past the end of the device" : "write made no progress";
        return -EIO;
      }
      req->done += uint64_t(res);
      if (req->done >= req->len) return 0;
      if (is_vectored(req->type)) consume_iov(req, uint64_t(res));
      return QueueDriver::kResubmit;
    }
    case RequestType::Flush:
      if (res < 0) *msg = errno_text(res);
      return res;
    case RequestType::Discard:
      if (target_.is_block_device && req->stage == kPrimary && block_discard_cmd_ && res == -EOPNOTSUPP) {
        // A kernel without the command (or a device without discard): fallocate decides.
        block_discard_cmd_ = false;
        req->stage = kDiscardFallocate;
        return QueueDriver::kResubmit;
      }
      if (res == -EOPNOTSUPP) return *msg = "discard is not supported by this file or device", -ENOTSUP;
      if (res < 0) *msg = errno_text(res);
      return res;
    case RequestType::WriteZeroes:
      if (req->stage == kPrimary && res == -EOPNOTSUPP) {
        if (req->flags & REQ_NO_FALLBACK)
          return *msg = "write zeroes without fallback: no native zeroing here", -ENOTSUP;
        req->stage = kZeroFill;  // write zeros ourselves
        req->done = 0;
        return QueueDriver::kResubmit;
      }
      if (res < 0) return *msg = errno_text(res), res;
      if (req->stage == kZeroFill) {
        if (res == 0) return *msg = "write made no progress", -EIO;
        req->done += uint64_t(res);
        if (req->done < req->len) return QueueDriver::kResubmit;
      }
      if (req->stage != kFuaFlush && (req->flags & REQ_FUA)) {
        req->stage = kFuaFlush;
        return QueueDriver::kResubmit;
      }
      return 0;
    default: break;
  }
  return -EINVAL;
}

void UringQueue::quiesce(unsigned) {
  // Cancel what can be cancelled, then wait (bounded) for every CQE, so no
  // request can touch its buffer after the caller frees it. A zone report
  // running on the worker writes its zones until it returns: wait for it.
  zone_worker_.stop_and_wait();
  if (io_uring_sqe* sqe = ring_.next_sqe()) {
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY;
    sqe->user_data = kInternalTag;
  }
  drain();
  close_zone_fds();
}

}  // namespace blkio
