// The parts of the NVM Express base and NVM command set specifications the
// nvme-io_uring driver builds commands from and reads Identify data with.
#pragma once

#include <cstdint>
#include <cstring>

namespace blkio::nvme {

// NVM command set I/O opcodes.
enum IoOpcode : uint8_t {
  kFlush = 0x00,
  kWrite = 0x01,
  kRead = 0x02,
  kWriteZeroes = 0x08,
  kDatasetManagement = 0x09,
};

// Admin opcode and the CNS values of Identify.
constexpr uint8_t kAdminIdentify = 0x06;
constexpr uint32_t kCnsNamespace = 0x00;
constexpr uint32_t kCnsController = 0x01;
constexpr uint32_t kIdentifySize = 4096;

// Command dword 12 of Read/Write/Write Zeroes: NLB in bits 15:0 (0-based).
constexpr uint32_t kCdw12Fua = 1u << 30;
constexpr uint32_t kCdw12Deallocate = 1u << 25;  // Write Zeroes: DEAC
constexpr uint32_t kMaxBlocksPerCommand = 1u << 16;

// Dataset Management: cdw11 attribute "deallocate", and one range entry.
constexpr uint32_t kDsmDeallocate = 1u << 2;
struct DsmRange {
  uint32_t context_attributes;
  uint32_t length_blocks;  // 1-based
  uint64_t start_lba;
};
static_assert(sizeof(DsmRange) == 16, "a DSM range is 16 bytes");

// Identify Controller fields (byte offsets).
constexpr size_t kCtrlMdts = 77;   // max data transfer: 2^MDTS minimum pages, 0 = no limit
constexpr size_t kCtrlOncs = 520;  // optional NVM command support (16 bits)
constexpr size_t kCtrlVwc = 525;   // volatile write cache: bit 0 present
constexpr uint16_t kOncsDsm = 1u << 2;
constexpr uint16_t kOncsWriteZeroes = 1u << 3;

// Identify Namespace fields (byte offsets).
constexpr size_t kNsNsze = 0;     // size in logical blocks (64 bits)
constexpr size_t kNsNlbaf = 25;   // number of LBA formats (0-based)
constexpr size_t kNsFlbas = 26;   // formatted LBA size: index in bits 3:0 and 6:5
constexpr size_t kNsLbaf0 = 128;  // LBA format table, 4 bytes each: LBADS in bits 23:16

template <typename T>
T field(const uint8_t* data, size_t offset) {
  T v;
  memcpy(&v, data + offset, sizeof v);  // little-endian, as x86 and arm64 Linux are
  return v;
}

// The completion status the kernel reports for a passthrough command
// (status field without the phase bit: SCT in bits 10:8, SC in 7:0) as
// -errno and a message.
inline int status_to_errno(int status, const char** msg) {
  int sct = (status >> 8) & 0x7;
  int sc = status & 0xff;
  if (sct == 0) {
    switch (sc) {
      case 0x01: return *msg = "NVMe: invalid command opcode", -ENOTSUP;
      case 0x02: return *msg = "NVMe: invalid field in command", -EINVAL;
      case 0x0b: return *msg = "NVMe: invalid namespace or format", -EINVAL;
      case 0x20: return *msg = "NVMe: namespace is write protected", -EROFS;
      case 0x80: return *msg = "NVMe: LBA out of range", -EINVAL;
      case 0x81: return *msg = "NVMe: capacity exceeded", -ENOSPC;
    }
  }
  if (sct == 2) return *msg = "NVMe: media or data integrity error", -EIO;
  return *msg = "NVMe: command failed", -EIO;
}

}  // namespace blkio::nvme
