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
  // Zoned Namespace command set.
  kZoneMgmtSend = 0x79,
  kZoneMgmtRecv = 0x7a,
};

// Admin opcode and the CNS values of Identify.
constexpr uint8_t kAdminIdentify = 0x06;
constexpr uint32_t kCnsNamespace = 0x00;
constexpr uint32_t kCnsController = 0x01;
constexpr uint32_t kIdentifySize = 4096;
// Command-set-specific Identify (CSI in cdw11 bits 31:24) for the Zoned
// Namespace command set.
constexpr uint32_t kCnsNamespaceCsi = 0x05;
constexpr uint32_t kCsiZoned = 2;

// ZNS Identify Namespace fields (byte offsets).
constexpr size_t kZnsMar = 4;        // max active resources, 0-based; 0xffffffff: no limit
constexpr size_t kZnsMor = 8;        // max open resources, 0-based; 0xffffffff: no limit
constexpr size_t kZnsLbafe0 = 2816;  // LBA format extensions, 16 bytes each: zone size in blocks (64 bits)

// Zone Management Send (cdw13): action in bits 7:0, Select All in bit 8.
enum ZoneSendAction : uint32_t { kZsaClose = 1, kZsaFinish = 2, kZsaOpen = 3, kZsaReset = 4 };
constexpr uint32_t kZsaSelectAll = 1u << 8;
// Zone Management Receive (cdw13): action 0 = report zones, all states,
// partial report (the count in the header is of descriptors returned).
constexpr uint32_t kZraReportPartial = 1u << 16;
// The report: a 64-byte header (zone count, 64 bits), then 64-byte descriptors.
constexpr size_t kZoneReportHeader = 64;
constexpr size_t kZoneDescriptor = 64;
constexpr size_t kZdType = 0;    // bits 3:0
constexpr size_t kZdState = 1;   // bits 7:4
constexpr size_t kZdAttrs = 2;   // bit 2: reset recommended
constexpr size_t kZdCapacity = 8;
constexpr size_t kZdStart = 16;
constexpr size_t kZdWritePointer = 24;

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
  if (sct == 1) {
    // Zoned Namespace command set errors, as the kernel's block layer reports them.
    switch (sc) {
      case 0xb8: return *msg = "NVMe: zone boundary error", -EIO;
      case 0xb9: return *msg = "NVMe: zone is full", -EIO;
      case 0xba: return *msg = "NVMe: zone is read only", -EIO;
      case 0xbb: return *msg = "NVMe: zone is offline", -EIO;
      case 0xbc: return *msg = "NVMe: zone invalid write (not at the write pointer)", -EIO;
      case 0xbd: return *msg = "NVMe: too many active zones", -EOVERFLOW;
      case 0xbe: return *msg = "NVMe: too many open zones", -ETOOMANYREFS;
      case 0xbf: return *msg = "NVMe: invalid zone state transition", -EIO;
    }
  }
  if (sct == 2) return *msg = "NVMe: media or data integrity error", -EIO;
  return *msg = "NVMe: command failed", -EIO;
}

}  // namespace blkio::nvme
