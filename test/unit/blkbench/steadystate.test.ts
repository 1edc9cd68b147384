import * as assert from 'node:assert/strict';
import { RawOptions, resolveJob, setRawOption } from '../../../src/blkbench/options';
import { assignGroups } from '../../../src/blkbench/groups';
import { SteadyStateMonitor, SteadyStateWindow, parseSteadyState } from '../../../src/blkbench/steadystate';

function job(name: string, options: Record<string, string>) {
  const raw: RawOptions = new Map();
  for (const [k, v] of Object.entries(options)) setRawOption(raw, k, v);
  return resolveJob(name, raw);
}

describe('blkbench steady state (ss)', () => {
  it('reads fio\'s criteria: iops, iops_slope, bw, bw_slope with a limit, in percent or absolute (bw as a size per second)', () => {
    assert.deepEqual(parseSteadyState('iops:10%'), { metric: 'iops', slope: false, limit: 10, percent: true });
    assert.deepEqual(parseSteadyState('bw_slope:1%'), { metric: 'bw', slope: true, limit: 1, percent: true });
    assert.deepEqual(parseSteadyState('iops_slope:0.5'), { metric: 'iops', slope: true, limit: 0.5, percent: false });
    assert.deepEqual(parseSteadyState('bw:2m'), { metric: 'bw', slope: false, limit: 2 << 20, percent: false });
    assert.throws(() => parseSteadyState('lat:5%'), /bad value 'lat:5%' for option 'steadystate'/);
    assert.throws(() => parseSteadyState('iops:%'), /a limit of 0 or more/);
  });

  it('takes ss, ss_dur and ss_ramp, with fio\'s default criterion iops_slope:0.01%', () => {
    const s = job('j', { filename: '/f', ss_dur: '30', ss_ramp: '10s' });
    assert.deepEqual([s.steadystate, s.ssDurNs, s.ssRampNs], [{ metric: 'iops', slope: true, limit: 0.01, percent: true }, 30e9, 10e9]);
  });

  it('judges the largest distance from the window\'s mean, only once the window is full', () => {
    const w = new SteadyStateWindow(parseSteadyState('iops:10%'), 3);
    assert.equal(w.add(100, 1), false);
    assert.equal(w.add(120, 1), false);
    assert.equal(w.add(110, 1), true); // mean 110, largest distance 10: 9.09% < 10%
    const r = w.report();
    assert.deepEqual([r.attained, r.max_deviation, r.criterion, r.data.iops, r.data.iops_mean], [1, 10, '9.090909%', [100, 120, 110], 110]);
  });

  it('judges the least-squares slope of the window, and rolls the window on', () => {
    const w = new SteadyStateWindow(parseSteadyState('bw_slope:5'), 3);
    w.add(0, 100);
    w.add(0, 110);
    assert.equal(w.add(0, 120), false); // slope 10 per second
    assert.equal(w.add(0, 121), false); // 110, 120, 121: slope 5.5
    assert.equal(w.add(0, 122), true); // 120, 121, 122: slope 1
    const r = w.report();
    assert.deepEqual([r.slope, r.criterion, r.data.bw], [1, '1.000000', [120, 121, 122]]);
  });

  it('reports fio\'s object with a window not yet full padded with zeros', () => {
    const w = new SteadyStateWindow(parseSteadyState('iops:10%'), 4);
    w.add(8, 800);
    assert.deepEqual(w.report(), {
      ss: 'iops:10.000000%', duration: 4, attained: 0, criterion: '0.000000%', max_deviation: 0, slope: 0,
      data: { bw_mean: 200, iops_mean: 2, iops: [8, 0, 0, 0], bw: [800, 0, 0, 0] },
    });
  });

  it('judges a reporting group as one (its rates added up) and stops all of its jobs together', () => {
    const spec = job('g', { filename: '/f', group_reporting: '1', ss: 'iops:5%', ss_dur: '2' });
    const progress = new Float64Array(3 * 8);
    const stopped: number[] = [];
    const m = SteadyStateMonitor.watch([{ spec, jobIndex: 0 }, { spec, jobIndex: 1 }, { spec: job('other', { filename: '/g' }), jobIndex: 2 }],
      progress, (i) => stopped.push(i), 0)!;
    const run = (t: number, a: number, b: number) => {
      progress[5] = a; // job 0's reads
      progress[8 + 6] = b; // job 1's writes
      m.tick(t);
    };
    run(500, 50, 50); // not a second yet: no sample
    run(1000, 100, 300); // 100 + 300 a second
    assert.deepEqual(stopped, []);
    run(2000, 210, 590); // 110 + 290: the group's 400 both times
    assert.deepEqual(stopped, [0, 1]);
    assert.deepEqual(m.reportFor(1)?.data.iops, [400, 400]);
    assert.equal(m.reportFor(2), undefined);
  });

  it('waits ss_ramp and one second more before sampling', () => {
    const spec = job('r', { filename: '/f', ss: 'iops:50%', ss_dur: '1', ss_ramp: '2' });
    const progress = new Float64Array(8);
    const stopped: number[] = [];
    const m = SteadyStateMonitor.watch([{ spec, jobIndex: 0 }], progress, (i) => stopped.push(i), 0)!;
    for (const t of [1000, 2000]) {
      progress[5] += 100;
      m.tick(t);
    }
    assert.deepEqual(stopped, []);
    progress[5] += 100;
    m.tick(3000);
    assert.deepEqual(stopped, [0]);
  });

  it('turns nothing on without ss_dur of a second or more, as fio counts whole seconds', () => {
    assert.equal(SteadyStateMonitor.watch([{ spec: job('j', { filename: '/f', ss: 'iops:1%', ss_dur: '500ms' }), jobIndex: 0 }], new Float64Array(8), () => undefined, 0), undefined);
  });

  it('refuses steady-state options that differ within a reporting group', () => {
    const a = job('a', { filename: '/f', group_reporting: '1', ss: 'iops:5%', ss_dur: '2' });
    const b = job('b', { filename: '/f', group_reporting: '1', ss: 'iops:6%', ss_dur: '2' });
    assert.throws(() => assignGroups([a, b]), /steadystate options must be the same for every job of a reporting group/);
  });
});
