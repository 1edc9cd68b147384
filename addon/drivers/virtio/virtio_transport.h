// How the virtio-blk engine reaches a device: feature negotiation, the
// config space, memory the device may access, virtqueue setup and the
// device's status. vhost-user implements it over a unix socket; vhost-vdpa
// over its character device.
//
// The engine calls, in order: device_features, set_features, read_config
// (connect); map_memory for the rings, setup_vring per queue, driver_ok,
// watch_disconnect (start); map_memory/unmap_memory for user regions at any
// time after start. A failure returns -errno after fail(...).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../../core/errors.h"

namespace blkio::virtio {

struct VringSetup {
  unsigned index = 0;
  unsigned size = 0;  // descriptors
  // Each area both as our address and as the device sees it (map_memory's
  // device_addr); a transport sends whichever its protocol wants.
  const void* desc = nullptr;
  const void* avail = nullptr;
  const void* used = nullptr;
  uint64_t desc_device = 0;
  uint64_t avail_device = 0;
  uint64_t used_device = 0;
  int kick_fd = -1;  // eventfd we write to notify the device
  int call_fd = -1;  // eventfd the device signals on completions
};

class VirtioTransport {
 public:
  virtual ~VirtioTransport() = default;

  // The virtio feature bits the device offers (transport-private bits,
  // such as vhost-user's PROTOCOL_FEATURES, are not included).
  virtual uint64_t device_features() const = 0;
  // Acks the driver's choice (a subset of device_features), adding what the
  // transport itself needs; ends feature negotiation.
  virtual int set_features(uint64_t features) = 0;
  // Reads up to len bytes of the device config space from offset 0; sets
  // *got to the bytes the device provided (the rest of buf is zeroed).
  virtual int read_config(uint8_t* buf, size_t len, size_t* got) = 0;

  // Virtqueues the transport can set up (0: no limit of its own).
  virtual unsigned max_queues() const = 0;
  // Largest queue size the device accepts (0: the spec's 32768).
  virtual unsigned max_queue_size() const = 0;
  // Memory regions the device can have mapped at once, and the alignment
  // of their address and length.
  virtual uint64_t max_mem_regions() const = 0;
  virtual uint64_t mem_region_alignment() const = 0;
  // Whether map_memory needs the region's fd (vfio-pci maps by address).
  virtual bool needs_mem_region_fd() const { return true; }

  // Lets the device access [addr, addr+len), which is fd's contents from
  // fd_offset on (the fd stays the caller's). *device_addr is what
  // descriptors and ring addresses must carry for addr.
  virtual int map_memory(void* addr, size_t len, int fd, int64_t fd_offset, uint64_t* device_addr) = 0;
  virtual void unmap_memory(void* addr, size_t len, uint64_t device_addr) = 0;

  // Size, base index 0, ring addresses, kick and call fds, then enable.
  virtual int setup_vring(const VringSetup& vring) = 0;
  // Where the driver may notify queue `index` by storing its index (16 bits)
  // from the queue's thread, with no syscall (a mapped PCI doorbell); null
  // when kicks go through the queue's kick eventfd. Valid after setup_vring.
  virtual volatile uint16_t* doorbell(unsigned index) const {
    (void)index;
    return nullptr;
  }
  // All queues are set up: the device may start processing.
  virtual int driver_ok() = 0;

  // From now on, when the device goes away (backend process died), set
  // disconnected() and write 1 to each of wake_fds, so that every waiter
  // (ours or an event loop watching a completion fd) wakes up. The fds must
  // stay open until the transport is destroyed.
  virtual void watch_disconnect(std::vector<int> wake_fds) = 0;
  virtual bool disconnected() const = 0;

  // After a reconnect, before virtqueue vq runs on the new device: re-offers
  // the queue's unfinished requests and returns the avail index the device
  // must start at. Called on the transport's own thread.
  using ResumeHook = std::function<uint16_t(unsigned vq)>;
  // Survive a restart of the device (vhost-user: a backend that hangs up):
  // try to reconnect for up to timeout_ms, then set features, memory and
  // vrings up again (calling resume for each), so requests see latency, not
  // errors. Only past timeout_ms does it count as disconnected. Call before
  // watch_disconnect.
  virtual int enable_reconnect(int32_t timeout_ms, ResumeHook resume) {
    (void)timeout_ms, (void)resume;
    return fail(ENOTSUP, "this transport cannot reconnect");
  }

  // Connect succeeded: an fd the user handed in (libblkio's `fd` property)
  // belongs to the transport from now on. Until then a failure leaves it
  // with the caller.
  virtual void own_adopted_fd() {}
  // The engine found the device broken (a corrupt used ring) and fails its
  // requests: stop the device from touching our memory where the transport
  // can (vhost-user hangs up, so the backend drops its mappings). It may
  // be called from any queue's thread.
  virtual void abandon() {}
  // A static message for requests failed because of the disconnect.
  virtual const char* disconnect_message() const = 0;
};

// A kind of transport, as a libblkio driver name exposes it.
struct VirtioTransportType {
  const char* driver_name;  // "virtio-blk-vhost-user"
  bool supports_fd;         // the "fd" property may be set (vhost-vdpa)
  // Opens path (or adopts fd when >= 0) and performs the transport's
  // handshake up to feature negotiation.
  int (*open)(const std::string& path, int fd, std::unique_ptr<VirtioTransport>* out);
  bool supports_reconnect = false;  // the "reconnect-timeout-ms" property exists (vhost-user)
};

}  // namespace blkio::virtio
