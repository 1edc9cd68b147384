#include "vfio_pci.h"

#include <dirent.h>
#include <linux/pci_regs.h>
#include <linux/virtio_pci.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
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

void sleep_ms(int ms) {
  timespec ts{ms / 1000, long(ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
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
  std::unique_ptr<VfioPciTransport> t(new VfioPciTransport());
  if ((r = t->vfio_.open(group, bdf)) < 0) return r;
  if ((r = t->find_structures()) < 0) return r;
  if ((r = t->reset_to_driver()) < 0) return r;
  *out = std::move(t);
  return 0;
}

VfioPciTransport::~VfioPciTransport() {
  if (common_.bar >= 0) common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, 0);
}

void VfioPciTransport::abandon() {
  uint8_t reset = 0;
  if (common_.bar >= 0) vfio_.write_bar_unlocked(common_.bar, common_.offset + VIRTIO_PCI_COMMON_STATUS, &reset, 1);
}

int VfioPciTransport::structure(bool write, const Structure& s, uint64_t offset, void* buf, size_t len) {
  if (offset > s.length || len > s.length - offset)
    return fail(EINVAL, "access beyond a virtio structure of device %s", name());
  return vfio_.bar_access(write, s.bar, s.offset + offset, buf, len);
}

template <typename T>
T VfioPciTransport::common_read(uint64_t offset) {
  T v{};
  if (structure(false, common_, offset, &v, sizeof v) < 0) return T(~T(0));
  return v;
}

template <typename T>
void VfioPciTransport::common_write(uint64_t offset, T value) {
  structure(true, common_, offset, &value, sizeof value);
}

int VfioPciTransport::find_structures() {
  uint16_t ids[2];
  int r = vfio_.config(false, PCI_VENDOR_ID, ids, sizeof ids);
  if (r < 0) return r;
  if (ids[0] != kVirtioVendor || (ids[1] != kVirtioBlkModern && ids[1] != kVirtioBlkTransitional))
    return fail(ENOTSUP, "PCI device %s (%04x:%04x) is not a virtio-blk device", name(), ids[0], ids[1]);
  uint16_t command = 0;
  if ((r = vfio_.config(false, PCI_COMMAND, &command, sizeof command)) < 0) return r;
  command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
  if ((r = vfio_.config(true, PCI_COMMAND, &command, sizeof command)) < 0) return r;

  // The capability list: at most 48 entries fit in 256 bytes, so a longer
  // walk means a loop in what the device reports.
  uint8_t ptr = 0;
  if ((r = vfio_.config(false, PCI_CAPABILITY_LIST, &ptr, 1)) < 0) return r;
  for (int hops = 0; ptr >= 0x40 && hops < 48; hops++) {
    virtio_pci_cap cap{};
    if ((r = vfio_.config(false, ptr & ~3u, &cap, sizeof cap)) < 0) return r;
    if (cap.cap_vndr == kCapVendorSpecific && cap.cap_len >= sizeof cap && cap.bar < 6) {
      Structure s{int(cap.bar), cap.offset, cap.length};
      bool fits = uint64_t(s.offset) + s.length <= vfio_.bar_size(cap.bar);
      switch (cap.cfg_type) {
        case VIRTIO_PCI_CAP_COMMON_CFG:
          if (fits && common_.bar < 0) common_ = s;
          break;
        case VIRTIO_PCI_CAP_NOTIFY_CFG:
          if (fits && notify_.bar < 0 && cap.cap_len >= sizeof(virtio_pci_notify_cap)) {
            notify_ = s;
            if ((r = vfio_.config(false, (ptr & ~3u) + sizeof cap, &notify_multiplier_, 4)) < 0) return r;
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
                name());
  return 0;
}

int VfioPciTransport::reset_to_driver() {
  common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, 0);
  int waited = 0;
  while (common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS) != 0) {
    if (vfio_.io_error()) return -EIO;
    if (waited >= kResetWaitMs) return fail(EIO, "virtio device %s did not finish its reset within 5 s", name());
    sleep_ms(1);
    waited++;
  }
  int r = add_status(status::kAcknowledge | status::kDriver, "ACKNOWLEDGE|DRIVER");
  if (r < 0) return r;
  common_write<uint32_t>(VIRTIO_PCI_COMMON_DFSELECT, 0);
  uint64_t lo = common_read<uint32_t>(VIRTIO_PCI_COMMON_DF);
  common_write<uint32_t>(VIRTIO_PCI_COMMON_DFSELECT, 1);
  uint64_t hi = common_read<uint32_t>(VIRTIO_PCI_COMMON_DF);
  if (vfio_.io_error()) return -EIO;
  features_ = lo | hi << 32;
  common_write<uint16_t>(VIRTIO_PCI_COMMON_MSIX, VIRTIO_MSI_NO_VECTOR);  // no config-change interrupts
  num_queues_ = common_read<uint16_t>(VIRTIO_PCI_COMMON_NUMQ);
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_SELECT, 0);
  queue_size_max_ = common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_SIZE);
  if (vfio_.io_error()) return -EIO;
  if (num_queues_ == 0 || queue_size_max_ == 0)
    return fail(EIO, "virtio device %s reports %u queues of at most %u entries", name(), num_queues_,
                queue_size_max_);
  // Vectors beyond the MSI-X table cannot be wired: fewer usable queues.
  num_queues_ = std::min<unsigned>(num_queues_, vfio_.msix_count());
  return 0;
}

int VfioPciTransport::add_status(uint8_t bits, const char* step) {
  uint8_t want = uint8_t(common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS) | bits);
  common_write<uint8_t>(VIRTIO_PCI_COMMON_STATUS, want);
  uint8_t after = common_read<uint8_t>(VIRTIO_PCI_COMMON_STATUS);
  if (vfio_.io_error()) return -EIO;
  if ((after & bits) != bits)
    return fail(EIO, "virtio device %s did not accept %s (status 0x%02x)", name(), step, after);
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
  if (n == 0) return fail(EIO, "virtio device %s has no device config", name());
  // Retry while the device changes it under us (config_generation).
  for (int attempt = 0; attempt < 100; attempt++) {
    uint8_t before = common_read<uint8_t>(VIRTIO_PCI_COMMON_CFGGENERATION);
    int r = structure(false, device_cfg_, 0, buf, n);
    if (r < 0) return r;
    if (common_read<uint8_t>(VIRTIO_PCI_COMMON_CFGGENERATION) == before) {
      *got = n;
      return 0;
    }
  }
  return fail(EIO, "virtio device %s keeps changing its config space", name());
}

int VfioPciTransport::map_memory(void* addr, size_t len, int, int64_t, uint64_t* device_addr) {
  return vfio_.map_dma(addr, len, device_addr);
}

void VfioPciTransport::unmap_memory(void*, size_t, uint64_t device_addr) { vfio_.unmap_dma(device_addr); }

int VfioPciTransport::setup_vring(const VringSetup& v) {
  if (v.index >= num_queues_)
    return fail(EINVAL, "virtio device %s has %u usable queues, not %u", name(), num_queues_, v.index + 1);
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_SELECT, uint16_t(v.index));
  unsigned max = common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_SIZE);
  if (v.size > max)
    return fail(EINVAL, "queue-size %u exceeds the maximum %u of queue %u of device %s", v.size, max, v.index,
                name());
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_SIZE, uint16_t(v.size));
  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_MSIX, uint16_t(v.index));
  if (common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_MSIX) != v.index)
    return fail(EIO, "virtio device %s refused MSI-X vector %u for queue %u", name(), v.index, v.index);
  auto write64 = [&](uint64_t lo_offset, uint64_t value) {
    common_write<uint32_t>(lo_offset, uint32_t(value));
    common_write<uint32_t>(lo_offset + 4, uint32_t(value >> 32));
  };
  write64(VIRTIO_PCI_COMMON_Q_DESCLO, v.desc_device);
  write64(VIRTIO_PCI_COMMON_Q_AVAILLO, v.avail_device);
  write64(VIRTIO_PCI_COMMON_Q_USEDLO, v.used_device);
  uint64_t notify_at = uint64_t(common_read<uint16_t>(VIRTIO_PCI_COMMON_Q_NOFF)) * notify_multiplier_;
  if (vfio_.io_error()) return -EIO;
  if (notify_at + 2 > notify_.length)
    return fail(EIO, "virtio device %s puts queue %u's notification outside its notify structure", name(), v.index);

  // A kick is a 16-bit store of the queue index to its notify address: from
  // the queue's thread into the mapped BAR page where VFIO lets us map it (no
  // syscall), else an eventfd write that the kernel turns into the store.
  uint64_t notify_offset = notify_.offset + notify_at;
  volatile uint16_t* doorbell = vfio_.map_doorbell(notify_.bar, notify_offset);
  if (!doorbell) {
    int r = vfio_.add_ioeventfd(notify_.bar, notify_offset, uint16_t(v.index), v.kick_fd);
    if (r < 0) return r;
  }
  if (doorbells_.size() <= v.index) doorbells_.resize(v.index + 1, nullptr);
  doorbells_[v.index] = doorbell;

  common_write<uint16_t>(VIRTIO_PCI_COMMON_Q_ENABLE, 1);
  if (vfio_.io_error()) return -EIO;
  if (call_fds_.size() <= v.index) call_fds_.resize(v.index + 1, -1);
  call_fds_[v.index] = v.call_fd;
  return 0;
}

int VfioPciTransport::driver_ok() {
  // MSI-X vector i signals queue i's call eventfd.
  if (int r = vfio_.set_msix(call_fds_); r < 0) {
    set_failed();
    return r;
  }
  int r = add_status(status::kDriverOk, "DRIVER_OK");
  if (r < 0) set_failed();
  return r;
}

}  // namespace blkio::virtio
