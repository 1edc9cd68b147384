// The request descriptor: how JS describes one request to the native side.
// This is its one definition; addon/napi/queue_object.h mirrors it as a C++
// struct and test/unit/descriptor.test.ts checks that the two agree. The
// libblkio driver (src/lib/libblkio) reads the same descriptors.

/** @internal Request types, numbered as addon/core/request.h numbers them. */
export const enum Op {
  Read = 0,
  Write = 1,
  Readv = 2,
  Writev = 3,
  WriteZeroes = 4,
  Discard = 5,
  Flush = 6,
  // A request the JS side fails at submission (its buffer was detached or
  // shrunk): len holds the positive errno (addon/napi/queue_object.h kFailOp).
  Fail = 7,
  // Zoned devices: len is the zones array's size in bytes, addr its address.
  ReportZones = 8,
  ZoneOpen = 9,
  ZoneClose = 10,
  ZoneFinish = 11,
  ZoneReset = 12,
  ZoneOpenAll = 13,
  ZoneCloseAll = 14,
  ZoneFinishAll = 15,
  ZoneResetAll = 16,
}

/**
 * @internal Byte offsets of the 40-byte descriptor: u32 op, u32 flags, u32
 * slot (the JS user-data slot), i32 region (mapped-region slot hint, -1 when
 * unknown), u32 start lo, u32 start hi, f64 len (readv/writev: iovec count),
 * f64 addr (readv/writev: index of the first iovec).
 */
export const DESCRIPTOR_LAYOUT = {
  bytes: 40,
  op: 0,
  flags: 4,
  slot: 8,
  region: 12,
  startLo: 16,
  startHi: 20,
  len: 24,
  addr: 32,
} as const;

/** @internal Descriptor size in 32-bit words. */
export const DESC_WORDS = DESCRIPTOR_LAYOUT.bytes / 4;

/** @internal Positions relative to a descriptor's first word w: words[w + Word.X], doubles[(w >> 1) + Double.X]. */
export const enum Word {
  Op = 0,
  Flags = 1,
  Slot = 2,
  Region = 3,
  StartLo = 4,
  StartHi = 5,
}
export const enum Double {
  Len = 3,
  Addr = 4,
}
