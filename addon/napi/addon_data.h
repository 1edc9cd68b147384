// Per-environment state (main thread and each worker have their own).
#pragma once

#include <napi.h>

#include <memory>
#include <unordered_set>
#include <vector>

namespace blkio::napi {

class BlkioObject;
class CompletionWatcher;

// What this environment still holds natively, so that its teardown (an
// async env cleanup hook, which runs before N-API's own finalizers and holds
// the environment until finish()) can release it while N-API and libuv are
// still usable. Shared by the objects it lists: whichever goes last frees it.
struct Lifecycle {
  napi_env env = nullptr;
  std::unordered_set<BlkioObject*> devices;      // not yet destroyed
  std::unordered_set<CompletionWatcher*> watchers;  // not yet closed
  // uv handles still closing and destroys still running on the thread pool.
  int pending = 0;
  napi_async_cleanup_hook_handle hook = nullptr;
  bool tearing_down = false;

  void begin_pending() { pending++; }
  void end_pending() {
    if (--pending == 0 && tearing_down) finish();
  }
  void finish() {
    if (!hook) return;
    napi_async_cleanup_hook_handle h = hook;
    hook = nullptr;
    napi_remove_async_cleanup_hook(h);
  }
};

struct AddonData {
  Napi::FunctionReference error_class;  // BlkioError, set by the JS layer
  Napi::FunctionReference queue_class;
  std::shared_ptr<Lifecycle> lifecycle = std::make_shared<Lifecycle>();
};

inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace blkio::napi
