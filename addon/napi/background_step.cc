#include "background_step.h"

#include <memory>
#include <string>

#include "../core/errors.h"
#include "addon_data.h"

namespace blkio::napi {

namespace {

struct Job {
  std::function<int()> step;
  std::function<int(uint64_t*)> step_u64;  // instead of step: resolves to a BigInt
  uint64_t value = 0;
  int result = 0;
  std::string message;
  std::shared_ptr<Lifecycle> lifecycle;
  bool step_was_u64 = false;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;

  static void execute(napi_env, void* data) {
    auto* job = static_cast<Job*>(data);
    job->result = job->step_u64 ? job->step_u64(&job->value) : job->step();
    // The message is thread-local: take it on the thread that failed.
    if (job->result < 0) job->message = blkio::last_error_message();
  }

  static void complete(napi_env raw_env, napi_status, void* data) {
    std::unique_ptr<Job> job(static_cast<Job*>(data));
    napi_delete_async_work(raw_env, job->work);
    job->step = nullptr;  // what they captured goes here, on the JS thread
    job->step_u64 = nullptr;
    std::shared_ptr<Lifecycle> lifecycle = job->lifecycle;
    // During teardown nobody is left to see the Promise settle.
    if (!lifecycle->tearing_down) {
      try {
        job->settle(Napi::Env(raw_env));
      } catch (const Napi::Error&) {
        // Only when JS can no longer run (a worker being terminated):
        // nobody is left to see the Promise either.
      }
    }
    lifecycle->end_pending();
  }

  void settle(Napi::Env env) {
    Napi::HandleScope scope(env);
    if (result >= 0) {
      napi_value v = step_was_u64 ? Napi::BigInt::New(env, value) : Napi::Number::New(env, result);
      napi_resolve_deferred(env, deferred, v);
      return;
    }
    AddonData& data = addon_data(env);
    Napi::String msg = Napi::String::New(env, message.empty() ? "operation failed" : message);
    Napi::Number err = Napi::Number::New(env, result);
    Napi::Value error = data.error_class.IsEmpty() ? Napi::Error::New(env, msg).Value()
                                                   : data.error_class.New({msg, err}).As<Napi::Value>();
    napi_reject_deferred(env, deferred, error);
  }
};

}  // namespace

namespace {

Napi::Promise queue_job(Napi::Env env, const char* name, std::unique_ptr<Job> job) {
  job->lifecycle = addon_data(env).lifecycle;
  napi_value promise;
  napi_create_promise(env, &job->deferred, &promise);
  napi_status s = napi_create_async_work(env, nullptr, Napi::String::New(env, name), Job::execute, Job::complete,
                                         job.get(), &job->work);
  if (s == napi_ok) s = napi_queue_async_work(env, job->work);
  if (s != napi_ok) {
    // No thread pool to go to: do it here rather than not at all.
    if (job->work) napi_delete_async_work(env, job->work);
    Job::execute(env, job.get());
    job->settle(env);
    return Napi::Promise(env, promise);
  }
  job->lifecycle->begin_pending();
  job.release();
  return Napi::Promise(env, promise);
}

}  // namespace

Napi::Promise run_in_background(Napi::Env env, const char* name, std::function<int()> step) {
  auto job = std::make_unique<Job>();
  job->step = std::move(step);
  return queue_job(env, name, std::move(job));
}

Napi::Promise run_in_background_u64(Napi::Env env, const char* name, std::function<int(uint64_t*)> step) {
  auto job = std::make_unique<Job>();
  job->step_u64 = std::move(step);
  job->step_was_u64 = true;
  return queue_job(env, name, std::move(job));
}

}  // namespace blkio::napi
