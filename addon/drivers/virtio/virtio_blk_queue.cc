#include "virtio_blk_queue.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../../core/errors.h"

namespace blkio::virtio {

namespace {

// Request stages (Request::stage).
enum Stage : uint32_t { kPrimary = 0, kFuaFlush = 1 };

// A descriptor's length is 32 bits; split larger buffers well below that.
constexpr uint64_t kMaxDescriptorLen = 1u << 31;
constexpr uint8_t kStatusUnset = 0xff;  // a status the device never wrote reads as invalid

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

bool is_write(RequestType t) {
  return t == RequestType::Write || t == RequestType::Writev || t == RequestType::WriteZeroes;
}

bool changes_data(RequestType t) { return is_write(t) || t == RequestType::Discard; }

// Messages of a device found broken (static: requests carry them).
constexpr const char* kUsedIdOutOfRange = "virtio-blk device failed: a used ring entry names a descriptor out of range";
constexpr const char* kUsedIdNotInFlight =
    "virtio-blk device failed: a used ring entry names a request that is not in flight";
constexpr const char* kUsedLenTooLong =
    "virtio-blk device failed: a used ring entry claims more bytes than the request can take";
constexpr const char* kUsedIdxTooFar = "virtio-blk device failed: the used index ran past the requests in flight";

uint64_t reading_bytes(const Request& req) {
  if (req.type == RequestType::Read) return req.len;
  uint64_t n = 0;
  if (req.type == RequestType::Readv)
    for (const iovec& v : req.iov) n += v.iov_len;
  return n;
}

}  // namespace

void QueueTable::add(unsigned vq, VirtioBlkQueue* q) {
  std::lock_guard<std::mutex> lock(mu_);
  if (vq < queues_.size()) queues_[vq] = q;
}

void QueueTable::remove(unsigned vq, VirtioBlkQueue* q) {
  std::lock_guard<std::mutex> lock(mu_);
  if (vq < queues_.size() && queues_[vq] == q) queues_[vq] = nullptr;
}

uint16_t QueueTable::resume(unsigned vq, uint16_t idle) {
  std::lock_guard<std::mutex> lock(mu_);
  return vq < queues_.size() && queues_[vq] ? queues_[vq]->resume() : idle;
}

void DeviceFault::raise(const char* why) {
  const char* none = nullptr;
  if (!why_.compare_exchange_strong(none, why, std::memory_order_acq_rel)) return;
  uint64_t one = 1;
  for (int fd : wake_fds_) {
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;
  }
}

VirtioBlkQueue::VirtioBlkQueue(const BlkQueueSetup& s)
    : params_(s.params),
      transport_(s.transport),
      fault_(s.fault),
      addresses_(s.addresses),
      slots_(reinterpret_cast<RequestSlot*>(s.mem + s.layout.extra)),
      slots_device_(s.mem_device + s.layout.extra),
      kick_fd_(s.kick_fd),
      doorbell_(s.doorbell),
      index_(s.index),
      call_fd_(s.call_fd),
      poll_(s.poll),
      reconnect_(s.reconnect),
      table_(s.table),
      vq_index_(s.vq_index),
      in_flight_by_head_(s.size, nullptr),
      writable_by_head_(s.size, 0),
      seq_by_head_(s.size, 0) {
  vq_.init(s.mem, s.layout, s.size, s.event_idx);
  if (reconnect_) writes_in_flight_.reserve(s.size);
  if (table_) table_->add(vq_index_, this);
}

VirtioBlkQueue::~VirtioBlkQueue() {
  if (table_) table_->remove(vq_index_, this);
}

unsigned VirtioBlkQueue::segments(size_t len) const {
  uint64_t limit = params_.max_segment_len ? params_.max_segment_len : kMaxDescriptorLen;
  return unsigned((len + limit - 1) / limit);
}

unsigned VirtioBlkQueue::data_descriptors(const Request& req) const {
  switch (req.type) {
    case RequestType::Read:
    case RequestType::Write:
      return segments(req.len);
    case RequestType::Readv:
    case RequestType::Writev: {
      unsigned n = 0;
      for (const iovec& v : req.iov) n += segments(v.iov_len);  // empty iovecs take none
      return n;
    }
    default:
      return 0;
  }
}

uint64_t VirtioBlkQueue::range_chunk(const Request& req) const {
  uint64_t max = req.type == RequestType::Discard ? params_.max_discard_bytes : params_.max_write_zeroes_bytes;
  return std::min(req.len - req.done, max);
}

void VirtioBlkQueue::add_data(ChainWriter* chain, uint64_t addr, size_t len, bool device_writable) const {
  uint64_t limit = params_.max_segment_len ? params_.max_segment_len : kMaxDescriptorLen;
  while (len > 0) {
    uint32_t piece = uint32_t(std::min<uint64_t>(len, limit));
    chain->add(addr, piece, device_writable);
    addr += piece;
    len -= piece;
  }
}

int VirtioBlkQueue::enqueue(Request* req, const char** error_msg) {
  // The core sends zone requests only to a device that reports zones
  // (VIRTIO_BLK_F_ZONED is not negotiated).
  if (is_zone_request(req->type)) return *error_msg = "zone requests are not supported by virtio-blk here", -ENOTSUP;
  auto lock = ring_lock();
  if (gone()) {
    *error_msg = gone_message();
    return -EIO;
  }
  RequestType t = req->type;
  Shape shape = req->stage == kFuaFlush || t == RequestType::Flush ? Shape::Flush
                : t == RequestType::Discard || t == RequestType::WriteZeroes ? Shape::Ranged
                                                                              : Shape::Data;
  if (shape == Shape::Flush && !params_.flush) {  // no volatile cache: nothing to flush
    complete_at_once(req);
    return kAccepted;
  }
  if (t == RequestType::Discard && !params_.discard) return *error_msg = "discard not supported", -ENOTSUP;
  if (t == RequestType::WriteZeroes && shape == Shape::Ranged && !params_.write_zeroes)
    return *error_msg = "write zeroes not supported", -ENOTSUP;

  // header + [segment] + data + status
  unsigned needed = 2 + (shape == Shape::Ranged ? 1 : 0) + (shape == Shape::Data ? data_descriptors(*req) : 0);
  if (needed > vq_.size())
    return *error_msg = "request needs more descriptors than queue-size provides", -EINVAL;
  if (needed > vq_.free_count()) return kFull;
  // Overlapping writes on the ring together could, after a reconnect, be
  // redone in an order other than the one they were acknowledged in: the
  // later one waits in the core's backlog until the earlier one completes.
  bool tracked = reconnect_ && shape != Shape::Flush && changes_data(t);
  if (tracked && overlaps_write_in_flight(*req)) return kFull;
  // Translate before taking descriptors, so a failure leaves nothing behind.
  uint64_t buf_device = 0;
  if (shape == Shape::Data && !translate_buffers(*req, &buf_device))
    return *error_msg = "buffer is not inside a mapped memory region", -EFAULT;

  uint16_t head = vq_.alloc_chain(needed);
  write_chain(*req, shape, head, needed, buf_device);
  vq_.make_available(head);
  in_flight_by_head_[head] = req;
  seq_by_head_[head] = next_seq_++;
  if (tracked) writes_in_flight_.push_back(head);
  // Data (reads only) and the status byte; the used length may not exceed it.
  writable_by_head_[head] = (shape == Shape::Data ? reading_bytes(*req) : 0) + 1;
  in_flight_++;
  return kAccepted;
}

bool VirtioBlkQueue::translate_buffers(const Request& req, uint64_t* buf_device) const {
  if (!is_vectored(req.type)) return addresses_->translate(req.buf, req.len, req.region, buf_device);
  if (addresses_->identity()) return true;
  uint64_t ignored;
  for (const iovec& v : req.iov)
    if (!addresses_->translate(v.iov_base, v.iov_len, -1, &ignored)) return false;
  return true;
}

void VirtioBlkQueue::write_chain(const Request& req, Shape shape, uint16_t head, unsigned count,
                                 uint64_t buf_device) {
  RequestSlot& slot = slots_[head];
  uint64_t slot_device = slots_device_ + uint64_t(head) * sizeof(RequestSlot);
  ChainWriter chain{&vq_, head, count};
  slot.status = kStatusUnset;
  slot.header.ioprio = 0;
  slot.header.sector = 0;
  chain.add(slot_device + offsetof(RequestSlot, header), sizeof slot.header, false);
  RequestType t = req.type;
  if (shape == Shape::Flush) {
    slot.header.type = blk::kTypeFlush;
  } else if (shape == Shape::Ranged) {
    bool zeroes = t == RequestType::WriteZeroes;
    slot.header.type = zeroes ? blk::kTypeWriteZeroes : blk::kTypeDiscard;
    slot.segment.sector = (req.start + req.done) / blk::kSectorSize;
    slot.segment.num_sectors = uint32_t(range_chunk(req) / blk::kSectorSize);
    // UNMAP lets the device deallocate; discard must not carry it.
    slot.segment.flags = zeroes && !(req.flags & REQ_NO_UNMAP) ? blk::kWriteZeroesUnmap : 0;
    chain.add(slot_device + offsetof(RequestSlot, segment), sizeof slot.segment, false);
  } else {
    bool reading = t == RequestType::Read || t == RequestType::Readv;
    slot.header.type = reading ? blk::kTypeIn : blk::kTypeOut;
    slot.header.sector = req.start / blk::kSectorSize;
    if (!is_vectored(t)) {
      add_data(&chain, buf_device, req.len, reading);
    } else {
      for (const iovec& v : req.iov) {
        uint64_t addr = reinterpret_cast<uintptr_t>(v.iov_base);
        if (!addresses_->identity()) addresses_->translate(v.iov_base, v.iov_len, -1, &addr);
        add_data(&chain, addr, v.iov_len, reading);
      }
    }
  }
  chain.add(slot_device + offsetof(RequestSlot, status), 1, true);
}

void VirtioBlkQueue::complete_at_once(Request* req) {
  bool was_empty = done_now_.empty();
  done_now_.push_back(Finished{req, 0, nullptr});
  in_flight_++;  // counted like a device request until reaped
  if (was_empty && fd_enabled_) signal_self();
}

int VirtioBlkQueue::submit(unsigned wait_for, const Deadline& deadline) {
  {
    auto lock = ring_lock();
    if (vq_.publish()) kick();  // one kick per batch, and only when the device asks
  }
  if (wait_for == 0) return 0;
  return wait(wait_for, deadline);
}

void VirtioBlkQueue::kick() {
  if (doorbell_) {
    // publish() ended with a full fence: the avail index is visible before this store.
    *doorbell_ = index_;
    return;
  }
  uint64_t one = 1;
  ssize_t n = write(kick_fd_, &one, sizeof one);
  (void)n;
}

void VirtioBlkQueue::signal_self() {
  uint64_t one = 1;
  ssize_t n = write(call_fd_, &one, sizeof one);
  (void)n;
}

void VirtioBlkQueue::drain_call_fd() {
  uint64_t count;
  ssize_t n = read(call_fd_, &count, sizeof count);
  (void)n;
}

int VirtioBlkQueue::wait(unsigned wait_for, const Deadline& deadline) {
  unsigned device_held = in_flight_ - unsigned(done_now_.size());
  if (!done_now_.empty() || device_held == 0) return 0;
  unsigned want = std::min(wait_for, device_held);
  if (poll_) return spin(want, deadline);
  int ret = 0;
  for (;;) {
    if (vq_.used_pending() >= want || gone()) break;
    // Ask for a signal when the want-th completion lands, then look again:
    // it may have landed before the device could see our request.
    vq_.arm_interrupts(want);
    if (vq_.used_pending() >= want) break;
    timespec left;
    if (!deadline.is_never()) {
      if (deadline.expired()) {
        ret = fail(ETIME, "do_io timed out");
        break;
      }
      left = deadline.remaining();
    }
    pollfd p{call_fd_, POLLIN, 0};
    int r = ppoll(&p, 1, deadline.is_never() ? nullptr : &left, nullptr);
    if (r < 0 && errno != EINTR) {
      ret = fail(errno, "waiting for completions failed: %s", strerror(errno));
      break;
    }
    if (r > 0) drain_call_fd();  // spurious signals are fine: the loop re-checks
  }
  restore_interrupts();
  return ret;
}

int VirtioBlkQueue::spin(unsigned want, const Deadline& deadline) {
  for (unsigned spins = 1; vq_.used_pending() < want; spins++) {
    if (gone()) return 0;
    if ((spins & 1023) == 0 && deadline.expired()) return fail(ETIME, "do_io timed out");
    cpu_relax();
  }
  return 0;
}

void VirtioBlkQueue::restore_interrupts() {
  if (fd_enabled_ && !poll_) {
    vq_.arm_interrupts(1);
    if (vq_.used_pending()) signal_self();
  } else {
    vq_.disarm_interrupts();
  }
}

void VirtioBlkQueue::set_completion_fd_enabled(bool enabled) {
  if (poll_) return;
  fd_enabled_ = enabled;
  restore_interrupts();
}

int VirtioBlkQueue::finish(Request* req, uint8_t status, const char** msg) {
  switch (status) {
    case blk::kStatusOk: break;
    case blk::kStatusIoErr: return *msg = "virtio-blk device reported an I/O error", -EIO;
    case blk::kStatusUnsupp: return *msg = "virtio-blk device does not support this request", -ENOTSUP;
    default: return *msg = "virtio-blk device returned an invalid request status", -EPROTO;
  }
  if (req->stage == kFuaFlush) return 0;
  RequestType t = req->type;
  if (t == RequestType::Discard || t == RequestType::WriteZeroes) {
    req->done += range_chunk(*req);
    if (req->done < req->len) return kResubmit;  // the next chunk
  }
  // FUA by a flush after the write (virtio-blk has no FUA); without
  // F_FLUSH there is no volatile cache and FUA holds already.
  if ((req->flags & REQ_FUA) && params_.flush && is_write(t)) {
    req->stage = kFuaFlush;
    return kResubmit;
  }
  return 0;
}

int VirtioBlkQueue::reap(Finished* out, int max) {
  auto lock = ring_lock();
  int n = 0;
  while (n < max && !done_now_.empty()) {
    out[n++] = done_now_.pop_front();
    in_flight_--;
  }
  uint16_t head;
  uint32_t len;
  // More used entries than chains on the ring: the index is garbage.
  // (Entries a backend wrote before it died are still good: only a device
  // found broken stops us from reading its ring.)
  if (!fault_->failed() && vq_.used_pending() > in_flight_ - done_now_.size()) device_broken(kUsedIdxTooFar);
  while (n < max && !fault_->failed() && vq_.pop_used(&head, &len)) {
    if (const char* why = insane_used(head, len)) {
      device_broken(why);
      break;  // nothing the device wrote can be trusted now
    }
    Request* req = in_flight_by_head_[head];
    in_flight_by_head_[head] = nullptr;
    forget_head(head);
    in_flight_--;
    uint8_t status = slots_[head].status;
    vq_.free_chain(head);
    const char* msg = nullptr;
    int ret = finish(req, status, &msg);
    out[n++] = Finished{req, ret, msg};
  }
  if (n < max && in_flight_ > 0 && gone()) n += fail_in_flight(out + n, max - n);
  // An enabled completion fd must fire for entries we leave behind.
  if (fd_enabled_ && !poll_) {
    vq_.arm_interrupts(1);
    if (vq_.used_pending()) signal_self();
  }
  return n;
}

const char* VirtioBlkQueue::insane_used(uint16_t head, uint32_t len) const {
  if (head >= vq_.size()) return kUsedIdOutOfRange;
  if (!in_flight_by_head_[head]) return kUsedIdNotInFlight;  // never used, or completed already
  if (len > writable_by_head_[head]) return kUsedLenTooLong;
  return nullptr;
}

void VirtioBlkQueue::device_broken(const char* why) {
  fault_->raise(why);
  // A live but broken backend could go on writing into request buffers
  // after we fail the requests: make the transport cut it off.
  transport_->abandon();
}

int VirtioBlkQueue::fail_in_flight(Finished* out, int max) {
  // The device is gone: its used ring will not move again.
  int n = 0;
  for (unsigned head = 0; head < vq_.size() && n < max; head++) {
    Request* req = in_flight_by_head_[head];
    if (!req) continue;
    in_flight_by_head_[head] = nullptr;
    forget_head(uint16_t(head));
    in_flight_--;
    vq_.free_chain(uint16_t(head));
    out[n++] = Finished{req, -EIO, gone_message()};
  }
  return n;
}

void VirtioBlkQueue::quiesce(unsigned) {
  // Wait (bounded) until the device is done with every chain, so it does
  // not write into buffers that are about to be freed.
  done_now_.clear();
  Deadline give_up = Deadline::after(timespec{5, 0});
  {
    auto lock = ring_lock();
    if (vq_.publish()) kick();
  }
  uint16_t head;
  uint32_t len;
  for (;;) {
    bool busy;
    {
      // Not held across the wait below: resume() may need the ring meanwhile.
      auto lock = ring_lock();
      while (!fault_->failed() && vq_.pop_used(&head, &len)) {
        if (const char* why = insane_used(head, len)) {
          device_broken(why);
          break;
        }
        in_flight_by_head_[head] = nullptr;
        forget_head(head);
        vq_.free_chain(head);
      }
      busy = std::any_of(in_flight_by_head_.begin(), in_flight_by_head_.end(), [](Request* r) { return r; });
    }
    if (!busy || gone() || give_up.expired()) break;
    vq_.arm_interrupts(1);
    if (vq_.used_pending()) continue;
    pollfd p{call_fd_, POLLIN, 0};
    timespec tick{0, 100 * 1000 * 1000};
    if (ppoll(&p, 1, &tick, nullptr) > 0) drain_call_fd();
  }
  auto lock = ring_lock();
  vq_.disarm_interrupts();
  std::fill(in_flight_by_head_.begin(), in_flight_by_head_.end(), nullptr);
  writes_in_flight_.clear();
  in_flight_ = 0;
}

bool VirtioBlkQueue::overlaps_write_in_flight(const Request& req) const {
  uint64_t end = req.start + req.len;
  for (uint16_t h : writes_in_flight_) {
    const Request* w = in_flight_by_head_[h];
    if (w && req.start < w->start + w->len && w->start < end) return true;
  }
  return false;
}

void VirtioBlkQueue::forget_head(uint16_t head) {
  if (!reconnect_) return;
  auto it = std::find(writes_in_flight_.begin(), writes_in_flight_.end(), head);
  if (it == writes_in_flight_.end()) return;
  *it = writes_in_flight_.back();
  writes_in_flight_.pop_back();
}

uint16_t VirtioBlkQueue::resume() {
  std::lock_guard<std::mutex> lock(ring_mu_);
  unsigned size = vq_.size();
  // Chains the old device finished whose used entries we have not popped
  // yet are done: reap() still finds them. Everything else in flight goes
  // out again. (A used index that ran too far is reap()'s to report.)
  std::vector<bool> finished(size, false);
  uint16_t unpopped = uint16_t(vq_.device_used_idx() - vq_.last_used());
  for (uint16_t i = 0; i < std::min<unsigned>(unpopped, size); i++) {
    uint32_t id = vq_.used_id_at(uint16_t(vq_.last_used() + i));
    if (id < size) finished[id] = true;
  }
  std::vector<uint16_t> again;
  for (unsigned h = 0; h < size; h++)
    if (in_flight_by_head_[h] && !finished[h]) again.push_back(uint16_t(h));
  std::sort(again.begin(), again.end(), [this](uint16_t a, uint16_t b) { return seq_by_head_[a] < seq_by_head_[b]; });
  // The new device starts at base and sees only what follows: the old
  // device's part of the ring is history.
  uint16_t base = vq_.avail_shadow();
  for (uint16_t h : again) {
    slots_[h].status = kStatusUnset;
    vq_.make_available(h);
  }
  vq_.publish();  // the device is not running yet: the transport kicks it once it is
  return base;
}

}  // namespace blkio::virtio
