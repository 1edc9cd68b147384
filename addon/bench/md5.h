// MD5 (RFC 1321), for verify=md5 headers. Incremental: update() in pieces,
// then final() for the 16-byte digest.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blkio::bench {

class Md5 {
 public:
  Md5();
  void update(const uint8_t* data, size_t len);
  void final(uint8_t digest[16]);

 private:
  void block(const uint8_t* p);
  uint32_t h_[4];
  uint64_t total_ = 0;
  uint8_t buf_[64];
  size_t buffered_ = 0;
};

}  // namespace blkio::bench
