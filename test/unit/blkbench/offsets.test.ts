import * as assert from 'node:assert/strict';
import { BlockSizePicker, PureRandomOffsets, RandomMapOffsets, SequentialOffsets } from '../../../src/blkbench/offsets';
import { Prng } from '../../../src/blkbench/random';

function drain(gen: { next(len: number): number }, len: number, limit = 1e7): number[] {
  const out: number[] = [];
  for (let i = 0; i < limit; i++) {
    const o = gen.next(len);
    if (o < 0) break;
    out.push(o);
  }
  return out;
}

describe('blkbench offsets', () => {
  it('goes block after block sequentially and ends the pass at the region end', () => {
    const g = new SequentialOffsets(16384);
    assert.deepEqual(drain(g, 4096), [0, 4096, 8192, 12288]);
    g.reset();
    assert.equal(g.next(4096), 0);
  });

  it('with the random map, visits every block exactly once per pass', () => {
    const blocks = 10007; // not a multiple of 32, to exercise the map's tail
    const g = new RandomMapOffsets(blocks * 512, 512, new Prng(1n));
    const seen = drain(g, 512);
    assert.equal(seen.length, blocks);
    assert.equal(new Set(seen).size, blocks);
    assert.ok(seen.every((o) => o % 512 === 0 && o < blocks * 512));
    assert.notDeepEqual(seen.slice(0, 10), [0, 512, 1024, 1536, 2048, 2560, 3072, 3584, 4096, 4608], 'order should be random');
  });

  it('with the random map, starts a new full pass after reset', () => {
    const g = new RandomMapOffsets(64 * 4096, 4096, new Prng(2n));
    drain(g, 4096);
    g.reset();
    assert.equal(new Set(drain(g, 4096)).size, 64);
  });

  it('with the random map, trims larger requests to the free blocks after their offset, as fio (every block once a pass)', () => {
    const g = new RandomMapOffsets(100 * 4096, 4096, new Prng(3n));
    const covered = new Uint8Array(100);
    let trimmed = 0;
    for (let o = g.next(16384); o >= 0; o = g.next(16384)) {
      assert.ok(g.granted > 0 && g.granted <= 16384 && g.granted % 4096 === 0, `granted ${g.granted}`);
      assert.ok(o + g.granted <= 100 * 4096, 'inside the region');
      if (g.granted < 16384) trimmed++;
      for (let b = o / 4096; b < (o + g.granted) / 4096; b++) covered[b]++;
    }
    assert.ok(covered.every((n) => n === 1), 'each block in exactly one request');
    assert.ok(trimmed > 0, 'some requests met a taken block');
  });

  it('with the random map and trimming off (verify jobs), keeps the full length inside the region', () => {
    const g = new RandomMapOffsets(100 * 4096, 4096, new Prng(3n), false);
    for (const o of drain(g, 16384)) {
      assert.equal(g.granted, 16384);
      assert.ok(o + 16384 <= 100 * 4096);
    }
  });

  it('without the map (norandommap), gives aligned offsets that may repeat and never ends a pass', () => {
    const g = new PureRandomOffsets(8 * 4096, 4096, new Prng(4n));
    const got = Array.from({ length: 200 }, () => g.next(4096));
    assert.ok(got.every((o) => o >= 0 && o % 4096 === 0 && o + 4096 <= 8 * 4096));
    assert.ok(new Set(got).size < got.length, 'expected repeats among 200 draws from 8 blocks');
    assert.equal(new Set(got).size, 8);
  });

  it('repeats the same offsets for the same seed (randrepeat) and differs for another seed or job', () => {
    const run = (seed: bigint, job: number) => drain(new RandomMapOffsets(1000 * 4096, 4096, new Prng(seed, job, 0)), 4096, 50);
    assert.deepEqual(run(42n, 0), run(42n, 0));
    assert.notDeepEqual(run(42n, 0), run(43n, 0));
    assert.notDeepEqual(run(42n, 0), run(42n, 1));
  });
});

describe('blkbench PRNG', () => {
  it('draws integers below n with a flat distribution', () => {
    const rng = new Prng(7n);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100000; i++) counts[rng.nextBelow(10)]++;
    for (const c of counts) assert.ok(Math.abs(c - 10000) < 500, `bucket count ${c}`);
  });

  it('draws floats in [0, 1)', () => {
    const rng = new Prng(8n);
    for (let i = 0; i < 10000; i++) {
      const x = rng.nextFloat();
      assert.ok(x >= 0 && x < 1);
    }
  });
});

describe('blkbench block sizes (bssplit)', () => {
  it('always gives the single size when there is one', () => {
    const p = new BlockSizePicker({ sizes: [4096], weights: [100] }, new Prng(1n));
    assert.equal(p.fixed, 4096);
    assert.equal(p.pick(), 0);
  });

  it('draws sizes in proportion to their weights', () => {
    const p = new BlockSizePicker({ sizes: [4096, 65536, 32768], weights: [10, 50, 40] }, new Prng(9n));
    const counts = [0, 0, 0];
    for (let i = 0; i < 100000; i++) counts[p.pick()]++;
    assert.ok(Math.abs(counts[0] - 10000) < 600, `4k: ${counts[0]}`);
    assert.ok(Math.abs(counts[1] - 50000) < 1000, `64k: ${counts[1]}`);
    assert.ok(Math.abs(counts[2] - 40000) < 1000, `32k: ${counts[2]}`);
  });
});
