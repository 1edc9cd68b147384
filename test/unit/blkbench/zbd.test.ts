/**
 * zonemode=zbd's zone table of the JS loop (src/blkbench/zbd.ts), the twin of the native one
 * (test/cpp/zbd_test.cc): writes at write pointers of zones the job may hold open, full zones reset,
 * reads below write pointers.
 */
import * as assert from 'node:assert/strict';
import { ZBD, ZoneTable } from '../../../src/blkbench/zbd';

const ZONE = 64 * 1024;
const BS = 4096;
const R = 0;
const W = 1;

function table(
  written: number[], opts: { maxOpen?: number; jobMaxOpen?: number; random?: boolean; verify?: boolean; threshold?: number; frequency?: number } = {},
): ZoneTable {
  const zones = written.map((w) => [ZONE, w, 1] as [number, number, number]);
  return new ZoneTable(
    {
      zoneSize: ZONE, zones, maxOpenZones: opts.maxOpen ?? 0, jobMaxOpenZones: opts.jobMaxOpen, resetThreshold: opts.threshold,
      resetFrequency: opts.frequency,
    },
    ZONE * written.length, opts.random ?? true, false, opts.verify ?? false, BS, BS,
  );
}

describe('blkbench zonemode=zbd zone table (JS loop)', () => {
  it('a write goes to the write pointer of its zone', () => {
    const t = table([8192, 0]);
    assert.equal(t.adjust(W, 40960, BS, 0), ZBD.accept);
    assert.equal(t.rel, 8192);
    assert.equal(t.len, BS);
  });

  it('a write beyond max_open_zones goes to an open zone', () => {
    const t = table([0, 0, 0, 0], { maxOpen: 1 });
    assert.equal(t.adjust(W, 0, BS, 0), ZBD.accept);
    assert.equal(t.adjust(W, 3 * ZONE + 4096, BS, 0), ZBD.accept);
    assert.equal(t.rel, BS);
    assert.equal(t.openCount, 1);
  });

  it('job_max_open_zones limits the job below the global limit', () => {
    const t = table([0, 0, 0, 0], { maxOpen: 4, jobMaxOpen: 1 });
    assert.equal(t.adjust(W, 0, BS, 0), ZBD.accept);
    assert.equal(t.adjust(W, 2 * ZONE, BS, 0), ZBD.accept);
    assert.equal(t.rel, BS);
    assert.equal(t.openCount, 1);
  });

  it('a full zone is reset once the requests in flight have completed, then written from its start', () => {
    const t = table([ZONE, 0]);
    assert.equal(t.adjust(W, 4096, BS, 2), ZBD.drain);
    assert.equal(t.adjust(W, 4096, BS, 0), ZBD.reset);
    assert.equal(t.resetZone, 0);
    t.resetDone(0);
    assert.equal(t.adjust(W, 4096, BS, 0), ZBD.accept);
    assert.equal(t.rel, 0);
    assert.equal(t.resets, 1);
  });

  it('above zone_reset_threshold, every 1/zone_reset_frequency-th write resets its zone', () => {
    const t = table([ZONE, ZONE, 0, 0], { threshold: 0.5, frequency: 0.5 });
    assert.equal(t.adjust(W, 2 * ZONE, BS, 0), ZBD.accept);
    assert.equal(t.adjust(W, 2 * ZONE, BS, 0), ZBD.reset);
    assert.equal(t.resetZone, 2);
  });

  it('under verify a full zone is passed over, not reset', () => {
    const t = table([ZONE, 0], { verify: true });
    assert.equal(t.adjust(W, 0, BS, 0), ZBD.accept);
    assert.equal(t.rel, ZONE);
  });

  it('random reads stay below the write pointer; a sequential read past the data moves on, then ends', () => {
    const t = table([8192, 0]);
    for (let drawn = 0; drawn < 2 * ZONE; drawn += BS) {
      assert.equal(t.adjust(R, drawn, BS, 0), ZBD.accept);
      assert.ok(t.rel + t.len <= 8192, `drawn ${drawn}: read at ${t.rel}`);
    }
    const seq = table([8192, 0, 4096, 0], { random: false });
    assert.equal(seq.adjust(R, 8192, BS, 0), ZBD.accept);
    assert.equal(seq.rel, 2 * ZONE);
    assert.equal(seq.adjust(R, 2 * ZONE + 4096, BS, 0), ZBD.eof);
  });
});
