// The vhost-user wire: 12-byte headers and payloads on a unix stream
// socket, fds as SCM_RIGHTS. Every socket operation is bounded: sends and
// replies each have a 5 s deadline, so no backend can hang a caller. Any transport
// failure (peer gone, timeout, malformed reply) marks the channel broken for
// good and runs the on_broken callback.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace blkio::virtio::vhost_user {

// Message ids (vhost-user.rst, "Front-end message types").
enum Request : uint32_t {
  kGetFeatures = 1,
  kSetFeatures = 2,
  kSetOwner = 3,
  kSetMemTable = 5,
  kSetVringNum = 8,
  kSetVringAddr = 9,
  kSetVringBase = 10,
  kSetVringKick = 12,
  kSetVringCall = 13,
  kGetProtocolFeatures = 15,
  kSetProtocolFeatures = 16,
  kGetQueueNum = 17,
  kSetVringEnable = 18,
  kGetConfig = 24,
  kGetMaxMemSlots = 36,
  kAddMemReg = 37,
  kRemMemReg = 38,
};

const char* request_name(uint32_t request);

constexpr size_t kMaxFdsPerMessage = 8;
// A backend that does not answer within this is treated as gone, so a
// wedged or wrong peer is an error instead of a hang.
constexpr int64_t kReplyTimeoutNs = 5'000'000'000;
// A message that cannot be sent within this (the backend stopped reading
// and the socket buffer is full) breaks the channel: part of it may have
// gone out already, so the stream cannot be trusted afterwards.
constexpr int64_t kSendTimeoutNs = 5'000'000'000;

class Channel {
 public:
  // Takes ownership of the connected socket.
  explicit Channel(int sock) : sock_(sock) {}
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  int fd() const { return sock_; }
  bool broken() const { return broken_.load(std::memory_order_acquire); }
  void set_on_broken(std::function<void()> f) { on_broken_ = std::move(f); }

  // Sends one message. need_reply sets NEED_REPLY and waits for the
  // backend's u64 status (only valid once REPLY_ACK was negotiated).
  int send(uint32_t request, const void* payload, size_t size, const int* fds, size_t nfds, bool need_reply);
  // Waits for the reply to request; *got is its payload size (at most max).
  int receive(uint32_t request, void* payload, size_t max, size_t* got);
  // A request without payload answered by a u64 (GET_FEATURES…).
  int get_u64(uint32_t request, uint64_t* out);
  // Marks the channel broken; returns -err after fail("vhost-user REQ: what").
  int break_with(int err, const char* what, uint32_t request);

 private:
  int write_all(const void* header, size_t header_len, const void* payload, size_t size, const int* fds,
                size_t nfds);
  int read_exact(void* buf, size_t len, int64_t deadline_ns);
  // Waits until the socket takes more bytes; -ETIMEDOUT at the deadline.
  int wait_writable(int64_t deadline_ns);

  int sock_;
  std::atomic<bool> broken_{false};
  std::function<void()> on_broken_;
};

}  // namespace blkio::virtio::vhost_user
