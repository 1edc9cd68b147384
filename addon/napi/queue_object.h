// JS class Queue (internal): one native call per batch. JS writes request
// descriptors into shared typed arrays; doIo() enqueues them all, runs the
// core's do_io and writes completions back as numbers.
#pragma once

#include <napi.h>

#include <memory>
#include <mutex>
#include <vector>

#include "../core/blkio.h"

namespace blkio::napi {

class CompletionWatcher;

// The request descriptor, defined in src/lib/native/descriptor.ts (40 bytes);
// test/unit/descriptor.test.ts checks that this struct matches it.
struct Descriptor {
  uint32_t op;      // RequestType
  uint32_t flags;
  uint32_t slot;    // JS-side user-data slot, returned in the completion
  int32_t region;   // mapped-region slot hint, -1 if unknown
  uint32_t start_lo;
  uint32_t start_hi;
  double len;       // bytes; for readv/writev the iovec count
  double addr;      // buffer address; for readv/writev the first iovec index
};
static_assert(sizeof(Descriptor) == 40, "defined in src/lib/native/descriptor.ts");
// Descriptor op of a request the JS side failed before submission (its
// buffer was detached): len holds the positive errno.
constexpr uint32_t kFailOp = 7;

class QueueObject : public Napi::ObjectWrap<QueueObject> {
 public:
  static Napi::Function define(Napi::Env env);
  static Napi::Object make(Napi::Env env, std::shared_ptr<Blkio> owner, std::shared_ptr<Queue> queue);
  explicit QueueObject(const Napi::CallbackInfo& info);
  ~QueueObject() override;

  // Called when the queue is removed or its device destroyed.
  void shutdown();
  // The parts of shutdown() for a removal the core carries out.
  void stop_watching();
  void release();
  // Unusable from JS at once; returns the core queue for the caller to shut
  // down off the event loop (see BlkioObject::close()).
  std::shared_ptr<Queue> detach();

  // The core objects, for the job loop binding (null once shut down).
  const std::shared_ptr<Queue>& core_queue() const { return queue_; }
  const std::shared_ptr<Blkio>& core_owner() const { return owner_; }

 private:
  Napi::Value set_buffers(const Napi::CallbackInfo& info);
  Napi::Value do_io(const Napi::CallbackInfo& info);
  Napi::Value bind_do_io(const Napi::CallbackInfo& info);
  Napi::Value requeue(const Napi::CallbackInfo& info);
  Napi::Value completion_fd(const Napi::CallbackInfo& info);
  Napi::Value set_completion_fd_enabled(const Napi::CallbackInfo& info);
  Napi::Value watch(const Napi::CallbackInfo& info);
  Napi::Value watch_ref(const Napi::CallbackInfo& info);
  Napi::Value unwatch(const Napi::CallbackInfo& info);
  Napi::Value set_quiesced(const Napi::CallbackInfo& info);
  Napi::Value in_flight(const Napi::CallbackInfo& info);
  Napi::Value take_unsubmitted(const Napi::CallbackInfo& info);
  struct Claim {
    std::unique_lock<std::mutex> lock;
    Queue* queue;
  };
  Queue* live_queue(Napi::Env env);
  Claim claim(Napi::Env env);
  void enqueue(Queue* q, const Descriptor& d, size_t n_iov);

  std::shared_ptr<Blkio> owner_;
  std::shared_ptr<Queue> queue_;
  CompletionWatcher* watcher_ = nullptr;
  // The JS arrays stay referenced so their memory cannot go away under us.
  Napi::Reference<Napi::ArrayBuffer> desc_ref_, iov_ref_, comp_ref_;
  Descriptor* desc_ = nullptr;
  size_t desc_cap_ = 0;
  double* iov_ = nullptr;  // (addr, len) pairs
  size_t iov_cap_ = 0;
  int32_t* comp_ = nullptr;  // (slot, ret, message id) triples
  size_t comp_cap_ = 0;
  std::vector<Completion> completions_;
  size_t last_returned_ = 0;  // completions_ entries the last doIo filled
  std::vector<iovec> iov_scratch_;
};

}  // namespace blkio::napi
