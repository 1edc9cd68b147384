#include "vhost_vdpa.h"

#include <fcntl.h>
// The uapi virtio_ring.h that linux/vhost.h pulls in has legacy C helpers
// that are not valid C++; we need none of them.
#define VIRTIO_RING_NO_LEGACY
#include <linux/vhost.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <vector>

#include "../../core/errors.h"
#include "virtio_spec.h"

namespace blkio::virtio {

namespace {

constexpr uint32_t kVirtioIdBlock = 2;
// The IOTLB message formats the kernel may accept (bit numbers in
// vhost_types.h); ASID is left unacked so the V2 asid field stays ignored.
constexpr uint64_t kWantedBackendFeatures =
    (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2) | (1ULL << VHOST_BACKEND_F_IOTLB_BATCH);
// A device whose config size cannot be read gets the fields we use.
constexpr uint32_t kFallbackConfigSize = blk::config::kSize;
// libvduse (qemu-storage-daemon's VDUSE side) keeps at most 256 mapped
// regions and aborts beyond that; hardware and vdpa_sim allow more, but one
// limit for every vhost-vdpa device keeps a program portable between them.
constexpr uint64_t kMaxMemRegions = 256;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

int xioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

std::string status_text(uint8_t s) {
  char buf[16];
  snprintf(buf, sizeof buf, "0x%02x", s);
  return buf;
}

// True when [start, start+len) is covered, without holes, by MAP_SHARED
// mappings. For a VDUSE device the kernel maps only shared file-backed
// memory and silently skips everything else, so the daemon would later drop
// requests into such memory: a hang instead of an error.
bool is_shared_mapping(uintptr_t start, size_t len, std::string* why) {
  std::ifstream maps("/proc/self/maps");
  if (!maps) return true;  // cannot tell; let the device decide
  uintptr_t covered = start;
  uintptr_t end = start + len;
  std::string line;
  while (covered < end && std::getline(maps, line)) {
    unsigned long lo = 0, hi = 0;
    char perms[5] = {};
    if (sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) != 3) continue;
    if (hi <= covered) continue;
    if (lo > covered) {
      *why = "part of it is not mapped at all";
      return false;
    }
    if (perms[3] != 's') {
      *why = "it is a private mapping (the device can only use MAP_SHARED file-backed memory such as a memfd)";
      return false;
    }
    covered = hi;
  }
  if (covered < end) {
    *why = "part of it is not mapped at all";
    return false;
  }
  return true;
}

// mm->pinned_vm, which vhost-vdpa charges against RLIMIT_MEMLOCK.
uint64_t pinned_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.compare(0, 6, "VmPin:") == 0) return strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  return 0;
}

std::string limit_text(rlim_t v) {
  if (v == RLIM_INFINITY) return "unlimited";
  return std::to_string(uint64_t(v) / 1024) + " KiB";
}

}  // namespace

const VirtioTransportType kVhostVdpaTransport{"virtio-blk-vhost-vdpa", true, &VhostVdpaTransport::open};

int VhostVdpaTransport::open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out) {
  bool adopted = fd >= 0;
  std::string name;
  if (adopted) {
    name = "fd " + std::to_string(fd);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return fail(EBADF, "Failed to use vDPA device fd %d: not an open file descriptor", fd);
    // IOTLB messages are write(2)s on the fd.
    if ((fl & O_ACCMODE) == O_RDONLY)
      return fail(EBADF, "Failed to use vDPA device fd %d: it must be open for writing (O_RDWR)", fd);
  } else {
    name = "'" + path + "'";
    fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      const char* why = strerror(e);
      switch (e) {
        case EBUSY:
          why = "the device is busy: a vhost-vdpa device can be open only once at a time, and another "
                "process or Blkio instance has it open";
          break;
        case ENOENT:
          why = "no such device (is the vdpa device bound to the vhost_vdpa driver?)";
          break;
        case EACCES:
        case EPERM:
          why = "permission denied (vhost-vdpa device nodes are usually accessible to root only)";
          break;
        case EIO:
          why = "the device failed to reset on open (a VDUSE device whose daemon stopped answering?)";
          break;
      }
      return fail(e, "Failed to connect to vDPA device %s: %s", name.c_str(), why);
    }
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
    if (!adopted) close(fd);
    return fail(EINVAL, "Failed to connect to vDPA device %s: not a character device (expected /dev/vhost-vdpa-N)",
                name.c_str());
  }
  std::unique_ptr<VhostVdpaTransport> t(new VhostVdpaTransport(fd, name));
  t->owns_fd_ = !adopted;
  int r = t->handshake();
  if (r < 0) return r;
  *out = std::move(t);
  return 0;
}

VhostVdpaTransport::~VhostVdpaTransport() {
  if (fd_ >= 0 && owns_fd_) close(fd_);
}

int VhostVdpaTransport::ioctl_failed(const char* what) {
  int e = errno;
  return fail(e, "vhost-vdpa device %s: %s failed: %s", name_.c_str(), what, strerror(e));
}

int VhostVdpaTransport::handshake() {
  page_size_ = uint64_t(sysconf(_SC_PAGESIZE));
  // Everything else (vrings, IOTLB) needs an owner.
  if (xioctl(fd_, VHOST_SET_OWNER, nullptr) < 0) {
    int e = errno;
    if (e == ENOTTY || e == EINVAL)
      return fail(e, "Failed to connect to vDPA device %s: not a vhost device (VHOST_SET_OWNER: %s)", name_.c_str(),
                  strerror(e));
    if (e == EBUSY)
      return fail(e, "Failed to connect to vDPA device %s: it already has an owner (the fd was used before)",
                  name_.c_str());
    return ioctl_failed("VHOST_SET_OWNER");
  }
  uint64_t offered = 0;
  if (xioctl(fd_, VHOST_GET_BACKEND_FEATURES, &offered) == 0) {
    backend_features_ = offered & kWantedBackendFeatures;
    if (xioctl(fd_, VHOST_SET_BACKEND_FEATURES, &backend_features_) < 0)
      return ioctl_failed("VHOST_SET_BACKEND_FEATURES");
  }
  uint32_t device_id = 0;
  if (xioctl(fd_, VHOST_VDPA_GET_DEVICE_ID, &device_id) < 0) return ioctl_failed("VHOST_VDPA_GET_DEVICE_ID");
  if (device_id != kVirtioIdBlock)
    return fail(ENOTSUP, "vDPA device %s is a virtio device of type %u, not a block device (type %u)", name_.c_str(),
                device_id, kVirtioIdBlock);

  // Open reset the device already; reset again in case of an adopted fd.
  uint8_t zero = 0;
  if (xioctl(fd_, VHOST_VDPA_SET_STATUS, &zero) < 0) {
    if (errno == EIO)
      return fail(EIO, "vDPA device %s failed to reset (a VDUSE device whose daemon stopped answering?)",
                  name_.c_str());
    return ioctl_failed("reset (VHOST_VDPA_SET_STATUS 0)");
  }
  int r = add_status(status::kAcknowledge | status::kDriver, "ACKNOWLEDGE|DRIVER");
  if (r < 0) return r;

  if (xioctl(fd_, VHOST_GET_FEATURES, &features_) < 0) return ioctl_failed("VHOST_GET_FEATURES");
  if (!(features_ & bit(feature::kAccessPlatform))) {
    set_failed();
    return fail(ENOTSUP, "vDPA device %s does not offer VIRTIO_F_ACCESS_PLATFORM, which vhost-vdpa needs",
                name_.c_str());
  }

  uint16_t vring_num = 0;
  if (xioctl(fd_, VHOST_VDPA_GET_VRING_NUM, &vring_num) < 0) return ioctl_failed("VHOST_VDPA_GET_VRING_NUM");
  vring_num_max_ = vring_num;
  // Both of these came after 5.10; without them the config space decides.
  uint32_t vqs = 0;
  if (xioctl(fd_, VHOST_VDPA_GET_VQS_COUNT, &vqs) == 0) vqs_count_ = vqs;
  uint32_t config_size = 0;
  config_size_ = xioctl(fd_, VHOST_VDPA_GET_CONFIG_SIZE, &config_size) == 0 ? config_size : kFallbackConfigSize;
  vhost_vdpa_iova_range range{};
  if (xioctl(fd_, VHOST_VDPA_GET_IOVA_RANGE, &range) == 0 && range.last >= range.first) {
    iova_first_ = range.first;
    iova_last_ = range.last;
  }
  return 0;
}

int VhostVdpaTransport::get_status(uint8_t* status) {
  if (xioctl(fd_, VHOST_VDPA_GET_STATUS, status) < 0) return ioctl_failed("VHOST_VDPA_GET_STATUS");
  return 0;
}

int VhostVdpaTransport::add_status(uint8_t bits, const char* step) {
  uint8_t before = 0;
  int r = get_status(&before);
  if (r < 0) return r;
  uint8_t want = uint8_t(before | bits);
  if (xioctl(fd_, VHOST_VDPA_SET_STATUS, &want) < 0) {
    int e = errno;
    return fail(e, "vhost-vdpa device %s: setting status %s (%s) failed: %s", name_.c_str(), step,
                status_text(want).c_str(), strerror(e));
  }
  uint8_t after = 0;
  if ((r = get_status(&after)) < 0) return r;
  if ((after & bits) != bits)
    return fail(EIO,
                "vhost-vdpa device %s did not accept %s: status is %s after writing %s (for a VDUSE device, see "
                "its daemon's messages)",
                name_.c_str(), step, status_text(after).c_str(), status_text(want).c_str());
  return 0;
}

void VhostVdpaTransport::set_failed() {
  uint8_t s = 0;
  if (xioctl(fd_, VHOST_VDPA_GET_STATUS, &s) < 0) return;
  s |= status::kFailed;  // only adds a bit, which the kernel allows
  xioctl(fd_, VHOST_VDPA_SET_STATUS, &s);
}

int VhostVdpaTransport::set_features(uint64_t features) {
  // ACCESS_PLATFORM: addresses are IOVAs translated through the IOTLB.
  uint64_t ack = (features | bit(feature::kVersion1) | bit(feature::kAccessPlatform)) & features_;
  if (xioctl(fd_, VHOST_SET_FEATURES, &ack) < 0) {
    int e = errno;
    set_failed();
    return fail(e, "vhost-vdpa device %s refused features 0x%" PRIx64 ": %s", name_.c_str(), ack, strerror(e));
  }
  int r = add_status(status::kFeaturesOk, "FEATURES_OK");
  if (r < 0) set_failed();
  return r;
}

int VhostVdpaTransport::read_config(uint8_t* buf, size_t len, size_t* got) {
  size_t n = std::min<size_t>(len, config_size_);
  memset(buf, 0, len);
  if (n == 0) return fail(EIO, "vhost-vdpa device %s has no config space", name_.c_str());
  // struct vhost_vdpa_config is {off, len} followed by len bytes.
  std::vector<uint8_t> msg(offsetof(vhost_vdpa_config, buf) + n);
  auto* cfg = reinterpret_cast<vhost_vdpa_config*>(msg.data());
  cfg->off = 0;
  cfg->len = uint32_t(n);
  if (xioctl(fd_, VHOST_VDPA_GET_CONFIG, cfg) < 0) return ioctl_failed("VHOST_VDPA_GET_CONFIG");
  memcpy(buf, cfg->buf, n);
  *got = n;
  return 0;
}

uint64_t VhostVdpaTransport::max_mem_regions() const { return kMaxMemRegions; }

int VhostVdpaTransport::iotlb(uint8_t type, uint64_t iova, uint64_t size, uint64_t uaddr, uint8_t perm) {
  vhost_iotlb_msg m{};
  m.iova = iova;
  m.size = size;
  m.uaddr = uaddr;
  m.perm = perm;
  m.type = type;
  ssize_t n;
  // The kernel answers a whole message or nothing; write the full,
  // zeroed struct of whichever format was negotiated.
  if (backend_features_ & (1ULL << VHOST_BACKEND_F_IOTLB_MSG_V2)) {
    vhost_msg_v2 msg{};
    msg.type = VHOST_IOTLB_MSG_V2;
    msg.iotlb = m;
    do n = write(fd_, &msg, sizeof msg);
    while (n < 0 && errno == EINTR);
  } else {
    vhost_msg msg{};
    msg.type = VHOST_IOTLB_MSG;
    msg.iotlb = m;
    do n = write(fd_, &msg, sizeof msg);
    while (n < 0 && errno == EINTR);
  }
  return n < 0 ? -errno : 0;
}

uint64_t VhostVdpaTransport::allocate_iova(uintptr_t addr, size_t len, bool* ok) const {
  const uint64_t first = iova_first_, last = iova_last_;
  auto in_range = [&](uint64_t iova) { return iova >= first && iova <= last && len - 1 <= last - iova; };
  auto is_free = [&](uint64_t iova) {
    auto next = iovas_.lower_bound(iova);
    if (next != iovas_.end() && next->first - iova < len) return false;
    if (next != iovas_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second > iova) return false;
    }
    return true;
  };
  *ok = true;
  // IOVA = VA keeps descriptors untranslated (AddressMap's identity case).
  if (in_range(addr) && is_free(addr)) return addr;
  uint64_t candidate = align_up(first, page_size_);
  for (const auto& [start, length] : iovas_) {
    if (start >= candidate && start - candidate >= len) break;
    if (start + length > candidate) candidate = align_up(start + length, page_size_);
  }
  if (candidate < first || !in_range(candidate)) *ok = false;
  return candidate;
}

int VhostVdpaTransport::map_memory(void* addr, size_t len, int, int64_t, uint64_t* device_addr) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  if (len == 0 || a % page_size_ || len % page_size_)
    return fail(EINVAL, "vhost-vdpa memory must be page-aligned (%p, %zu bytes)", addr, len);
  std::string why;
  if (!is_shared_mapping(a, len, &why))
    return fail(EINVAL, "memory at %p (%zu bytes) cannot be mapped for vhost-vdpa device %s: %s", addr, len,
                name_.c_str(), why.c_str());
  bool ok = false;
  uint64_t iova = allocate_iova(a, len, &ok);
  if (!ok)
    return fail(ENOSPC, "no room for %zu bytes in the IOVA range [0x%" PRIx64 ", 0x%" PRIx64 "] of vhost-vdpa device %s",
                len, iova_first_, iova_last_, name_.c_str());
  // A batch turns the device's table update into one step at BATCH_END:
  // without it vdpa_sim copies its whole table once per contiguous run of
  // pinned pages. RW: VDUSE cannot share write-only memory with its daemon.
  bool batch = backend_features_ & (1ULL << VHOST_BACKEND_F_IOTLB_BATCH);
  int r = batch ? iotlb(VHOST_IOTLB_BATCH_BEGIN, 0, 0, 0, 0) : 0;
  if (r == 0) r = iotlb(VHOST_IOTLB_UPDATE, iova, len, a, VHOST_ACCESS_RW);
  if (batch) iotlb(VHOST_IOTLB_BATCH_END, 0, 0, 0, 0);  // ends the batch even after a failed update
  if (r < 0) return update_failed(-r, addr, len, iova);
  iovas_[iova] = len;
  *device_addr = iova;
  return 0;
}

int VhostVdpaTransport::update_failed(int err, void* addr, size_t len, uint64_t iova) {
  if (err != EFAULT)
    return fail(err, "mapping %zu bytes at %p for vhost-vdpa device %s failed: %s", len, addr, name_.c_str(),
                strerror(err));
  // The kernel turns every IOTLB failure into EFAULT, so look for the
  // likeliest cause ourselves: vhost-vdpa pins the pages of devices that
  // work on physical addresses (vdpa_sim, hardware) against RLIMIT_MEMLOCK.
  rlimit limit{};
  getrlimit(RLIMIT_MEMLOCK, &limit);
  uint64_t pinned = pinned_bytes();
  if (limit.rlim_cur != RLIM_INFINITY && pinned + len > uint64_t(limit.rlim_cur))
    return fail(ENOMEM,
                "mapping %zu bytes for vhost-vdpa device %s failed: pinning them would exceed the locked-memory "
                "limit (RLIMIT_MEMLOCK is %s, %" PRIu64 " KiB are pinned already); raise it with `ulimit -l` "
                "(e.g. ulimit -l unlimited) or map less memory",
                len, name_.c_str(), limit_text(limit.rlim_cur).c_str(), pinned / 1024);
  return fail(EFAULT,
              "mapping %zu bytes at %p (IOVA 0x%" PRIx64 ") for vhost-vdpa device %s failed: the kernel reports "
              "every IOTLB failure as EFAULT; likely causes: the range overlaps a mapping, pinning it exceeds the "
              "locked-memory limit (RLIMIT_MEMLOCK is %s; raise it with `ulimit -l`), or the device's IOTLB is "
              "full (the max_iotlb_entries parameter of vhost_vdpa; fragmented memory takes one entry per "
              "contiguous run)",
              len, addr, iova, name_.c_str(), limit_text(limit.rlim_cur).c_str());
}

void VhostVdpaTransport::unmap_memory(void*, size_t len, uint64_t device_addr) {
  auto it = iovas_.find(device_addr);
  if (it == iovas_.end()) return;
  // Removes the entries and unpins; the kernel never fails it.
  iotlb(VHOST_IOTLB_INVALIDATE, device_addr, std::max<uint64_t>(len, it->second), 0, 0);
  iovas_.erase(it);
}

int VhostVdpaTransport::setup_vring(const VringSetup& v) {
  char what[64];
  auto failed = [&](const char* ioctl_name) {
    snprintf(what, sizeof what, "%s for virtqueue %u", ioctl_name, v.index);
    if (errno == ENOBUFS)
      return fail(ENOBUFS, "vhost-vdpa device %s has no virtqueue %u (it has %u)", name_.c_str(), v.index,
                  vqs_count_);
    return ioctl_failed(what);
  };
  vhost_vring_state num{v.index, v.size};
  if (xioctl(fd_, VHOST_SET_VRING_NUM, &num) < 0) return failed("VHOST_SET_VRING_NUM");
  vhost_vring_state base{v.index, 0};
  if (xioctl(fd_, VHOST_SET_VRING_BASE, &base) < 0) return failed("VHOST_SET_VRING_BASE");
  // Despite the *_user_addr names these are IOVAs on vhost-vdpa.
  vhost_vring_addr addr{};
  addr.index = v.index;
  addr.desc_user_addr = v.desc_device;
  addr.avail_user_addr = v.avail_device;
  addr.used_user_addr = v.used_device;
  if (xioctl(fd_, VHOST_SET_VRING_ADDR, &addr) < 0) return failed("VHOST_SET_VRING_ADDR");
  vhost_vring_file kick{v.index, v.kick_fd};
  if (xioctl(fd_, VHOST_SET_VRING_KICK, &kick) < 0) return failed("VHOST_SET_VRING_KICK");
  vhost_vring_file call{v.index, v.call_fd};
  if (xioctl(fd_, VHOST_SET_VRING_CALL, &call) < 0) return failed("VHOST_SET_VRING_CALL");
  // vdpa_sim takes its snapshot of the ring here, VDUSE at DRIVER_OK.
  vhost_vring_state enable{v.index, 1};
  if (xioctl(fd_, VHOST_VDPA_SET_VRING_ENABLE, &enable) < 0) return failed("VHOST_VDPA_SET_VRING_ENABLE");
  return 0;
}

int VhostVdpaTransport::driver_ok() {
  int r = add_status(status::kDriverOk, "DRIVER_OK");
  if (r < 0) set_failed();
  return r;
}

}  // namespace blkio::virtio
