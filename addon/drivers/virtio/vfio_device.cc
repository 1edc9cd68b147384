#include "vfio_device.h"

#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cinttypes>
#include <cstring>

#include "../../core/errors.h"
#include "vfio_iommu_info.h"

namespace blkio::virtio {

namespace {

int xioctl(int fd, unsigned long request, void* arg) {
  int r;
  do r = ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

}  // namespace

VfioDevice::~VfioDevice() {
  for (const Mapping& m : bar_maps_) munmap(m.addr, m.len);
  if (device_ >= 0) {
    if (msix_count_) {
      vfio_irq_set none{};
      none.argsz = sizeof none;
      none.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
      none.index = VFIO_PCI_MSIX_IRQ_INDEX;
      xioctl(device_, VFIO_DEVICE_SET_IRQS, &none);
    }
    close(device_);
  }
  if (group_ >= 0) close(group_);
  if (container_ >= 0) close(container_);
}

int VfioDevice::failed(const char* what) const {
  int e = errno;
  return fail(e, "virtio-blk-vfio-pci device %s: %s failed: %s", name_.c_str(), what, strerror(e));
}

int VfioDevice::open(const std::string& group_path, const std::string& name) {
  name_ = name;
  int r = attach_container(group_path);
  if (r < 0) return r;
  if ((r = read_iommu_info()) < 0) return r;
  return read_device_info();
}

int VfioDevice::attach_container(const std::string& group_path) {
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
  return 0;
}

int VfioDevice::read_iommu_info() {
  std::vector<uint8_t> buf(sizeof(vfio_iommu_type1_info));
  for (int attempt = 0; attempt < 2; attempt++) {
    auto* info = reinterpret_cast<vfio_iommu_type1_info*>(buf.data());
    info->argsz = uint32_t(buf.size());
    if (xioctl(container_, VFIO_IOMMU_GET_INFO, info) < 0) return failed("VFIO_IOMMU_GET_INFO");
    if (info->argsz <= buf.size()) break;
    if (info->argsz > 65536) return fail(EIO, "VFIO_IOMMU_GET_INFO wants %u bytes", info->argsz);
    buf.assign(info->argsz, 0);
  }
  IommuInfo info = parse_iommu_info(buf.data(), buf.size());
  iova_page_ = info.page;
  dma_entries_ = info.dma_entries;
  iovas_.init(std::move(info.ranges), iova_page_);
  return 0;
}

int VfioDevice::read_device_info() {
  device_ = xioctl(group_, VFIO_GROUP_GET_DEVICE_FD, const_cast<char*>(name_.c_str()));
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
      bar_mappable_[i] = (region.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0;
    }
  }
  vfio_irq_info irq{};
  irq.argsz = sizeof irq;
  irq.index = VFIO_PCI_MSIX_IRQ_INDEX;
  if (xioctl(device_, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0) msix_count_ = irq.count;
  if (msix_count_ == 0) return fail(ENOTSUP, "PCI device %s has no MSI-X vectors, which this driver needs", name_.c_str());
  return 0;
}

int VfioDevice::config(bool write, uint64_t offset, void* buf, size_t len) {
  ssize_t n = write ? pwrite(device_, buf, len, off_t(config_offset_ + offset))
                    : pread(device_, buf, len, off_t(config_offset_ + offset));
  if (n != ssize_t(len)) {
    if (n >= 0) errno = EIO;
    return failed(write ? "writing PCI config space" : "reading PCI config space");
  }
  return 0;
}

int VfioDevice::bar_access(bool write, int bar, uint64_t offset, void* buf, size_t len) {
  if (bar < 0 || bar >= 6 || offset > bar_size_[bar] || len > bar_size_[bar] - offset) {
    io_error_ = true;
    return fail(EINVAL, "access beyond BAR %d of device %s", bar, name_.c_str());
  }
  off_t at = off_t(bar_offset_[bar] + offset);
  ssize_t n = write ? pwrite(device_, buf, len, at) : pread(device_, buf, len, at);
  if (n != ssize_t(len)) {
    io_error_ = true;
    if (n >= 0) errno = EIO;
    return failed(write ? "writing a BAR" : "reading a BAR");
  }
  return 0;
}

void VfioDevice::write_bar_unlocked(int bar, uint64_t offset, const void* buf, size_t len) const {
  if (device_ < 0 || bar < 0 || bar >= 6 || offset > bar_size_[bar] || len > bar_size_[bar] - offset) return;
  (void)!pwrite(device_, buf, len, off_t(bar_offset_[bar] + offset));
}

volatile uint16_t* VfioDevice::map_doorbell(int bar, uint64_t offset) {
  if (bar < 0 || bar >= 6 || !bar_mappable_[bar] || offset > bar_size_[bar] || bar_size_[bar] - offset < 2 || offset % 2)
    return nullptr;
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  uint64_t page_start = offset / page * page;
  size_t len = size_t(std::min<uint64_t>(page, bar_size_[bar] - page_start));
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, device_, off_t(bar_offset_[bar] + page_start));
  if (p == MAP_FAILED) return nullptr;  // e.g. the page also holds the MSI-X table
  bar_maps_.push_back({p, len});
  return reinterpret_cast<volatile uint16_t*>(static_cast<uint8_t*>(p) + (offset - page_start));
}

int VfioDevice::add_ioeventfd(int bar, uint64_t offset, uint16_t data, int fd) {
  vfio_device_ioeventfd ioeventfd{};
  ioeventfd.argsz = sizeof ioeventfd;
  ioeventfd.flags = VFIO_DEVICE_IOEVENTFD_16;
  ioeventfd.offset = bar_offset_[bar] + offset;
  ioeventfd.data = data;
  ioeventfd.fd = fd;
  if (xioctl(device_, VFIO_DEVICE_IOEVENTFD, &ioeventfd) < 0) return failed("VFIO_DEVICE_IOEVENTFD for a queue notification");
  return 0;
}

int VfioDevice::set_msix(const std::vector<int>& fds) {
  std::vector<uint8_t> buf(sizeof(vfio_irq_set) + fds.size() * sizeof(int32_t));
  auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
  set->argsz = uint32_t(buf.size());
  set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
  set->index = VFIO_PCI_MSIX_IRQ_INDEX;
  set->start = 0;
  set->count = uint32_t(fds.size());
  memcpy(set->data, fds.data(), fds.size() * sizeof(int32_t));
  if (xioctl(device_, VFIO_DEVICE_SET_IRQS, set) < 0) return failed("VFIO_DEVICE_SET_IRQS (MSI-X)");
  return 0;
}

int VfioDevice::map_dma(void* addr, size_t len, uint64_t* iova_out) {
  uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  if (len == 0 || a % iova_page_ || len % iova_page_)
    return fail(EINVAL, "VFIO memory must be aligned to %" PRIu64 " bytes (%p, %zu bytes)", iova_page_, addr, len);
  uint64_t iova = 0;
  if (!iovas_.allocate(len, &iova)) return fail(ENOSPC, "no room for %zu bytes in the IOVA space of device %s", len, name_.c_str());
  vfio_iommu_type1_dma_map map{};
  map.argsz = sizeof map;
  map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
  map.vaddr = a;
  map.iova = iova;
  map.size = len;
  if (xioctl(container_, VFIO_IOMMU_MAP_DMA, &map) < 0) {
    int e = errno;
    iovas_.release(iova);
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
  *iova_out = iova;
  return 0;
}

void VfioDevice::unmap_dma(uint64_t iova) {
  uint64_t len = iovas_.release(iova);
  if (len == 0) return;
  vfio_iommu_type1_dma_unmap unmap{};
  unmap.argsz = sizeof unmap;
  unmap.iova = iova;
  unmap.size = len;
  xioctl(container_, VFIO_IOMMU_UNMAP_DMA, &unmap);
}

}  // namespace blkio::virtio
