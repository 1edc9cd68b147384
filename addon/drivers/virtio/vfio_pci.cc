#include "vfio_pci.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <linux/virtio_pci.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../../core/errors.h"
#include "virtio_spec.h"

namespace blkio::virtio {

namespace {

constexpr uint16_t kVirtioVendor = 0x1af4;
constexpr uint16_t kVirtioBlkModern = 0x1040 + 2;  // 0x1040 + virtio device id 2
constexpr uint16_t kVirtioBlkTransitional = 0x1001;
constexpr uint8_t kCapVendorSpecific = 0x09;
constexpr int kResetWaitMs = 5000;

std::string basename_of(const std::string& p) {
  size_t slash = p.find_last_of('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string link_target(const std::string& link) {
  char buf[PATH_MAX];
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  buf[n] = '\0';
  return buf;
}

int xioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

void sleep_ms(int ms) {
  timespec t{0, long(ms) * 1000000L};
  nanosleep(&t, nullptr);
}

// The PCI address and group of a device given as its sysfs directory, or
// the only device of a group given as /dev/vfio/N.
int resolve_device(const std::string& path, std::string* bdf, std::string* group) {
  if (path.compare(0, 10, "/dev/vfio/") == 0) {
    std::string id = path.substr(10);
    std::string dir = "/sys/kernel/iommu_groups/" + id + "/devices";
    DIR* d = opendir(dir.c_str());
    if (!d) return fail(ENOENT, "'%s': no IOMMU group %s (%s)", path.c_str(), id.c_str(), dir.c_str());
    std::vector<std::string> devices;
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') devices.emplace_back(e->d_name);
    closedir(d);
    if (devices.size() != 1)
      return fail(EINVAL, "'%s': IOMMU group %s has %zu devices; give the device's sysfs directory instead",
                  path.c_str(), id.c_str(), devices.size());
    *bdf = devices[0];
    *group = path;
    return 0;
  }
  char real[PATH_MAX];
  if (!realpath(path.c_str(), real)) return fail(errno, "'%s': %s", path.c_str(), strerror(errno));
  std::string dir = real;
  std::string group_link = link_target(dir + "/iommu_group");
  if (group_link.empty()) {
    if (access((dir + "/config").c_str(), F_OK) != 0)
      return fail(EINVAL, "'%s' is not a PCI device's sysfs directory (like /sys/bus/pci/devices/0000:00:04.0)",
                  path.c_str());
    return fail(ENODEV, "PCI device '%s' has no IOMMU group: is an IOMMU enabled (e.g. intel_iommu=on)?",
                path.c_str());
  }
  *bdf = basename_of(dir);
  *group = "/dev/vfio/" + basename_of(group_link);
  std::string driver = basename_of(link_target(dir + "/driver"));
  if (driver != "vfio-pci")
    return fail(EINVAL, "PCI device %s is bound to %s, not vfio-pci (bind it first, e.g. with bindPciDriver)",
                bdf->c_str(), driver.empty() ? "no driver" : ("'" + driver + "'").c_str());
  return 0;
}

}  // namespace

const VirtioTransportType kVfioPciTransport{"virtio-blk-vfio-pci", false, &VfioPciTransport::open};

int VfioPciTransport::open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out) {
  if (fd >= 0) return fail(EINVAL, "virtio-blk-vfio-pci takes a path, not an fd");
  std::string bdf, group;
  int r = resolve_device(path, &bdf, &group);
  if (r < 0) return r;
  std::unique_ptr<VfioPciTransport> t(new VfioPciTransport(bdf));
  if ((r = t->attach(group, bdf)) < 0) return r;
  if ((r = t->find_structures()) < 0) return r;
  if ((r = t->reset_to_driver()) < 0) return r;
  *out = std::move(t);
  return 0;
}

VfioPciTransport::~VfioPciTransport() {
  if (device_ >= 0) {
    if (common_.bar >= 0) common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, 0);
    vfio_irq_set none{};
    none.argsz = sizeof none;
    none.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
    none.index = VFIO_PCI_MSIX_IRQ_INDEX;
    if (msix_count_) xioctl(device_, VFIO_DEVICE_SET_IRQS, &none);
    close(device_);
  }
  if (group_ >= 0) close(group_);
  if (container_ >= 0) close(container_);
}

void VfioPciTransport::abandon() {
  // pwrite on the device fd is safe from any queue's thread.
  uint8_t reset = 0;
  if (device_ >= 0 && common_.bar >= 0)
    (void)!pwrite(device_, &reset, 1, off_t(bar_offset_[common_.bar] + common_.offset + VIRTIO_PCI_COMMON_STATUS));
}

int VfioPciTransport::failed(const char* what) {
  int e = errno;
  return fail(e, "virtio-blk-vfio-pci device %s: %s failed: %s", name_.c_str(), what, strerror(e));
}

int VfioPciTransport::attach(const std::string& group_path, const std::string& bdf) {
  container_ = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
  if (container_ < 0) return fail(errno, "Failed to open /dev/vfio/vfio: %s (is the vfio module loaded?)", strerror(errno));
  if (xioctl(container_, VFIO_GET_API_VERSION, nullptr) != VFIO_API_VERSION)
    return fail(ENOTSUP, "/dev/vfio/vfio speaks another VFIO API version than %d", VFIO_API_VERSION);
  if (xioctl(container_, VFIO_CHECK_EXTENSION, reinterpret_cast<void*>(uintptr_t(VFIO_TYPE1v2_IOMMU))) != 1)
    return fail(ENOTSUP, "the kernel's VFIO has no type1v2 IOMMU");

  group_ = ::open(group_path.c_str(), O_RDWR | O_CLOEXEC);
  if (group_ < 0) {
    int e = errno;
    if (e == EBUSY)
      return fail(EBUSY, "VFIO group %s of device %s is busy: another process or Blkio instance has it open",
                  group_path.c_str(), name_.c_str());
    return fail(e, "Failed to open VFIO group %s of device %s: %s", group_path.c_str(), name_.c_str(), strerror(e));
  }
  vfio_group_status status{};
  status.argsz = sizeof status;
  if (xioctl(group_, VFIO_GROUP_GET_STATUS, &status) < 0) return failed("VFIO_GROUP_GET_STATUS");
  if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE))
    return fail(EINVAL, "VFIO group %s is not viable: every device in it must be bound to vfio-pci (or no driver)",
                group_path.c_str());
  if (xioctl(group_, VFIO_GROUP_SET_CONTAINER, &container_) < 0) return failed("VFIO_GROUP_SET_CONTAINER");
  if (xioctl(container_, VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t(VFIO_TYPE1v2_IOMMU))) < 0) {
    if (errno == EPERM)
      return fail(EPERM,
                  "VFIO refused the IOMMU for device %s: the platform has no interrupt remapping (allow it with "
                  "the vfio_iommu_type1 parameter allow_unsafe_interrupts=1)",
                  name_.c_str());
    return failed("VFIO_SET_IOMMU (type1v2)");
  }

  // The IOVA ranges the IOMMU translates, its page sizes and mapping budget.
  std::vector<uint8_t> info_buf(sizeof(vfio_iommu_type1_info));
  for (int attempt = 0; attempt < 2; attempt++) {
    auto* info = reinterpret_cast<vfio_iommu_type1_info*>(info_buf.data());
    info->argsz = uint32_t(info_buf.size());
    if (xioctl(container_, VFIO_IOMMU_GET_INFO, info) < 0) return failed("VFIO_IOMMU_GET_INFO");
    if (info->argsz <= info_buf.size()) break;
    if (info->argsz > 65536) return fail(EIO, "VFIO_IOMMU_GET_INFO wants %u bytes", info->argsz);
    info_buf.assign(info->argsz, 0);
  }
  auto* info = reinterpret_cast<vfio_iommu_type1_info*>(info_buf.data());
  if ((info->flags & VFIO_IOMMU_INFO_PGSIZES) && info->iova_pgsizes)
    iova_page_ = std::max<uint64_t>(uint64_t(1) << __builtin_ctzll(info->iova_pgsizes), 4096);
  if ((info->flags & VFIO_IOMMU_INFO_CAPS) && info->cap_offset) {
    // A chain the kernel wrote: still check every offset against the buffer.
    uint32_t off = info->cap_offset;
    for (int hops = 0; off && off + sizeof(vfio_info_cap_header) <= info_buf.size() && hops < 64; hops++) {
      auto* hdr = reinterpret_cast<vfio_info_cap_header*>(info_buf.data() + off);
      if (hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE && off + sizeof(vfio_iommu_type1_info_cap_iova_range) <= info_buf.size()) {
        auto* cap = reinterpret_cast<vfio_iommu_type1_info_cap_iova_range*>(hdr);
        size_t fit = (info_buf.size() - off - sizeof *cap) / sizeof(vfio_iova_range);
        for (uint32_t i = 0; i < cap->nr_iovas && i < fit; i++)
          if (cap->iova_ranges[i].end >= cap->iova_ranges[i].start)
            iova_ranges_.emplace_back(cap->iova_ranges[i].start, cap->iova_ranges[i].end);
      } else if (hdr->id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL && off + sizeof(vfio_iommu_type1_info_dma_avail) <= info_buf.size()) {
        dma_entries_ = reinterpret_cast<vfio_iommu_type1_info_dma_avail*>(hdr)->avail;
      }
      if (hdr->next <= off) break;  // the chain only moves forward
      off = hdr->next;
    }
  }
  if (iova_ranges_.empty()) iova_ranges_.emplace_back(0, (uint64_t(1) << 39) - 1);  // the smallest common width

  device_ = xioctl(group_, VFIO_GROUP_GET_DEVICE_FD, const_cast<char*>(bdf.c_str()));
  if (device_ < 0) return failed("VFIO_GROUP_GET_DEVICE_FD");
  vfio_device_info dev{};
  dev.argsz = sizeof dev;
  if (xioctl(device_, VFIO_DEVICE_GET_INFO, &dev) < 0) return failed("VFIO_DEVICE_GET_INFO");
  if (!(dev.flags & VFIO_DEVICE_FLAGS_PCI)) return fail(EINVAL, "VFIO device %s is not a PCI device", name_.c_str());
  for (unsigned i = 0; i <= VFIO_PCI_CONFIG_REGION_INDEX && i < dev.num_regions; i++) {
    vfio_region_info region{};
    region.argsz = sizeof region;
    region.index = i;
    if (xioctl(device_, VFIO_DEVICE_GET_REGION_INFO, &region) < 0) return failed("VFIO_DEVICE_GET_REGION_INFO");
    if (i == VFIO_PCI_CONFIG_REGION_INDEX) {
      config_offset_ = region.offset;
    } else if (i <= VFIO_PCI_BAR5_REGION_INDEX) {
      bar_offset_[i] = region.offset;
      bar_size_[i] = region.size;
    }
  }
  vfio_irq_info irq{};
  irq.argsz = sizeof irq;
  irq.index = VFIO_PCI_MSIX_IRQ_INDEX;
  if (xioctl(device_, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0) msix_count_ = irq.count;
  if (msix_count_ == 0) return fail(ENOTSUP, "PCI device %s has no MSI-X vectors, which this driver needs", name_.c_str());
  return 0;
}

int VfioPciTransport::config_space(bool write, uint64_t offset, void* buf, size_t len) {
  ssize_t n = write ? pwrite(device_, buf, len, off_t(config_offset_ + offset))
                    : pread(device_, buf, len, off_t(config_offset_ + offset));
  if (n != ssize_t(len)) {
    if (n >= 0) errno = EIO;
    return failed(write ? "writing PCI config space" : "reading PCI config space");
  }
  return 0;
}

int VfioPciTransport::bar(bool write, const Structure& s, uint64_t offset, void* buf, size_t len) {
  if (offset + len > s.length) return fail(EINVAL, "access beyond a virtio structure of device %s", name_.c_str());
  off_t at = off_t(bar_offset_[s.bar] + s.offset + offset);
  ssize_t n = write ? pwrite(device_, buf, len, at) : pread(device_, buf, len, at);
  if (n != ssize_t(len)) {
    io_error_ = true;
    if (n >= 0) errno = EIO;
    return failed(write ? "writing a BAR" : "reading a BAR");
  }
  return 0;
}

template <typename T>
T VfioPciTransport::common_read(uint64_t offset) {
  T v{};
  if (bar(false, common_, offset, &v, sizeof v) < 0) return T(~T(0));
  return v;
}

template <typename T>
void VfioPciTransport::common_write(uint64_t offset, T value) {
  bar(true, common_, offset, &value, sizeof value);
}

int VfioPciTransport::find_structures() {
  uint16_t ids[2];
  int r = config_space(false, PCI_VENDOR_ID, ids, sizeof ids);
  if (r < 0) return r;
  if (ids[0] != kVirtioVendor || (ids[1] != kVirtioBlkModern && ids[1] != kVirtioBlkTransitional))
    return fail(ENOTSUP, "PCI device %s (%04x:%04x) is not a virtio-blk device", name_.c_str(), ids[0], ids[1]);
  uint16_t command = 0;
  if ((r = config_space(false, PCI_COMMAND, &command, sizeof command)) < 0) return r;
  command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
  if ((r = config_space(true, PCI_COMMAND, &command, sizeof command)) < 0) return r;

  // The capability list: at most 48 entries fit in 256 bytes, so a longer
  // walk means a loop in what the device reports.
  uint8_t ptr = 0;
  if ((r = config_space(false, PCI_CAPABILITY_LIST, &ptr, 1)) < 0) return r;
  for (int hops = 0; ptr >= 0x40 && hops < 48; hops++) {
    virtio_pci_cap cap{};
    if ((r = config_space(false, ptr & ~3u, &cap, sizeof cap)) < 0) return r;
    if (cap.cap_vndr == kCapVendorSpecific && cap.cap_len >= sizeof cap && cap.bar < 6) {
      Structure s{int(cap.bar), cap.offset, cap.length};
      bool fits = uint64_t(s.offset) + s.length <= bar_size_[cap.bar];
      switch (cap.cfg_type) {
        case VIRTIO_PCI_CAP_COMMON_CFG:
          if (fits && common_.bar < 0) common_ = s;
          break;
        case VIRTIO_PCI_CAP_NOTIFY_CFG:
          if (fits && notify_.bar < 0 && cap.cap_len >= sizeof(virtio_pci_notify_cap)) {
            notify_ = s;
            if ((r = config_space(false, (ptr & ~3u) + sizeof cap, &notify_multiplier_, 4)) < 0) return r;
          }
          break;
        case VIRTIO_PCI_CAP_DEVICE_CFG:
          if (fits && device_cfg_.bar < 0) device_cfg_ = s;
          break;
      }
    }
    ptr = cap.cap_next;
  }
  if (common_.bar < 0 || notify_.bar < 0 || device_cfg_.bar < 0 || common_.length < VIRTIO_PCI_COMMON_Q_USEDHI + 4)
    return fail(ENOTSUP, "PCI device %s lacks the virtio-pci modern structures (common, notify, device config)",
                name_.c_str());
  return 0;
}

int VfioPciTransport::reset_to_driver() {
  common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, 0);
  int waited = 0;
  while (common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS) != 0) {
    if (io_error_) return -EIO;
    if (waited >= kResetWaitMs) return fail(EIO, "virtio device %s did not finish its reset within 5 s", name_.c_str());
    sleep_ms(1);
    waited++;
  }
  int r = add_status(status::kAcknowledge | status::kDriver, "ACKNOWLEDGE|DRIVER");
  if (r < 0) return r;
  common_write<uint32_t>(VIRTIO_PCI_COMMON_DFSELECT, 0);
  uint64_t lo = common_read<uint32_t>(VIRTIO_PCI_COMMON_DF);
  common_write<uint32_t>(VIRTIO_PCI_COMMON_DFSELECT, 1);
  uint64_t hi = common_read<uint32_t>(VIRTIO_PCI_COMMON_DF);
  if (io_error_) return -EIO;
  features_ = lo | hi << 32;
  common_write<uint16_t>(VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);  // no config-change interrupts
  num_queues_ = common_read<uint16_t>(VIRTIO_PCI_COMMON_NUMQ);
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_SELECT, 0);
  queue_size_max_ = common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_SIZE);
  if (io_error_) return -EIO;
  if (num_queues_ == 0 || queue_size_max_ == 0)
    return fail(EIO, "virtio device %s reports %u queues of at most %u entries", name_.c_str(), num_queues_,
                queue_size_max_);
  // Vectors beyond the MSI-X table cannot be wired: fewer usable queues.
  num_queues_ = std::min<unsigned>(num_queues_, msix_count_);
  return 0;
}

int VfioPciTransport::add_status(uint8_t bits, const char* step) {
  uint8_t want = uint8_t(common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS) | bits);
  common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, want);
  uint8_t after = common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS);
  if (io_error_) return -EIO;
  if ((after & bits) != bits)
    return fail(EIO, "virtio device %s did not accept %s (status 0x%02x)", name_.c_str(), step, after);
  return 0;
}

void VfioPciTransport::set_failed() {
  common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, uint8_t(common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS) | status::kFailed));
}

int VfioPciTransport::set_features(uint64_t features) {
  // ACCESS_PLATFORM: the device's DMA goes through the IOMMU, at our IOVAs.
  uint64_t ack = (features | bit(feature::kVersion1) | bit(feature::kAccessPlatform)) & features_;
  common_write<uint32_t>(VIRTIO_PCI_COMMON_GFSELECT, 0);
  common_write<uint32_t>(VIRTIO_PCI_COMMON_GF, uint32_t(ack));
  common_write<uint32_t>(VIRTIO_PCI_COMMON_GFSELECT, 1);
  common_write<uint32_t>(VIRTIO_PCI_COMMON_GF, uint32_t(ack >> 32));
  int r = add_status(status::kFeaturesOk, "FEATURES_OK");
  if (r < 0) set_failed();
  return r;
}

int VfioPciTransport::read_config(uint8_t* buf, size_t len, size_t* got) {
  size_t n = std::min<size_t>(len, device_cfg_.length);
  memset(buf, 0, len);
  if (n == 0) return fail(EIO, "virtio device %s has no device config", name_.c_str());
  // Retry while the device changes it under us (config_generation).
  for (int attempt = 0; attempt < 100; attempt++) {
    uint8_t before = common_read<uint8_t>(VIRTIO_PCI_COMMON_CFGGENERATION);
    int r = bar(false, device_cfg_, 0, buf, n);
    if (r < 0) return r;
    if (common_read<uint8_t>(VIRTIO_PCI_COMMON_CFGGENERATION) == before) {
      *got = n;
      return 0;
    }
  }
  return fail(EIO, "virtio device %s keeps changing its config space", name_.c_str());
}

uint64_t VfioPciTransport::allocate_iova(size_t len, bool* ok) const {
  *ok = false;
  for (const auto& [first, last] : iova_ranges_) {
    // Above 0, so a zero address in a descriptor never reaches our memory.
    uint64_t candidate = align_up(std::max<uint64_t>(first, iova_page_), iova_page_);
    for (const auto& [start, length] : iovas_) {
      if (start + length <= candidate) continue;
      if (start >= candidate && start - candidate >= len) break;
      candidate = align_up(start + length, iova_page_);
    }
    if (candidate >= first && candidate <= last && len - 1 <= last - candidate) {
      *ok = true;
      return candidate;
    }
  }
  return 0;
}

int VfioPciTransport::map_memory(void* addr, size_t len, int, int64_t, uint64_t* device_addr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  if (len == 0 || a % iova_page_ || len % iova_page_)
    return fail(EINVAL, "VFIO memory must be aligned to %" PRIu64 " bytes (%p, %zu bytes)", iova_page_, addr, len);
  bool ok = false;
  uint64_t iova = allocate_iova(len, &ok);
  if (!ok) return fail(ENOSPC, "no room for %zu bytes in the IOVA space of device %s", len, name_.c_str());
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof map;
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = a;
  map.iova = iova;
  map.size = len;
  if (xioctl(container_, VFIO_IOMMU_MAP_DMA, &map) < 0) {
    int e = errno;
    if (e == ENOMEM || e == EPERM) {
      rlimit limit{};
      getrlimit(RLIMIT_MEMLOCK, &limit);
      return fail(ENOMEM,
                  "mapping %zu bytes for DMA by device %s failed: VFIO pins them against the locked-memory limit "
                  "(RLIMIT_MEMLOCK is %" PRIu64 " KiB; raise it with `ulimit -l`)",
                  len, name_.c_str(), uint64_t(limit.rlim_cur == RLIM_INFINITY ? 0 : limit.rlim_cur / 1024));
    }
    if (e == ENOSPC)
      return fail(ENOSPC, "mapping for DMA by device %s failed: the IOMMU container's mapping limit is reached",
                  name_.c_str());
    return fail(e, "mapping %zu bytes at %p for DMA by device %s failed: %s", len, addr, name_.c_str(), strerror(e));
  }
  iovas_[iova] = len;
  *device_addr = iova;
  return 0;
}

void VfioPciTransport::unmap_memory(void*, size_t, uint64_t device_addr) {
  auto it = iovas_.find(device_addr);
  if (it == iovas_.end()) return;
  vfio_iommu_type1_dma_unmap unmap{};
  unmap.argsz = sizeof unmap;
  unmap.iova = it->first;
  unmap.size = it->second;
  xioctl(container_, VFIO_IOMMU_UNMAP_DMA, &unmap);
  iovas_.erase(it);
}

int VfioPciTransport::setup_vring(const VringSetup& v) {
  if (v.index >= num_queues_)
    return fail(EINVAL, "virtio device %s has %u usable queues, not %u", name_.c_str(), num_queues_, v.index + 1);
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_SELECT, uint16_t(v.index));
  unsigned max = common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_SIZE);
  if (v.size > max)
    return fail(EINVAL, "queue-size %u exceeds the maximum %u of queue %u of device %s", v.size, max, v.index,
                name_.c_str());
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_SIZE, uint16_t(v.size));
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_MSIX, uint16_t(v.index));
  if (common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_MSIX) != v.index)
    return fail(EIO, "virtio device %s refused MSI-X vector %u for queue %u", name_.c_str(), v.index, v.index);
  auto write64 = [&](uint64_t lo_offset, uint64_t value) {
    common_write<uint32_t>(lo_offset, uint32_t(value));
    common_write<uint32_t>(lo_offset + 4, uint32_t(value >> 32));
  };
  write64(VIRTIO_PCI_COMMON_Q_DESCLO, v.desc_device);
  write64(VIRTIO_PCI_COMMON_Q_AVAILLO, v.avail_device);
  write64(VIRTIO_PCI_COMMON_Q_USEDLO, v.used_device);
  uint64_t notify_at = uint64_t(common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_NOFF)) * notify_multiplier_;
  if (io_error_) return -EIO;
  if (notify_at + 2 > notify_.length)
    return fail(EIO, "virtio device %s puts queue %u's notification outside its notify structure", name_.c_str(), v.index);

  // A kick (eventfd write) makes the kernel write the queue index to the
  // notify address: no MMIO mapping, no thread.
  vfio_device_ioeventfd ioeventfd{};
  ioeventfd.argsz = sizeof ioeventfd;
  ioeventfd.flags = VFIO_DEVICE_IOEVENTFD_16;
  ioeventfd.offset = bar_offset_[notify_.bar] + notify_.offset + notify_at;
  ioeventfd.data = v.index;
  ioeventfd.fd = v.kick_fd;
  if (xioctl(device_, VFIO_DEVICE_IOEVENTFD, &ioeventfd) < 0) return failed("VFIO_DEVICE_IOEVENTFD for a queue notification");

  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_ENABLE, 1);
  if (io_error_) return -EIO;
  if (call_fds_.size() <= v.index) call_fds_.resize(v.index + 1, -1);
  call_fds_[v.index] = v.call_fd;
  return 0;
}

int VfioPciTransport::driver_ok() {
  // MSI-X vector i signals queue i's call eventfd.
  size_t n = call_fds_.size();
  std::vector<uint8_t> buf(sizeof(vfio_irq_set) + n * sizeof(int32_t));
  auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
  set->argsz = uint32_t(buf.size());
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = VFIO_PCI_MSIX_IRQ_INDEX;
  set->start = 0;
  set->count = uint32_t(n);
  memcpy(set->data, call_fds_.data(), n * sizeof(int32_t));
  if (xioctl(device_, VFIO_DEVICE_SET_IRQS, set) < 0) {
    int r = failed("VFIO_DEVICE_SET_IRQS (MSI-X)");
    set_failed();
    return r;
  }
  int r = add_status(status::kDriverOk, "DRIVER_OK");
  if (r < 0) set_failed();
  return r;
}

}  // namespace blkio::virtio
