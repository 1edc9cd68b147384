// Turning the core's -errno + thread-local message into a thrown BlkioError.
#pragma once

#include <napi.h>

namespace blkio::napi {

// Throws BlkioError(message, errno) for a negative errno from the core.
[[noreturn]] void throw_blkio_error(Napi::Env env, int neg_errno);
[[noreturn]] void throw_blkio_error(Napi::Env env, int neg_errno, const char* message);

// Small integer id for a static completion message (0 = none), so the
// completion array can stay numeric; message_text() maps it back.
int message_id(const char* message);
const char* message_text(int id);

}  // namespace blkio::napi
