// The addon's entry point: registers the internal classes that src/ wraps.
#include <napi.h>

#include <cerrno>
#include <cstddef>

#include "../core/driver.h"
#include "addon_data.h"
#include "blkio_object.h"
#include "completion_watcher.h"
#include "errors.h"
#include "job_loop_object.h"
#include "queue_object.h"

namespace blkio::napi {

Napi::Object init(Napi::Env env, Napi::Object exports);

namespace {

Napi::Value set_error_class(const Napi::CallbackInfo& info) {
  addon_data(info.Env()).error_class = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// Base address of a typed array's ArrayBuffer, so JS can describe buffers
// to the native side by address (cached per ArrayBuffer in JS).
Napi::Value buffer_base(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  napi_typedarray_type type;
  size_t length, offset;
  void* data;
  napi_value ab;
  // Works for SharedArrayBuffer-backed views too (no ArrayBuffer accessor).
  if (napi_get_typedarray_info(env, info[0], &type, &length, &data, &ab, &offset) != napi_ok)
    throw_blkio_error(info.Env(), -EINVAL, "expected a typed array");
  auto base = reinterpret_cast<uintptr_t>(data) - offset;
  return Napi::Number::New(info.Env(), double(base));
}

Napi::Value message_text_of(const Napi::CallbackInfo& info) {
  const char* text = message_text(info[0].As<Napi::Number>().Int32Value());
  return text ? Napi::String::New(info.Env(), text) : info.Env().Null();
}

// For the libblkio driver (src/libblkio.ts), whose queues and regions live in
// a shared library loaded with koffi: the same completion watcher on a bare
// fd, and detaching the ArrayBuffers it made over region memory it frees.
// The handle JS holds for a bare-fd watcher: type-tagged, so no other
// External passes for it, and emptied by unwatchFd (the watcher frees itself
// once closed), so a stale handle is an error, never a dangling pointer.
struct FdWatchHandle {
  CompletionWatcher* watcher;
};
constexpr napi_type_tag kFdWatchTag = {0x626c6b696f2d6664ull, 0x2d77617463682121ull};

CompletionWatcher* watched(const Napi::CallbackInfo& info, bool take) {
  bool ours = false;
  if (info[0].IsExternal()) napi_check_object_type_tag(info.Env(), info[0], &kFdWatchTag, &ours);
  if (!ours) throw_blkio_error(info.Env(), -EINVAL, "expected a handle from watchFd");
  FdWatchHandle* handle = info[0].As<Napi::External<FdWatchHandle>>().Data();
  if (!handle->watcher) throw_blkio_error(info.Env(), -EINVAL, "the watcher was closed already");
  CompletionWatcher* w = handle->watcher;
  if (take) handle->watcher = nullptr;
  return w;
}

Napi::Value watch_fd(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber() || !info[1].IsFunction()) throw_blkio_error(info.Env(), -EINVAL, "watchFd(fd, callback)");
  int fd = info[0].As<Napi::Number>().Int32Value();
  CompletionWatcher* w = CompletionWatcher::start(info.Env(), fd, info[1].As<Napi::Function>());
  auto handle = Napi::External<FdWatchHandle>::New(info.Env(), new FdWatchHandle{w},
                                                   [](Napi::Env, FdWatchHandle* h) { delete h; });
  napi_type_tag_object(info.Env(), handle, &kFdWatchTag);
  return handle;
}

Napi::Value watch_fd_ref(const Napi::CallbackInfo& info) {
  watched(info, false)->set_ref(info[1].ToBoolean());
  return info.Env().Undefined();
}

// The JS side calls this once; the watcher frees itself.
Napi::Value unwatch_fd(const Napi::CallbackInfo& info) {
  watched(info, true)->close();
  return info.Env().Undefined();
}

// The environment (main thread or worker) is going away, with N-API and
// libuv still usable: close the watchers and release the devices that JS
// left open, then let the environment go once libuv has closed the handles
// and background closes have finished.
void on_env_teardown(napi_async_cleanup_hook_handle, void* arg) {
  auto* lifecycle = static_cast<Lifecycle*>(arg);
  lifecycle->tearing_down = true;
  napi_handle_scope scope;
  bool scoped = napi_open_handle_scope(lifecycle->env, &scope) == napi_ok;
  for (CompletionWatcher* w : std::vector<CompletionWatcher*>(lifecycle->watchers.begin(), lifecycle->watchers.end()))
    w->close();
  for (BlkioObject* b : std::vector<BlkioObject*>(lifecycle->devices.begin(), lifecycle->devices.end()))
    b->release_at_exit();
  if (scoped) napi_close_handle_scope(lifecycle->env, scope);
  if (lifecycle->pending == 0) lifecycle->finish();
}

Napi::Value detach_array_buffer(const Napi::CallbackInfo& info) {
  auto ab = info[0].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
  return info.Env().Undefined();
}

// The request descriptor as compiled: a test ties it to src/lib/native/descriptor.ts.
Napi::Object descriptor_layout(Napi::Env env) {
  Napi::Object layout = Napi::Object::New(env);
  layout.Set("bytes", double(sizeof(Descriptor)));
  layout.Set("op", double(offsetof(Descriptor, op)));
  layout.Set("flags", double(offsetof(Descriptor, flags)));
  layout.Set("slot", double(offsetof(Descriptor, slot)));
  layout.Set("region", double(offsetof(Descriptor, region)));
  layout.Set("startLo", double(offsetof(Descriptor, start_lo)));
  layout.Set("startHi", double(offsetof(Descriptor, start_hi)));
  layout.Set("len", double(offsetof(Descriptor, len)));
  layout.Set("addr", double(offsetof(Descriptor, addr)));
  return layout;
}

// The names create_driver accepts, from the driver registry.
Napi::Array driver_names(Napi::Env env) {
  Napi::Array names = Napi::Array::New(env, driver_count());
  for (size_t i = 0; i < driver_count(); i++) names.Set(uint32_t(i), Napi::String::New(env, driver_name(i)));
  return names;
}

}  // namespace

Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  // Registered after N-API's own cleanup, so it runs before it.
  data->lifecycle->env = env;
  napi_add_async_cleanup_hook(env, on_env_teardown, data->lifecycle.get(), &data->lifecycle->hook);
  Napi::Function queue_class = QueueObject::define(env);
  data->queue_class = Napi::Persistent(queue_class);
  exports.Set("NativeBlkio", BlkioObject::define(env));
  exports.Set("NativeQueue", queue_class);
  exports.Set("setErrorClass", Napi::Function::New(env, set_error_class));
  exports.Set("bufferBase", Napi::Function::New(env, buffer_base));
  exports.Set("messageText", Napi::Function::New(env, message_text_of));
  exports.Set("watchFd", Napi::Function::New(env, watch_fd));
  exports.Set("watchFdRef", Napi::Function::New(env, watch_fd_ref));
  exports.Set("unwatchFd", Napi::Function::New(env, unwatch_fd));
  exports.Set("detachArrayBuffer", Napi::Function::New(env, detach_array_buffer));
  exports.Set("descriptorLayout", descriptor_layout(env));
  exports.Set("driverNames", driver_names(env));
  register_job_loop(env, exports);
  return exports;
}

}  // namespace blkio::napi

static Napi::Object InitBlkio(Napi::Env env, Napi::Object exports) { return blkio::napi::init(env, exports); }

NODE_API_MODULE(blkio, InitBlkio)
