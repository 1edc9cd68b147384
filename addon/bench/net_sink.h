// blkbench's ioengine=net (fio's net engine): a job's requests are sends and
// receives on a socket. TCP, TCP over IPv6 and UNIX stream sockets move each
// request's block whole; UDP (and UDP over IPv6, and IPv4 multicast) sends one
// datagram per write and takes one per read.
//
// Who waits for whom, as in fio: a TCP job with `listen` (and every UDP or
// UNIX reader) binds at construction, on the JS thread, so that a sender
// started a moment later finds it; it accepts (or, for UDP, waits for the
// sender's open message) in open_target, on the loop's thread. A sender
// resolves its peer and connects there too. The wire format of fio's control
// messages is kept, so fio and blkbench talk to each other: a UDP sender
// announces itself with an open message and both kinds of sender end with a
// close message; UDP writes carry fio's sequence trailer.
//
// Nothing blocks: the socket is non-blocking and do_io waits in poll for at
// most the loop's slice, so a peer that never comes or stops sending holds
// the job no longer than its runtime (set_deadline) or a stop (give_up).
// The peer closing the connection (or sending the close message) ends the
// job without an error: the requests then waiting are not counted.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <memory>
#include <string>
#include <vector>

#include "request_sink.h"

namespace blkio::bench {

enum class NetProto : uint8_t { Tcp, Tcp6, Udp, Udp6, Unix };

struct NetOptions {
  NetProto proto = NetProto::Tcp;
  std::string host;  // the peer to connect to, a multicast group to join, or the UNIX socket's path
  uint16_t port = 0;  // 0 for UNIX sockets
  bool listen = false;  // TCP: accept the connection; UDP and UNIX: the reader is the listening side
  bool pingpong = false;  // each request is answered: a read by sending it back, a write by receiving the echo
  bool nodelay = false;   // TCP_NODELAY
  int ttl = 1;            // multicast TTL
  std::string interface_addr;  // multicast: the local interface's IPv4 address
  uint32_t window_size = 0;    // socket buffer size (0: the kernel's)
  uint32_t mss = 0;            // TCP_MAXSEG (0: the kernel's)
  bool writes = false;  // the job sends (it ends with fio's close message)
};

struct NetPending {
  enum Op : uint8_t { kRead, kWrite, kNone, kUnsupported };
  Op op;
  bool reply;  // pingpong: the answer is under way
  uint8_t* buf;
  size_t len, done;
  void* user_data;
};

class NetSink final : public RequestSink {
 public:
  // Binds the listening side (or checks what the connecting side needs);
  // returns null with -errno in *err and the reason in *why.
  static std::unique_ptr<NetSink> create(const NetOptions& o, size_t capacity, int* err, std::string* why);
  ~NetSink() override;

  void read(uint64_t, void* buf, size_t len, void* user_data, int) override { accept(NetPending::kRead, buf, len, user_data); }
  void write(uint64_t, const void* buf, size_t len, void* user_data, int) override {
    accept(NetPending::kWrite, const_cast<void*>(buf), len, user_data);
  }
  void readv(uint64_t, const iovec* iov, int iovcnt, void* user_data) override;
  void writev(uint64_t, const iovec* iov, int iovcnt, void* user_data) override;
  void write_zeroes(uint64_t, uint64_t, void* user_data) override { accept(NetPending::kUnsupported, nullptr, 0, user_data); }
  void discard(uint64_t, uint64_t, void* user_data) override { accept(NetPending::kUnsupported, nullptr, 0, user_data); }
  void flush(void* user_data) override { accept(NetPending::kNone, nullptr, 0, user_data); }
  void zone_management(RequestType, uint64_t, void* user_data) override { accept(NetPending::kUnsupported, nullptr, 0, user_data); }

  int do_io(Completion* out, int min, int max, timespec* timeout) override;
  size_t outstanding() const override { return count_; }
  bool stop_requested() const override { return false; }
  int completion_fd() const override { return -1; }
  void set_completion_fd_enabled(bool) override {}

  int open_target(int64_t until_ns, const std::function<bool()>& stopped, std::string* why) override;
  void set_deadline(int64_t ns) override { deadline_ = ns; }
  void give_up() override { giving_up_ = true; }
  bool ended() const override { return ended_; }
  void close_target() override;
  uint64_t dropped_reads() const override { return dropped_; }

 private:
  NetSink(const NetOptions& o, size_t capacity);
  bool stream() const { return o_.proto == NetProto::Tcp || o_.proto == NetProto::Tcp6 || o_.proto == NetProto::Unix; }
  bool udp() const { return o_.proto == NetProto::Udp || o_.proto == NetProto::Udp6; }
  bool v6() const { return o_.proto == NetProto::Tcp6 || o_.proto == NetProto::Udp6; }
  int bind_listener(std::string* why);
  int set_socket_options(int fd, std::string* why);
  int resolve_peer(std::string* why);
  int wait_for(int fd, short events, int64_t until_ns, const std::function<bool()>& stopped, std::string* why, const char* what);
  int accept_peer(int64_t until_ns, const std::function<bool()>& stopped, std::string* why);
  int connect_peer(int64_t until_ns, const std::function<bool()>& stopped, std::string* why);
  int connect_stream(int64_t until_ns, const std::function<bool()>& stopped, std::string* why);
  int wait_for_udp_open(int64_t until_ns, const std::function<bool()>& stopped, std::string* why);
  void accept(NetPending::Op op, void* buf, size_t len, void* user_data);
  // Moves what the request's socket takes now: 1 done, 0 would block, -errno failed.
  int step(NetPending& p, const char** why);
  int transfer(bool send_it, NetPending& p, const char** why);
  short events_of(const NetPending& p) const;

  NetOptions o_;
  int listen_fd_ = -1, fd_ = -1;
  bool bound_unix_ = false;  // the listener created the UNIX socket's path (removed at the end)
  sockaddr_storage peer_{};  // where datagrams go: the sender's target, or the reader's last sender
  socklen_t peer_len_ = 0;
  bool have_peer_ = false;
  uint64_t udp_seq_ = 0;        // the next datagram's sequence number (a writer)
  uint64_t udp_expected_ = 0;   // the sequence number the next datagram should have (a reader)
  bool udp_seq_off_ = false;    // the sender's datagrams carry no usable trailer
  uint64_t dropped_ = 0;
  void count_drops(const uint8_t* buf, size_t len);
  std::vector<NetPending> ring_;
  size_t head_ = 0, count_ = 0;
  int64_t deadline_ = INT64_MAX;
  bool giving_up_ = false, ended_ = false;
};

}  // namespace blkio::bench
