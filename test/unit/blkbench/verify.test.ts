import * as assert from 'node:assert/strict';
import { checkBlock, crc32c, fillBlock } from '../../../src/blkbench/verify';

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
});
