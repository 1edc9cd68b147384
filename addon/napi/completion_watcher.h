// Watches a queue's completion fd from the libuv loop and calls into JS
// once per wakeup (the JS side then drains with one doIo call). Unref'd by
// default: the JS layer refs it only while requests are in flight.
#pragma once

#include <napi.h>
#include <uv.h>

#include <memory>

#include "addon_data.h"

namespace blkio::napi {

class CompletionWatcher {
 public:
  // Throws on failure. owner_slot (nullable) is cleared when the watcher
  // closes, also when the environment's teardown closes it first.
  static CompletionWatcher* start(Napi::Env env, int fd, Napi::Function callback,
                                  CompletionWatcher** owner_slot = nullptr);
  void set_ref(bool ref);
  // Stops polling and releases its JS resources now; the memory goes once
  // libuv is done with the handle. Idempotent; the pointer is stale after.
  void close();

 private:
  CompletionWatcher(Napi::Env env, int fd, Napi::Function callback);
  static void on_poll(uv_poll_t* handle, int status, int events);

  uv_poll_t handle_;
  int fd_;
  bool closed_ = false;
  napi_env env_;
  Napi::FunctionReference callback_;
  napi_async_context context_ = nullptr;
  std::shared_ptr<Lifecycle> lifecycle_;
  CompletionWatcher** owner_slot_ = nullptr;
};

}  // namespace blkio::napi
