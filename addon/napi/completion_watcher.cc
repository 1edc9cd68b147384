#include "completion_watcher.h"

#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "errors.h"

namespace blkio::napi {

CompletionWatcher::CompletionWatcher(Napi::Env env, int fd, Napi::Function callback)
    : fd_(fd), env_(env), callback_(Napi::Persistent(callback)), context_(env, "blkio:completion") {}

CompletionWatcher* CompletionWatcher::start(Napi::Env env, int fd, Napi::Function callback) {
  if (fd < 0) throw_blkio_error(env, -EINVAL, "this queue has no completion fd (poll queues do not)");
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  auto* w = new CompletionWatcher(env, fd, callback);
  int r = uv_poll_init(loop, &w->handle_, fd);
  if (r == 0) r = uv_poll_start(&w->handle_, UV_READABLE, on_poll);
  if (r != 0) {
    delete w;  // uv_poll_init failing leaves nothing registered with the loop
    throw_blkio_error(env, -EIO, uv_strerror(r));
  }
  w->handle_.data = w;
  uv_unref(reinterpret_cast<uv_handle_t*>(&w->handle_));
  return w;
}

void CompletionWatcher::set_ref(bool ref) {
  auto* h = reinterpret_cast<uv_handle_t*>(&handle_);
  if (ref) uv_ref(h);
  else uv_unref(h);
}

void CompletionWatcher::close() {
  uv_poll_stop(&handle_);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_),
           [](uv_handle_t* h) { delete static_cast<CompletionWatcher*>(h->data); });
}

void CompletionWatcher::on_poll(uv_poll_t* handle, int status, int) {
  auto* w = static_cast<CompletionWatcher*>(handle->data);
  uint64_t count;
  // Reset the eventfd before JS drains the queue (libblkio's contract);
  // spurious wakeups (EAGAIN) still call JS, which finds nothing and returns.
  while (read(w->fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
  Napi::HandleScope scope(w->env_);
  // MakeCallback runs microtasks afterwards, so promises resolved in the
  // callback settle before we return to the loop.
  try {
    w->callback_.MakeCallback(Napi::Object::New(w->env_), {Napi::Number::New(w->env_, status)}, w->context_);
  } catch (const Napi::Error& e) {
    // No JS frame to return to: report it like any uncaught exception.
    napi_fatal_exception(w->env_, e.Value());
  }
}

}  // namespace blkio::napi
