// What a type1 IOMMU container reports through VFIO_IOMMU_GET_INFO: its page
// sizes and, in a chain of capabilities after the fixed part, the IOVA ranges
// it translates and how many DMA mappings it allows. Pure parsing, so the
// chain walk (offsets the kernel wrote, checked against the buffer anyway) is
// tested on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace blkio::virtio {

struct IommuInfo {
  uint64_t page = 4096;         // smallest IOMMU page, at least 4096
  uint64_t dma_entries = 65535;  // the type1 driver's default mapping budget
  // Usable IOVA ranges, inclusive; when the container names none, the
  // smallest width every IOMMU has (39 bits).
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
};

// buf holds `size` bytes returned by VFIO_IOMMU_GET_INFO (a
// vfio_iommu_type1_info and its capability chain).
IommuInfo parse_iommu_info(const uint8_t* buf, size_t size);

}  // namespace blkio::virtio
