#include "target.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/blkzoned.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "../../core/errors.h"
#include "../../core/region_table.h"
#include "ring.h"

namespace blkio {

namespace {

// /sys/dev/block/M:m/<attr>, or for a partition its disk's queue attributes.
std::string read_sysfs(dev_t dev, const char* attr) {
  char base[96];
  snprintf(base, sizeof base, "/sys/dev/block/%u:%u/", major(dev), minor(dev));
  for (const char* prefix : {"", "../"}) {
    std::ifstream in(std::string(base) + prefix + attr);
    std::string value;
    if (in && std::getline(in, value)) return value;
  }
  return {};
}

long long sysfs_number(dev_t dev, const char* attr, long long fallback) {
  std::string v = read_sysfs(dev, attr);
  return v.empty() ? fallback : atoll(v.c_str());
}

// An IOPOLL ring that completes a zero-length read shows that the kernel
// accepts this fd on a polled ring (libblkio's probe). A zero-length read
// never reaches the device, so this alone says nothing about the device.
bool probe_iopoll_ring(int fd) {
  Ring ring;
  if (ring.init(1, IORING_SETUP_IOPOLL) < 0) return false;
  io_uring_sqe* sqe = ring.next_sqe();
  static char dummy[4096] __attribute__((aligned(4096)));
  sqe->opcode = IORING_OP_READ;
  sqe->fd = fd;
  sqe->addr = reinterpret_cast<uint64_t>(dummy);
  sqe->len = 0;
  if (ring.enter(1, IORING_ENTER_GETEVENTS, nullptr) < 0 || ring.cq_ready() == 0) return false;
  return ring.cqe(0).res >= 0;
}

// Polled I/O needs a block device whose queue polls (queue/io_poll is 1;
// e.g. NVMe or virtio-blk with poll queues). A file is pollable only through
// its file system's block device; a file system without one (tmpfs, overlay,
// or a device number that is not a block device) never is.
bool device_polls(dev_t dev) {
  if (major(dev) == 0) return false;  // anonymous device: no block queue behind it
  return read_sysfs(dev, "queue/io_poll") == "1";
}

// A zoned block device's model, zone geometry and limits (queue/zoned,
// BLKGETZONESZ, BLKGETNRZONES, queue/max_{open,active}_zones). The io_uring
// driver has no zone append (the kernel offers none for block devices
// through io_uring), so max-append-bytes stays 0.
void describe_zones(int fd, dev_t dev, uint64_t capacity, ZonedInfo* z) {
  std::string model = read_sysfs(dev, "queue/zoned");
  if (model == "host-managed") z->model = ZonedModel::HostManaged;
  else if (model == "host-aware") z->model = ZonedModel::HostAware;
  else return;
  unsigned sectors = 0, count = 0;
  if (ioctl(fd, BLKGETZONESZ, &sectors) < 0 || sectors == 0) {
    z->model = ZonedModel::None;  // a partition of a zoned disk, or an odd device: no zone requests
    return;
  }
  ioctl(fd, BLKGETNRZONES, &count);
  z->zone_size = uint64_t(sectors) << 9;
  z->nr_zones = count > 0 ? count : (capacity + z->zone_size - 1) / z->zone_size;
  long long open = sysfs_number(dev, "queue/max_open_zones", 0);
  long long active = sysfs_number(dev, "queue/max_active_zones", 0);
  z->max_open_zones = open > 0 ? uint64_t(open) : 0;
  z->max_active_zones = active > 0 ? uint64_t(active) : 0;
  z->max_append_bytes = 0;
}

}  // namespace

int target_size(const UringTarget& t, uint64_t* bytes) {
  if (t.is_block_device) {
    uint64_t size = 0;
    if (ioctl(t.fd, BLKGETSIZE64, &size) < 0) return fail(errno, "BLKGETSIZE64 failed: %s", strerror(errno));
    *bytes = size;
    return 0;
  }
  struct stat st;
  if (fstat(t.fd, &st) < 0) return fail(errno, "fstat failed: %s", strerror(errno));
  if (st.st_size < 0) return fail(EIO, "fstat reports a negative file size");
  *bytes = uint64_t(st.st_size);
  return 0;
}

int describe_target(UringTarget* t, DeviceInfo* info) {
  struct stat st;
  if (fstat(t->fd, &st) < 0) return fail(errno, "fstat failed: %s", strerror(errno));
  bool blk = S_ISBLK(st.st_mode);
  if (!blk && !S_ISREG(st.st_mode))
    return fail(EINVAL, "io_uring target must be a block device or a regular file, not a %s",
                S_ISDIR(st.st_mode) ? "directory" : S_ISCHR(st.st_mode) ? "character device" : "special file");
  t->is_block_device = blk;
  long page = sysconf(_SC_PAGESIZE);
  dev_t dev = blk ? st.st_rdev : st.st_dev;

  if (blk) {
    uint64_t bytes = 0;
    if (ioctl(t->fd, BLKGETSIZE64, &bytes) < 0) return fail(errno, "BLKGETSIZE64 failed: %s", strerror(errno));
    info->capacity = bytes;
  } else {
    info->capacity = uint64_t(st.st_size);
  }

  int logical = 0, physical = 0;
  if (blk) {
    ioctl(t->fd, BLKSSZGET, &logical);
    ioctl(t->fd, BLKPBSZGET, &physical);
  }
  if (t->direct) {
    // A file's O_DIRECT alignment is its disk's logical block size; without a
    // disk (tmpfs, overlay…) the page size is the safe choice.
    if (!blk) logical = int(sysfs_number(dev, "queue/logical_block_size", 0));
    info->request_alignment = logical > 0 ? logical : int(page);
  } else {
    info->request_alignment = 1;
  }
  info->buf_alignment = info->request_alignment;
  info->mem_region_alignment = uint64_t(info->buf_alignment);
  info->optimal_buf_alignment = int(page);
  if (blk) {
    info->optimal_io_alignment = physical > 0 ? physical : info->request_alignment;
    unsigned int opt = 0;
    ioctl(t->fd, BLKIOOPT, &opt);
    info->optimal_io_size = int(opt);
  } else {
    info->optimal_io_alignment = int(st.st_blksize) > info->request_alignment ? int(st.st_blksize)
                                                                              : info->request_alignment;
    info->optimal_io_size = 0;
  }

  info->max_queues = INT32_MAX;
  info->max_mem_regions = RegionTable::kSlots;
  info->may_pin_mem_regions = false;
  info->needs_mem_regions = false;
  info->needs_mem_region_fd = false;
  info->can_grow = !blk;
  long iov_max = sysconf(_SC_IOV_MAX);
  info->max_segments = iov_max > 0 ? int(iov_max) : 1024;
  info->max_segment_len = 0;
  info->max_transfer = 0;
  info->max_write_zeroes_len = 0;
  info->max_discard_len = 0;

  if (blk) {
    info->flush_needed = read_sysfs(dev, "queue/write_cache") == "write back" || !t->direct;
    info->supports_fua_natively = sysfs_number(dev, "queue/fua", 0) == 1;
    int granularity = int(sysfs_number(dev, "queue/discard_granularity", 0));
    info->discard_alignment = granularity > 0 ? granularity : info->request_alignment;
    int offset = int(sysfs_number(dev, "discard_alignment", 0));
    // Linux 5.17 reported the granularity here; it means "no offset".
    info->discard_alignment_offset = offset == granularity ? 0 : offset;
    t->native_write_zeroes = sysfs_number(dev, "queue/write_zeroes_max_bytes", 0) > 0;
  } else {
    info->flush_needed = true;
    info->supports_fua_natively = false;
    info->discard_alignment = info->request_alignment;
    info->discard_alignment_offset = 0;
  }
  info->supports_poll_queues = t->direct && device_polls(dev) && probe_iopoll_ring(t->fd);
  if (blk) describe_zones(t->fd, dev, info->capacity, &info->zoned);
  t->capacity = info->capacity;
  t->zone_size = info->zoned.zone_size;
  return 0;
}

}  // namespace blkio
