#include "zoned_properties.h"

namespace blkio {

const char* zoned_model_name(ZonedModel m) {
  switch (m) {
    case ZonedModel::None: return "none";
    case ZonedModel::HostAware: return "host-aware";
    case ZonedModel::HostManaged: return "host-managed";
  }
  return "none";
}

void bind_zoned_properties(PropertyTable& t, ZonedInfo* z) {
  t.add("zoned-model", PropType::Str, Access::ConnectedRO, [z](PropValue* v) { v->s = zoned_model_name(z->model); });
  t.bind("nr-zones", Access::ConnectedRO, &z->nr_zones);
  t.bind("zone-size", Access::ConnectedRO, &z->zone_size);
  t.bind("max-open-zones", Access::ConnectedRO, &z->max_open_zones);
  t.bind("max-active-zones", Access::ConnectedRO, &z->max_active_zones);
  t.bind("max-append-bytes", Access::ConnectedRO, &z->max_append_bytes);
}

}  // namespace blkio
