import * as assert from 'node:assert/strict';
import { CompareRow, compareTable } from '../../../src/blkbench/compare';
import { PROGRESS_FIELDS, PHASE } from '../../../src/blkbench/loop';
import { ProgressLine, progressWanted } from '../../../src/blkbench/progress';
import { fioJsonReport } from '../../../src/blkbench/report-json';
import { normalReport, percentileLines, statsLine } from '../../../src/blkbench/report-normal';
import { mergeResults } from '../../../src/blkbench/results';
import { LatencyHistogram } from '../../../src/blkbench/histogram';
import { compareSvg, ninesScale } from '../../../src/blkbench/svg';
import { assertWellFormedXml, syntheticResult } from '../../support/blkbench';

const latencies = Array.from({ length: 10000 }, (_, i) => 2000 + (i % 100) * 10); // 2.00–2.99 µs

describe('blkbench JSON report (fio schema)', () => {
  const doc = fioJsonReport([syntheticResult('j1', latencies, 1000)], { plus: false }) as any;
  const job = doc.jobs[0];

  it('has fio\'s top-level fields', () => {
    for (const k of ['fio version', 'timestamp', 'timestamp_ms', 'time', 'jobs', 'disk_util']) assert.ok(k in doc, k);
    assert.match(doc.time, /^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/);
  });

  it('has fio\'s per-job fields', () => {
    for (const k of ['jobname', 'groupid', 'error', 'job options', 'read', 'write', 'trim', 'sync', 'job_runtime', 'usr_cpu', 'sys_cpu',
      'ctx', 'majf', 'minf', 'iodepth_level', 'iodepth_submit', 'iodepth_complete', 'latency_ns', 'latency_us', 'latency_ms']) {
      assert.ok(k in job, k);
    }
    assert.equal(job.jobname, 'j1');
    assert.equal(job.usr_cpu, 25);
    assert.equal(job.sys_cpu, 50);
  });

  it('echoes job options as strings', () => {
    assert.equal(job['job options'].iodepth, '8');
    assert.equal(job['job options'].rw, 'randread');
  });

  it('reports bytes, KiB/s bandwidth, IOPS and runtime in ms per direction', () => {
    const r = job.read;
    assert.equal(r.io_bytes, 10000 * 4096);
    assert.equal(r.io_kbytes, 40000);
    assert.equal(r.bw_bytes, 40960000);
    assert.equal(r.bw, 40000);
    assert.equal(r.iops, 10000);
    assert.equal(r.runtime, 1000);
    assert.equal(r.total_ios, 10000);
    assert.equal(job.write.io_bytes, 0);
    assert.equal(job.write.iops, 0);
  });

  it('reports clat min/max/mean/stddev/N and the 17 default percentiles keyed like fio', () => {
    const c = job.read.clat_ns;
    assert.equal(c.min, 2000);
    assert.equal(c.max, 2990);
    assert.ok(Math.abs(c.mean - 2495) < 1e-6);
    assert.equal(c.N, 10000);
    assert.deepEqual(Object.keys(c.percentile), ['1.000000', '5.000000', '10.000000', '20.000000', '30.000000', '40.000000', '50.000000',
      '60.000000', '70.000000', '80.000000', '90.000000', '95.000000', '99.000000', '99.500000', '99.900000', '99.950000', '99.990000']);
    assert.ok(Math.abs(c.percentile['50.000000'] - 2490) / 2490 < 0.008);
    assert.equal(job.read.slat_ns.N, 0);
    assert.equal(job.read.lat_ns.N, 10000);
  });

  it('leaves percentiles out of a direction without I/O', () => {
    assert.equal(job.write.clat_ns.percentile, undefined);
  });

  it('adds clat bins only in json+', () => {
    assert.equal(job.read.clat_ns.bins, undefined);
    const plus = fioJsonReport([syntheticResult('j1', latencies, 1000)], { plus: true }) as any;
    const bins = plus.jobs[0].read.clat_ns.bins as Record<string, number>;
    assert.equal(Object.values(bins).reduce((a, b) => a + b, 0), 10000);
    for (const k of Object.keys(bins)) assert.match(k, /^\d+$/);
  });

  it('puts every request in fio\'s coarse latency table (percent)', () => {
    assert.equal(job.latency_us['4'], 100);
    assert.equal(job.latency_ns['1000'], 0);
  });

  it('round-trips through JSON.stringify and JSON.parse', () => {
    const again = JSON.parse(JSON.stringify(doc));
    assert.equal(again.jobs[0].read.iops, 10000);
  });
});

describe('blkbench group reporting', () => {
  it('merges jobs: sums requests and bytes, adds histograms, counts the jobs', () => {
    const a = syntheticResult('g', latencies, 1000);
    const b = syntheticResult('g', latencies.map((x) => x * 10), 1000);
    const m = mergeResults([a, b]);
    assert.equal(m.jobs, 2);
    assert.equal(m.dirs.read.ios, 20000);
    assert.equal(m.dirs.read.lat.min, 2000);
    assert.equal(m.dirs.read.lat.max, 29900);
    const p = new LatencyHistogram(m.dirs.read.hist).percentiles([25, 75]);
    assert.ok(p[0] < 3000 && p[1] > 20000);
    assert.equal(m.runtimeNs, 1000e6);
  });

  it('keeps CPU as the average share per job', () => {
    const m = mergeResults([syntheticResult('g', latencies, 1000), syntheticResult('g', latencies, 1000)]);
    const doc = fioJsonReport([m], { plus: false }) as any;
    assert.equal(doc.jobs[0].usr_cpu, 25);
  });
});

describe('blkbench human report', () => {
  const text = normalReport([syntheticResult('j1', latencies, 1000)], [syntheticResult('j1', latencies, 1000)]);

  it('is laid out like fio\'s', () => {
    assert.match(text, /^j1: \(groupid=0, jobs=1\): err= 0: pid=\d+: /);
    assert.match(text, /\n {2}read: IOPS=10k, BW=39\.1MiB\/s \(41\.0MB\/s\)\(39\.1MiB\/1000msec\)\n/);
    assert.match(text, /\n {4}clat \(nsec\): min=2000, max=2990, avg=2495\.00, stdev=288\.\d\d\n/);
    assert.match(text, /\n {4}clat percentiles \(nsec\):\n {5}\| {2}1\.00th=\[ 2008\], {2}5\.00th=/);
    assert.match(text, /\n {2}cpu {10}: usr=25\.00%, sys=50\.00%, ctx=10, majf=0, minf=40\n/);
    assert.match(text, /\n {5}issued rwts: total=10000,0,0,0 /);
    assert.match(text, /\nRun status group 0 \(all jobs\):\n {3}READ: bw=39\.1MiB\/s \(41\.0MB\/s\), 39\.1MiB\/s-39\.1MiB\/s .* run=1000-1000msec\n/);
  });

  it('scales stats lines to µs or ms only when every value allows it', () => {
    assert.equal(statsLine(281, 3646809, 69725.544, 75828.8387), '(nsec): min=281, max=3646.8k, avg=69725.54, stdev=75828.84');
    assert.equal(statsLine(2374, 3651626, 71543.95, 76477.79), '(usec): min=2, max=3651, avg=71.54, stdev=76.48');
  });

  it('prints percentiles four to a line, in µs when they are large', () => {
    const h = new LatencyHistogram();
    for (let i = 0; i < 1000; i++) h.add(55000 + i * 100);
    const lines = percentileLines(h);
    assert.equal(lines[0], '    clat percentiles (usec):');
    assert.equal(lines.length, 6);
    assert.match(lines[1], /^ {5}\| {2}1\.00th=\[ {3}\d\d\], {2}5\.00th=\[ {3}\d\d\], 10\.00th=\[ {3}\d\d\], 20\.00th=\[ {3}\d\d\],$/);
    assert.match(lines[5], /^ {5}\| 99\.99th=\[ {2}\d{3}\]$/);
  });
});

describe('blkbench progress line', () => {
  it('is shown only on a terminal and not with JSON output', () => {
    assert.equal(progressWanted({ isTTY: true }, ['normal']), true);
    assert.equal(progressWanted({ isTTY: false }, ['normal']), false);
    assert.equal(progressWanted({}, ['normal']), false);
    assert.equal(progressWanted({ isTTY: true }, ['json']), false);
    assert.equal(progressWanted({ isTTY: true }, ['normal', 'json+']), false);
  });

  it('shows phase, percent done, bandwidth, IOPS and eta', () => {
    const spec = syntheticResult('p', [1], 1).spec;
    const line = new ProgressLine([spec, spec], { write: () => true });
    const progress = new Float64Array(2 * PROGRESS_FIELDS);
    for (const slot of [0, 1]) {
      const b = slot * PROGRESS_FIELDS;
      progress[b] = PHASE.run;
      progress[b + 1] = 0.5;
      progress[b + 2] = 100 * 1024 * 1024; // bytes read so far
      progress[b + 5] = 25600; // reads so far
    }
    const text = line.line(progress, 1);
    assert.match(text, /^Jobs: 2 \(f=2\): \[r\(2\)\]\[run\]\[50\.0%\]\[r=200MiB\/s\]\[r=51\.2k IOPS\]\[eta \d\dm:\d\ds\]$/);
  });

  it('draws in place with a carriage return and clears itself', () => {
    const written: string[] = [];
    const spec = syntheticResult('p', [1], 1).spec;
    const line = new ProgressLine([spec], { write: (s: string) => written.push(s) });
    const progress = new Float64Array(PROGRESS_FIELDS);
    progress[0] = PHASE.ramp;
    line.update(progress);
    line.clear();
    assert.match(written[0], /^\rJobs: 1 \(f=1\): \[\/\(1\)\]\[ramp\]/);
    assert.equal(written[written.length - 1], '\r\x1b[K');
  });
});

describe('blkbench compare output', () => {
  const row = (label: string, iops: number, p50: number): CompareRow => ({
    label, driver: 'io_uring', path: `/tmp/${label}`, iops, bwBytes: iops * 4096, latMeanNs: p50,
    percentiles: [[1, p50 / 2], [50, p50], [99, p50 * 3], [99.9, p50 * 5], [99.99, p50 * 9]], cpuPerIoNs: 1500, error: null,
  });
  const rows = [row('first', 400000, 2000), row('second & co', 200000, 4000)];

  it('puts targets side by side with ratios to the first', () => {
    const t = compareTable(rows);
    const iopsLine = t.split('\n').find((l) => l.startsWith('IOPS'))!;
    assert.match(iopsLine, /400k +200k \(0\.50x\)$/);
    const p50Line = t.split('\n').find((l) => l.startsWith('clat p50'))!;
    assert.match(p50Line, /2\.00 +4\.00 \(2\.00x\)$/);
  });

  it('writes a well-formed SVG with an IOPS, a bandwidth and a latency series per target', () => {
    const svg = compareSvg(rows, 'rw=randread <test>');
    const names = assertWellFormedXml(svg);
    assert.equal(names[0], 'svg');
    for (const panel of ['iops', 'bandwidth', 'latency']) assert.match(svg, new RegExp(`<g id="${panel}">`));
    for (const label of ['first', 'second &amp; co']) {
      const series = svg.split(`<g class="series" data-target="${label}">`).length - 1;
      assert.equal(series, 3, `series for ${label}`);
    }
    assert.equal((svg.match(/<polyline points="[\d., ]+"/g) ?? []).length, 2);
    assert.match(svg, /<title>rw=randread &lt;test&gt;<\/title>/);
  });

  it('spaces 90, 99 and 99.9 evenly on the percentile axis', () => {
    const a = ninesScale(99) - ninesScale(90);
    const b = ninesScale(99.9) - ninesScale(99);
    assert.ok(Math.abs(a - b) < 1e-9);
  });
});
