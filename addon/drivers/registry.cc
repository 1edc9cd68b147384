// The drivers this library has, as libblkio spells their names: the one list
// (the JS side reads it through the addon's `driverNames`).
#include <cerrno>
#include <cstring>

#include "../core/driver.h"
#include "../core/errors.h"
#include "io_uring/io_uring_driver.h"
#include "nvme_io_uring/nvme_io_uring_driver.h"
#include "virtio/vfio_pci.h"
#include "virtio/vhost_user.h"
#include "virtio/vhost_vdpa.h"
#include "virtio/virtio_blk.h"

namespace blkio {

namespace {

struct DriverEntry {
  const char* name;
  std::unique_ptr<Driver> (*make)();
};

template <typename T>
std::unique_ptr<Driver> make_plain() {
  return std::make_unique<T>();
}

template <const virtio::VirtioTransportType& transport>
std::unique_ptr<Driver> make_virtio_blk() {
  return std::make_unique<virtio::VirtioBlkDriver>(transport);
}

const DriverEntry kDrivers[] = {
    {"io_uring", make_plain<IoUringDriver>},
    {"nvme-io_uring", make_plain<NvmeIoUringDriver>},
    {virtio::kVfioPciTransport.driver_name, make_virtio_blk<virtio::kVfioPciTransport>},
    {virtio::kVhostUserTransport.driver_name, make_virtio_blk<virtio::kVhostUserTransport>},
    {virtio::kVhostVdpaTransport.driver_name, make_virtio_blk<virtio::kVhostVdpaTransport>},
};

}  // namespace

size_t driver_count() { return sizeof kDrivers / sizeof kDrivers[0]; }

const char* driver_name(size_t i) { return i < driver_count() ? kDrivers[i].name : nullptr; }

int create_driver(const char* name, std::unique_ptr<Driver>* out) {
  for (const DriverEntry& d : kDrivers) {
    if (strcmp(name, d.name) == 0) {
      *out = d.make();
      return 0;
    }
  }
  return fail(ENOENT, "Unknown driver name '%s'", name);
}

}  // namespace blkio
