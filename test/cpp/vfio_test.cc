// The pure parts of the VFIO plumbing: the IOMMU info capability chain
// (addon/drivers/virtio/vfio_iommu_info.cc) and the IOVA allocator.
#include <linux/vfio.h>

#include <cstring>
#include <vector>

#include "../../addon/drivers/virtio/iova_allocator.h"
#include "../../addon/drivers/virtio/vfio_iommu_info.h"
#include "check.h"

using blkio::virtio::IommuInfo;
using blkio::virtio::IovaAllocator;
using blkio::virtio::parse_iommu_info;

namespace {

// A VFIO_IOMMU_GET_INFO answer built the way the kernel lays it out.
struct InfoBuilder {
  std::vector<uint8_t> buf = std::vector<uint8_t>(sizeof(vfio_iommu_type1_info));
  uint32_t last_cap = 0;

  vfio_iommu_type1_info* info() { return reinterpret_cast<vfio_iommu_type1_info*>(buf.data()); }
  void page_sizes(uint64_t sizes) {
    info()->flags |= VFIO_IOMMU_INFO_PGSIZES;
    info()->iova_pgsizes = sizes;
  }
  // Appends a capability; links it from the previous one (or the info).
  uint8_t* add(uint16_t id, size_t size) {
    uint32_t off = uint32_t(buf.size());
    buf.resize(buf.size() + size);
    auto* hdr = reinterpret_cast<vfio_info_cap_header*>(buf.data() + off);
    hdr->id = id;
    hdr->version = 1;
    if (last_cap) reinterpret_cast<vfio_info_cap_header*>(buf.data() + last_cap)->next = off;
    else {
      info()->flags |= VFIO_IOMMU_INFO_CAPS;
      info()->cap_offset = off;
    }
    last_cap = off;
    return buf.data() + off;
  }
  void ranges(std::vector<vfio_iova_range> rs) {
    auto* cap = reinterpret_cast<vfio_iommu_type1_info_cap_iova_range*>(
        add(VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, sizeof(vfio_iommu_type1_info_cap_iova_range) + rs.size() * sizeof(vfio_iova_range)));
    cap->nr_iovas = uint32_t(rs.size());
    std::memcpy(cap->iova_ranges, rs.data(), rs.size() * sizeof(vfio_iova_range));
  }
  void dma_avail(uint32_t n) {
    reinterpret_cast<vfio_iommu_type1_info_dma_avail*>(add(VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, sizeof(vfio_iommu_type1_info_dma_avail)))->avail = n;
  }
  IommuInfo parse() { return parse_iommu_info(buf.data(), buf.size()); }
};

}  // namespace

TEST(iommu_info_without_capabilities_has_defaults) {
  InfoBuilder b;
  IommuInfo i = b.parse();
  CHECK_EQ(i.page, 4096u);
  CHECK_EQ(i.dma_entries, 65535u);
  CHECK_EQ(i.ranges.size(), 1u);
  CHECK_EQ(i.ranges[0].second, (uint64_t(1) << 39) - 1);
}

TEST(iommu_info_reads_page_size_ranges_and_dma_budget) {
  InfoBuilder b;
  b.page_sizes((uint64_t(1) << 16) | (uint64_t(1) << 21));
  b.ranges({{0, 0xfedfffff}, {0xfef00000, 0xffffffffffffull}});
  b.dma_avail(1000);
  IommuInfo i = b.parse();
  CHECK_EQ(i.page, 65536u);
  CHECK_EQ(i.dma_entries, 1000u);
  CHECK_EQ(i.ranges.size(), 2u);
  CHECK_EQ(i.ranges[1].first, 0xfef00000u);
}

TEST(iommu_info_ignores_a_chain_that_points_outside_the_buffer) {
  InfoBuilder b;
  b.ranges({{0x1000, 0xffff}});
  reinterpret_cast<vfio_info_cap_header*>(b.buf.data() + b.last_cap)->next = 1 << 20;  // past the end
  IommuInfo i = b.parse();
  CHECK_EQ(i.ranges.size(), 1u);
  CHECK_EQ(i.ranges[0].first, 0x1000u);
}

TEST(iommu_info_stops_at_a_chain_that_loops_back) {
  InfoBuilder b;
  b.dma_avail(7);
  reinterpret_cast<vfio_info_cap_header*>(b.buf.data() + b.last_cap)->next = b.info()->cap_offset;  // itself
  CHECK_EQ(b.parse().dma_entries, 7u);
}

TEST(iommu_info_reads_no_more_ranges_than_the_buffer_holds) {
  InfoBuilder b;
  b.ranges({{0x1000, 0x1fff}});
  auto* cap = reinterpret_cast<vfio_iommu_type1_info_cap_iova_range*>(b.buf.data() + b.last_cap);
  cap->nr_iovas = 1000000;  // claims far more than follow
  IommuInfo i = b.parse();
  CHECK_EQ(i.ranges.size(), 1u);
}

TEST(iommu_info_drops_inverted_ranges_and_survives_a_truncated_buffer) {
  InfoBuilder b;
  b.ranges({{0x5000, 0x1000}});
  CHECK_EQ(b.parse().ranges[0].first, 0u);  // only the inverted one: the default applies
  CHECK_EQ(parse_iommu_info(b.buf.data(), 3).page, 4096u);
}

TEST(iovas_are_page_aligned_first_fit_and_never_zero) {
  IovaAllocator a;
  a.init({{0, 0xfffff}}, 4096);
  uint64_t x, y, z;
  CHECK(a.allocate(8192, &x));
  CHECK_EQ(x, 4096u);
  CHECK(a.allocate(4096, &y));
  CHECK_EQ(y, 4096u + 8192u);
  CHECK_EQ(a.release(x), 8192u);
  CHECK(a.allocate(4096, &z));
  CHECK_EQ(z, 4096u);  // the hole is reused
  CHECK_EQ(a.release(12345), 0u);
}

TEST(iovas_respect_range_ends_and_move_to_the_next_range) {
  IovaAllocator a;
  a.init({{0x1000, 0x2fff}, {0x100000, 0x1fffff}}, 4096);
  uint64_t x;
  CHECK(a.allocate(0x2000, &x));
  CHECK_EQ(x, 0x1000u);
  CHECK(a.allocate(0x1000, &x));
  CHECK_EQ(x, 0x100000u);
  CHECK(!a.allocate(0x200000, &x));
  CHECK(!a.allocate(0, &x));
}

TEST(iovas_at_the_top_of_the_address_space_do_not_wrap) {
  IovaAllocator a;
  a.init({{0xffffffffffff0000ull, UINT64_MAX}}, 4096);
  uint64_t x, y;
  CHECK(a.allocate(0x10000, &x));
  CHECK_EQ(x, 0xffffffffffff0000ull);
  CHECK(!a.allocate(4096, &y));  // full: the next candidate would wrap to 0
}
