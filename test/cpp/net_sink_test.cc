// blkbench's net sink (addon/bench/net_sink.cc) on real UNIX sockets in one
// process: blocks move whole, fio's close message ends the reader, and a
// receive that never completes is given up at the deadline or on a stop.
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../../addon/bench/net_sink.h"
#include "check.h"

using namespace blkio::bench;
using blkio::Completion;

namespace {

constexpr int64_t kNever = INT64_MAX;

struct Pair {
  std::string path;
  std::unique_ptr<NetSink> reader, writer;
};

NetOptions unix_side(const std::string& path, bool reader) {
  NetOptions o;
  o.proto = NetProto::Unix;
  o.host = path;
  o.listen = reader;
  o.writes = !reader;
  return o;
}

// A listening reader and a connected writer; the backlog lets the writer connect before the accept.
bool connect_pair(Pair* p) {
  p->path = "/tmp/blkio-net-sink-" + std::to_string(getpid()) + "-" + std::to_string(rand());
  int err = 0;
  std::string why;
  p->reader = NetSink::create(unix_side(p->path, true), 4, &err, &why);
  p->writer = NetSink::create(unix_side(p->path, false), 4, &err, &why);
  if (!p->reader || !p->writer) return false;
  auto never = [] { return false; };
  return p->writer->open_target(kNever, never, &why) == 0 && p->reader->open_target(kNever, never, &why) == 0;
}

int wait_one(NetSink& s, Completion* c) {
  timespec slice{0, 100'000'000};
  return s.do_io(c, 1, 1, &slice);
}

}  // namespace

TEST(net_sink_moves_blocks_whole_over_a_unix_socket) {
  Pair p;
  CHECK(connect_pair(&p));
  std::vector<uint8_t> out(4096), in(4096, 0);
  for (size_t i = 0; i < out.size(); i++) out[i] = uint8_t(i * 7);
  Completion c{};
  for (int block = 0; block < 3; block++) {
    p.writer->write(0, out.data(), out.size(), reinterpret_cast<void*>(uintptr_t(block)), -1);
    CHECK(wait_one(*p.writer, &c) == 1 && c.ret == 0);
    p.reader->read(0, in.data(), in.size(), reinterpret_cast<void*>(uintptr_t(block)), -1);
    CHECK(wait_one(*p.reader, &c) == 1 && c.ret == 0 && c.user_data == reinterpret_cast<void*>(uintptr_t(block)));
    CHECK(in == out);
  }
  CHECK(!p.reader->ended());
  p.writer->close_target();  // fio's close message, then the connection closes
  p.reader->read(0, in.data(), in.size(), nullptr, -1);
  CHECK(wait_one(*p.reader, &c) == 1 && c.ret < 0);
  CHECK(p.reader->ended());
  p.reader->close_target();
  CHECK(access(p.path.c_str(), F_OK) != 0);  // the listener removed its socket
}

TEST(net_sink_gives_up_a_receive_at_the_deadline) {
  Pair p;
  CHECK(connect_pair(&p));
  std::vector<uint8_t> in(512);
  Completion c{};
  p.reader->read(0, in.data(), in.size(), nullptr, -1);
  CHECK(p.reader->do_io(&c, 0, 1, nullptr) == 0);  // nothing sent: not done, and no wait
  CHECK(p.reader->outstanding() == 1);
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  p.reader->set_deadline(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec + 20'000'000);
  int n = 0;
  for (int i = 0; i < 5 && n == 0; i++) n = wait_one(*p.reader, &c);
  CHECK(n == 1 && c.ret == -ECANCELED && p.reader->ended());
  CHECK(p.reader->outstanding() == 0);
}

TEST(net_sink_gives_up_on_a_stop) {
  Pair p;
  CHECK(connect_pair(&p));
  std::vector<uint8_t> in(512);
  Completion c{};
  p.reader->read(0, in.data(), in.size(), nullptr, -1);
  CHECK(wait_one(*p.reader, &c) == 0);
  p.reader->give_up();
  CHECK(wait_one(*p.reader, &c) == 1 && c.ret == -ECANCELED);
}

TEST(net_sink_stops_waiting_for_a_peer_that_never_comes) {
  std::string path = "/tmp/blkio-net-sink-alone-" + std::to_string(getpid());
  int err = 0;
  std::string why;
  auto reader = NetSink::create(unix_side(path, true), 1, &err, &why);
  CHECK(reader != nullptr);
  bool stop = false;
  int polls = 0;
  // The stop is seen within a slice: here after the first look.
  CHECK(reader->open_target(kNever, [&] { return stop || (stop = ++polls > 1); }, &why) == -ECANCELED);
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  CHECK(reader->open_target(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec + 10'000'000, [] { return false; }, &why) == -ETIMEDOUT);
  CHECK(why.find("waiting for a connection") != std::string::npos);
}

TEST(net_sink_refuses_a_unix_path_too_long) {
  int err = 0;
  std::string why;
  CHECK(NetSink::create(unix_side("/tmp/" + std::string(200, 'x'), true), 1, &err, &why) == nullptr);
  CHECK(err == -ENAMETOOLONG);
}
