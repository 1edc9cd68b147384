// JS class Blkio (internal): control-plane calls on a core Blkio.
#pragma once

#include <napi.h>

#include <atomic>
#include <map>
#include <memory>
#include <vector>

#include "../core/blkio.h"
#include "addon_data.h"

namespace blkio::napi {

class BlkioObject : public Napi::ObjectWrap<BlkioObject> {
 public:
  static Napi::Function define(Napi::Env env);
  // new NativeBlkio(driverName) or new NativeBlkio(sharedId: bigint)
  explicit BlkioObject(const Napi::CallbackInfo& info);
  ~BlkioObject() override;

  // The environment is going away (no JS runs any more): release the device
  // as destroy() would, without touching JS objects.
  void release_at_exit();

 private:
  Napi::Value connect(const Napi::CallbackInfo& info);
  Napi::Value start(const Napi::CallbackInfo& info);
  Napi::Value destroy(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  Napi::Value connect_in_background(const Napi::CallbackInfo& info);
  Napi::Value start_in_background(const Napi::CallbackInfo& info);
  Napi::Value map_mem_region_in_background(const Napi::CallbackInfo& info);
  Napi::Value capacity_in_background(const Napi::CallbackInfo& info);
  Napi::Value get_property(const Napi::CallbackInfo& info);
  Napi::Value set_property(const Napi::CallbackInfo& info);
  Napi::Value alloc_mem_region(const Napi::CallbackInfo& info);
  Napi::Value free_mem_region(const Napi::CallbackInfo& info);
  Napi::Value map_mem_region(const Napi::CallbackInfo& info);
  Napi::Value unmap_mem_region(const Napi::CallbackInfo& info);
  Napi::Value get_queue(const Napi::CallbackInfo& info);
  Napi::Value add_queue(const Napi::CallbackInfo& info);
  Napi::Value remove_queue(const Napi::CallbackInfo& info);
  Napi::Value share(const Napi::CallbackInfo& info);

  Blkio& live(Napi::Env env);
  // What destroy() and close() share: makes this object and its queues and
  // region buffers unusable from JS at once. Returns the core queues to shut
  // down and the core itself if this was its last user (else null).
  std::shared_ptr<Blkio> release_from_js(std::vector<std::shared_ptr<Queue>>* queues);
  std::shared_ptr<Lifecycle> lifecycle_;
  std::shared_ptr<Blkio> blkio_;
  // How many JS objects (the owner and worker attachments) use the device.
  std::shared_ptr<std::atomic<int>> users_;
  // One JS object per queue, so getQueue(i) is stable and destroy() can
  // stop their watchers before the fds close.
  std::map<std::pair<bool, int>, Napi::ObjectReference> queue_objects_;
  // ArrayBuffers over regions allocated here, detached when the memory goes.
  std::map<void*, Napi::Reference<Napi::ArrayBuffer>> region_buffers_;
};

}  // namespace blkio::napi
