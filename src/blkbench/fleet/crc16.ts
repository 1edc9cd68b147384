/**
 * The 16-bit CRC that fio's network protocol puts on each command header and payload: CRC-16/ARC
 * (polynomial 0x8005, bits reflected, initial value 0, no final XOR). The check value of "123456789"
 * is 0xBB3D.
 */

/** One entry per byte value, built once: the reflected polynomial 0xA001 applied eight times. */
const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[b] = c;
  }
  return t;
})();

/** CRC-16/ARC of `bytes[start, end)`. */
export function crc16(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ bytes[i]) & 0xff];
  return crc;
}
