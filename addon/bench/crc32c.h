// CRC-32C (Castagnoli), as blkbench's verify headers use it: the SSE4.2
// instruction where the CPU has it, a table otherwise.
#pragma once

#include <cstddef>
#include <cstdint>

namespace blkio::bench {

// CRC-32C of data, continuing from crc (the previous result, 0 to start).
uint32_t crc32c(const uint8_t* data, size_t len, uint32_t crc = 0);

}  // namespace blkio::bench
