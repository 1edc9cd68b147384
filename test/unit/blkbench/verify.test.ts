import * as assert from 'node:assert/strict';
import { checkBlock, crc32c, fillBlock } from '../../../src/blkbench/verify';
import { parseVerifyPattern } from '../../../src/blkbench/option-values';

describe('blkbench verify', () => {
  it('computes CRC-32C check values (RFC 3720 and the "123456789" vector)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
  });

  it('continues a CRC across pieces', () => {
    const data = Buffer.from('hello, block device');
    assert.equal(crc32c(data.subarray(7), crc32c(data.subarray(0, 7))), crc32c(data));
  });

  for (const kind of ['crc32c', 'md5'] as const) {
    it(`accepts a block it filled (${kind})`, () => {
      const block = new Uint8Array(4096);
      fillBlock(block, 8192, kind, 1234);
      assert.equal(checkBlock(block, 8192, kind), null);
    });

    it(`reports the offset of a block with one flipped bit (${kind})`, () => {
      const block = new Uint8Array(4096);
      fillBlock(block, 1 << 20, kind, 99);
      block[3000] ^= 0x10;
      const failure = checkBlock(block, 1 << 20, kind);
      assert.ok(failure);
      assert.equal(failure.offset, 1 << 20);
      assert.match(failure.message, new RegExp(`^verify: bad block at offset 1048576 \\(length 4096\\): ${kind} mismatch: stored \\S+, computed \\S+$`));
    });
  }

  it('accepts a good block in a Node Buffer (whose slice shares memory), and leaves it as it was', () => {
    const block = Buffer.alloc(4096);
    fillBlock(block, 8192, 'crc32c', 7);
    const before = Buffer.from(block);
    assert.equal(checkBlock(block, 8192, 'crc32c'), null);
    assert.deepEqual(block, before);
  });

  it('reports a block found at the wrong offset', () => {
    const block = new Uint8Array(512);
    fillBlock(block, 4096, 'crc32c', 1);
    assert.equal(checkBlock(block, 8192, 'crc32c')?.message, 'verify: bad block at offset 8192 (length 512): header says offset 4096: the block was written elsewhere');
  });

  it('reports a block without a verify header', () => {
    const failure = checkBlock(new Uint8Array(512), 0, 'md5');
    assert.equal(failure?.message, 'verify: bad block at offset 0 (length 512): no verify header (magic 0x00000000, expected 0x56424b42)');
  });

  it('fills different offsets with different data', () => {
    const a = new Uint8Array(4096);
    const b = new Uint8Array(4096);
    fillBlock(a, 0, 'crc32c', 5);
    fillBlock(b, 4096, 'crc32c', 5);
    assert.notDeepEqual(a.subarray(40), b.subarray(40));
  });

  it('verify_interval: every chunk carries a header with its own length and offset', () => {
    const block = new Uint8Array(2048);
    fillBlock(block, 8192, 'crc32c', 1, { interval: 512 });
    const v = new DataView(block.buffer);
    assert.deepEqual([0, 1, 2, 3].map((i) => [v.getUint32(i * 512 + 4, true), v.getUint32(i * 512 + 8, true)]), [[512, 8192], [512, 8704], [512, 9216], [512, 9728]]);
    assert.equal(checkBlock(block, 8192, 'crc32c', { interval: 512 }), null);
    block[1500] ^= 1;
    assert.match(checkBlock(block, 8192, 'crc32c', { interval: 512 })?.message ?? '', /^verify: bad block at offset 9216 \(length 512\): crc32c mismatch/);
  });

  it('verify_pattern: the payload is the pattern, repeated from the block\'s start under the headers, and checked', () => {
    const pattern = Uint8Array.from([0xaa, 0x55, 0x5a, 0xa5]);
    const block = new Uint8Array(1024);
    fillBlock(block, 0, 'meta', 9, { interval: 512, pattern });
    assert.deepEqual([...block.subarray(40, 48)], [0xaa, 0x55, 0x5a, 0xa5, 0xaa, 0x55, 0x5a, 0xa5]);
    assert.deepEqual([...block.subarray(512 + 40, 512 + 44)], [0xaa, 0x55, 0x5a, 0xa5]);
    assert.equal(checkBlock(block, 0, 'meta', { interval: 512, pattern }), null);
    block[600] = 0;
    assert.equal(checkBlock(block, 0, 'meta', { interval: 512, pattern })?.message, 'verify: bad block at offset 512 (length 512): pattern mismatch at byte 88: 0x00, expected 0xaa');
  });

  it('verify=meta checks the header alone when there is no pattern', () => {
    const block = new Uint8Array(1024);
    fillBlock(block, 0, 'meta', 3);
    block[900] ^= 1;
    assert.equal(checkBlock(block, 0, 'meta'), null);
    block[10] ^= 1;
    assert.match(checkBlock(block, 0, 'meta')?.message ?? '', /header says offset/);
  });

  it('verify=pattern writes no header: every byte is the pattern\'s', () => {
    const block = new Uint8Array(256);
    fillBlock(block, 4096, 'pattern', 3, { pattern: Uint8Array.from([1, 2, 3]) });
    assert.deepEqual([...block.subarray(0, 7)], [1, 2, 3, 1, 2, 3, 1]);
    assert.equal(checkBlock(block, 0, 'pattern', { pattern: Uint8Array.from([1, 2, 3]) }), null);
    block[255] = 9;
    assert.match(checkBlock(block, 0, 'pattern', { pattern: Uint8Array.from([1, 2, 3]) })?.message ?? '', /pattern mismatch at byte 255: 0x09, expected 0x01/);
  });

  it('reads verify_pattern as fio does: hex in written order, decimal lowest byte first, quoted text, one after another', () => {
    assert.deepEqual(parseVerifyPattern('0xaa555aa5'), [0xaa, 0x55, 0x5a, 0xa5]);
    assert.deepEqual(parseVerifyPattern('0xabc'), [0x0a, 0xbc]);
    assert.deepEqual(parseVerifyPattern('258'), [0x02, 0x01]);
    assert.deepEqual(parseVerifyPattern('0'), [0]);
    assert.deepEqual(parseVerifyPattern('0xff0x14"ab"-1'), [0xff, 0x14, 0x61, 0x62, 0xff, 0xff, 0xff, 0xff]);
    assert.throws(() => parseVerifyPattern('%o'), /%o .* is not supported/);
    assert.throws(() => parseVerifyPattern('zz'), /bad value 'zz' for option 'verify_pattern'/);
    assert.throws(() => parseVerifyPattern('4294967296'), /decimal numbers from/);
    assert.throws(() => parseVerifyPattern(`0x${'ab'.repeat(513)}`), /at most 512 bytes/);
  });
});
