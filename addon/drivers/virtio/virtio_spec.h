// Numbers and layouts from the VIRTIO 1.2 specification (§2.7 split
// virtqueues, §5.2 block device) that the virtio-blk engine and its
// transports share. Everything on the wire is little-endian (VERSION_1), as
// are the hosts we run on.
#pragma once

#include <cstdint>

namespace blkio::virtio {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio rings are little-endian");

// Feature bits (bit numbers).
namespace feature {
constexpr unsigned kBlkSizeMax = 1;
constexpr unsigned kBlkSegMax = 2;
constexpr unsigned kBlkRo = 5;
constexpr unsigned kBlkBlkSize = 6;
constexpr unsigned kBlkFlush = 9;
constexpr unsigned kBlkTopology = 10;
constexpr unsigned kBlkConfigWce = 11;
constexpr unsigned kBlkMq = 12;
constexpr unsigned kBlkDiscard = 13;
constexpr unsigned kBlkWriteZeroes = 14;
constexpr unsigned kRingEventIdx = 29;
constexpr unsigned kVersion1 = 32;
constexpr unsigned kAccessPlatform = 33;
}  // namespace feature

constexpr uint64_t bit(unsigned n) { return uint64_t(1) << n; }

// Device status bits.
namespace status {
constexpr uint8_t kAcknowledge = 1;
constexpr uint8_t kDriver = 2;
constexpr uint8_t kDriverOk = 4;
constexpr uint8_t kFeaturesOk = 8;
constexpr uint8_t kFailed = 0x80;
}  // namespace status

// Split virtqueue structures.
constexpr uint16_t kDescNext = 1;
constexpr uint16_t kDescWrite = 2;  // device-writable
constexpr uint16_t kAvailNoInterrupt = 1;
constexpr uint16_t kUsedNoNotify = 1;
constexpr unsigned kMaxQueueSize = 32768;

struct VirtqDesc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16, "virtq_desc");

struct VirtqUsedElem {
  uint32_t id;
  uint32_t len;
};

// True when moving an index from old_idx to new_idx crosses event, i.e. the
// other side asked to be notified (the spec's vring_need_event).
inline bool need_event(uint16_t event, uint16_t new_idx, uint16_t old_idx) {
  return uint16_t(new_idx - event - 1) < uint16_t(new_idx - old_idx);
}

// virtio-blk requests.
namespace blk {
constexpr uint32_t kTypeIn = 0;
constexpr uint32_t kTypeOut = 1;
constexpr uint32_t kTypeFlush = 4;
constexpr uint32_t kTypeDiscard = 11;
constexpr uint32_t kTypeWriteZeroes = 13;

constexpr uint8_t kStatusOk = 0;
constexpr uint8_t kStatusIoErr = 1;
constexpr uint8_t kStatusUnsupp = 2;

constexpr uint32_t kWriteZeroesUnmap = 1;
constexpr uint64_t kSectorSize = 512;  // header and segment sectors, whatever blk_size is

struct OutHeader {
  uint32_t type;
  uint32_t ioprio;
  uint64_t sector;
};
static_assert(sizeof(OutHeader) == 16, "virtio_blk_outhdr");

struct DiscardWriteZeroes {
  uint64_t sector;
  uint32_t num_sectors;
  uint32_t flags;
};
static_assert(sizeof(DiscardWriteZeroes) == 16, "virtio_blk_discard_write_zeroes");

// struct virtio_blk_config up to write_zeroes_may_unmap and its padding:
// the 60 bytes qemu-storage-daemon 7.2 accepts (newer fields are unused here).
namespace config {
constexpr unsigned kCapacity = 0;       // u64, 512-byte sectors
constexpr unsigned kSizeMax = 8;        // u32
constexpr unsigned kSegMax = 12;        // u32
constexpr unsigned kBlkSize = 20;       // u32
constexpr unsigned kPhysicalBlockExp = 24;  // u8
constexpr unsigned kAlignmentOffset = 25;   // u8
constexpr unsigned kOptIoSize = 28;     // u32, in blocks
constexpr unsigned kWriteback = 32;     // u8
constexpr unsigned kNumQueues = 34;     // u16
constexpr unsigned kMaxDiscardSectors = 36;
constexpr unsigned kMaxDiscardSeg = 40;
constexpr unsigned kDiscardSectorAlignment = 44;
constexpr unsigned kMaxWriteZeroesSectors = 48;
constexpr unsigned kMaxWriteZeroesSeg = 52;
constexpr unsigned kSize = 60;
}  // namespace config
}  // namespace blk

}  // namespace blkio::virtio
