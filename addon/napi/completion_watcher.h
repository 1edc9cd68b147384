// Watches a queue's completion fd from the libuv loop and calls into JS
// once per wakeup (the JS side then drains with one doIo call). Unref'd by
// default: the JS layer refs it only while requests are in flight.
#pragma once

#include <napi.h>
#include <uv.h>

namespace blkio::napi {

class CompletionWatcher {
 public:
  // Returns nullptr and throws on failure.
  static CompletionWatcher* start(Napi::Env env, int fd, Napi::Function callback);
  void set_ref(bool ref);
  // Stops polling and frees itself once libuv is done with the handle.
  void close();

 private:
  CompletionWatcher(Napi::Env env, int fd, Napi::Function callback);
  static void on_poll(uv_poll_t* handle, int status, int events);

  uv_poll_t handle_;
  int fd_;
  Napi::Env env_;
  Napi::FunctionReference callback_;
  Napi::AsyncContext context_;
};

}  // namespace blkio::napi
