#include "net_sink.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "net_wire.h"

namespace blkio::bench {

using namespace net;

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

// fio's reader: a datagram whose trailer's sequence number skips ahead counts the skipped ones as lost.
void NetSink::count_drops(const uint8_t* buf, size_t len) {
  if (udp_seq_off_ || len < kUdpSeqLen) return;
  uint64_t t[3];
  std::memcpy(t, buf + len - kUdpSeqLen, sizeof t);
  if (le64toh(t[0]) != kUdpSeqMagic) return;
  if (le64toh(t[2]) != len) {
    udp_seq_off_ = true;  // not fio's trailer after all (or another block size): stop counting
    return;
  }
  uint64_t seq = le64toh(t[1]);
  if (seq > udp_expected_) dropped_ += seq - udp_expected_;
  udp_expected_ = seq + 1;
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
      if (n >= 0 && o_.listen && !p.reply) count_drops(p.buf, size_t(n));
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
