#include "nvme_queue.h"

#include <linux/nvme_ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "../../core/errors.h"

namespace blkio {

namespace {

// Write-zeroes stages: the native command, or plain writes of zeros.
enum Stage : uint32_t { kNative = 0, kZeroFill = 1 };

constexpr uint64_t kMaxDsmBlocks = 1ull << 31;       // one range's length is 32 bits

}  // namespace

NvmeQueue::~NvmeQueue() { free(ranges_); }

int NvmeQueue::init(unsigned entries) {
  unsigned flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | (poll_ ? IORING_SETUP_IOPOLL : 0);
  int r = ring_.init(entries, flags);
  if (r == -EINVAL)
    return fail(EINVAL, "io_uring_setup with 128-byte SQEs and 32-byte CQEs failed: passthrough needs Linux 5.19 or later");
  if (r < 0) return fail(-r, "io_uring_setup with %u entries failed: %s", entries, strerror(-r));
  if ((r = attach_eventfd_and_file(ns_.fd)) < 0) return r;
  unsigned slots = ring_.cq_entries();
  void* mem = nullptr;
  if (posix_memalign(&mem, 4096, slots * sizeof(nvme::DsmRange)) != 0)
    return fail(ENOMEM, "no memory for %u DSM ranges", slots);
  ranges_ = static_cast<nvme::DsmRange*>(mem);
  free_ranges_.reserve(slots);
  for (unsigned i = slots; i > 0; i--) free_ranges_.push_back(i - 1);
  return 0;
}

uint64_t NvmeQueue::chunk(const Request* req) const {
  uint64_t left = req->len - req->done;
  uint64_t limit = ns_.max_chunk;
  if (req->type == RequestType::Discard) limit = kMaxDsmBlocks << ns_.lba_shift;
  if (req->type == RequestType::WriteZeroes && req->stage == kNative)
    limit = uint64_t(nvme::kMaxBlocksPerCommand) << ns_.lba_shift;
  return std::min(left, limit);
}

int NvmeQueue::enqueue(Request* req, const char** error_msg) {
  if (is_zone_request(req->type)) {
    if (ns_.zone_blocks == 0) return *error_msg = "zone requests need a Zoned Namespace", -ENOTSUP;
    if (req->type == RequestType::ReportZones && !reports_.count(req)) {
      // The device's report format differs from struct blkio_zone: it
      // arrives in a buffer of the queue's and is converted at completion.
      // One command returns at most what max-transfer holds.
      uint64_t fits = (ns_.max_chunk - nvme::kZoneReportHeader) / nvme::kZoneDescriptor;
      uint64_t count = std::min<uint64_t>(req->len, std::max<uint64_t>(fits, 1));
      reports_[req].assign(nvme::kZoneReportHeader + count * nvme::kZoneDescriptor, 0);
    }
  }
  switch (req->type) {
    case RequestType::Readv:
    case RequestType::Writev:
      if (req->len > ns_.max_chunk) {
        *error_msg = "readv/writev longer than max-transfer";
        return -EINVAL;
      }
      break;
    case RequestType::Discard:
      if (!ns_.dsm) {
        *error_msg = "discard is not supported by this namespace (no Dataset Management)";
        return -ENOTSUP;
      }
      break;
    case RequestType::WriteZeroes:
      if (!ns_.write_zeroes && req->stage == kNative) {
        if (req->flags & REQ_NO_FALLBACK) {
          *error_msg = "write zeroes without fallback: the namespace has no Write Zeroes command";
          return -ENOTSUP;
        }
        req->stage = kZeroFill;
      }
      break;
    default:
      break;
  }
  if (req->type == RequestType::Discard && free_ranges_.empty()) return kFull;
  io_uring_sqe* sqe = claim_sqe();
  if (!sqe) return kFull;
  prepare(req, sqe);
  return kAccepted;
}

void NvmeQueue::prepare(Request* req, io_uring_sqe* sqe) {
  address_sqe(sqe, ns_.fd, req);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->cmd_op = is_vectored(req->type) ? NVME_URING_CMD_IO_VEC : NVME_URING_CMD_IO;
  auto* cmd = reinterpret_cast<nvme_uring_cmd*>(sqe->cmd);  // zeroed by next_sqe
  cmd->nsid = ns_.nsid;

  uint64_t lba = (req->start + req->done) >> ns_.lba_shift;
  uint64_t bytes = chunk(req);
  uint32_t blocks0 = uint32_t((bytes >> ns_.lba_shift) - 1);  // NLB is 0-based
  bool fua = (req->flags & REQ_FUA) != 0;
  auto address = [&](uint64_t slba) {
    cmd->cdw10 = uint32_t(slba);
    cmd->cdw11 = uint32_t(slba >> 32);
  };
  switch (req->type) {
    case RequestType::Read:
    case RequestType::Write:
      cmd->opcode = req->type == RequestType::Read ? nvme::kRead : nvme::kWrite;
      cmd->addr = reinterpret_cast<uint64_t>(req->buf) + req->done;
      cmd->data_len = uint32_t(bytes);
      address(lba);
      cmd->cdw12 = blocks0 | (fua ? nvme::kCdw12Fua : 0);
      return;
    case RequestType::Readv:
    case RequestType::Writev:
      cmd->opcode = req->type == RequestType::Readv ? nvme::kRead : nvme::kWrite;
      cmd->addr = reinterpret_cast<uint64_t>(req->iov.data());
      cmd->data_len = uint32_t(req->iov.size());  // vec_cnt
      address(lba);
      cmd->cdw12 = blocks0 | (fua ? nvme::kCdw12Fua : 0);
      return;
    case RequestType::Flush:
      cmd->opcode = nvme::kFlush;
      return;
    case RequestType::WriteZeroes:
      address(lba);
      if (req->stage == kZeroFill) {
        cmd->opcode = nvme::kWrite;
        cmd->addr = reinterpret_cast<uint64_t>(ns_.zeros);
        cmd->data_len = uint32_t(bytes);
        cmd->cdw12 = blocks0 | (fua ? nvme::kCdw12Fua : 0);
      } else {
        cmd->opcode = nvme::kWriteZeroes;
        // Without NO_UNMAP the controller may deallocate (reads still give zeros).
        cmd->cdw12 = blocks0 | (fua ? nvme::kCdw12Fua : 0) |
                     ((req->flags & REQ_NO_UNMAP) ? 0 : nvme::kCdw12Deallocate);
      }
      return;
    case RequestType::Discard: {
      uint32_t slot = free_ranges_.back();
      free_ranges_.pop_back();
      req->stage = slot;
      ranges_[slot] = nvme::DsmRange{0, uint32_t(bytes >> ns_.lba_shift), lba};
      cmd->opcode = nvme::kDatasetManagement;
      cmd->addr = reinterpret_cast<uint64_t>(&ranges_[slot]);
      cmd->data_len = sizeof(nvme::DsmRange);
      cmd->cdw10 = 0;  // one range (0-based)
      cmd->cdw11 = nvme::kDsmDeallocate;
      return;
    }
    case RequestType::ReportZones: {
      std::vector<uint8_t>& report = reports_[req];
      cmd->opcode = nvme::kZoneMgmtRecv;
      cmd->addr = reinterpret_cast<uint64_t>(report.data());
      cmd->data_len = uint32_t(report.size());
      address(lba);
      cmd->cdw12 = uint32_t(report.size() / 4 - 1);  // dwords, 0-based
      cmd->cdw13 = nvme::kZraReportPartial;
      return;
    }
    default: {
      // Zone Management Send: one zone (at its start) or all of them.
      static const uint32_t kActions[] = {nvme::kZsaOpen, nvme::kZsaClose, nvme::kZsaFinish, nvme::kZsaReset};
      cmd->opcode = nvme::kZoneMgmtSend;
      address(is_zone_all(req->type) ? 0 : lba);
      cmd->cdw13 = kActions[zone_action(req->type) & 3] | (is_zone_all(req->type) ? nvme::kZsaSelectAll : 0);
      return;
    }
  }
}

// The device's zone report as struct blkio_zone entries, checked: the count
// is at most what was asked, and a write pointer outside its zone marks the
// zone offline rather than being passed on.
int NvmeQueue::finish_report(Request* req, const char** msg) {
  auto it = reports_.find(req);
  if (it == reports_.end()) return *msg = "zone report lost its buffer", -EIO;
  const std::vector<uint8_t>& report = it->second;
  uint64_t room = (report.size() - nvme::kZoneReportHeader) / nvme::kZoneDescriptor;
  uint64_t count = std::min(nvme::field<uint64_t>(report.data(), 0), room);
  auto* out = static_cast<Zone*>(req->buf);
  unsigned shift = ns_.lba_shift;
  uint64_t zone_bytes = ns_.zone_blocks << shift;
  for (uint64_t i = 0; i < count; i++) {
    const uint8_t* d = report.data() + nvme::kZoneReportHeader + i * nvme::kZoneDescriptor;
    Zone z;
    memset(&z, 0, sizeof z);
    uint64_t start = nvme::field<uint64_t>(d, nvme::kZdStart);
    uint64_t cap = nvme::field<uint64_t>(d, nvme::kZdCapacity);
    uint64_t wp = nvme::field<uint64_t>(d, nvme::kZdWritePointer);
    z.start = start << shift;
    z.len = zone_bytes;
    z.capacity = std::min(cap, ns_.zone_blocks) << shift;
    z.type = d[nvme::kZdType] & 0xf;
    z.state = d[nvme::kZdState] >> 4;
    z.reset = (d[nvme::kZdAttrs] >> 2) & 1;
    // A full zone's write pointer is not valid in ZNS: report its end, as
    // the kernel does for the block device.
    bool wp_valid = wp >= start && wp - start <= ns_.zone_blocks;
    z.write_pointer = z.state == ZONE_STATE_FULL ? z.start + z.len : wp_valid ? wp << shift : UINT64_MAX;
    if (!wp_valid && z.state != ZONE_STATE_FULL) z.state = ZONE_STATE_OFFLINE;
    out[i] = z;
  }
  reports_.erase(it);
  return int(count);
}

// Turns a CQE result into the request's outcome: 0, -errno, or kResubmit.
int NvmeQueue::finish(Request* req, int res, const char** msg) {
  if (req->type == RequestType::Discard) free_ranges_.push_back(req->stage);
  if (res != 0 && req->type == RequestType::ReportZones) reports_.erase(req);
  if (res < 0) return *msg = strerrordesc_np(-res), res;
  if (res > 0) return nvme::status_to_errno(res, msg);
  if (req->type == RequestType::ReportZones) return finish_report(req, msg);
  switch (req->type) {
    case RequestType::Read:
    case RequestType::Write:
    case RequestType::WriteZeroes:
    case RequestType::Discard:
      req->done += chunk(req);
      return req->done < req->len ? QueueDriver::kResubmit : 0;
    default:
      return 0;
  }
}

void NvmeQueue::quiesce(unsigned) {
  // Passthrough commands cannot be cancelled: wait (bounded) for every CQE,
  // so no command touches its buffer after the caller frees it.
  drain();
  if (in_kernel_ == 0) reports_.clear();
}

}  // namespace blkio
