#include "queue_object.h"

#include <cerrno>
#include <cmath>

#include "addon_data.h"
#include "completion_watcher.h"
#include "errors.h"

namespace blkio::napi {

Napi::Function QueueObject::define(Napi::Env env) {
  return DefineClass(env, "NativeQueue",
                     {
                         InstanceMethod<&QueueObject::set_buffers>("setBuffers"),
                         InstanceMethod<&QueueObject::do_io>("doIo"),
                         InstanceMethod<&QueueObject::bind_do_io>("bindDoIo"),
                         InstanceMethod<&QueueObject::requeue>("requeue"),
                         InstanceMethod<&QueueObject::completion_fd>("completionFd"),
                         InstanceMethod<&QueueObject::set_completion_fd_enabled>("setCompletionFdEnabled"),
                         InstanceMethod<&QueueObject::watch>("watch"),
                         InstanceMethod<&QueueObject::watch_ref>("watchRef"),
                         InstanceMethod<&QueueObject::unwatch>("unwatch"),
                         InstanceMethod<&QueueObject::set_quiesced>("setQuiesced"),
                         InstanceMethod<&QueueObject::in_flight>("inFlight"),
                         InstanceMethod<&QueueObject::take_unsubmitted>("takeUnsubmitted"),
                     });
}

Napi::Object QueueObject::make(Napi::Env env, std::shared_ptr<Blkio> owner, std::shared_ptr<Queue> queue) {
  Napi::Object obj = addon_data(env).queue_class.New({});
  QueueObject* q = Unwrap(obj);
  q->owner_ = std::move(owner);
  q->queue_ = std::move(queue);
  return obj;
}

QueueObject::QueueObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<QueueObject>(info) {}

QueueObject::~QueueObject() {
  if (watcher_) watcher_->close();
}

void QueueObject::stop_watching() {
  if (watcher_) {
    watcher_->close();  // before the fd closes
    watcher_ = nullptr;
  }
}

void QueueObject::release() {
  queue_.reset();
  owner_.reset();
}

void QueueObject::shutdown() {
  stop_watching();
  if (queue_) queue_->shutdown();
  queue_.reset();
  owner_.reset();
}

std::shared_ptr<Queue> QueueObject::detach() {
  if (watcher_) watcher_->close();  // clears watcher_
  owner_.reset();
  return std::move(queue_);
}

Queue* QueueObject::live_queue(Napi::Env env) {
  if (!queue_ || !queue_->alive())
    throw_blkio_error(env, -ENODEV, "queue has been removed or its Blkio destroyed");
  if (queue_->claimed()) throw_blkio_error(env, -EBUSY, "queue is driven by a running job loop");
  return queue_.get();
}

// Claims the queue for one call (see Queue::use_mutex), then checks it is
// still alive: a removal on another thread waits for the call or fails
// with EBUSY, and this call never runs on a closed driver.
QueueObject::Claim QueueObject::claim(Napi::Env env) {
  if (!queue_) throw_blkio_error(env, -ENODEV, "queue has been removed or its Blkio destroyed");
  Claim c{std::unique_lock<std::mutex>(queue_->use_mutex()), nullptr};
  c.queue = live_queue(env);
  return c;
}

Napi::Value QueueObject::set_buffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer() || !info[1].IsArrayBuffer() || !info[2].IsArrayBuffer())
    throw_blkio_error(env, -EINVAL, "setBuffers needs three ArrayBuffers");
  auto desc = info[0].As<Napi::ArrayBuffer>();
  auto iov = info[1].As<Napi::ArrayBuffer>();
  auto comp = info[2].As<Napi::ArrayBuffer>();
  desc_ref_ = Napi::Persistent(desc);
  iov_ref_ = Napi::Persistent(iov);
  comp_ref_ = Napi::Persistent(comp);
  desc_ = static_cast<Descriptor*>(desc.Data());
  desc_cap_ = desc.ByteLength() / sizeof(Descriptor);
  iov_ = static_cast<double*>(iov.Data());
  iov_cap_ = iov.ByteLength() / (2 * sizeof(double));
  comp_ = static_cast<int32_t*>(comp.Data());
  comp_cap_ = comp.ByteLength() / (3 * sizeof(int32_t));
  return env.Undefined();
}

namespace {

constexpr double kMaxExactDouble = 9007199254740992.0;  // 2^53

// A descriptor field as an integer: NaN, infinities, fractions and values
// beyond 2^53 are refused, never converted (that would be undefined behaviour).
bool exact_index(double v, uint64_t* out) {
  if (!(v >= 0 && v <= kMaxExactDouble) || v != std::floor(v)) return false;
  *out = uint64_t(v);
  return true;
}

const char* const kMalformed = "malformed request descriptor";
const char* const kDetached =
    "buffer was detached or shrunk (transferred, resized, or its memory region freed) before doIo submitted "
    "the request";

}  // namespace

// Only the JS Queue writes descriptors, from engine-provided values; they
// are still checked here so that nothing outside the shared tables is read
// and every described request completes exactly once.
void QueueObject::enqueue(Queue* q, const Descriptor& d, size_t n_iov) {
  uint64_t start = uint64_t(d.start_hi) << 32 | d.start_lo;
  void* user_data = reinterpret_cast<void*>(uintptr_t(d.slot));
  uint64_t len = 0, addr = 0;
  bool uses_addr = d.op <= uint32_t(RequestType::Writev) || d.op == uint32_t(RequestType::ReportZones);
  if (d.op != uint32_t(RequestType::Flush) &&
      (!exact_index(d.len, &len) || (uses_addr && !exact_index(d.addr, &addr))))
    return q->fail_request(user_data, -EINVAL, kMalformed);
  auto buf = reinterpret_cast<void*>(uintptr_t(addr));
  switch (d.op) {
    case uint32_t(RequestType::Read): return q->read(start, buf, len, user_data, d.flags, d.region);
    case uint32_t(RequestType::Write): return q->write(start, buf, len, user_data, d.flags, d.region);
    case uint32_t(RequestType::Readv):
    case uint32_t(RequestType::Writev): {
      uint64_t first = addr, count = len;
      if (first > n_iov || count > n_iov - first || count > uint64_t(INT32_MAX))
        return q->fail_request(user_data, -EINVAL, kMalformed);
      iov_scratch_.resize(count);
      for (size_t i = 0; i < count; i++) {
        uint64_t base, length;
        if (!exact_index(iov_[2 * (first + i)], &base) || !exact_index(iov_[2 * (first + i) + 1], &length))
          return q->fail_request(user_data, -EINVAL, kMalformed);
        iov_scratch_[i].iov_base = reinterpret_cast<void*>(uintptr_t(base));
        iov_scratch_[i].iov_len = size_t(length);
      }
      if (RequestType(d.op) == RequestType::Readv)
        return q->readv(start, iov_scratch_.data(), int(count), user_data, d.flags);
      return q->writev(start, iov_scratch_.data(), int(count), user_data, d.flags);
    }
    case uint32_t(RequestType::WriteZeroes): return q->write_zeroes(start, len, user_data, d.flags);
    case uint32_t(RequestType::Discard): return q->discard(start, len, user_data, d.flags);
    case uint32_t(RequestType::Flush): return q->flush(user_data, d.flags);
    case uint32_t(RequestType::ReportZones): {
      // len is the array's size in bytes: whole zones only, at most 2^32-1 of them.
      if (len % sizeof(Zone) != 0 || len / sizeof(Zone) > UINT32_MAX)
        return q->fail_request(user_data, -EINVAL, kMalformed);
      return q->report_zones(start, static_cast<Zone*>(buf), uint32_t(len / sizeof(Zone)), user_data, d.flags);
    }
    case uint32_t(RequestType::ZoneOpen):
    case uint32_t(RequestType::ZoneClose):
    case uint32_t(RequestType::ZoneFinish):
    case uint32_t(RequestType::ZoneReset):
    case uint32_t(RequestType::ZoneOpenAll):
    case uint32_t(RequestType::ZoneCloseAll):
    case uint32_t(RequestType::ZoneFinishAll):
    case uint32_t(RequestType::ZoneResetAll):
      return q->zone_management(RequestType(d.op), start, user_data, d.flags);
    case kFailOp: {
      int err = len > 0 && len < 4096 ? int(len) : EINVAL;
      return q->fail_request(user_data, -err, err == EFAULT ? kDetached : kMalformed);
    }
    default: return q->fail_request(user_data, -EINVAL, kMalformed);
  }
}

// doIo(descriptorCount, iovecCount, min, max, timeoutNs or -1) -> completions written
Napi::Value QueueObject::do_io(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double args[5];
  for (size_t i = 0; i < 5; i++) {
    if (!info[i].IsNumber()) throw_blkio_error(env, -EINVAL, "doIo arguments must be numbers");
    args[i] = info[i].As<Napi::Number>().DoubleValue();
  }
  uint64_t n_desc, n_iov, min, max;
  if (!exact_index(args[0], &n_desc) || !exact_index(args[1], &n_iov) || !exact_index(args[2], &min) ||
      !exact_index(args[3], &max) || min > uint64_t(INT32_MAX) || max > uint64_t(INT32_MAX))
    throw_blkio_error(env, -EINVAL, "min_completions and max_completions must be integers from 0 to 2^31-1");
  double timeout_ns = args[4];
  if (!(timeout_ns == -1 || (timeout_ns >= 0 && timeout_ns < 9.2e18)))
    throw_blkio_error(env, -EINVAL, "timeout must be a finite non-negative number of nanoseconds");
  if (n_desc > desc_cap_ || n_iov > iov_cap_ || max > comp_cap_)
    throw_blkio_error(env, -EINVAL, "descriptor batch exceeds the shared arrays");
  Claim claimed = claim(env);
  Queue* q = claimed.queue;
  for (size_t i = 0; i < n_desc; i++) enqueue(q, desc_[i], size_t(n_iov));

  if (max > 0 && completions_.size() < max) completions_.resize(size_t(max));
  timespec timeout;
  timespec* tp = nullptr;
  if (timeout_ns >= 0) {
    double sec = std::floor(timeout_ns / 1e9);
    timeout.tv_sec = time_t(sec);
    timeout.tv_nsec = long(timeout_ns - sec * 1e9);
    if (timeout.tv_nsec > 999999999) timeout.tv_nsec = 999999999;
    tp = &timeout;
  }
  last_returned_ = 0;
  int r = q->do_io(completions_.data(), int(min), int(max), tp);
  if (r < 0) throw_blkio_error(env, r);
  last_returned_ = size_t(r);
  for (int i = 0; i < r; i++) {
    const Completion& c = completions_[size_t(i)];
    comp_[3 * i] = int32_t(reinterpret_cast<uintptr_t>(c.user_data));
    comp_[3 * i + 1] = c.ret;
    comp_[3 * i + 2] = c.ret < 0 ? message_id(c.error_msg) : 0;
  }
  return Napi::Number::New(env, r);
}

// requeue(from, count): completions of the last doIo that JS could not
// deliver go back in front of the queue (Queue::unfill), so none is lost.
Napi::Value QueueObject::requeue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Claim claimed = claim(env);
  uint64_t from, count;
  if (!info[0].IsNumber() || !info[1].IsNumber() ||
      !exact_index(info[0].As<Napi::Number>().DoubleValue(), &from) ||
      !exact_index(info[1].As<Napi::Number>().DoubleValue(), &count) || from > last_returned_ ||
      count > last_returned_ - from)
    throw_blkio_error(env, -EINVAL, "requeue range is outside the last doIo's completions");
  claimed.queue->unfill(completions_.data() + from, int(count));
  last_returned_ = 0;
  return env.Undefined();
}

// A function that does what doIo does without unwrapping `this` on every
// call (napi_unwrap is a property lookup: tens of ns per batch). The JS
// Queue keeps this object alive as long as the function.
Napi::Value QueueObject::bind_do_io(const Napi::CallbackInfo& info) {
  return Napi::Function::New(
      info.Env(), [](const Napi::CallbackInfo& call) { return static_cast<QueueObject*>(call.Data())->do_io(call); },
      "doIo", this);
}

Napi::Value QueueObject::completion_fd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), claim(info.Env()).queue->completion_fd());
}

Napi::Value QueueObject::set_completion_fd_enabled(const Napi::CallbackInfo& info) {
  claim(info.Env()).queue->set_completion_fd_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value QueueObject::watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Claim claimed = claim(env);
  Queue* q = claimed.queue;
  if (watcher_) throw_blkio_error(env, -EBUSY, "completions of this queue are already watched");
  watcher_ = CompletionWatcher::start(env, q->completion_fd(), info[0].As<Napi::Function>(), &watcher_);
  q->set_completion_fd_enabled(true);
  return env.Undefined();
}

Napi::Value QueueObject::watch_ref(const Napi::CallbackInfo& info) {
  if (watcher_) watcher_->set_ref(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value QueueObject::unwatch(const Napi::CallbackInfo& info) {
  if (watcher_) {
    watcher_->close();
    watcher_ = nullptr;
  }
  return info.Env().Undefined();
}

Napi::Value QueueObject::set_quiesced(const Napi::CallbackInfo& info) {
  claim(info.Env()).queue->set_quiesced(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value QueueObject::in_flight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(claim(info.Env()).queue->in_flight()));
}

// takeUnsubmitted() -> the JS slots of every request that never reached the
// device, oldest first (see Queue::take_unsubmitted).
Napi::Value QueueObject::take_unsubmitted(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Claim claimed = claim(env);
  std::vector<void*> taken(claimed.queue->outstanding());
  int n = claimed.queue->take_unsubmitted(taken.data(), int(taken.size()));
  Napi::Array slots = Napi::Array::New(env, size_t(n));
  for (int i = 0; i < n; i++)
    slots.Set(uint32_t(i), Napi::Number::New(env, double(reinterpret_cast<uintptr_t>(taken[size_t(i)]))));
  return slots;
}

}  // namespace blkio::napi
