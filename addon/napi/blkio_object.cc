#include "blkio_object.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <mutex>

#include "background_step.h"
#include "errors.h"
#include "js_string.h"
#include "queue_object.h"

namespace blkio::napi {

namespace {

// Instances shared with worker threads, by id (see share()).
std::mutex shared_mutex;
struct SharedEntry {
  std::weak_ptr<Blkio> blkio;
  std::weak_ptr<std::atomic<int>> users;
};
std::map<uint64_t, SharedEntry> shared_instances;
uint64_t next_shared_id = 1;

enum class JsType { Bool = 0, Int = 1, Uint64 = 2, Str = 3 };

constexpr double kMaxExactDouble = 9007199254740992.0;  // 2^53

// A whole number in [lo, hi], without ever converting NaN, infinities or
// out-of-range doubles to an integer type.
bool integer_in(const Napi::Value& v, double lo, double hi, double* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi) || d != std::floor(d)) return false;
  *out = d;
  return true;
}

bool uint64_of(const Napi::Value& v, uint64_t* out) {
  if (!v.IsBigInt()) return false;
  bool lossless = false;
  *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
  return lossless;
}

// The JS layer checks regions already; this keeps the addon safe on its own.
MemRegion region_from(Napi::Env env, const Napi::Value& value) {
  if (!value.IsObject()) throw_blkio_error(env, -EINVAL, "expected a memory region object");
  Napi::Object o = value.As<Napi::Object>();
  MemRegion r{};
  uint64_t addr;
  double len, fd_offset, fd, flags;
  if (!uint64_of(o.Get("addr"), &addr)) throw_blkio_error(env, -EINVAL, "region.addr must be a bigint from 0 to 2^64-1");
  if (!integer_in(o.Get("len"), 1, kMaxExactDouble, &len) || uint64_t(len) > UINT64_MAX - addr)
    throw_blkio_error(env, -EINVAL, "region.len must be a positive integer and addr + len must fit in 64 bits");
  if (!uint64_of(o.Get("iova"), &r.iova)) throw_blkio_error(env, -EINVAL, "region.iova must be a bigint from 0 to 2^64-1");
  if (!integer_in(o.Get("fdOffset"), 0, kMaxExactDouble, &fd_offset))
    throw_blkio_error(env, -EINVAL, "region.fdOffset must be a non-negative integer");
  if (!integer_in(o.Get("fd"), -1, INT32_MAX, &fd)) throw_blkio_error(env, -EINVAL, "region.fd must be -1 or a file descriptor");
  if (!integer_in(o.Get("flags"), 0, UINT32_MAX, &flags))
    throw_blkio_error(env, -EINVAL, "region.flags must be a 32-bit unsigned integer");
  r.addr = reinterpret_cast<void*>(uintptr_t(addr));
  r.len = size_t(len);
  r.fd_offset = int64_t(fd_offset);
  r.fd = int(fd);
  r.flags = uint32_t(flags);
  return r;
}

// A libblkio int queue index: never truncated.
int queue_index(Napi::Env env, const Napi::Value& v) {
  double d;
  if (!integer_in(v, 0, INT32_MAX, &d))
    throw_blkio_error(env, -EINVAL, "queue index must be an integer from 0 to 2^31-1");
  return int(d);
}

}  // namespace

Napi::Function BlkioObject::define(Napi::Env env) {
  return DefineClass(env, "NativeBlkio",
                     {
                         InstanceMethod<&BlkioObject::connect>("connect"),
                         InstanceMethod<&BlkioObject::start>("start"),
                         InstanceMethod<&BlkioObject::destroy>("destroy"),
                         InstanceMethod<&BlkioObject::close>("close"),
                         InstanceMethod<&BlkioObject::connect_in_background>("connectInBackground"),
                         InstanceMethod<&BlkioObject::start_in_background>("startInBackground"),
                         InstanceMethod<&BlkioObject::map_mem_region_in_background>("mapMemRegionInBackground"),
                         InstanceMethod<&BlkioObject::capacity_in_background>("capacityInBackground"),
                         InstanceMethod<&BlkioObject::get_property>("get"),
                         InstanceMethod<&BlkioObject::set_property>("set"),
                         InstanceMethod<&BlkioObject::alloc_mem_region>("allocMemRegion"),
                         InstanceMethod<&BlkioObject::free_mem_region>("freeMemRegion"),
                         InstanceMethod<&BlkioObject::map_mem_region>("mapMemRegion"),
                         InstanceMethod<&BlkioObject::unmap_mem_region>("unmapMemRegion"),
                         InstanceMethod<&BlkioObject::get_queue>("getQueue"),
                         InstanceMethod<&BlkioObject::add_queue>("addQueue"),
                         InstanceMethod<&BlkioObject::remove_queue>("removeQueue"),
                         InstanceMethod<&BlkioObject::share>("share"),
                     });
}

BlkioObject::BlkioObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<BlkioObject>(info) {
  Napi::Env env = info.Env();
  if (info[0].IsBigInt()) {
    bool lossless;
    uint64_t id = info[0].As<Napi::BigInt>().Uint64Value(&lossless);
    std::lock_guard<std::mutex> lock(shared_mutex);
    auto it = shared_instances.find(id);
    if (it != shared_instances.end()) {
      blkio_ = it->second.blkio.lock();
      users_ = it->second.users.lock();
    }
    if (!blkio_ || !users_ || users_->load() == 0)
      throw_blkio_error(env, -ENOENT, "no shared Blkio with this handle (was it destroyed?)");
    users_->fetch_add(1);
    lifecycle_ = addon_data(env).lifecycle;
    lifecycle_->devices.insert(this);
    return;
  }
  std::string name = string_without_nul(env, info[0], "driver name");
  std::unique_ptr<Blkio> b;
  int r = Blkio::create(name.c_str(), &b);
  if (r < 0) throw_blkio_error(env, r);
  blkio_ = std::move(b);
  users_ = std::make_shared<std::atomic<int>>(1);
  lifecycle_ = addon_data(env).lifecycle;
  lifecycle_->devices.insert(this);
}

BlkioObject::~BlkioObject() {
  // Collected without destroy(): region buffers may still be reachable, so
  // the core instance goes only when its last reference (theirs) does.
  if (lifecycle_) lifecycle_->devices.erase(this);
  if (users_) users_->fetch_sub(1);
  region_buffers_.clear();
  queue_objects_.clear();
}

Blkio& BlkioObject::live(Napi::Env env) {
  if (!blkio_) throw_blkio_error(env, -ENODEV, "Blkio has been destroyed");
  return *blkio_;
}

Napi::Value BlkioObject::connect(const Napi::CallbackInfo& info) {
  int r = live(info.Env()).connect();
  if (r < 0) throw_blkio_error(info.Env(), r);
  return info.Env().Undefined();
}

Napi::Value BlkioObject::start(const Napi::CallbackInfo& info) {
  int r = live(info.Env()).start();
  if (r < 0) throw_blkio_error(info.Env(), r);
  return info.Env().Undefined();
}

std::shared_ptr<Blkio> BlkioObject::release_from_js(std::vector<std::shared_ptr<Queue>>* queues) {
  for (auto& [key, ref] : queue_objects_)
    if (auto q = QueueObject::Unwrap(ref.Value())->detach()) queues->push_back(std::move(q));
  queue_objects_.clear();
  for (auto& [addr, ref] : region_buffers_) {
    Napi::ArrayBuffer ab = ref.Value();
    if (!ab.IsDetached()) ab.Detach();  // JS views become empty, never dangling
  }
  region_buffers_.clear();
  lifecycle_->devices.erase(this);
  std::shared_ptr<Blkio> last = users_->fetch_sub(1) == 1 ? blkio_ : nullptr;
  users_.reset();
  blkio_.reset();
  return last;
}

// destroy(): this object's queues and region buffers go now; the device
// goes when the last user (owner or worker attachment) has called destroy().
Napi::Value BlkioObject::destroy(const Napi::CallbackInfo& info) {
  if (!blkio_) return info.Env().Undefined();  // idempotent
  std::vector<std::shared_ptr<Queue>> queues;
  std::shared_ptr<Blkio> last = release_from_js(&queues);
  for (auto& q : queues) q->shutdown();
  if (last) last->shutdown();
  return info.Env().Undefined();
}

// close(): what destroy() does, but the waiting (quiescing requests the
// device still holds) happens off the event loop; the Promise resolves once
// the device is released. The JS objects are unusable at once.
Napi::Value BlkioObject::close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::shared_ptr<Queue>> queues;
  std::shared_ptr<Blkio> last;
  if (blkio_) last = release_from_js(&queues);  // else: idempotent
  return run_in_background(env, "blkio:close", [queues = std::move(queues), last = std::move(last)] {
    for (auto& q : queues) q->shutdown();
    if (last) last->shutdown();
    return 0;
  });
}

// connectInBackground() / startInBackground(): for open(), which holds the
// object privately until they settle (a vhost-user handshake waits up to a
// reply timeout for a stalled backend).
Napi::Value BlkioObject::connect_in_background(const Napi::CallbackInfo& info) {
  live(info.Env());
  return run_in_background(info.Env(), "blkio:connect", [b = blkio_] { return b->connect(); });
}

Napi::Value BlkioObject::start_in_background(const Napi::CallbackInfo& info) {
  live(info.Env());
  return run_in_background(info.Env(), "blkio:start", [b = blkio_] { return b->start(); });
}

// mapMemRegionInBackground(region) -> Promise of the slot hint, as mapMemRegion.
Napi::Value BlkioObject::map_mem_region_in_background(const Napi::CallbackInfo& info) {
  live(info.Env());
  MemRegion region = region_from(info.Env(), info[0]);
  return run_in_background(info.Env(), "blkio:map", [b = blkio_, region] {
    int r = b->map_mem_region(region);
    if (r < 0) return r;
    return std::max(b->mapped_region_slot(region.addr, region.len), 0);  // a hint; checked when used
  });
}

// capacityInBackground() -> Promise of the current capacity (a BigInt): the
// read asks the device (a vhost-user GET_CONFIG waits up to its reply timeout).
Napi::Value BlkioObject::capacity_in_background(const Napi::CallbackInfo& info) {
  live(info.Env());
  return run_in_background_u64(info.Env(), "blkio:capacity", [b = blkio_](uint64_t* out) {
    PropValue v;
    int r = b->get("capacity", PropType::Uint64, &v);
    if (r < 0) return r;
    *out = v.u;
    return 0;
  });
}

void BlkioObject::release_at_exit() {
  if (!blkio_) return;
  lifecycle_->devices.erase(this);
  if (users_->fetch_sub(1) == 1) blkio_->shutdown();
  users_.reset();
  blkio_.reset();
}

Napi::Value BlkioObject::get_property(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = string_without_nul(env, info[0], "property name");
  auto type = JsType(info[1].As<Napi::Number>().Int32Value());
  PropValue v;
  int r = live(env).get(name.c_str(), PropType(int(type)), &v);
  if (r < 0) throw_blkio_error(env, r);
  switch (type) {
    case JsType::Bool: return Napi::Boolean::New(env, v.b);
    case JsType::Int: return Napi::Number::New(env, v.i);
    case JsType::Uint64: return Napi::BigInt::New(env, v.u);
    case JsType::Str: return Napi::String::New(env, v.s);
  }
  return env.Undefined();
}

Napi::Value BlkioObject::set_property(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = string_without_nul(env, info[0], "property name");
  auto type = JsType(info[1].As<Napi::Number>().Int32Value());
  PropValue v;
  bool lossless;
  switch (type) {
    case JsType::Bool: v.b = info[2].As<Napi::Boolean>(); break;
    case JsType::Int: v.i = info[2].As<Napi::Number>().Int32Value(); break;
    case JsType::Uint64: v.u = info[2].As<Napi::BigInt>().Uint64Value(&lossless); break;
    case JsType::Str: v.s = string_without_nul(env, info[2], "property value"); break;
  }
  int r = live(env).set(name.c_str(), PropType(int(type)), v);
  if (r < 0) throw_blkio_error(env, r);
  return env.Undefined();
}

Napi::Value BlkioObject::alloc_mem_region(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemRegion region;
  double len;
  if (!integer_in(info[0], 1, kMaxExactDouble, &len)) throw_blkio_error(env, -EINVAL, "len must be a positive integer");
  int r = live(env).alloc_mem_region(&region, size_t(len));
  if (r < 0) throw_blkio_error(env, r);
  // The core owns the memory; the ArrayBuffer is a window on it that
  // freeMemRegion/destroy detach. Until it is collected it also keeps the
  // core instance (and so the mapping) alive, should this object be
  // collected without destroy().
  auto buffer = Napi::ArrayBuffer::New(
      env, region.addr, region.len, [](Napi::Env, void*, std::shared_ptr<Blkio>* keep) { delete keep; },
      new std::shared_ptr<Blkio>(blkio_));
  region_buffers_[region.addr] = Napi::Persistent(buffer);
  Napi::Object o = Napi::Object::New(env);
  o.Set("addr", Napi::BigInt::New(env, uint64_t(reinterpret_cast<uintptr_t>(region.addr))));
  o.Set("len", Napi::Number::New(env, double(region.len)));
  o.Set("iova", Napi::BigInt::New(env, region.iova));
  o.Set("fdOffset", Napi::Number::New(env, double(region.fd_offset)));
  o.Set("fd", Napi::Number::New(env, region.fd));
  o.Set("flags", Napi::Number::New(env, region.flags));
  o.Set("buffer", buffer);
  return o;
}

Napi::Value BlkioObject::free_mem_region(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemRegion region = region_from(env, info[0]);
  auto it = region_buffers_.find(region.addr);
  int r = live(env).free_mem_region(region);
  if (r < 0) throw_blkio_error(env, r);
  if (it != region_buffers_.end()) {
    Napi::ArrayBuffer ab = it->second.Value();
    if (!ab.IsDetached()) ab.Detach();
    region_buffers_.erase(it);
  }
  return env.Undefined();
}

// Returns the region's slot, which JS passes back as a lookup hint.
Napi::Value BlkioObject::map_mem_region(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  MemRegion region = region_from(env, info[0]);
  Blkio& b = live(env);
  int r = b.map_mem_region(region);
  if (r < 0) throw_blkio_error(env, r);
  return Napi::Number::New(env, b.mapped_region_slot(region.addr, region.len));
}

Napi::Value BlkioObject::unmap_mem_region(const Napi::CallbackInfo& info) {
  MemRegion region = region_from(info.Env(), info[0]);
  live(info.Env()).unmap_mem_region(region);
  return info.Env().Undefined();
}

Napi::Value BlkioObject::get_queue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool poll = info[0].ToBoolean();
  int index = queue_index(env, info[1]);
  auto key = std::make_pair(poll, index);
  auto it = queue_objects_.find(key);
  if (it != queue_objects_.end()) return it->second.Value();
  std::shared_ptr<Queue> q = live(env).get_queue(poll, index);
  if (!q) return env.Null();
  Napi::Object obj = QueueObject::make(env, blkio_, q);
  queue_objects_[key] = Napi::Persistent(obj);
  return obj;
}

Napi::Value BlkioObject::add_queue(const Napi::CallbackInfo& info) {
  int r = live(info.Env()).add_queue(info[0].ToBoolean());
  if (r < 0) throw_blkio_error(info.Env(), r);
  return Napi::Number::New(info.Env(), r);
}

Napi::Value BlkioObject::remove_queue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool poll = info[0].ToBoolean();
  int index = queue_index(env, info[1]);
  auto it = queue_objects_.find(std::make_pair(poll, index));
  QueueObject* object = it != queue_objects_.end() ? QueueObject::Unwrap(it->second.Value()) : nullptr;
  // The core claims the queue first (EBUSY while a worker is inside its
  // doIo); the watcher stops before the queue's fds close.
  int r = live(env).remove_queue(poll, index, [object] {
    if (object) object->stop_watching();
  });
  if (r < 0) throw_blkio_error(env, r);
  if (object) {
    object->release();
    queue_objects_.erase(it);
  }
  return env.Undefined();
}

Napi::Value BlkioObject::share(const Napi::CallbackInfo& info) {
  Blkio& b = live(info.Env());
  (void)b;
  std::lock_guard<std::mutex> lock(shared_mutex);
  uint64_t id = next_shared_id++;
  shared_instances[id] = SharedEntry{blkio_, users_};
  return Napi::BigInt::New(info.Env(), id);
}

}  // namespace blkio::napi
