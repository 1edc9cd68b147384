// Error reporting for the driver core: negative errno plus a thread-local
// message, as libblkio's blkio_get_error_msg() works.
#pragma once

namespace blkio {

// The message of the last failure on this thread ("" when none).
const char* last_error_message();

// Records a printf-style message and returns -err, so that
// `return fail(EINVAL, "...")` reads as what it does.
int fail(int err, const char* fmt, ...) __attribute__((format(printf, 2, 3)));


}  // namespace blkio
