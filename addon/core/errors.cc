#include "errors.h"

#include <cstdarg>
#include <cstdio>

namespace blkio {

namespace {
thread_local char error_message[512];
}

const char* last_error_message() { return error_message; }

int fail(int err, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(error_message, sizeof error_message, fmt, args);
  va_end(args);
  return -err;
}

}  // namespace blkio
