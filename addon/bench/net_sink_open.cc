// blkbench's net sink, reaching its peer: binding the listening side (on the
// JS thread, at construction), then accepting, waiting for a UDP sender's open
// message, or resolving and connecting (on the loop's thread), each wait in
// slices that see the job's end and its stop.
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "net_sink.h"
#include "net_wire.h"

namespace blkio::bench {

using namespace net;

namespace {

bool is_multicast_v4(const std::string& host) {
  in_addr a;
  return inet_pton(AF_INET, host.c_str(), &a) == 1 && IN_MULTICAST(ntohl(a.s_addr));
}

std::string errno_text(const char* what, int err) { return std::string(what) + ": " + strerror(err); }

int fail_with(std::string* why, const std::string& text, int err) {
  *why = text;
  return -err;
}

}  // namespace

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
    uint32_t w[2];
    open_message(w);
    if (sendto(fd_, w, sizeof w, 0, reinterpret_cast<sockaddr*>(&peer_), peer_len_) < 0)
      return fail_with(why, errno_text(("sending the open message to " + o_.host).c_str(), errno), errno);
    return 0;
  }
  return connect_stream(until_ns, stopped, why);
}

// A peer started in the same run may bind a moment after this job starts: a
// refused connection (no listener yet) is tried again for a short grace, then
// is the job's error, as fio's is at once.
int NetSink::connect_stream(int64_t until_ns, const std::function<bool()>& stopped, std::string* why) {
  constexpr int64_t kGraceNs = 1'000'000'000, kRetryNs = 20'000'000;
  std::string where = o_.proto == NetProto::Unix ? "'" + o_.host + "'" : o_.host + " port " + std::to_string(o_.port);
  std::string what = "connecting to " + where;
  int64_t give_up = std::min(until_ns, clock_ns() + kGraceNs);
  for (;;) {
    int err = 0;
    if (connect(fd_, reinterpret_cast<sockaddr*>(&peer_), peer_len_) < 0) err = errno;
    if (err == EINPROGRESS || (err == EAGAIN && o_.proto != NetProto::Unix)) {
      int r = wait_for(fd_, POLLOUT, until_ns, stopped, why, what.c_str());
      if (r < 0) return r;
      socklen_t len = sizeof err;
      if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    }
    if (err == 0) return 0;
    // No listener yet (or, for a UNIX socket, no path or a full backlog): try again on a fresh socket.
    bool again = err == ECONNREFUSED || (o_.proto == NetProto::Unix && (err == ENOENT || err == EAGAIN));
    if (!again || clock_ns() + kRetryNs >= give_up || stopped()) return fail_with(why, errno_text(what.c_str(), err), err);
    timespec pause{0, long(kRetryNs)};
    nanosleep(&pause, nullptr);
    int domain = o_.proto == NetProto::Unix ? AF_UNIX : v6() ? AF_INET6 : AF_INET;
    int fd = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_with(why, errno_text("socket", errno), errno);
    close(fd_);
    fd_ = fd;
    if (o_.proto != NetProto::Unix) {
      int r = set_socket_options(fd_, why);
      if (r < 0) return r;
    }
  }
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
    if (n != ssize_t(sizeof w) || !is_open_message(w))
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

}  // namespace blkio::bench
