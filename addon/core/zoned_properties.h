// The properties a zoned-device user reads (all drivers; zero/"none" on a
// device without zones).
#pragma once

#include "driver.h"
#include "properties.h"

namespace blkio {

// zoned-model ("none", "host-aware", "host-managed"), nr-zones, zone-size,
// max-open-zones, max-active-zones, max-append-bytes; readable once connected.
void bind_zoned_properties(PropertyTable& table, ZonedInfo* zoned);

const char* zoned_model_name(ZonedModel m);

}  // namespace blkio
