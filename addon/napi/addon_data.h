// Per-environment state (main thread and each worker have their own).
#pragma once

#include <napi.h>

namespace blkio::napi {

struct AddonData {
  Napi::FunctionReference error_class;  // BlkioError, set by the JS layer
  Napi::FunctionReference queue_class;
};

inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace blkio::napi
