#include "nvme_io_uring_driver.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "../../core/errors.h"
#include "../io_uring/target_fd.h"
#include "nvme_queue.h"
#include "nvme_spec.h"

namespace blkio {

namespace {

constexpr int32_t kMaxEntries = 32768;
constexpr uint64_t kControllerPage = 4096;  // Linux runs every controller with 4 KiB pages

// The block device's queue limits for the char device's namespace
// (/dev/ngXnY pairs with /sys/block/nvmeXnY), or fallback.
long long queue_limit(dev_t dev, const char* attr, long long fallback) {
  char link[96], target[256];
  snprintf(link, sizeof link, "/sys/dev/char/%u:%u", major(dev), minor(dev));
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 0) return fallback;
  target[n] = '\0';
  const char* name = strrchr(target, '/');
  name = name ? name + 1 : target;
  if (strncmp(name, "ng", 2) != 0) return fallback;
  std::ifstream in(std::string("/sys/block/nvme") + (name + 2) + "/queue/" + attr);
  long long v;
  return (in >> v) ? v : fallback;
}

int admin_identify(int fd, uint32_t nsid, uint32_t cns, void* data, uint32_t csi = 0) {
  nvme_admin_cmd cmd;
  memset(&cmd, 0, sizeof cmd);
  cmd.opcode = nvme::kAdminIdentify;
  cmd.nsid = nsid;
  cmd.addr = reinterpret_cast<uint64_t>(data);
  cmd.data_len = nvme::kIdentifySize;
  cmd.cdw10 = cns;
  cmd.cdw11 = csi << 24;
  int r = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &cmd);
  if (r < 0) return -errno;
  return r > 0 ? -EIO : 0;  // r > 0: an NVMe status
}

}  // namespace

NvmeIoUringDriver::~NvmeIoUringDriver() {
  if (ns_.fd >= 0) close(ns_.fd);
  free(zeros_);
}

void NvmeIoUringDriver::add_properties(PropertyTable& t) {
  t.bind("path", Access::CreatedRW, &path_);
  t.bind("fd", Access::CreatedRW, &fd_);
  t.bind("num-entries", Access::ConnectedRW, &num_entries_,
         [](int32_t v) { return v <= 0 ? fail(EINVAL, "num-entries must be greater than 0") : 0; });
}

int NvmeIoUringDriver::connect(DeviceInfo* info, bool* read_only) {
  int fd = -1, fl = 0;
  int r = open_path_or_fd(path_, fd_, *read_only ? O_RDONLY : O_RDWR, "nvme-io_uring",
                          "an NVMe namespace's generic char device (/dev/ngXnY)", &fd, &fl);
  if (r < 0) return r;
  if ((fl & O_ACCMODE) == O_RDONLY) *read_only = true;
  ns_.fd = fd;
  r = identify(info);
  if (r < 0) {
    if (fd_ < 0) close(fd);
    ns_.fd = -1;
    return r;
  }
  fd_ = fd;  // from now on we own it, and "fd" reads it back
  return 0;
}

int NvmeIoUringDriver::current_capacity(uint64_t* capacity) {
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, nvme::kIdentifySize) != 0) return fail(ENOMEM, "no memory for Identify data");
  std::unique_ptr<void, decltype(&free)> hold(mem, free);
  auto* idns = static_cast<uint8_t*>(mem);
  memset(idns, 0, nvme::kIdentifySize);
  int r = admin_identify(ns_.fd, ns_.nsid, nvme::kCnsNamespace, idns);
  if (r < 0) return fail(-r, "NVMe Identify Namespace failed: %s", strerror(-r));
  uint8_t flbas = idns[nvme::kNsFlbas];
  unsigned format = (flbas & 0xf) | ((flbas >> 1) & 0x30);
  if (format > idns[nvme::kNsNlbaf] || format >= 64)
    return fail(EIO, "NVMe namespace reports LBA format %u of %u", format, idns[nvme::kNsNlbaf] + 1u);
  unsigned lbads = (nvme::field<uint32_t>(idns, nvme::kNsLbaf0 + 4 * format) >> 16) & 0xff;
  if (lbads != ns_.lba_shift)
    return fail(EIO, "NVMe namespace was reformatted (LBA size 2^%u bytes, was 2^%u): reconnect", lbads, ns_.lba_shift);
  // A size is kept below 2^63 bytes: device offsets are signed 64-bit.
  uint64_t nsze = nvme::field<uint64_t>(idns, nvme::kNsNsze);
  if (nsze > (uint64_t(INT64_MAX) >> lbads)) return fail(EIO, "NVMe namespace reports an impossible size (%llu blocks)",
                                                         (unsigned long long)nsze);
  *capacity = nsze << lbads;
  return 0;
}

int NvmeIoUringDriver::identify(DeviceInfo* info) {
  const char* what = path_.empty() ? "fd" : path_.c_str();
  struct stat st;
  if (fstat(ns_.fd, &st) < 0) return fail(errno, "fstat failed: %s", strerror(errno));
  if (!S_ISCHR(st.st_mode))
    return fail(EINVAL, "'%s' is not a character device: nvme-io_uring needs an NVMe generic char device (/dev/ngXnY)", what);
  int nsid = ioctl(ns_.fd, NVME_IOCTL_ID);
  if (nsid <= 0)
    return fail(EINVAL, "'%s' is not an NVMe namespace char device (NVME_IOCTL_ID: %s)", what, strerror(errno));
  ns_.nsid = uint32_t(nsid);

  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, 2 * nvme::kIdentifySize) != 0) return fail(ENOMEM, "no memory for Identify data");
  std::unique_ptr<void, decltype(&free)> hold(mem, free);
  auto* ctrl = static_cast<uint8_t*>(mem);
  auto* idns = ctrl + nvme::kIdentifySize;
  memset(mem, 0, 2 * nvme::kIdentifySize);
  int r = admin_identify(ns_.fd, 0, nvme::kCnsController, ctrl);
  if (r == 0) r = admin_identify(ns_.fd, ns_.nsid, nvme::kCnsNamespace, idns);
  if (r == -EACCES || r == -EPERM) return fail(EACCES, "NVMe passthrough on '%s' needs CAP_SYS_ADMIN", what);
  if (r < 0) return fail(-r, "NVMe Identify on '%s' failed: %s", what, strerror(-r));

  // The device reports these: keep every derived value in range.
  uint64_t nsze = nvme::field<uint64_t>(idns, nvme::kNsNsze);
  uint8_t flbas = idns[nvme::kNsFlbas];
  unsigned format = (flbas & 0xf) | ((flbas >> 1) & 0x30);
  if (format > idns[nvme::kNsNlbaf] || format >= 64)
    return fail(EIO, "NVMe namespace reports LBA format %u of %u", format, idns[nvme::kNsNlbaf] + 1u);
  uint32_t lbaf = nvme::field<uint32_t>(idns, nvme::kNsLbaf0 + 4 * format);
  unsigned lbads = (lbaf >> 16) & 0xff;
  // Per-block metadata (and so protection information) would need metadata
  // buffers with every command, or change what a block's data is.
  if ((lbaf & 0xffff) != 0)
    return fail(ENOTSUP, "NVMe namespace '%s' is formatted with %u bytes of metadata per block, which nvme-io_uring does not support",
                what, lbaf & 0xffff);
  if (lbads < 9 || lbads > 16) return fail(EIO, "NVMe namespace reports an LBA size of 2^%u bytes", lbads);
  if (nsze > (UINT64_MAX >> lbads)) return fail(EIO, "NVMe namespace reports an impossible size");
  uint32_t lba = 1u << lbads;
  uint16_t oncs = nvme::field<uint16_t>(ctrl, nvme::kCtrlOncs);
  bool vwc = (ctrl[nvme::kCtrlVwc] & 1) != 0;
  uint8_t mdts = ctrl[nvme::kCtrlMdts];

  // Bytes per Read/Write: MDTS, 16-bit NLB, and what the kernel maps per
  // request (max_hw_sectors_kb; a buffer that is not page aligned needs one
  // more segment than its pages).
  uint64_t limit = uint64_t(nvme::kMaxBlocksPerCommand) << lbads;
  if (mdts != 0 && mdts < 32) limit = std::min<uint64_t>(limit, kControllerPage << mdts);
  long long hw_kb = queue_limit(st.st_rdev, "max_hw_sectors_kb", 0);
  if (hw_kb > 0) limit = std::min<uint64_t>(limit, uint64_t(hw_kb) * 1024);
  long long segments = queue_limit(st.st_rdev, "max_segments", 0);
  long page = sysconf(_SC_PAGESIZE);
  if (segments > 1) limit = std::min<uint64_t>(limit, uint64_t(segments - 1) * uint64_t(page));
  limit = std::min<uint64_t>(limit, 1u << 30);
  limit &= ~uint64_t(lba - 1);
  if (limit < lba) limit = lba;

  ns_.lba_shift = lbads;
  ns_.max_chunk = limit;
  ns_.write_zeroes = (oncs & nvme::kOncsWriteZeroes) != 0;
  ns_.dsm = (oncs & nvme::kOncsDsm) != 0;
  if (!zeros_) {
    if (posix_memalign(&zeros_, size_t(page), limit) != 0) return fail(ENOMEM, "no memory for a zero buffer");
    memset(zeros_, 0, limit);
  }
  ns_.zeros = zeros_;

  info->capacity = nsze << lbads;
  info->max_queues = INT32_MAX;
  info->supports_poll_queues = queue_limit(st.st_rdev, "io_poll", 0) == 1;
  info->max_mem_regions = UINT64_MAX;
  info->may_pin_mem_regions = false;
  info->mem_region_alignment = lba;
  info->needs_mem_regions = false;
  info->needs_mem_region_fd = false;
  info->request_alignment = int32_t(lba);
  info->buf_alignment = int32_t(lba);
  info->optimal_io_alignment = int32_t(lba);
  info->optimal_io_size = 0;
  info->optimal_buf_alignment = int32_t(std::max<long>(page, long(lba)));
  info->flush_needed = vwc;
  info->can_grow = false;
  info->max_segments = IOV_MAX;
  info->max_segment_len = 0;
  info->max_transfer = int32_t(limit);
  info->supports_fua_natively = true;
  info->max_write_zeroes_len = ns_.write_zeroes ? uint64_t(nvme::kMaxBlocksPerCommand) << lbads : 0;
  info->discard_alignment = int32_t(lba);
  info->discard_alignment_offset = 0;
  info->max_discard_len = ns_.dsm ? (uint64_t(UINT32_MAX) << lbads) & ~uint64_t(lba - 1) : 0;
  describe_zones(format, nsze, info);
  return 0;
}

// A Zoned Namespace (ZNS) answers the ZNS Identify Namespace; any other
// namespace fails it (or reports no zone size) and stays unzoned.
void NvmeIoUringDriver::describe_zones(unsigned format, uint64_t nsze, DeviceInfo* info) {
  ns_.zone_blocks = 0;
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, nvme::kIdentifySize) != 0) return;
  std::unique_ptr<void, decltype(&free)> hold(mem, free);
  auto* zns = static_cast<uint8_t*>(mem);
  memset(zns, 0, nvme::kIdentifySize);
  if (admin_identify(ns_.fd, ns_.nsid, nvme::kCnsNamespaceCsi, zns, nvme::kCsiZoned) < 0) return;
  uint64_t zsze = nvme::field<uint64_t>(zns, nvme::kZnsLbafe0 + 16 * format);
  if (zsze == 0 || zsze > nsze) return;
  auto limit = [](uint32_t v) { return v == UINT32_MAX ? uint64_t(0) : uint64_t(v) + 1; };
  ns_.zone_blocks = zsze;
  ZonedInfo& z = info->zoned;
  z.model = ZonedModel::HostManaged;
  z.zone_size = zsze << ns_.lba_shift;
  z.nr_zones = nsze / zsze;
  z.max_active_zones = limit(nvme::field<uint32_t>(zns, nvme::kZnsMar));
  z.max_open_zones = limit(nvme::field<uint32_t>(zns, nvme::kZnsMor));
  z.max_append_bytes = 0;  // libblkio's API has no zone append request
}

int NvmeIoUringDriver::start(int, int, bool) {
  if (num_entries_ > kMaxEntries)
    return fail(EINVAL, "num-entries %d exceeds the kernel maximum of %d", num_entries_, kMaxEntries);
  return 0;
}

int NvmeIoUringDriver::create_queue(bool poll, int, std::unique_ptr<QueueDriver>* out) {
  auto q = std::make_unique<NvmeQueue>(ns_, poll);
  int r = q->init(unsigned(num_entries_));
  if (r < 0) return r;
  *out = std::move(q);
  return 0;
}

}  // namespace blkio
