/**
 * fio's options for what a job measures and reports of its latencies (disable_lat, disable_clat,
 * disable_slat, disable_bw_measurement, gtod_reduce, clat_percentiles, lat_percentiles,
 * slat_percentiles), against fio 3.33 on the same io_uring job: which latencies were measured, which
 * carry percentiles, whether bandwidth samples and fio's latency buckets were kept. Both of
 * blkbench's loops must agree with fio.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';

interface Latency { N: number; percentile?: Record<string, number> }
interface Direction { slat_ns: Latency; clat_ns: Latency; lat_ns: Latency; bw_samples: number; iops_samples: number }
interface Job { read: Direction; latency_ns: Record<string, number>; latency_us: Record<string, number>; latency_ms: Record<string, number> }

const OPTION_SETS = [
  [], ['--disable_lat=1'], ['--disable_clat=1'], ['--disable_slat=1'], ['--disable_bw_measurement=1'], ['--gtod_reduce=1'],
  ['--clat_percentiles=0'], ['--lat_percentiles=1'], ['--slat_percentiles=1'], ['--clat_percentiles=0', '--lat_percentiles=1'],
];

/** What a run measured and reported, in the terms the options change. */
function shape(job: Job): Record<string, boolean> {
  const d = job.read;
  const buckets = [job.latency_ns, job.latency_us, job.latency_ms].flatMap((m) => Object.values(m)).reduce((a, b) => a + b, 0);
  const out: Record<string, boolean> = {};
  for (const k of ['slat_ns', 'clat_ns', 'lat_ns'] as const) {
    out[`${k} measured`] = d[k].N > 0;
    out[`${k} percentiles`] = d[k].percentile !== undefined;
  }
  out['bandwidth samples'] = d.bw_samples > 0;
  out['IOPS samples'] = d.iops_samples > 0;
  out['latency buckets'] = buckets > 0;
  return out;
}

describe('blkbench measures and reports latencies as fio\'s options say', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;

  before(function () {
    requireFio();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-latency-options-'));
    file = path.join(dir, 'data');
    fs.writeFileSync(file, Buffer.alloc(4 << 20, 7));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(tool: 'fio' | 'native' | 'js', options: string[], format = 'json'): string {
    // 0.7 s: one bandwidth and IOPS sample (fio takes one every 500 ms).
    const args = [`--name=lat`, `--filename=${file}`, '--ioengine=io_uring', '--rw=randread', '--bs=4k', '--iodepth=4',
      '--runtime=700ms', '--time_based', `--output-format=${format}`, ...options];
    const r = tool === 'fio'
      ? spawnSync('fio', args, { cwd: dir, encoding: 'utf8', timeout: 30000 })
      : spawnSync(process.execPath, [BLKBENCH_CLI, ...args, `--blkbench_loop=${tool}`], { cwd: dir, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `${tool} ${options.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  }

  const jobOf = (out: string): Job => (JSON.parse(out.slice(out.indexOf('{'))) as { jobs: Job[] }).jobs[0];

  for (const options of OPTION_SETS) {
    it(`measures and reports what fio does with ${options.length ? options.join(' ') : 'the defaults'}`, () => {
      const fio = shape(jobOf(run('fio', options)));
      assert.deepEqual(shape(jobOf(run('native', options))), fio, 'the native loop');
      assert.deepEqual(shape(jobOf(run('js', options))), fio, 'the JS loop');
    });
  }

  /** The normal report's latency lines: "clat" for a stats line, "clat percentiles" for a percentile block. */
  function latencyLines(out: string): string[] {
    return out.split('\n').flatMap((l) => {
      const m = /^\s*(slat|clat|lat) (?:\((?:nsec|usec|msec)\): min=|(percentiles))/.exec(l);
      return m ? [m[2] ? `${m[1]} percentiles` : m[1]] : [];
    });
  }

  it('leaves out the latency lines of the normal report with gtod_reduce, as fio does', () => {
    const fio = latencyLines(run('fio', ['--gtod_reduce=1'], 'normal'));
    assert.deepEqual(fio, [], 'fio printed latency lines');
    assert.deepEqual(latencyLines(run('native', ['--gtod_reduce=1'], 'normal')), fio);
  });

  it('prints the latency lines fio prints by default', () => {
    const fio = latencyLines(run('fio', [], 'normal'));
    assert.deepEqual(fio, ['slat', 'clat', 'lat', 'clat percentiles']);
    assert.deepEqual(latencyLines(run('native', [], 'normal')), fio);
  });

  it('prints the percentile blocks lat_percentiles and slat_percentiles ask for, as fio does', () => {
    const options = ['--lat_percentiles=1', '--slat_percentiles=1', '--clat_percentiles=0'];
    assert.deepEqual(latencyLines(run('native', options, 'normal')), latencyLines(run('fio', options, 'normal')));
  });
});
