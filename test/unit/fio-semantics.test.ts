/** The pieces behind blkbench's fio options, each against fio's documented or observed behaviour. */
import { writeDataOptions } from '../../src/blkbench/loop-spec';
import * as assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/blkbench/args';
import { assignGroups, reportedResults, runBatches } from '../../src/blkbench/groups';
import { DistributionOffsets, SkipSequentialOffsets } from '../../src/blkbench/offsets-fio';
import { parseDistribution } from '../../src/blkbench/option-values';
import { Pacer } from '../../src/blkbench/pace';
import { Prng } from '../../src/blkbench/random';
import { terseReport } from '../../src/blkbench/report-terse';
import { mergeResults } from '../../src/blkbench/results';
import { fioSize } from '../../src/blkbench/units';
import { WriteData } from '../../src/blkbench/write-data';
import { syntheticResult } from '../support/blkbench';

const jobs = (...argv: string[]) => parseCommandLine(argv).jobs;

describe('fio job groups', () => {
  it('numbers groups as fio: a new one at each stonewall or new_group', () => {
    const specs = jobs('--filename=/f', '--name=a', '--name=b', '--stonewall', '--name=c', '--name=d', '--new_group');
    assert.deepEqual(specs.map((s) => s.groupid), [0, 1, 1, 2]);
  });

  it('runs a stonewall job after every job before it, and new_group jobs alongside', () => {
    const specs = jobs('--filename=/f', '--name=a', '--name=b', '--stonewall', '--name=c', '--name=d', '--new_group');
    assert.deepEqual(runBatches(specs), [[0], [1, 2, 3]]);
  });

  it('starts a wait_for job after the job it names', () => {
    const specs = jobs('--filename=/f', '--name=a', '--name=b', '--name=c', '--wait_for=a');
    assert.deepEqual(runBatches(specs), [[0, 1], [2]]);
  });

  it('refuses a wait_for that names no earlier job', () => {
    assert.throws(() => jobs('--filename=/f', '--name=a', '--wait_for=zz'), { message: "job 'a': 'wait_for=zz' names no job before it" });
  });

  it('merges each group with group_reporting on its own', () => {
    const specs = jobs('--filename=/f', '--group_reporting', '--name=a', '--name=b', '--name=c', '--stonewall');
    assignGroups(specs);
    const results = specs.map((s) => ({ ...syntheticResult(s.name, [1000], 1000), groupid: s.groupid, spec: s }));
    const reported = reportedResults(results, mergeResults);
    assert.deepEqual(reported.map((r) => [r.name, r.jobs]), [['a', 2], ['c', 1]]);
  });
});

describe('fio offset patterns', () => {
  it('reads backwards with rw=read:-8k at bs=4k as fio 3.33 does (0, 56k, 52k, …, 4k over 64k)', () => {
    const o = new SkipSequentialOffsets(64 << 10, -8192);
    const seen = Array.from({ length: 16 }, () => o.next(4096) / 1024);
    assert.deepEqual(seen, [0, 56, 52, 48, 44, 40, 36, 32, 28, 24, 20, 16, 12, 8, 4, 0]);
  });

  it('skips forward with rw=write:4k and wraps at the end of the region', () => {
    const o = new SkipSequentialOffsets(64 << 10, 4096);
    const seen = Array.from({ length: 10 }, () => o.next(4096) / 1024);
    assert.deepEqual(seen, [0, 8, 16, 24, 32, 40, 48, 56, 0, 8]);
  });

  function histogram(dist: string, draws = 20000): number[] {
    const o = new DistributionOffsets(100 * 4096, 4096, parseDistribution(dist), new Prng(7n, 0));
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < draws; i++) counts[o.next(4096) / 4096]++;
    return counts;
  }
  const top = (counts: number[], n: number) => [...counts].sort((a, b) => b - a).slice(0, n).reduce((a, b) => a + b, 0);

  it('skews zipf:1.2 toward few blocks: the 10 most used of 100 get most accesses', () => {
    assert.ok(top(histogram('zipf:1.2'), 10) > 20000 * 0.5);
  });

  it('keeps random uniform: the 10 most used of 100 get far less than half', () => {
    assert.ok(top(histogram('random'), 10) < 20000 * 0.2);
  });

  it('concentrates normal:10 on a fifth of the region (one deviation either side), scattered as fio hashes it', () => {
    assert.ok(top(histogram('normal:10'), 20) > 20000 * 0.6);
  });

  it('puts zoned:50/5:30/15:20/ accesses into their zones', () => {
    const c = histogram('zoned:50/5:30/15:20/');
    const share = (a: number, b: number) => c.slice(a, b).reduce((x, y) => x + y, 0) / 20000;
    assert.ok(Math.abs(share(0, 5) - 0.5) < 0.03);
    assert.ok(Math.abs(share(5, 20) - 0.3) < 0.03);
    assert.ok(Math.abs(share(20, 100) - 0.2) < 0.03);
  });
});

describe('fio pacing', () => {
  it('lets rate_iops=1000 issue one request per millisecond', () => {
    const [spec] = jobs('--filename=/f', '--rate_iops=1000');
    const p = new Pacer(spec);
    p.begin(0);
    assert.equal(p.delay(0, 0), 0);
    p.issued(0, 4096, 0);
    assert.equal(p.delay(0, 0.25), 0.75);
    assert.equal(p.delay(0, 1), 0);
  });

  it('paces rate per direction: writes do not wait for reads', () => {
    const [spec] = jobs('--filename=/f', '--rate=4k,0');
    const p = new Pacer(spec);
    p.begin(0);
    p.issued(0, 4096, 0);
    assert.equal(p.delay(0, 0), 1000);
    assert.equal(p.delay(1, 0), 0);
  });

  it('pauses thinktime after every thinktime_blocks requests', () => {
    const [spec] = jobs('--filename=/f', '--thinktime=2000', '--thinktime_blocks=2');
    const p = new Pacer(spec);
    p.begin(0);
    p.issued(0, 4096, 10);
    assert.equal(p.delay(0, 10), 0);
    p.issued(0, 4096, 10);
    assert.equal(p.delay(0, 10), 2);
  });
});

describe('fio write buffer contents', () => {
  const zeroShare = (v: Uint8Array) => v.filter((b) => b === 0).length / v.length;

  it('fills random data by default and zeroes with zero_buffers', () => {
    const v = new Uint8Array(4096);
    new WriteData(writeDataOptions(jobs('--filename=/f', '--rw=write')[0]), new Prng(1n)).fill(v);
    assert.ok(zeroShare(v) < 0.02);
    new WriteData(writeDataOptions(jobs('--filename=/f', '--zero_buffers')[0]), new Prng(1n)).fill(v);
    assert.equal(zeroShare(v), 1);
  });

  it('fills buffers at odd offsets (block sizes not a multiple of 4)', () => {
    const v = new Uint8Array(new ArrayBuffer(1100), 513, 513);
    new WriteData(writeDataOptions(jobs('--filename=/f', '--rw=write')[0]), new Prng(1n)).fill(v);
    assert.ok(zeroShare(v) < 0.02);
  });

  it('makes buffer_compress_percentage=50 of each chunk zeroes', () => {
    const v = new Uint8Array(4096);
    new WriteData(writeDataOptions(jobs('--filename=/f', '--buffer_compress_percentage=50', '--buffer_compress_chunk=512')[0]), new Prng(1n)).fill(v);
    assert.ok(Math.abs(zeroShare(v) - 0.5) < 0.01);
  });

  it('repeats the previous contents for dedupe_percentage of writes', () => {
    const w = new WriteData(writeDataOptions(jobs('--filename=/f', '--dedupe_percentage=100')[0]), new Prng(1n));
    const v = new Uint8Array(64).fill(9);
    w.fill(v);
    assert.ok(v.every((b) => b === 9));
    assert.equal(w.perRequest, true);
  });
});

describe('fio output formats', () => {
  it('prints terse v3 with fio\'s 121 fields before the disk blocks', () => {
    const line = terseReport([syntheticResult('t', [1000, 2000, 3000], 1000)]).trim().split(';');
    assert.equal(line.length, 121);
    assert.deepEqual(line.slice(0, 5), ['3', line[1], 't', '0', '0']);
    assert.equal(line[17], '1.000000%=1');
  });

  it('writes sizes in fio\'s units for the compare chart', () => {
    assert.deepEqual([4096, 65536, 1 << 20, 1000, 3 * 2 ** 30].map(fioSize), ['4k', '64k', '1m', '1000', '3g']);
  });
});
