// What blkbench's net sink (net_sink.h) shares between its connection setup
// (net_sink_open.cc) and its I/O (net_sink.cc): fio's wire format, so that
// fio and blkbench talk to each other, and the sliced waits.
#pragma once

#include <arpa/inet.h>
#include <endian.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace blkio::bench::net {

// fio's control messages: two 32-bit words, a magic and a command. The open
// message is in network byte order, the close message little-endian (as fio
// writes them); a UDP write ends with a trailer of three little-endian 64-bit
// words: a magic, the datagram's sequence number and its size.
constexpr uint32_t kLinkMagic = 0x6c696e6b;
constexpr uint32_t kLinkClose = 0x89;
constexpr uint32_t kLinkOpen = 0x98;
constexpr uint64_t kUdpSeqMagic = 0x657375716e556563ULL;
constexpr size_t kUdpSeqLen = 24;
// A wait re-checks the job's end and its stop this often.
constexpr int64_t kSliceNs = 100'000'000;

inline int64_t clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline void close_message(uint8_t out[8]) {
  uint32_t w[2] = {htole32(kLinkMagic), htole32(kLinkClose)};
  std::memcpy(out, w, 8);
}

inline bool is_close_message(const uint8_t* p, size_t len) {
  if (len != 8) return false;
  uint32_t w[2];
  std::memcpy(w, p, 8);
  return le32toh(w[0]) == kLinkMagic && le32toh(w[1]) == kLinkClose;
}

inline void open_message(uint32_t out[2]) {
  out[0] = htonl(kLinkMagic);
  out[1] = htonl(kLinkOpen);
}

inline bool is_open_message(const uint32_t w[2]) { return ntohl(w[0]) == kLinkMagic && ntohl(w[1]) == kLinkOpen; }

// Milliseconds for poll: at most a slice, rounded up so that a wait is never 0 before its time.
inline int poll_ms(int64_t now, int64_t until) {
  int64_t ns = std::min<int64_t>(until - now, kSliceNs);
  return ns <= 0 ? 0 : int((ns + 999999) / 1000000);
}

}  // namespace blkio::bench::net
