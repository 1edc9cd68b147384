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
                         InstanceMethod<&QueueObject::completion_fd>("completionFd"),
                         InstanceMethod<&QueueObject::set_completion_fd_enabled>("setCompletionFdEnabled"),
                         InstanceMethod<&QueueObject::watch>("watch"),
                         InstanceMethod<&QueueObject::watch_ref>("watchRef"),
                         InstanceMethod<&QueueObject::unwatch>("unwatch"),
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

void QueueObject::shutdown() {
  if (watcher_) {
    watcher_->close();  // before the fd closes
    watcher_ = nullptr;
  }
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

Napi::Value QueueObject::set_buffers(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
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

void QueueObject::enqueue(const Descriptor& d) {
  Queue* q = queue_.get();
  uint64_t start = uint64_t(d.start_hi) << 32 | d.start_lo;
  void* user_data = reinterpret_cast<void*>(uintptr_t(d.slot));
  auto buf = reinterpret_cast<void*>(uintptr_t(d.addr));
  auto len = uint64_t(d.len);
  switch (RequestType(d.op)) {
    case RequestType::Read: return q->read(start, buf, len, user_data, d.flags, d.region);
    case RequestType::Write: return q->write(start, buf, len, user_data, d.flags, d.region);
    case RequestType::Readv:
    case RequestType::Writev: {
      size_t first = size_t(d.addr), count = size_t(d.len);
      iov_scratch_.resize(count);
      for (size_t i = 0; i < count; i++) {
        iov_scratch_[i].iov_base = reinterpret_cast<void*>(uintptr_t(iov_[2 * (first + i)]));
        iov_scratch_[i].iov_len = size_t(iov_[2 * (first + i) + 1]);
      }
      if (RequestType(d.op) == RequestType::Readv)
        return q->readv(start, iov_scratch_.data(), int(count), user_data, d.flags);
      return q->writev(start, iov_scratch_.data(), int(count), user_data, d.flags);
    }
    case RequestType::WriteZeroes: return q->write_zeroes(start, len, user_data, d.flags);
    case RequestType::Discard: return q->discard(start, len, user_data, d.flags);
    case RequestType::Flush: return q->flush(user_data, d.flags);
  }
}

// doIo(descriptorCount, iovecCount, min, max, timeoutNs or -1) -> completions written
Napi::Value QueueObject::do_io(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Queue* q = live_queue(env);
  auto n_desc = size_t(info[0].As<Napi::Number>().Int64Value());
  auto n_iov = size_t(info[1].As<Napi::Number>().Int64Value());
  int min = info[2].As<Napi::Number>().Int32Value();
  int max = info[3].As<Napi::Number>().Int32Value();
  double timeout_ns = info[4].As<Napi::Number>().DoubleValue();
  if (n_desc > desc_cap_ || n_iov > iov_cap_ || (max > 0 && size_t(max) > comp_cap_))
    throw_blkio_error(env, -EINVAL, "descriptor batch exceeds the shared arrays");
  for (size_t i = 0; i < n_desc; i++) enqueue(desc_[i]);

  if (max > 0 && completions_.size() < size_t(max)) completions_.resize(size_t(max));
  timespec timeout;
  timespec* tp = nullptr;
  if (timeout_ns >= 0) {
    double sec = std::floor(timeout_ns / 1e9);
    timeout.tv_sec = sec > 9.2e18 ? INT64_MAX : time_t(sec);
    timeout.tv_nsec = long(timeout_ns - sec * 1e9);
    tp = &timeout;
  }
  int r = q->do_io(completions_.data(), min, max, tp);
  if (r < 0) throw_blkio_error(env, r);
  for (int i = 0; i < r; i++) {
    const Completion& c = completions_[size_t(i)];
    comp_[3 * i] = int32_t(reinterpret_cast<uintptr_t>(c.user_data));
    comp_[3 * i + 1] = c.ret;
    comp_[3 * i + 2] = c.ret < 0 ? message_id(c.error_msg) : 0;
  }
  return Napi::Number::New(env, r);
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
  return Napi::Number::New(info.Env(), live_queue(info.Env())->completion_fd());
}

Napi::Value QueueObject::set_completion_fd_enabled(const Napi::CallbackInfo& info) {
  live_queue(info.Env())->set_completion_fd_enabled(info[0].ToBoolean());
  return info.Env().Undefined();
}

Napi::Value QueueObject::watch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Queue* q = live_queue(env);
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

}  // namespace blkio::napi
