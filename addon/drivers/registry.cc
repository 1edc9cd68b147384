// Driver names, as libblkio spells them.
#include <cerrno>
#include <cstring>

#include "../core/driver.h"
#include "../core/errors.h"
#include "io_uring/io_uring_driver.h"
#include "nvme_io_uring/nvme_io_uring_driver.h"
#include "virtio/vhost_user.h"
#include "virtio/vfio_pci.h"
#include "virtio/vhost_vdpa.h"
#include "virtio/virtio_blk.h"

namespace blkio {

int create_driver(const char* name, std::unique_ptr<Driver>* out) {
  if (strcmp(name, "io_uring") == 0) {
    *out = std::make_unique<IoUringDriver>();
    return 0;
  }
  if (strcmp(name, "nvme-io_uring") == 0) {
    *out = std::make_unique<NvmeIoUringDriver>();
    return 0;
  }
  if (strcmp(name, virtio::kVhostUserTransport.driver_name) == 0) {
    *out = std::make_unique<virtio::VirtioBlkDriver>(virtio::kVhostUserTransport);
    return 0;
  }
  if (strcmp(name, virtio::kVhostVdpaTransport.driver_name) == 0) {
    *out = std::make_unique<virtio::VirtioBlkDriver>(virtio::kVhostVdpaTransport);
    return 0;
  }
  if (strcmp(name, virtio::kVfioPciTransport.driver_name) == 0) {
    *out = std::make_unique<virtio::VirtioBlkDriver>(virtio::kVfioPciTransport);
    return 0;
  }
  return fail(ENOENT, "Unknown driver name '%s'", name);
}

}  // namespace blkio
