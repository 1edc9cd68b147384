#include "virtio_blk.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

#include "../../core/errors.h"
#include "virtio_spec.h"

namespace blkio::virtio {

namespace {

namespace f = feature;

// Everything the engine uses; the transport adds its own bits.
constexpr uint64_t kWantedFeatures =
    bit(f::kBlkSizeMax) | bit(f::kBlkSegMax) | bit(f::kBlkRo) | bit(f::kBlkBlkSize) | bit(f::kBlkFlush) |
    bit(f::kBlkTopology) | bit(f::kBlkConfigWce) | bit(f::kBlkMq) | bit(f::kBlkDiscard) |
    bit(f::kBlkWriteZeroes) | bit(f::kRingEventIdx) | bit(f::kVersion1);

template <typename T>
T config_field(const uint8_t* config, unsigned offset) {
  T v;
  memcpy(&v, config + offset, sizeof v);
  return v;
}

int32_t clamp_int(uint64_t v) { return int32_t(std::min<uint64_t>(v, INT32_MAX)); }

// Bounds for config fields. Capacity in bytes must fit an off_t; blocks
// above 64 KiB exist on no device Linux accepts (BLK_MAX_BLOCK_SIZE).
constexpr uint64_t kMaxCapacitySectors = uint64_t(INT64_MAX) / blk::kSectorSize;
constexpr uint32_t kMaxBlockSize = 64 * 1024;

// Test hook: BLKIO_VIRTIO_WITHHOLD_FEATURES="29,9" keeps those feature bits
// out of negotiation, so tests can drive the paths of a device that lacks
// them (no EVENT_IDX, no FLUSH…) against any backend.
uint64_t withheld_features() {
  const char* list = getenv("BLKIO_VIRTIO_WITHHOLD_FEATURES");
  uint64_t mask = 0;
  for (const char* p = list; p && *p;) {
    char* end;
    unsigned long n = strtoul(p, &end, 10);
    if (end == p) break;
    if (n < 64) mask |= bit(unsigned(n));
    p = *end == ',' ? end + 1 : end;
  }
  return mask;
}

// A per-request byte limit from a sector count, kept a multiple of the
// block size (0 sectors: only the 32-bit field limits).
uint64_t range_limit(uint32_t sectors, uint32_t block_size) {
  uint64_t bytes = uint64_t(sectors ? sectors : UINT32_MAX) * blk::kSectorSize;
  uint64_t aligned = bytes / block_size * block_size;
  return aligned ? aligned : block_size;
}

}  // namespace

VirtioBlkDriver::~VirtioBlkDriver() {
  // The transport first: it stops the disconnect watcher (which writes to
  // the call eventfds) and tells the device to let go of our memory.
  transport_.reset();
  tear_down_rings();
}

void VirtioBlkDriver::add_properties(PropertyTable& t) {
  t.bind("path", Access::CreatedRW, &path_);
  if (type_.supports_fd) {
    t.bind("fd", Access::CreatedRW, &fd_);
  } else {
    t.add("fd", PropType::Int, Access::CreatedRW, [](PropValue* v) { v->i = -1; },
          [](const PropValue&) { return fail(ENOENT, "fd property not supported"); });
  }
  t.bind("queue-size", Access::ConnectedRW, &queue_size_, [](int32_t v) {
    if (v <= 0 || v > int32_t(kMaxQueueSize) || (v & (v - 1)))
      return fail(EINVAL, "queue-size must be a power of two between 1 and %u", kMaxQueueSize);
    return 0;
  });
  t.add("max-queue-size", PropType::Int, Access::ConnectedRO, [](PropValue* v) { v->i = int32_t(kMaxQueueSize); });
  if (type_.supports_reconnect)
    t.bind("reconnect-timeout-ms", Access::CreatedRW, &reconnect_timeout_ms_, [](int32_t v) {
      return v < 0 ? fail(EINVAL, "reconnect-timeout-ms must not be negative (0 turns reconnecting off)") : 0;
    });
}

int VirtioBlkDriver::connect(DeviceInfo* info, bool*) {
  if (!path_.empty() && fd_ >= 0) return fail(EINVAL, "path and fd cannot be set at the same time");
  if (path_.empty() && fd_ < 0) return fail(EINVAL, "One of path and fd must be set");
  std::unique_ptr<VirtioTransport> transport;
  int r = type_.open(path_, fd_, &transport);
  if (r < 0) return r;
  uint64_t offered = transport->device_features();
  if (!(offered & bit(f::kVersion1)))
    return fail(ENOTSUP, "the device does not offer VIRTIO_F_VERSION_1 (legacy devices are not supported)");
  uint64_t features = offered & kWantedFeatures & ~withheld_features();
  if ((r = transport->set_features(features)) < 0) return r;
  uint8_t config[blk::config::kSize];
  size_t got = 0;
  if ((r = transport->read_config(config, sizeof config, &got)) < 0) return r;
  if (got < blk::config::kBlkSize) return fail(EIO, "the device config is too short (%zu bytes)", got);
  transport_ = std::move(transport);
  features_ = features;
  if ((r = describe(config, info)) < 0) {
    transport_.reset();  // an fd the user handed in stays theirs
    return r;
  }
  transport_->own_adopted_fd();
  return 0;
}

int VirtioBlkDriver::current_capacity(uint64_t* capacity) {
  if (!transport_ || transport_->disconnected()) return 0;
  namespace c = blk::config;
  uint8_t config[c::kCapacity + sizeof(uint64_t)];
  size_t got = 0;
  int r = transport_->read_config(config, sizeof config, &got);
  if (r < 0) return r;
  if (got < sizeof config) return fail(EIO, "the device config is too short (%zu bytes) to hold its capacity", got);
  uint64_t sectors = config_field<uint64_t>(config, c::kCapacity);
  if (sectors > kMaxCapacitySectors)
    return fail(EIO, "the device reports an invalid config: capacity of %llu sectors exceeds 2^63 bytes",
                (unsigned long long)sectors);
  *capacity = sectors * blk::kSectorSize;
  return 0;
}

// libblkio's virtio-blk column of the property table (libblkio.md §3.2).
// The device is another program: every field is range-checked, and one no
// correct device reports fails connect with EIO naming it.
int VirtioBlkDriver::describe(const uint8_t* config, DeviceInfo* info) {
  namespace c = blk::config;
  auto has = [this](unsigned feature) { return (features_ & bit(feature)) != 0; };
  uint64_t sectors = config_field<uint64_t>(config, c::kCapacity);
  if (sectors > kMaxCapacitySectors)
    return fail(EIO, "the device reports an invalid config: capacity of %llu sectors exceeds 2^63 bytes",
                (unsigned long long)sectors);
  uint32_t blk_size = has(f::kBlkBlkSize) ? config_field<uint32_t>(config, c::kBlkSize) : 512;
  if (blk_size < 512 || blk_size > kMaxBlockSize || (blk_size & (blk_size - 1)))
    return fail(EIO, "the device reports an invalid config: blk_size %u is not a power of two from 512 to %u",
                blk_size, kMaxBlockSize);
  // 0 means no limit (qemu-storage-daemon offers SIZE_MAX with 0).
  uint32_t size_max = has(f::kBlkSizeMax) ? config_field<uint32_t>(config, c::kSizeMax) : 0;
  if (size_max != 0 && size_max < blk::kSectorSize)
    return fail(EIO, "the device reports an invalid config: size_max %u is below 512 bytes", size_max);
  // Linux reads seg_max 0 and num_queues 0 as 1, and so do we.
  uint32_t seg_max = has(f::kBlkSegMax) ? std::max<uint32_t>(config_field<uint32_t>(config, c::kSegMax), 1) : 1;
  uint32_t dsa = has(f::kBlkDiscard) ? config_field<uint32_t>(config, c::kDiscardSectorAlignment) : 0;
  if (uint64_t(dsa) * blk::kSectorSize > INT32_MAX)
    return fail(EIO, "the device reports an invalid config: discard_sector_alignment %u exceeds 2^31 bytes", dsa);

  info->capacity = sectors * blk::kSectorSize;
  unsigned queues = has(f::kBlkMq) ? std::max<uint16_t>(config_field<uint16_t>(config, c::kNumQueues), 1) : 1;
  if (transport_->max_queues()) queues = std::min(queues, transport_->max_queues());
  info->max_queues = int32_t(queues);
  info->supports_poll_queues = true;
  // One region of the device's budget holds our rings.
  uint64_t regions = transport_->max_mem_regions();
  info->max_mem_regions = regions > 1 ? regions - 1 : 0;
  info->may_pin_mem_regions = true;
  info->mem_region_alignment = transport_->mem_region_alignment();
  info->needs_mem_regions = true;
  info->needs_mem_region_fd = transport_->needs_mem_region_fd();
  info->request_alignment = int32_t(blk_size);
  if (has(f::kBlkTopology)) {
    uint8_t exp = config_field<uint8_t>(config, c::kPhysicalBlockExp);
    info->optimal_io_alignment = clamp_int(uint64_t(blk_size) << std::min<uint8_t>(exp, 20));
    info->optimal_io_size = clamp_int(uint64_t(blk_size) * config_field<uint32_t>(config, c::kOptIoSize));
    info->discard_alignment_offset = clamp_int(uint64_t(blk_size) * config_field<uint8_t>(config, c::kAlignmentOffset));
  } else {
    info->optimal_io_alignment = int32_t(blk_size);
    info->optimal_io_size = 0;
    info->discard_alignment_offset = 0;
  }
  info->flush_needed = has(f::kBlkConfigWce) ? config_field<uint8_t>(config, c::kWriteback) != 0 : has(f::kBlkFlush);
  info->buf_alignment = 1;
  info->optimal_buf_alignment = 1;
  info->can_grow = false;
  info->max_segments = clamp_int(std::max<uint32_t>(seg_max, 1));
  info->max_segment_len = clamp_int(size_max);
  info->max_transfer = has(f::kBlkSizeMax) && has(f::kBlkSegMax) ? clamp_int(uint64_t(size_max) * seg_max) : 0;
  info->supports_fua_natively = false;
  uint32_t max_wz = has(f::kBlkWriteZeroes) ? config_field<uint32_t>(config, c::kMaxWriteZeroesSectors) : 0;
  info->max_write_zeroes_len = uint64_t(max_wz) * blk::kSectorSize;
  uint32_t max_discard = has(f::kBlkDiscard) ? config_field<uint32_t>(config, c::kMaxDiscardSectors) : 0;
  info->max_discard_len = uint64_t(max_discard) * blk::kSectorSize;
  info->discard_alignment = dsa ? int32_t(dsa * blk::kSectorSize) : 512;

  params_.flush = has(f::kBlkFlush);
  params_.discard = has(f::kBlkDiscard);
  params_.write_zeroes = has(f::kBlkWriteZeroes);
  params_.max_segment_len = size_max;
  params_.max_discard_bytes = range_limit(max_discard, blk_size);
  params_.max_write_zeroes_bytes = range_limit(max_wz, blk_size);
  return 0;
}

int VirtioBlkDriver::start(int num_queues, int num_poll_queues, bool read_only) {
  if ((features_ & bit(f::kBlkRo)) && !read_only) return fail(EROFS, "Device is read-only");
  unsigned max_size = transport_->max_queue_size();
  if (max_size && unsigned(queue_size_) > max_size)
    return fail(EINVAL, "queue-size %d exceeds the device's maximum of %u", queue_size_, max_size);
  int r = set_up_rings(unsigned(num_queues + num_poll_queues));
  if (r < 0) {
    tear_down_rings();
    return r;
  }
  num_queues_ = num_queues;
  return 0;
}

int VirtioBlkDriver::set_up_rings(unsigned count) {
  layout_ = VirtqueueLayout::compute(unsigned(queue_size_), sizeof(RequestSlot) * unsigned(queue_size_));
  int r = rings_.create("virtio-ring", layout_.total * count);
  if (r < 0) return r;
  if ((r = transport_->map_memory(rings_.base(), rings_.size(), rings_.fd(), 0, &rings_device_)) < 0) return r;
  rings_mapped_ = true;
  eventfds_.assign(count, Eventfds{});
  std::vector<int> call_fds;
  for (unsigned i = 0; i < count; i++) {
    Eventfds& e = eventfds_[i];
    e.kick = eventfd(0, EFD_CLOEXEC);
    e.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);  // the completion fd: libblkio makes it non-blocking
    if (e.kick < 0 || e.call < 0) return fail(errno, "eventfd failed: %s", strerror(errno));
    call_fds.push_back(e.call);
    size_t offset = layout_.total * i;
    uint8_t* mem = rings_.base() + offset;
    uint64_t device = rings_device_ + offset;
    VringSetup v;
    v.index = i;
    v.size = unsigned(queue_size_);
    v.desc = mem + layout_.desc;
    v.avail = mem + layout_.avail;
    v.used = mem + layout_.used;
    v.desc_device = device + layout_.desc;
    v.avail_device = device + layout_.avail;
    v.used_device = device + layout_.used;
    v.kick_fd = e.kick;
    v.call_fd = e.call;
    if ((r = transport_->setup_vring(v)) < 0) return r;
  }
  if ((r = transport_->driver_ok()) < 0) return r;
  queues_.resize(count);
  if (reconnect_timeout_ms_ > 0) {
    auto resume = [this](unsigned vq) {
      // A removed queue has nothing in flight: its ring stays where it stands.
      const uint8_t* avail = rings_.base() + layout_.total * vq + layout_.avail;
      uint16_t idx;
      memcpy(&idx, avail + 2, sizeof idx);
      return queues_.resume(vq, idx);
    };
    if ((r = transport_->enable_reconnect(reconnect_timeout_ms_, resume)) < 0) return r;
  }
  fault_.set_wake_fds(call_fds);
  transport_->watch_disconnect(std::move(call_fds));
  return 0;
}

void VirtioBlkDriver::tear_down_rings() {
  if (rings_mapped_ && transport_) transport_->unmap_memory(rings_.base(), rings_.size(), rings_device_);
  rings_mapped_ = false;
  for (Eventfds& e : eventfds_) {
    if (e.kick >= 0) close(e.kick);
    if (e.call >= 0) close(e.call);
  }
  eventfds_.clear();
  rings_.release();
}

int VirtioBlkDriver::create_queue(bool poll, int index, std::unique_ptr<QueueDriver>* out) {
  unsigned vq = unsigned(poll ? num_queues_ + index : index);
  if (vq >= eventfds_.size()) return fail(EINVAL, "no virtqueue for %squeue %d", poll ? "poll " : "", index);
  BlkQueueSetup s;
  s.params = params_;
  s.transport = transport_.get();
  s.fault = &fault_;
  s.addresses = &addresses_;
  s.mem = rings_.base() + layout_.total * vq;
  s.mem_device = rings_device_ + layout_.total * vq;
  s.layout = layout_;
  s.size = unsigned(queue_size_);
  s.event_idx = (features_ & bit(f::kRingEventIdx)) != 0;
  s.kick_fd = eventfds_[vq].kick;
  s.doorbell = transport_->doorbell(vq);
  s.index = uint16_t(vq);
  s.call_fd = eventfds_[vq].call;
  s.poll = poll;
  s.reconnect = reconnect_timeout_ms_ > 0;
  s.table = &queues_;
  s.vq_index = vq;
  *out = std::make_unique<VirtioBlkQueue>(s);
  return 0;
}

int VirtioBlkDriver::map_region(int slot, const MemRegion& region) {
  if (fault_.failed()) return fail(EIO, "%s", fault_.message());
  uint64_t device_addr = 0;
  int r = transport_->map_memory(region.addr, region.len, region.fd, region.fd_offset, &device_addr);
  if (r < 0) return r;
  addresses_.insert(slot, region.addr, region.len, device_addr);
  return 0;
}

void VirtioBlkDriver::unmap_region(int slot, const MemRegion& region) {
  uint64_t device_addr = 0;
  addresses_.translate(region.addr, region.len, slot, &device_addr);
  addresses_.remove(slot);
  if (transport_) transport_->unmap_memory(region.addr, region.len, device_addr);
}

}  // namespace blkio::virtio
