#include "vhost_user.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../../core/deadline.h"
#include "../../core/errors.h"
#include "virtio_spec.h"

namespace blkio::virtio {

using namespace vhost_user;

namespace {

constexpr uint64_t kProtocolFeaturesBit = bit(30);  // VHOST_USER_F_PROTOCOL_FEATURES

namespace protocol {
constexpr uint64_t kMq = bit(0);
constexpr uint64_t kReplyAck = bit(3);
constexpr uint64_t kConfig = bit(9);
constexpr uint64_t kConfigureMemSlots = bit(15);
}  // namespace protocol

constexpr uint64_t kVringNoFd = 0x100;
constexpr int64_t kConnectTimeoutNs = 5'000'000'000;
constexpr unsigned kMemTableRegions = 8;  // VHOST_MEMORY_BASELINE_NREGIONS

// Payloads (vhost-user.rst, "Message types"); all little-endian.
struct VringState {
  uint32_t index;
  uint32_t num;
};

struct VringAddr {
  uint32_t index;
  uint32_t flags;
  uint64_t desc;
  uint64_t used;
  uint64_t avail;
  uint64_t log;
};
static_assert(sizeof(VringAddr) == 40, "vhost_vring_addr");

struct MemRegionMsg {
  uint64_t guest_phys_addr;
  uint64_t memory_size;
  uint64_t userspace_addr;
  uint64_t mmap_offset;
};

struct SingleRegion {
  uint64_t padding;
  MemRegionMsg region;
};

struct MemTable {
  uint32_t nregions;
  uint32_t padding;
  MemRegionMsg regions[kMemTableRegions];
};

struct ConfigMsg {
  uint32_t offset;
  uint32_t size;
  uint32_t flags;
  uint8_t data[blk::config::kSize];
};

MemRegionMsg region_msg(void* addr, size_t len, int64_t fd_offset) {
  // Guest "physical" = userspace address = our VA, so descriptors carry VAs.
  uint64_t va = reinterpret_cast<uintptr_t>(addr);
  return MemRegionMsg{va, len, va, uint64_t(fd_offset)};
}

// Connects a non-blocking unix socket to path, so that connect() cannot hang
// on a listener whose backlog is full (the channel bounds all its I/O).
int connect_socket(const std::string& path, int* out) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return fail(EINVAL, "vhost-user socket path '%s' is too long (max %zu bytes)", path.c_str(),
                sizeof addr.sun_path - 1);
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (sock < 0) return fail(errno, "socket(AF_UNIX) failed: %s", strerror(errno));
  int64_t deadline = monotonic_ns() + kConnectTimeoutNs;
  while (::connect(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    if (errno == EINTR) continue;
    // A unix listener with a full backlog says EAGAIN: it may accept soon.
    if (errno == EAGAIN && monotonic_ns() < deadline) {
      usleep(10 * 1000);
      continue;
    }
    int e = errno;
    close(sock);
    if (e == EAGAIN)
      return fail(ETIMEDOUT, "vhost-user socket '%s' did not accept the connection within 5 s (backlog full)",
                  path.c_str());
    return fail(e, "Failed to connect to vhost-user socket '%s': %s", path.c_str(), strerror(e));
  }
  *out = sock;
  return 0;
}

// Pause between reconnect attempts while the backend is not back yet.
constexpr int kReconnectRetryMs = 20;

}  // namespace

const VirtioTransportType kVhostUserTransport{"virtio-blk-vhost-user", false, &VhostUserTransport::open, true};

int VhostUserTransport::open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out) {
  if (fd >= 0) return fail(EINVAL, "fd property not supported");
  int sock = -1;
  int r = connect_socket(path, &sock);
  if (r < 0) return r;
  std::unique_ptr<VhostUserTransport> t(new VhostUserTransport(sock, path));
  r = t->handshake(*t->channel_, false);
  if (r < 0) {
    std::string why = last_error_message();
    // A backend that accepted but stays silent is often busy with another
    // frontend: qemu-storage-daemon serves one connection at a time.
    const char* hint = r == -ETIMEDOUT ? " (is another frontend connected to it?)" : "";
    return fail(-r, "'%s' is not a usable vhost-user backend: %s%s", path.c_str(), why.c_str(), hint);
  }
  *out = std::move(t);
  return 0;
}

VhostUserTransport::VhostUserTransport(int sock, std::string path)
    : channel_(new Channel(sock)), path_(std::move(path)) {
  channel_->set_on_broken([this, sock] { on_channel_broken(sock); });
}

VhostUserTransport::~VhostUserTransport() {
  stop_watch();
  // channel_ closes the socket: the backend then stops the rings and drops our memory.
  for (Region& r : regions_) close(r.fd);
}

int VhostUserTransport::handshake(Channel& ch, bool again) {
  int r = ch.send(kSetOwner, nullptr, 0, nullptr, 0, false);
  if (r < 0) return r;
  uint64_t offered = 0;
  if ((r = ch.get_u64(kGetFeatures, &offered)) < 0) return r;
  if (!(offered & kProtocolFeaturesBit))
    return fail(ENOTSUP, "the backend does not offer VHOST_USER_F_PROTOCOL_FEATURES");
  if (again && (offered & acked_features_) != acked_features_)
    return fail(ENOTSUP, "the restarted backend offers features 0x%llx, without some of 0x%llx in use",
                (unsigned long long)offered, (unsigned long long)acked_features_);
  if (!again) features_ = offered;
  if ((r = ch.get_u64(kGetProtocolFeatures, &offered)) < 0) return r;
  if (!(offered & protocol::kConfig))
    return fail(ENOTSUP, "the backend does not offer VHOST_USER_PROTOCOL_F_CONFIG (needed for the device config)");
  if (again && (offered & protocol_features_) != protocol_features_)
    return fail(ENOTSUP, "the restarted backend lacks protocol features in use");
  if (!again)
    protocol_features_ =
        offered & (protocol::kMq | protocol::kReplyAck | protocol::kConfig | protocol::kConfigureMemSlots);
  // Not acknowledged (REPLY_ACK is not in force yet); the next GET confirms it.
  if ((r = ch.send(kSetProtocolFeatures, &protocol_features_, sizeof protocol_features_, nullptr, 0, false)) < 0)
    return r;
  unsigned queues = 1;
  if (protocol_features_ & protocol::kMq) {
    uint64_t n = 0;
    if ((r = ch.get_u64(kGetQueueNum, &n)) < 0) return r;
    if (n == 0) return fail(EIO, "the backend reports 0 queues (GET_QUEUE_NUM)");
    queues = unsigned(std::min<uint64_t>(n, 0xffff));
  }
  uint64_t slots = kMemTableRegions;
  if (protocol_features_ & protocol::kConfigureMemSlots)
    if ((r = ch.get_u64(kGetMaxMemSlots, &slots)) < 0) return r;
  if (again) {
    if (queues < vrings_.size()) return fail(ENOTSUP, "the restarted backend has fewer queues (%u)", queues);
    reconnect_slots_ = slots;  // checked against regions_ under mu_
    return 0;
  }
  queue_num_ = queues;
  max_regions_ = slots;
  // One slot holds the rings; a backend with none cannot run a queue.
  if (max_regions_ < 2) return fail(EIO, "the backend reports %llu memory slots (GET_MAX_MEM_SLOTS)",
                                    (unsigned long long)max_regions_);
  return 0;
}

int VhostUserTransport::set(Channel& ch, uint32_t request, const void* payload, size_t size, const int* fds,
                            size_t nfds) {
  if (disconnected()) return fail(EIO, "vhost-user %s: %s", request_name(request), disconnect_message());
  return ch.send(request, payload, size, fds, nfds, (protocol_features_ & protocol::kReplyAck) != 0);
}

uint64_t VhostUserTransport::device_features() const { return features_ & ~kProtocolFeaturesBit; }

int VhostUserTransport::set_features(uint64_t features) {
  // PROTOCOL_FEATURES must stay acked, or the backend disables it again.
  acked_features_ = features | kProtocolFeaturesBit;
  std::lock_guard<std::mutex> lock(mu_);
  return set(kSetFeatures, &acked_features_, sizeof acked_features_);
}

int VhostUserTransport::read_config(uint8_t* buf, size_t len, size_t* got) {
  std::lock_guard<std::mutex> lock(mu_);
  int r = get_config(*channel_, buf, len, got);
  if (r < 0) return r;
  // A later, shorter read (the capacity alone, when "capacity" is read)
  // updates what it covers and keeps the rest: a restarted backend is
  // compared with the size seen last and the block size seen at connect.
  size_t n = std::min(*got, sizeof config_);
  memcpy(config_, buf, n);
  config_len_ = std::max(config_len_, n);
  return 0;
}

int VhostUserTransport::get_config(Channel& ch, uint8_t* buf, size_t len, size_t* got) {
  ConfigMsg msg{};
  len = std::min(len, sizeof msg.data);
  msg.size = uint32_t(len);
  size_t header = offsetof(ConfigMsg, data);
  int r = ch.send(kGetConfig, &msg, header + len, nullptr, 0, false);
  if (r < 0) return r;
  ConfigMsg reply{};
  size_t reply_size = 0;
  if ((r = ch.receive(kGetConfig, &reply, sizeof reply, &reply_size)) < 0) return r;
  // The backend answers with an empty payload when it refuses the size.
  if (reply_size < header || reply.size == 0 || reply.size > len || reply_size != header + reply.size)
    return fail(EIO, "the vhost-user backend refused GET_CONFIG of %zu bytes", len);
  memset(buf, 0, len);
  memcpy(buf, reply.data, reply.size);
  *got = reply.size;
  return 0;
}

bool VhostUserTransport::deferring() const {
  // A reconnect in progress (or about to start) sends the whole table.
  return reconnect_ms_ > 0 && watching_.load() && !abandoned_.load() && !disconnected() &&
         (reconnecting_.load() || channel_->broken());
}

int VhostUserTransport::map_memory(void* addr, size_t len, int fd, int64_t fd_offset, uint64_t* device_addr) {
  std::lock_guard<std::mutex> lock(mu_);
  if (disconnected()) return fail(EIO, "%s", disconnect_message());
  bool slots = (protocol_features_ & protocol::kConfigureMemSlots) != 0;
  if (!slots && regions_.size() >= kMemTableRegions)
    return fail(ENOSPC, "the vhost-user backend takes at most %u memory regions", kMemTableRegions);
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return fail(errno == EBADF ? EINVAL : errno, "memory region fd %d: %s", fd, strerror(errno));
  Region region{addr, len, fd_offset, own};
  regions_.push_back(region);
  int r = 0;
  if (!deferring()) {
    if (slots) {
      SingleRegion msg{0, region_msg(addr, len, fd_offset)};
      r = set(kAddMemReg, &msg, sizeof msg, &own, 1);
    } else {
      r = send_mem_table(*channel_);
    }
    // The backend died under us: the reconnect sends the region along.
    if (r < 0 && deferring()) r = 0;
  }
  if (r < 0) {
    regions_.pop_back();
    close(own);
    return r;
  }
  *device_addr = reinterpret_cast<uintptr_t>(addr);
  return 0;
}

void VhostUserTransport::unmap_memory(void* addr, size_t len, uint64_t) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::find_if(regions_.begin(), regions_.end(),
                         [&](const Region& r) { return r.addr == addr && r.len == len; });
  if (it == regions_.end()) return;
  Region region = *it;
  regions_.erase(it);
  if (!disconnected() && !deferring()) {
    if (protocol_features_ & protocol::kConfigureMemSlots) {
      // The backend finds the region by address and size, and wants the fd too.
      SingleRegion msg{0, region_msg(addr, len, region.fd_offset)};
      set(kRemMemReg, &msg, sizeof msg, &region.fd, 1);
    } else {
      send_mem_table(*channel_);
    }
  }
  close(region.fd);
}

int VhostUserTransport::send_mem_table(Channel& ch) {
  MemTable table{};
  int fds[kMemTableRegions];
  table.nregions = uint32_t(regions_.size());
  for (size_t i = 0; i < regions_.size(); i++) {
    table.regions[i] = region_msg(regions_[i].addr, regions_[i].len, regions_[i].fd_offset);
    fds[i] = regions_[i].fd;
  }
  size_t size = offsetof(MemTable, regions) + sizeof(MemRegionMsg) * regions_.size();
  return set(ch, kSetMemTable, &table, size, fds, regions_.size());
}

int VhostUserTransport::send_all_regions(Channel& ch) {
  if (!(protocol_features_ & protocol::kConfigureMemSlots)) return send_mem_table(ch);
  for (Region& region : regions_) {
    SingleRegion msg{0, region_msg(region.addr, region.len, region.fd_offset)};
    int r = set(ch, kAddMemReg, &msg, sizeof msg, &region.fd, 1);
    if (r < 0) return r;
  }
  return 0;
}

int VhostUserTransport::setup_vring(const VringSetup& v) {
  std::lock_guard<std::mutex> lock(mu_);
  int r = send_vring(*channel_, v, 0);
  if (r == 0) vrings_.push_back(v);
  return r;
}

int VhostUserTransport::send_vring(Channel& ch, const VringSetup& v, uint16_t base_index) {
  VringState num{v.index, v.size};
  int r = set(ch, kSetVringNum, &num, sizeof num);
  if (r < 0) return r;
  // BASE before ADDR: the backend checks the used index against it when
  // the address is set.
  VringState base{v.index, base_index};
  if ((r = set(ch, kSetVringBase, &base, sizeof base)) < 0) return r;
  // vhost-user rings are given as our (frontend user) addresses.
  VringAddr addr{v.index, 0, reinterpret_cast<uintptr_t>(v.desc), reinterpret_cast<uintptr_t>(v.used),
                 reinterpret_cast<uintptr_t>(v.avail), 0};
  if ((r = set(ch, kSetVringAddr, &addr, sizeof addr)) < 0) return r;
  if ((r = send_vring_fd(ch, kSetVringKick, v.index, v.kick_fd)) < 0) return r;
  if ((r = send_vring_fd(ch, kSetVringCall, v.index, v.call_fd)) < 0) return r;
  VringState enable{v.index, 1};
  return set(ch, kSetVringEnable, &enable, sizeof enable);
}

int VhostUserTransport::send_vring_fd(Channel& ch, uint32_t request, unsigned index, int fd) {
  uint64_t payload = index | (fd < 0 ? kVringNoFd : 0);
  return set(ch, request, &payload, sizeof payload, fd < 0 ? nullptr : &fd, fd < 0 ? 0 : 1);
}

void VhostUserTransport::abandon() {
  // The backend sees the hang-up, stops its rings and unmaps our memory;
  // the watcher then marks us disconnected (and does not reconnect).
  abandoned_.store(true);
  std::lock_guard<std::mutex> lock(sock_mu_);
  shutdown(channel_->fd(), SHUT_RDWR);
}

void VhostUserTransport::on_channel_broken(int sock) {
  // With reconnecting on, the watcher decides: a hang-up makes it try.
  if (reconnect_ms_ > 0 && watching_.load()) shutdown(sock, SHUT_RDWR);
  else mark_disconnected();
}

void VhostUserTransport::mark_disconnected() {
  if (!gone_.exchange(true, std::memory_order_acq_rel)) wake_waiters();
}

void VhostUserTransport::wake_waiters() {
  uint64_t one = 1;
  for (int fd : wake_fds_) {
    ssize_t n = write(fd, &one, sizeof one);
    (void)n;
  }
}

int VhostUserTransport::enable_reconnect(int32_t timeout_ms, ResumeHook resume) {
  reconnect_ms_ = timeout_ms;
  resume_ = std::move(resume);
  return 0;
}

void VhostUserTransport::watch_disconnect(std::vector<int> wake_fds) {
  stop_watch();
  wake_fds_ = std::move(wake_fds);
  if (disconnected()) return wake_waiters();
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) return;  // no watcher: waits still end on their deadlines
  watching_.store(true);
  // A thread asleep in poll() until the backend hangs up. Hang-ups need no
  // POLLIN interest, so replies to control messages never wake it. Only
  // this thread replaces channel_, so it reads it without the lock.
  watcher_ = std::thread([this] {
    for (;;) {
      pollfd fds[2] = {{channel_->fd(), POLLRDHUP, 0}, {stop_fd_, POLLIN, 0}};
      int n = poll(fds, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || fds[1].revents) return;
      if (!(fds[0].revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL))) continue;
      if (reconnect_ms_ <= 0 || abandoned_.load() || !reconnect()) return mark_disconnected();
    }
  });
}

bool VhostUserTransport::reconnect() {
  reconnecting_.store(true);
  int64_t deadline = monotonic_ns() + int64_t(reconnect_ms_) * 1000000;
  for (;;) {
    if (try_reconnect() == 0) {
      if (!abandoned_.load()) return true;
      // The device was found broken meanwhile: cut the new backend off too.
      std::lock_guard<std::mutex> lock(sock_mu_);
      shutdown(channel_->fd(), SHUT_RDWR);
      return false;
    }
    int64_t left_ms = (deadline - monotonic_ns()) / 1000000;
    if (left_ms <= 0) return false;
    // Sleeps on the stop fd, so destroy does not wait for the timeout.
    pollfd p{stop_fd_, POLLIN, 0};
    if (poll(&p, 1, int(std::min<int64_t>(left_ms, kReconnectRetryMs))) > 0) return false;
  }
}

// One attempt: a new connection gets the whole setup again. Only when all of
// it went through does it replace the old one; any failure drops it.
int VhostUserTransport::try_reconnect() {
  int sock = -1;
  int r = connect_socket(path_, &sock);
  if (r < 0) return r;
  std::unique_ptr<Channel> ch(new Channel(sock));
  if ((r = handshake(*ch, true)) < 0) return r;
  // The same device: a restart onto another image must not pass for one.
  uint8_t config[sizeof config_];
  size_t got = 0;
  if ((r = get_config(*ch, config, config_len_, &got)) < 0) return r;
  if (got != config_len_ || memcmp(config, config_, std::min<size_t>(config_len_, 8)) != 0 ||
      (config_len_ >= 24 && memcmp(config + 20, config_ + 20, 4) != 0))
    return fail(ENODEV, "the restarted backend has another capacity or block size");
  if ((r = set(*ch, kSetFeatures, &acked_features_, sizeof acked_features_)) < 0) return r;
  std::lock_guard<std::mutex> lock(mu_);
  if (reconnect_slots_ < regions_.size())
    return fail(ENOTSUP, "the restarted backend has fewer memory slots (%llu) than regions mapped",
                (unsigned long long)reconnect_slots_);
  if ((r = send_all_regions(*ch)) < 0) return r;
  for (const VringSetup& v : vrings_) {
    // The queue puts what the dead backend left unfinished on the ring
    // again; the new backend starts right there.
    uint16_t base = resume_(v.index);
    if ((r = send_vring(*ch, v, base)) < 0) return r;
  }
  ch->set_on_broken([this, sock] { on_channel_broken(sock); });
  {
    std::lock_guard<std::mutex> swap(sock_mu_);
    channel_.swap(ch);  // ch (the dead connection) closes at the end of the scope
  }
  reconnecting_.store(false);
  // Start the rings (re-offered requests need a kick) and let waiters look again.
  uint64_t one = 1;
  for (const VringSetup& v : vrings_) {
    ssize_t n = write(v.kick_fd, &one, sizeof one);
    (void)n;
  }
  wake_waiters();
  return 0;
}

void VhostUserTransport::stop_watch() {
  if (watcher_.joinable()) {
    uint64_t one = 1;
    ssize_t n = write(stop_fd_, &one, sizeof one);
    (void)n;
    watcher_.join();
  }
  watching_.store(false);
  if (stop_fd_ >= 0) close(stop_fd_);
  stop_fd_ = -1;
}

}  // namespace blkio::virtio
