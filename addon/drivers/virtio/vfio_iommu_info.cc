#include "vfio_iommu_info.h"

#include <linux/vfio.h>

#include <algorithm>
#include <cstring>

namespace blkio::virtio {

namespace {

// Copies a T at off if it fits in the buffer.
template <typename T>
bool read_at(const uint8_t* buf, size_t size, size_t off, T* out) {
  if (off > size || size - off < sizeof(T)) return false;
  std::memcpy(out, buf + off, sizeof(T));
  return true;
}

}  // namespace

IommuInfo parse_iommu_info(const uint8_t* buf, size_t size) {
  IommuInfo out;
  vfio_iommu_type1_info info{};
  if (read_at(buf, size, 0, &info)) {
    if ((info.flags & VFIO_IOMMU_INFO_PGSIZES) && info.iova_pgsizes)
      out.page = std::max<uint64_t>(uint64_t(1) << __builtin_ctzll(info.iova_pgsizes), 4096);
    uint32_t off = (info.flags & VFIO_IOMMU_INFO_CAPS) ? info.cap_offset : 0;
    // The chain only moves forward, so it ends; 64 hops bound it anyway.
    for (int hops = 0; off && hops < 64; hops++) {
      vfio_info_cap_header hdr{};
      if (!read_at(buf, size, off, &hdr)) break;
      if (hdr.id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
        vfio_iommu_type1_info_cap_iova_range cap{};
        if (read_at(buf, size, off, &cap)) {
          size_t first = off + sizeof cap;
          for (uint32_t i = 0; i < cap.nr_iovas; i++) {
            vfio_iova_range range{};
            if (!read_at(buf, size, first + size_t(i) * sizeof range, &range)) break;
            if (range.end >= range.start) out.ranges.emplace_back(range.start, range.end);
          }
        }
      } else if (hdr.id == VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL) {
        vfio_iommu_type1_info_dma_avail cap{};
        if (read_at(buf, size, off, &cap)) out.dma_entries = cap.avail;
      }
      if (hdr.next <= off) break;
      off = hdr.next;
    }
  }
  if (out.ranges.empty()) out.ranges.emplace_back(0, (uint64_t(1) << 39) - 1);
  return out;
}

}  // namespace blkio::virtio
