#include "net_sink.h"

#include <arpa/inet.h>
#include <endian.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace blkio::bench {

namespace {

// fio's control messages: two 32-bit words, a magic and a command. The open
// message is in network byte order, the close message little-endian (as fio
// writes them); a UDP write ends with a trailer of three little-endian 64-bit
// words: a magic, the datagram's sequence number and its size.
constexpr uint32_t kLinkMagic = 0x6c696e6b;
constexpr uint32_t kLinkClose = 0x89;
constexpr uint32_t kLinkOpen = 0x98;
constexpr uint64_t kUdpSeqMagic = 0x657375716e556563ULL;
constexpr size_t kUdpSeqLen = 24;
constexpr int64_t kSliceNs = 100'000'000;

int64_t clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void close_message(uint8_t out[8]) {
  uint32_t w[2] = {htole32(kLinkMagic), htole32(kLinkClose)};
  std::memcpy(out, w, 8);
}

bool is_close_message(const uint8_t* p, size_t len) {
  if (len != 8) return false;
  uint32_t w[2];
  std::memcpy(w, p, 8);
  return le32toh(w[0]) == kLinkMagic && le32toh(w[1]) == kLinkClose;
}

bool is_multicast_v4(const std::string& host) {
  in_addr a;
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && IN_MULTICAST(ntohl(a.s_addr));
}

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

int fail_with(std::string* why, const std::string& text, int err) {
  *why = text;
  return -err;
}

// Milliseconds for poll: at most a slice, rounded up so that a wait is never 0 before its time.
int poll_ms(int64_t now, int64_t until) {
  int64_t ns = std::min<int64_t>(until - now, kSliceNs);
  return ns <= 0 ? 0 : int((ns + 999999) / 1000000);
}

}  // namespace

NetSink::NetSink(const NetOptions& o, size_t capacity) : o_(o), ring_(std::max<size_t>(1, capacity)) {}

std::unique_ptr<NetSink> NetSink::create(const NetOptions& o, size_t capacity, int* err, std::string* why) {
  std::unique_ptr<NetSink> s(new NetSink(o, capacity));
  if (o.proto == NetProto::Unix && o.host.size() >= sizeof(sockaddr_un::sun_path)) {
    *err = -ENAMETOOLONG;
    *why = "the UNIX socket's path '" + o.host + "' is longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes";
    return nullptr;
  }
  if (o.listen) {
    int r = s->bind_listener(why);
    if (r < 0) {
      *err = r;
      return nullptr;
    }
  }
  return s;
}

NetSink::~NetSink() { close_target(); }

int NetSink::set_socket_options(int fd, std::string* why) {
  if (o_.window_size > 0) {
    int size = int(std::min<uint32_t>(o_.window_size, INT32_MAX));
    // As fio: the receive buffer of a receiving side, the send buffer of a sending side (both with pingpong).
    if ((o_.listen || o_.pingpong) && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) < 0)
      return fail_with(why, errno_text("setting window_size (SO_RCVBUF)", errno), errno);
    if ((!o_.listen || o_.pingpong) && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0)
      return fail_with(why, errno_text("setting window_size (SO_SNDBUF)", errno), errno);
  }
  bool tcp = o_.proto == NetProto::Tcp || o_.proto == NetProto::Tcp6;
  if (tcp && o_.mss > 0) {
    int mss = int(std::min<uint32_t>(o_.mss, INT32_MAX));
    if (setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) < 0) return fail_with(why, errno_text("setting mss (TCP_MAXSEG)", errno), errno);
  }
  if (tcp && o_.nodelay) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0) return fail_with(why, errno_text("setting nodelay (TCP_NODELAY)", errno), errno);
  }
  return 0;
}

int NetSink::bind_listener(std::string* why) {
  if (o_.proto == NetProto::Unix) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_with(why, errno_text("socket", errno), errno);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, o_.host.c_str(), o_.host.size());
    struct stat st;
    // A socket left by an earlier run is replaced, as fio does; anything else at the path is not touched.
    if (lstat(o_.host.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(o_.host.c_str());
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(fd, 10) < 0) {
      int e = errno;
      close(fd);
      return fail_with(why, errno_text(("binding the UNIX socket '" + o_.host + "'").c_str(), e), e);
    }
    bound_unix_ = true;
    listen_fd_ = fd;
    return 0;
  }
  int domain = v6() ? AF_INET6 : AF_INET;
  int fd = socket(domain, (udp() ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail_with(why, errno_text("socket", errno), errno);
  auto fail_closing = [&](const std::string& text, int e) {
    close(fd);
    return fail_with(why, text, e);
  };
  int one = 1;
  // Several readers of one multicast group share its port (fio's multicast example).
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
    return fail_closing(errno_text("setsockopt SO_REUSEADDR/SO_REUSEPORT", errno), errno);
  int r = set_socket_options(fd, why);
  if (r < 0) {
    close(fd);
    return r;
  }
  sockaddr_storage ss{};
  socklen_t len;
  if (v6()) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_addr = in6addr_any;
    a->sin6_port = htons(o_.port);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_ANY);
    a->sin_port = htons(o_.port);
    len = sizeof *a;
    if (!o_.host.empty()) {
      // A UDP reader with a host joins that multicast group and takes only its datagrams.
      ip_mreq mr{};
      inet_pton(AF_INET, o_.host.c_str(), &mr.imr_multiaddr);
      mr.imr_interface.s_addr = htonl(INADDR_ANY);
      if (!o_.interface_addr.empty() && inet_pton(AF_INET, o_.interface_addr.c_str(), &mr.imr_interface) != 1)
        return fail_closing("interface '" + o_.interface_addr + "' is not an IPv4 address", EINVAL);
      if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
        return fail_closing(errno_text(("joining the multicast group " + o_.host).c_str(), errno), errno);
      a->sin_addr = mr.imr_multiaddr;
    }
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0)
    return fail_closing(errno_text(("binding port " + std::to_string(o_.port)).c_str(), errno), errno);
  if (!udp() && listen(fd, 10) < 0) return fail_closing(errno_text("listen", errno), errno);
  listen_fd_ = fd;
  return 0;
}

int NetSink::resolve_peer(std::string* why) {
  std::memset(&peer_, 0, sizeof peer_);
  if (o_.proto == NetProto::Unix) {
    auto* a = reinterpret_cast<sockaddr_un*>(&peer_);
    a->sun_family = AF_UNIX;
    std::memcpy(a->sun_path, o_.host.c_str(), o_.host.size());
    peer_len_ = sizeof *a;
    return 0;
  }
  addrinfo hints{};
  hints.ai_family = v6() ? AF_INET6 : AF_INET;
  hints.ai_socktype = udp() ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* res = nullptr;
  int r = getaddrinfo(o_.host.c_str(), nullptr, &hints, &res);
  if (r != 0 || res == nullptr) {
    int e = r == EAI_SYSTEM ? errno : EINVAL;
    return fail_with(why, "cannot resolve hostname '" + o_.host + "': " + gai_strerror(r), e ? e : EINVAL);
  }
  std::memcpy(&peer_, res->ai_addr, std::min<size_t>(res->ai_addrlen, sizeof peer_));
  peer_len_ = socklen_t(std::min<size_t>(res->ai_addrlen, sizeof peer_));
  freeaddrinfo(res);
  if (v6()) reinterpret_cast<sockaddr_in6*>(&peer_)->sin6_port = htons(o_.port);
  else reinterpret_cast<sockaddr_in*>(&peer_)->sin_port = htons(o_.port);
  have_peer_ = true;
  return 0;
}

// Waits for events on fd in slices, so that a stop or the job's end is seen: 0 ready, or -errno.
int NetSink::wait_for(int fd, short events, int64_t until_ns, const std::function<bool()>& stopped, std::string* why, const char* what) {
  for (;;) {
    if (stopped()) return fail_with(why, std::string("stopped while ") + what, ECANCELED);
    int64_t now = clock_ns();
    if (now >= until_ns) return fail_with(why, std::string("the job's runtime ran out while ") + what, ETIMEDOUT);
    pollfd p{fd, events, 0};
    int r = poll(&p, 1, poll_ms(now, until_ns));
    if (r < 0 && errno != EINTR) return fail_with(why, errno_text("poll", errno), errno);
    if (r > 0) return 0;
  }
}

int NetSink::accept_peer(int64_t until_ns, const std::function<bool()>& stopped, std::string* why) {
  std::string waiting = o_.proto == NetProto::Unix ? "waiting for a connection on '" + o_.host + "'" : "waiting for a connection on port " + std::to_string(o_.port);
  for (;;) {
    int r = wait_for(listen_fd_, POLLIN, until_ns, stopped, why, waiting.c_str());
    if (r < 0) return r;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      fd_ = fd;
      if (o_.proto != NetProto::Unix) {
        r = set_socket_options(fd, why);
        if (r < 0) return r;
      }
      close(listen_fd_);  // one peer per job, as fio takes: the port is free again at once
      listen_fd_ = -1;
      return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) return fail_with(why, errno_text("accept", errno), errno);
  }
}

int NetSink::connect_peer(int64_t until_ns, const std::function<bool()>& stopped, std::string* why) {
  int r = resolve_peer(why);
  if (r < 0) return r;
  int domain = o_.proto == NetProto::Unix ? AF_UNIX : v6() ? AF_INET6 : AF_INET;
  fd_ = socket(domain, (udp() ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return fail_with(why, errno_text("socket", errno), errno);
  if (o_.proto != NetProto::Unix) {
    r = set_socket_options(fd_, why);
    if (r < 0) return r;
  }
  if (udp()) {
    if (!v6() && is_multicast_v4(o_.host)) {
      if (!o_.interface_addr.empty()) {
        in_addr ifa;
        if (inet_pton(AF_INET, o_.interface_addr.c_str(), &ifa) != 1) return fail_with(why, "interface '" + o_.interface_addr + "' is not an IPv4 address", EINVAL);
        if (setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_IF, &ifa, sizeof ifa) < 0) return fail_with(why, errno_text("setsockopt IP_MULTICAST_IF", errno), errno);
      }
      unsigned char ttl = static_cast<unsigned char>(std::clamp(o_.ttl, 0, 255));
      if (setsockopt(fd_, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0) return fail_with(why, errno_text("setsockopt IP_MULTICAST_TTL", errno), errno);
    }
    // fio's readers wait for this before they take data.
    uint32_t w[2] = {htonl(kLinkMagic), htonl(kLinkOpen)};
    if (sendto(fd_, w, sizeof w, 0, reinterpret_cast<sockaddr*>(&peer_), peer_len_) < 0)
      return fail_with(why, errno_text(("sending the open message to " + o_.host).c_str(), errno), errno);
    return 0;
  }
  std::string where = o_.proto == NetProto::Unix ? "'" + o_.host + "'" : o_.host + " port " + std::to_string(o_.port);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&peer_), peer_len_) == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN) return fail_with(why, errno_text(("connecting to " + where).c_str(), errno), errno);
  r = wait_for(fd_, POLLOUT, until_ns, stopped, why, ("connecting to " + where).c_str());
  if (r < 0) return r;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err != 0) return fail_with(why, errno_text(("connecting to " + where).c_str(), err), err);
  return 0;
}

int NetSink::wait_for_udp_open(int64_t until_ns, const std::function<bool()>& stopped, std::string* why) {
  fd_ = listen_fd_;
  listen_fd_ = -1;
  std::string waiting = "waiting for a sender on UDP port " + std::to_string(o_.port);
  for (;;) {
    int r = wait_for(fd_, POLLIN, until_ns, stopped, why, waiting.c_str());
    if (r < 0) return r;
    uint32_t w[2];
    peer_len_ = sizeof peer_;
    ssize_t n = recvfrom(fd_, w, sizeof w, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer_), &peer_len_);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n < 0) return fail_with(why, errno_text("recvfrom", errno), errno);
    if (n != ssize_t(sizeof w) || ntohl(w[0]) != kLinkMagic || ntohl(w[1]) != kLinkOpen)
      return fail_with(why, "the first datagram on UDP port " + std::to_string(o_.port) + " is not a sender's open message", EBADMSG);
    have_peer_ = true;
    return 0;
  }
}

int NetSink::open_target(int64_t until_ns, const std::function<bool()>& stopped, std::string* why) {
  if (fd_ >= 0) return 0;
  if (!o_.listen) return connect_peer(until_ns, stopped, why);
  if (udp()) return wait_for_udp_open(until_ns, stopped, why);
  return accept_peer(until_ns, stopped, why);
}

void NetSink::close_target() {
  if (fd_ >= 0 && o_.writes) {
    // fio's close message: a fio receiver ends its job on it (a UDP one has no other way to know).
    uint8_t m[8];
    close_message(m);
    if (udp()) sendto(fd_, m, sizeof m, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer_), peer_len_);
    else send(fd_, m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (fd_ >= 0) close(fd_);
  if (listen_fd_ >= 0) close(listen_fd_);
  fd_ = listen_fd_ = -1;
  if (bound_unix_) unlink(o_.host.c_str());
  bound_unix_ = false;
}

void NetSink::accept(NetPending::Op op, void* buf, size_t len, void* user_data) {
  if (count_ == ring_.size()) {
    std::vector<NetPending> bigger(ring_.size() * 2);
    for (size_t i = 0; i < count_; i++) bigger[i] = ring_[(head_ + i) % ring_.size()];
    ring_.swap(bigger);
    head_ = 0;
  }
  ring_[(head_ + count_) % ring_.size()] = NetPending{op, false, static_cast<uint8_t*>(buf), len, 0, user_data};
  count_++;
}

void NetSink::readv(uint64_t, const iovec* iov, int iovcnt, void* user_data) {
  // The job loop's vectors have one element.
  if (iovcnt == 1) accept(NetPending::kRead, iov[0].iov_base, iov[0].iov_len, user_data);
  else accept(NetPending::kUnsupported, nullptr, 0, user_data);
}

void NetSink::writev(uint64_t, const iovec* iov, int iovcnt, void* user_data) {
  if (iovcnt == 1) accept(NetPending::kWrite, iov[0].iov_base, iov[0].iov_len, user_data);
  else accept(NetPending::kUnsupported, nullptr, 0, user_data);
}

short NetSink::events_of(const NetPending& p) const {
  bool sending = (p.op == NetPending::kWrite) != p.reply;
  return sending ? POLLOUT : POLLIN;
}

// One send or receive of what is left of the request's current leg.
int NetSink::transfer(bool send_it, NetPending& p, const char** why) {
  if (udp()) {
    ssize_t n;
    if (send_it) {
      if (!have_peer_) {
        *why = "no datagram has come yet to answer";
        return -ENOTCONN;
      }
      if (!p.reply && p.len >= kUdpSeqLen) {
        // fio's trailer, by which a fio reader counts datagrams lost.
        uint64_t t[3] = {htole64(kUdpSeqMagic), htole64(udp_seq_), htole64(uint64_t(p.len))};
        std::memcpy(p.buf + p.len - kUdpSeqLen, t, sizeof t);
      }
      n = sendto(fd_, p.buf, p.len, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&peer_), peer_len_);
      if (n >= 0 && !p.reply && p.len >= kUdpSeqLen) udp_seq_++;
    } else {
      sockaddr_storage from{};
      socklen_t from_len = sizeof from;
      n = recvfrom(fd_, p.buf, p.len, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n >= 0 && is_close_message(p.buf, size_t(n))) {
        ended_ = true;
        *why = "the sender closed the exchange";
        return -ECONNRESET;
      }
      if (n >= 0 && o_.listen) {
        peer_ = from;  // a pingpong reader answers whoever sent
        peer_len_ = from_len;
        have_peer_ = true;
      }
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
      int e = errno;
      *why = send_it ? (e == EMSGSIZE ? "the block is larger than a datagram can be" : "sendto failed") : "recvfrom failed";
      return -e;
    }
    p.done = p.len;  // a datagram is taken whole (a shorter one counts as the request's)
    return 1;
  }
  ssize_t n = send_it ? send(fd_, p.buf + p.done, p.len - p.done, MSG_DONTWAIT | MSG_NOSIGNAL) : recv(fd_, p.buf + p.done, p.len - p.done, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    int e = errno;
    if (e == EPIPE || e == ECONNRESET) {
      ended_ = true;  // the peer is gone: the exchange is over
      *why = "the peer closed the connection";
      return -e;
    }
    *why = send_it ? "send failed" : "recv failed";
    return -e;
  }
  if (n == 0 && !send_it) {
    ended_ = true;
    *why = "the peer closed the connection";
    return -ECONNRESET;
  }
  if (!send_it && p.done == 0 && is_close_message(p.buf, size_t(n))) {
    ended_ = true;
    *why = "the sender closed the exchange";
    return -ECONNRESET;
  }
  p.done += size_t(n);
  return p.done == p.len ? 1 : 0;
}

int NetSink::step(NetPending& p, const char** why) {
  switch (p.op) {
    case NetPending::kNone:
      return 1;  // a flush: nothing is cached
    case NetPending::kUnsupported:
      *why = "ioengine=net takes only reads and writes";
      return -ENOTSUP;
    default:
      break;
  }
  for (;;) {
    bool sending = (p.op == NetPending::kWrite) != p.reply;
    int r = transfer(sending, p, why);
    if (r <= 0) return r;
    if (!o_.pingpong || p.reply) return 1;
    p.reply = true;  // pingpong: now the answer, the same block the other way
    p.done = 0;
  }
}

int NetSink::do_io(Completion* out, int min, int max, timespec* timeout) {
  if (min < 0 || max < 0 || min > max) return -EINVAL;
  if (out == nullptr && max > 0) return -EINVAL;
  int64_t now = clock_ns();
  int64_t wait_until = timeout ? now + int64_t(timeout->tv_sec) * 1000000000 + timeout->tv_nsec : now;
  int n = 0;
  while (n < max && count_ > 0) {
    NetPending& p = ring_[head_];
    Completion c{};
    c.user_data = p.user_data;
    if (giving_up_ || ended_ || now >= deadline_ || fd_ < 0) {
      // Not done, and never will be: the job's end (its runtime, a stop, the peer's end) drops it.
      ended_ = true;
      c.ret = -ECANCELED;
      c.error_msg = "the exchange ended before the request was done";
    } else {
      const char* why = nullptr;
      int r = step(p, &why);
      if (r == 0) {
        // Would block: wait on the socket if the caller still needs completions and has time.
        int64_t until = std::min(wait_until, deadline_);
        if (n >= min || now >= until) {
          if (now >= deadline_) continue;  // gives it up above
          break;
        }
        pollfd pf{fd_, events_of(p), 0};
        if (poll(&pf, 1, poll_ms(now, until)) < 0 && errno != EINTR) {
          c.ret = -errno;
          c.error_msg = "poll failed";
        } else {
          now = clock_ns();
          continue;
        }
      } else if (r < 0) {
        c.ret = r;
        c.error_msg = why;
      }
    }
    out[n++] = c;
    head_ = (head_ + 1) % ring_.size();
    count_--;
  }
  if (timeout) *timeout = timespec{0, 0};
  return n;
}

}  // namespace blkio::bench
