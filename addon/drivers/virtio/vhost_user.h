// The vhost-user frontend (QEMU docs/interop/vhost-user.rst) for a backend
// such as qemu-storage-daemon's vhost-user-blk export. Memory is shared by
// passing memfds; descriptors and ring addresses carry our own virtual
// addresses (guest "physical" = our VA).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vhost_user_channel.h"
#include "virtio_transport.h"

namespace blkio::virtio {

// "virtio-blk-vhost-user": path is the backend's unix socket; no fd.
extern const VirtioTransportType kVhostUserTransport;

class VhostUserTransport : public VirtioTransport {
 public:
  // VirtioTransportType::open: connects to the socket at path and does the
  // handshake (owner, features, protocol features, queue and slot counts).
  static int open(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out);
  ~VhostUserTransport() override;

  uint64_t device_features() const override;
  int set_features(uint64_t features) override;
  int read_config(uint8_t* buf, size_t len, size_t* got) override;
  unsigned max_queues() const override { return queue_num_; }
  unsigned max_queue_size() const override { return 0; }
  uint64_t max_mem_regions() const override { return max_regions_; }
  uint64_t mem_region_alignment() const override { return 1; }
  int map_memory(void* addr, size_t len, int fd, int64_t fd_offset, uint64_t* device_addr) override;
  void unmap_memory(void* addr, size_t len, uint64_t device_addr) override;
  int setup_vring(const VringSetup& vring) override;
  int driver_ok() override { return 0; }  // the rings run once their kick fd is set
  int enable_reconnect(int32_t timeout_ms, ResumeHook resume) override;
  void watch_disconnect(std::vector<int> wake_fds) override;
  bool disconnected() const override { return gone_.load(std::memory_order_acquire); }
  void abandon() override;
  const char* disconnect_message() const override { return "vhost-user backend disconnected"; }

 private:
  struct Region {
    void* addr;
    size_t len;
    int64_t fd_offset;
    int fd;  // our dup: REM_MEM_REG and SET_MEM_TABLE send it again later
  };

  VhostUserTransport(int sock, std::string path);
  // Owner, features, protocol features, queue and slot counts. again: on a
  // reconnect, where the backend must offer at least what we use.
  int handshake(vhost_user::Channel& ch, bool again);
  int get_config(vhost_user::Channel& ch, uint8_t* buf, size_t len, size_t* got);
  // A SET_* message, acknowledged when REPLY_ACK was negotiated.
  int set(vhost_user::Channel& ch, uint32_t request, const void* payload, size_t size, const int* fds = nullptr,
          size_t nfds = 0);
  int set(uint32_t request, const void* payload, size_t size, const int* fds = nullptr, size_t nfds = 0) {
    return set(*channel_, request, payload, size, fds, nfds);
  }
  int send_vring(vhost_user::Channel& ch, const VringSetup& v, uint16_t base);
  int send_vring_fd(vhost_user::Channel& ch, uint32_t request, unsigned index, int fd);
  int send_mem_table(vhost_user::Channel& ch);
  int send_all_regions(vhost_user::Channel& ch);
  // The channel failed (peer gone, timeout, garbage).
  void on_channel_broken(int sock);
  // Whether a region change can wait for the reconnect in progress (mu_ held).
  bool deferring() const;
  // Watcher thread: reconnects within the timeout; false when it gave up
  // (or destroy asked it to stop).
  bool reconnect();
  int try_reconnect();
  void mark_disconnected();
  void wake_waiters();
  void stop_watch();

  // mu_ guards channel_ and regions_ (control calls, and the watcher while
  // it swaps in a new connection). sock_mu_ guards only the swap, for
  // abandon(), which queue threads call.
  std::mutex mu_;
  std::mutex sock_mu_;
  std::unique_ptr<vhost_user::Channel> channel_;
  std::string path_;
  uint64_t features_ = 0;           // as offered, including PROTOCOL_FEATURES
  uint64_t acked_features_ = 0;     // what SET_FEATURES sent
  uint64_t protocol_features_ = 0;  // negotiated
  unsigned queue_num_ = 0;
  uint64_t max_regions_ = 8;
  uint8_t config_[24] = {};         // config as first read (capacity, blk_size): a restarted backend must match
  size_t config_len_ = 0;
  std::vector<Region> regions_;
  std::vector<VringSetup> vrings_;  // as set up, for a reconnect
  int32_t reconnect_ms_ = 0;
  uint64_t reconnect_slots_ = 0;    // what the backend of a reconnect attempt offers (watcher only)
  ResumeHook resume_;
  std::atomic<bool> watching_{false};
  std::atomic<bool> reconnecting_{false};
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> gone_{false};
  std::vector<int> wake_fds_;
  std::thread watcher_;
  int stop_fd_ = -1;
};

}  // namespace blkio::virtio
