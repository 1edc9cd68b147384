#include "completion_watcher.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "errors.h"

namespace blkio::napi {

CompletionWatcher::CompletionWatcher(Napi::Env env, int fd, Napi::Function callback)
    : fd_(fd), env_(env), callback_(Napi::Persistent(callback)), lifecycle_(addon_data(env).lifecycle) {
  napi_value name = Napi::String::New(env, "blkio:completion");
  napi_async_init(env, nullptr, name, &context_);
}

CompletionWatcher* CompletionWatcher::start(Napi::Env env, int fd, Napi::Function callback,
                                            CompletionWatcher** owner_slot) {
  if (fd < 0) throw_blkio_error(env, -EINVAL, "this queue has no completion fd (poll queues do not)");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* w = new CompletionWatcher(env, fd, callback);
  int r = uv_poll_init(loop, &w->handle_, fd);
  if (r != 0) {
    // A failed init leaves nothing registered with the loop.
    napi_async_destroy(env, w->context_);
    delete w;
    throw_blkio_error(env, -EIO, uv_strerror(r));
  }
  w->handle_.data = w;
  w->lifecycle_->watchers.insert(w);
  r = uv_poll_start(&w->handle_, UV_READABLE, on_poll);
  if (r != 0) {
    w->close();  // the loop knows the handle now: it must be closed through libuv
    throw_blkio_error(env, -EIO, uv_strerror(r));
  }
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->handle_));
  w->owner_slot_ = owner_slot;
  return w;
}

void CompletionWatcher::set_ref(bool ref) {
  if (closed_) return;
  auto* h = reinterpret_cast<uv_handle_t*>(&handle_);
  if (ref) uv_ref(h);
  else uv_unref(h);
}

void CompletionWatcher::close() {
  if (closed_) return;
  closed_ = true;
  if (owner_slot_ && *owner_slot_ == this) *owner_slot_ = nullptr;
  lifecycle_->watchers.erase(this);
  // N-API resources go now, while the environment certainly exists; the
  // close callback below touches nothing but this object.
  napi_async_destroy(env_, context_);
  context_ = nullptr;
  callback_.Reset();
  uv_poll_stop(&handle_);
  lifecycle_->begin_pending();
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), [](uv_handle_t* h) {
    auto* w = static_cast<CompletionWatcher*>(h->data);
    std::shared_ptr<Lifecycle> lifecycle = std::move(w->lifecycle_);
    delete w;
    lifecycle->end_pending();
  });
}

void CompletionWatcher::on_poll(uv_poll_t* handle, int status, int) {
  auto* w = static_cast<CompletionWatcher*>(handle->data);
  if (w->closed_) return;
  uint64_t count;
  // Reset the eventfd before JS drains the queue (libblkio's contract);
  // spurious wakeups (EAGAIN) still call JS, which finds nothing and returns.
  while (read(w->fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
  Napi::Env env(w->env_);
  // MakeCallback runs microtasks afterwards, so promises resolved in the
  // callback settle before we return to the loop.
  try {
    Napi::HandleScope scope(env);
    w->callback_.MakeCallback(Napi::Object::New(env), {Napi::Number::New(env, status)}, w->context_);
  } catch (const Napi::Error& e) {
    // No JS frame to return to: report it like any uncaught exception
    // (no value: JS cannot run any more, a worker being terminated).
    napi_handle_scope scope;
    if (e.IsEmpty() || napi_open_handle_scope(w->env_, &scope) != napi_ok) return;
    napi_fatal_exception(w->env_, e.Value());
    napi_close_handle_scope(w->env_, scope);
  }
}

}  // namespace blkio::napi
