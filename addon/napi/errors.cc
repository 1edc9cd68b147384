#include "errors.h"

#include <mutex>
#include <vector>

#include "../core/errors.h"
#include "addon_data.h"

namespace blkio::napi {

void throw_blkio_error(Napi::Env env, int neg_errno) {
  throw_blkio_error(env, neg_errno, blkio::last_error_message());
}

void throw_blkio_error(Napi::Env env, int neg_errno, const char* message) {
  AddonData& data = addon_data(env);
  Napi::Value msg = Napi::String::New(env, message);
  Napi::Value err = Napi::Number::New(env, neg_errno);
  if (data.error_class.IsEmpty()) {
    Napi::Error e = Napi::Error::New(env, message);
    e.Set("errno", err);
    throw e;
  }
  throw Napi::Error(env, data.error_class.New({msg, err}));
}

namespace {
std::mutex messages_mutex;
std::vector<const char*> messages;
}  // namespace

int message_id(const char* message) {
  if (!message) return 0;
  std::lock_guard<std::mutex> lock(messages_mutex);
  for (size_t i = 0; i < messages.size(); i++)
    if (messages[i] == message) return int(i) + 1;
  messages.push_back(message);
  return int(messages.size());
}

const char* message_text(int id) {
  std::lock_guard<std::mutex> lock(messages_mutex);
  return id > 0 && size_t(id) <= messages.size() ? messages[size_t(id) - 1] : nullptr;
}

}  // namespace blkio::napi
