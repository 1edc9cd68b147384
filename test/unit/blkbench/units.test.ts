import * as assert from 'node:assert/strict';
import {
  formatEta, humanNumber, parseBool, parseIntOption, parseSize, parseSizeOrPercent, parseTimeNs, resolveSizeOrPercent,
} from '../../../src/blkbench/units';

describe('blkbench units', () => {
  describe('sizes (fio kb_base=1024)', () => {
    it('reads k, m, g, t as powers of 1024 in any case and spelling', () => {
      assert.equal(parseSize('bs', '4k'), 4096);
      assert.equal(parseSize('bs', '4K'), 4096);
      assert.equal(parseSize('bs', '4KiB'), 4096);
      assert.equal(parseSize('bs', '4kb'), 4096);
      assert.equal(parseSize('size', '1m'), 1 << 20);
      assert.equal(parseSize('size', '2g'), 2 * 1024 ** 3);
      assert.equal(parseSize('size', '1t'), 1024 ** 4);
    });

    it('reads plain bytes, a b suffix, hex and fractions', () => {
      assert.equal(parseSize('bs', '512'), 512);
      assert.equal(parseSize('bs', '512b'), 512);
      assert.equal(parseSize('offset', '0x1000'), 4096);
      assert.equal(parseSize('size', '1.5m'), 1.5 * 1024 * 1024);
    });

    it('names the option and the value when a size is bad', () => {
      assert.throws(() => parseSize('bs', '4q'), { message: "bad value '4q' for option 'bs': expected a size such as 4096, 4k, 1m or 2g" });
      assert.throws(() => parseSize('size', ''), { message: "bad value '' for option 'size': expected a size such as 4096, 4k, 1m or 2g" });
      assert.throws(() => parseSize('bs', '-4k'), /bad value '-4k' for option 'bs'/);
    });

    it('takes a percentage of the device for size and offset', () => {
      assert.deepEqual(parseSizeOrPercent('size', '50%'), { percent: 50 });
      assert.deepEqual(parseSizeOrPercent('size', '64m'), { bytes: 64 << 20 });
      assert.equal(resolveSizeOrPercent({ percent: 50 }, 1000, 1), 500);
      assert.equal(resolveSizeOrPercent({ percent: 50 }, 10000, 512), 4608);
      assert.throws(() => parseSizeOrPercent('size', '150%'), {
        message: "bad value '150%' for option 'size': expected a percentage between 0 and 100",
      });
    });
  });

  describe('times', () => {
    it('reads a bare number as seconds and honours unit suffixes', () => {
      assert.equal(parseTimeNs('runtime', '10'), 10e9);
      assert.equal(parseTimeNs('runtime', '10s'), 10e9);
      assert.equal(parseTimeNs('runtime', '500ms'), 500e6);
      assert.equal(parseTimeNs('runtime', '250us'), 250e3);
      assert.equal(parseTimeNs('ramp_time', '2m'), 120e9);
      assert.equal(parseTimeNs('runtime', '1h'), 3600e9);
    });

    it('names the option when a time is bad', () => {
      assert.throws(() => parseTimeNs('runtime', '10x'), { message: "bad value '10x' for option 'runtime': expected a time such as 10, 10s, 500ms or 2m" });
    });
  });

  describe('integers and booleans', () => {
    it('checks integer ranges with the range in the message', () => {
      assert.equal(parseIntOption('iodepth', '32', 1, 65536), 32);
      assert.throws(() => parseIntOption('iodepth', '0', 1, 65536), { message: "bad value '0' for option 'iodepth': expected an integer from 1 to 65536" });
      assert.throws(() => parseIntOption('iodepth', 'lots', 1, 65536), { message: "bad value 'lots' for option 'iodepth': expected an integer from 1 to 65536" });
    });

    it('takes 0/1 (and a bare flag as 1) for booleans', () => {
      assert.equal(parseBool('direct', '1'), true);
      assert.equal(parseBool('direct', '0'), false);
      assert.equal(parseBool('time_based', undefined), true);
      assert.throws(() => parseBool('direct', '2'), { message: "bad value '2' for option 'direct': expected 0 or 1" });
    });
  });

  describe('printing like fio', () => {
    it('keeps four significant characters and a prefix', () => {
      assert.equal(humanNumber(445754, 1000), '446k');
      assert.equal(humanNumber(53100, 1000), '53.1k');
      assert.equal(humanNumber(1234, 1000), '1234');
      assert.equal(humanNumber(3653443584, 1024, 'B'), '3484MiB');
      assert.equal(humanNumber(1825808887, 1024, 'B/s'), '1741MiB/s');
      assert.equal(humanNumber(1825808887, 1000, 'B/s'), '1826MB/s');
      assert.equal(humanNumber(64 << 20, 1024, 'B'), '64MiB');
    });

    it('prints an eta as minutes and seconds', () => {
      assert.equal(formatEta(3), '00m:03s');
      assert.equal(formatEta(125.2), '02m:06s');
      assert.equal(formatEta(3725), '01h:02m:05s');
    });
  });
});
