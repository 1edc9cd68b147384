// JS strings handed to the core, which takes C strings: a NUL inside one
// would silently cut a driver name, property name or value short (so
// 'read-only\0x' would set read-only). Such a string is EINVAL instead.
#pragma once

#include <napi.h>

#include <cerrno>
#include <string>

#include "errors.h"

namespace blkio::napi {

// The UTF-8 of a JS string; throws BlkioError EINVAL if it contains '\0'.
// `what` names the argument in the message ("property name").
inline std::string string_without_nul(Napi::Env env, const Napi::Value& value, const char* what) {
  std::string s = value.As<Napi::String>().Utf8Value();
  if (s.find('\0') != std::string::npos) {
    std::string msg = std::string(what) + " must not contain a NUL character";
    throw_blkio_error(env, -EINVAL, msg.c_str());
  }
  return s;
}

}  // namespace blkio::napi
