#include "vhost_user_channel.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "../../core/deadline.h"
#include "../../core/errors.h"

namespace blkio::virtio::vhost_user {

namespace {

constexpr uint32_t kVersion = 1;
constexpr uint32_t kReplyFlag = 0x4;
constexpr uint32_t kNeedReplyFlag = 0x8;
constexpr size_t kMaxPayload = 4096;

struct __attribute__((packed)) Header {
  uint32_t request;
  uint32_t flags;
  uint32_t size;
};
static_assert(sizeof(Header) == 12, "vhost-user header");

void close_received_fds(msghdr* msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = std::min((c->cmsg_len - CMSG_LEN(0)) / sizeof(int), kMaxFdsPerMessage);
    int fds[kMaxFdsPerMessage];
    memcpy(fds, CMSG_DATA(c), n * sizeof(int));
    for (size_t i = 0; i < n; i++) close(fds[i]);
  }
}

}  // namespace

const char* request_name(uint32_t r) {
  switch (r) {
    case kGetFeatures: return "GET_FEATURES";
    case kSetFeatures: return "SET_FEATURES";
    case kSetOwner: return "SET_OWNER";
    case kSetMemTable: return "SET_MEM_TABLE";
    case kSetVringNum: return "SET_VRING_NUM";
    case kSetVringAddr: return "SET_VRING_ADDR";
    case kSetVringBase: return "SET_VRING_BASE";
    case kSetVringKick: return "SET_VRING_KICK";
    case kSetVringCall: return "SET_VRING_CALL";
    case kGetProtocolFeatures: return "GET_PROTOCOL_FEATURES";
    case kSetProtocolFeatures: return "SET_PROTOCOL_FEATURES";
    case kGetQueueNum: return "GET_QUEUE_NUM";
    case kSetVringEnable: return "SET_VRING_ENABLE";
    case kGetConfig: return "GET_CONFIG";
    case kGetMaxMemSlots: return "GET_MAX_MEM_SLOTS";
    case kAddMemReg: return "ADD_MEM_REG";
    case kRemMemReg: return "REM_MEM_REG";
  }
  return "message";
}

Channel::~Channel() { close(sock_); }

int Channel::send(uint32_t request, const void* payload, size_t size, const int* fds, size_t nfds,
                  bool need_reply) {
  if (broken()) return fail(EIO, "vhost-user %s: the connection to the backend is gone", request_name(request));
  Header h{request, kVersion | (need_reply ? kNeedReplyFlag : 0), uint32_t(size)};
  int r = write_all(&h, sizeof h, payload, size, fds, nfds);
  if (r < 0 || !need_reply) return r;
  uint64_t status = 0;
  size_t got = 0;
  if ((r = receive(request, &status, sizeof status, &got)) < 0) return r;
  if (got != sizeof status) return break_with(EPROTO, "acknowledged with a payload that is not a u64", request);
  if (status != 0)
    return fail(EIO, "the vhost-user backend rejected %s (status %llu)", request_name(request),
                (unsigned long long)status);
  return 0;
}

int Channel::get_u64(uint32_t request, uint64_t* out) {
  int r = send(request, nullptr, 0, nullptr, 0, false);
  if (r < 0) return r;
  size_t got = 0;
  if ((r = receive(request, out, sizeof *out, &got)) < 0) return r;
  if (got != sizeof *out) return break_with(EPROTO, "replied with a payload that is not a u64", request);
  return 0;
}

int Channel::write_all(const void* header, size_t header_len, const void* payload, size_t size, const int* fds,
                       size_t nfds) {
  iovec iov[2] = {{const_cast<void*>(header), header_len}, {const_cast<void*>(payload), size}};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = size ? 2 : 1;
  if (nfds) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  uint32_t request = static_cast<const Header*>(header)->request;
  int64_t deadline = monotonic_ns() + kSendTimeoutNs;
  size_t left = header_len + size;
  while (left > 0) {
    // MSG_NOSIGNAL: a dead backend must give EPIPE, not kill the process.
    // MSG_DONTWAIT: a backend that stops reading fills the socket buffer,
    // and then we wait in poll() with a deadline instead of in sendmsg().
    ssize_t n = sendmsg(sock_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        int r = wait_writable(deadline);
        if (r == -ETIMEDOUT)
          return break_with(ETIMEDOUT, "the backend stopped reading its socket (message not sent within 5 s)", request);
        if (r < 0) return break_with(-r, strerror(-r), request);
        continue;
      }
      return break_with(errno == EPIPE || errno == ECONNRESET ? EIO : errno, strerror(errno), request);
    }
    left -= size_t(n);
    msg.msg_control = nullptr;  // the fds went with the first bytes
    msg.msg_controllen = 0;
    while (n > 0 && msg.msg_iovlen > 0) {
      size_t take = std::min(size_t(n), msg.msg_iov->iov_len);
      msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + take;
      msg.msg_iov->iov_len -= take;
      n -= ssize_t(take);
      if (msg.msg_iov->iov_len == 0) msg.msg_iov++, msg.msg_iovlen--;
    }
  }
  return 0;
}

int Channel::wait_writable(int64_t deadline_ns) {
  for (;;) {
    int64_t left = deadline_ns - monotonic_ns();
    if (left <= 0) return -ETIMEDOUT;
    pollfd pfd{sock_, POLLOUT, 0};
    int pr = poll(&pfd, 1, int(left / 1000000) + 1);
    if (pr < 0 && errno != EINTR) return -errno;
    // Hang-ups and errors: the next sendmsg reports them.
    if (pr > 0) return 0;
  }
}

int Channel::receive(uint32_t request, void* payload, size_t max, size_t* got) {
  int64_t deadline = monotonic_ns() + kReplyTimeoutNs;
  Header h{};
  int r = read_exact(&h, sizeof h, deadline);
  if (r < 0) return break_with(-r, r == -ETIMEDOUT ? "no reply within 5 s" : "the connection was closed", request);
  if ((h.flags & 3) != kVersion || !(h.flags & kReplyFlag) || h.request != request)
    return break_with(EPROTO, "got a malformed reply (not a vhost-user backend?)", request);
  if (h.size > max) {
    if (h.size > kMaxPayload) return break_with(EPROTO, "got a reply with an oversized payload", request);
    char discard[kMaxPayload];
    if (read_exact(discard, h.size, deadline) < 0) return break_with(EIO, "the connection was closed", request);
    return break_with(EPROTO, "got a reply with an unexpected payload size", request);
  }
  if (h.size && (r = read_exact(payload, h.size, deadline)) < 0)
    return break_with(-r, r == -ETIMEDOUT ? "no complete reply within 5 s" : "the connection was closed", request);
  *got = h.size;
  return 0;
}

int Channel::read_exact(void* buf, size_t len, int64_t deadline_ns) {
  auto* p = static_cast<char*>(buf);
  while (len > 0) {
    int64_t left = deadline_ns - monotonic_ns();
    if (left <= 0) return -ETIMEDOUT;
    pollfd pfd{sock_, POLLIN, 0};
    int pr = poll(&pfd, 1, int(left / 1000000) + 1);
    if (pr < 0 && errno != EINTR) return -errno;
    if (pr <= 0) continue;
    iovec iov{p, len};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(sock_, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return -errno;
    }
    if (msg.msg_controllen) close_received_fds(&msg);  // replies carry no fds we want
    if (n == 0) return -ECONNRESET;
    p += n;
    len -= size_t(n);
  }
  return 0;
}

int Channel::break_with(int err, const char* what, uint32_t request) {
  if (!broken_.exchange(true, std::memory_order_acq_rel) && on_broken_) on_broken_();
  return fail(err, "vhost-user %s: %s", request_name(request), what);
}

}  // namespace blkio::virtio::vhost_user
