import * as assert from 'node:assert/strict';
import { groupStats, resultToThreadStat, threadStatToResult } from '../../../src/blkbench/fleet/convert';
import { decodeGs, decodeTs, encodeGs, encodeTs } from '../../../src/blkbench/fleet/pdu';
import { LatencyHistogram } from '../../../src/blkbench/histogram';
import { JobSpec } from '../../../src/blkbench/options';
import { JobResult, emptyDirection } from '../../../src/blkbench/results';
import { RunningStats } from '../../../src/blkbench/stats';

function result(latencies: number[]): JobResult {
  const h = new LatencyHistogram();
  const s = new RunningStats();
  for (const v of latencies) {
    h.add(v);
    s.add(v);
  }
  const read = { ...emptyDirection(), ios: latencies.length, bytes: 4096 * latencies.length, lat: s.snapshot(), clat: s.snapshot(), hist: h.counts };
  return {
    name: 'j',
    jobs: 1,
    groupid: 0,
    spec: { iodepth: 8, echo: {} } as unknown as JobSpec,
    runtimeNs: 2e9,
    elapsedNs: 2e9,
    dirs: { read, write: emptyDirection(), trim: emptyDirection() },
    cpu: { usrNs: 5e6, sysNs: 7e6, ctx: 3, majf: 0, minf: 1 },
    depth: { level: [0, 0, 0, 3, 0, 0, 0], submit: [0, 3, 0, 0, 0, 0, 0], complete: [0, 3, 0, 0, 0, 0, 0] },
    error: 0,
    errorMessage: null,
    verifiedBlocks: 0,
  };
}

describe('fleet statistics: blkbench results as fio thread_stat and back', () => {
  it('keeps counts, bytes, latency statistics and the histogram through the wire form', () => {
    const r = result([1000, 2000, 50000]);
    const { ts } = decodeTs(encodeTs(resultToThreadStat(r, 1, 42), groupStats([r], 0)));
    const back = threadStatToResult(ts, { rw: 'read' });
    assert.equal(back.dirs.read.ios, 3);
    assert.equal(back.dirs.read.bytes, 3 * 4096);
    assert.equal(back.dirs.read.clat!.n, 3);
    assert.equal(back.dirs.read.clat!.min, 1000);
    assert.equal(back.dirs.read.clat!.max, 50000);
    assert.ok(Math.abs(back.dirs.read.clat!.mean - r.dirs.read.clat!.mean) < 1e-9);
    assert.deepEqual(Array.from(back.dirs.read.hist), Array.from(r.dirs.read.hist));
    assert.equal(back.runtimeNs, 2e9);
    assert.deepEqual(back.depth.level, r.depth.level);
    assert.equal(back.spec.echo.rw, 'read');
    assert.equal(back.dirs.write.ios, 0);
    assert.equal(back.dirs.write.clat!.n, 0);
  });

  it("counts fio's coarse latency table from the histogram", () => {
    const ts = resultToThreadStat(result([1500, 1500, 3_000_000]), 1, 1);
    assert.equal(ts.ioULatU![0], 2); // 1.5 µs: under 2 µs
    assert.equal(ts.ioULatM![1], 1); // 3 ms: under 4 ms
  });

  it('gives group stats in ms and bytes/s, an empty direction with fio\'s all-ones minimum', () => {
    const r = result([1000]);
    const gs = decodeGs(encodeGs(groupStats([r], 0)));
    assert.equal(gs.maxRun[0], 2000);
    assert.equal(gs.agg[0], 2048);
    assert.equal(gs.iobytes[0], 4096);
    assert.ok(gs.minRun[1] >= 2 ** 63);
  });
});
