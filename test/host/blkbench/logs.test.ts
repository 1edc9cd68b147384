/**
 * fio's log files from blkbench: the files fio would write, in fio 3.33's line format, with what the
 * job did in them; and fio's own histogram tool (fiologparser_hist.py, shipped by Debian's fio) reads them.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BLKBENCH_CLI } from '../../support/paths';
import { requirePrerequisite } from '../../support/prerequisites';

const CLI = BLKBENCH_CLI;
const HIST_TOOL_GZ = '/usr/share/doc/fio/fiologparser_hist.py.gz';

function rows(file: string): number[][] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(', ').map(Number));
}

describe('blkbench log files in fio formats', function () {
  this.timeout(60000);
  let dir: string;
  let json: { jobs: Array<{ read: { total_ios: number; clat_ns: { mean: number } }; write: { total_ios: number } }> };

  function blkbench(...args: string[]): string {
    const r = spawnSync(process.execPath, [CLI, '--output-format=json', ...args], { cwd: dir, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  }

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-logs-'));
    json = JSON.parse(blkbench('--name=per-io', '--filename=data', '--size=256k', '--rw=randrw', '--bs=4k',
      '--write_lat_log=per', '--write_bw_log=per', '--write_iops_log=per'));
    blkbench('--name=avg', '--filename=data', '--size=1m', '--rw=randread', '--bs=4k', '--rate_iops=4000',
      '--write_lat_log=avg', '--write_iops_log=avg', '--log_avg_msec=20', '--write_hist_log=avg', '--log_hist_msec=20');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes fio\'s file names: PREFIX_{slat,clat,lat,bw,iops}.N.log', () => {
    for (const kind of ['slat', 'clat', 'lat', 'bw', 'iops']) assert.ok(fs.existsSync(path.join(dir, `per_${kind}.1.log`)), kind);
  });

  it('logs one line per request, "msec, value, ddir, bs, offset", without log_avg_msec', () => {
    const clat = rows(path.join(dir, 'per_clat.1.log'));
    const job = json.jobs[0];
    assert.equal(clat.length, job.read.total_ios + job.write.total_ios);
    for (const [msec, value, ddir, bs, offset] of clat) {
      assert.ok(Number.isInteger(msec) && msec >= 0);
      assert.ok(value > 0);
      assert.ok(ddir === 0 || ddir === 1);
      assert.equal(bs, 4096);
      assert.equal(offset % 4096, 0);
    }
    assert.equal(clat.filter((r) => r[2] === 0).length, job.read.total_ios);
  });

  it('logs the latencies the report summarizes: the clat log\'s read mean is clat_ns.mean', () => {
    const reads = rows(path.join(dir, 'per_clat.1.log')).filter((r) => r[2] === 0).map((r) => r[1]);
    const mean = reads.reduce((a, b) => a + b, 0) / reads.length;
    assert.ok(Math.abs(mean - json.jobs[0].read.clat_ns.mean) < 1, `${mean} vs ${json.jobs[0].read.clat_ns.mean}`);
  });

  it('logs lat as slat + clat, request by request', () => {
    const slat = rows(path.join(dir, 'per_slat.1.log'));
    const clat = rows(path.join(dir, 'per_clat.1.log'));
    const lat = rows(path.join(dir, 'per_lat.1.log'));
    lat.forEach((r, i) => assert.equal(r[1], slat[i][1] + clat[i][1]));
  });

  it('averages over log_avg_msec windows, with bs and offset 0, as fio does', () => {
    const iops = rows(path.join(dir, 'avg_iops.1.log'));
    assert.ok(iops.length >= 2);
    for (const [msec, value, ddir, bs, offset] of iops) {
      assert.equal(msec % 20, 0);
      assert.ok(value > 0);
      assert.deepEqual([ddir, bs, offset], [0, 0, 0]);
    }
  });

  it('writes histogram logs with fio\'s 1856 buckets, counting every request once', () => {
    const hist = rows(path.join(dir, 'avg_clat_hist.1.log'));
    for (const r of hist) assert.equal(r.length, 3 + 1856);
    const total = hist.reduce((a, r) => a + r.slice(3).reduce((x, y) => x + y, 0), 0);
    assert.equal(total, 256);
  });

  it('is read by fio\'s fiologparser_hist.py', function () {
    const python = '/usr/bin/python3';
    // Both come from test/prerequisites.sh (Debian's fio and python3-pandas).
    requirePrerequisite(fs.existsSync(HIST_TOOL_GZ), HIST_TOOL_GZ, 'apt-get install fio');
    requirePrerequisite(spawnSync(python, ['-c', 'import pandas, numpy']).status === 0, 'python3-pandas', 'apt-get install python3-pandas');
    const tool = path.join(dir, 'fiologparser_hist.py');
    fs.writeFileSync(tool, gunzipSync(fs.readFileSync(HIST_TOOL_GZ)));
    const r = spawnSync(python, [tool, '--interval', '100000', path.join(dir, 'avg_clat_hist.1.log')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [header, line] = r.stdout.trim().split('\n');
    assert.match(header, /^end-time, samples, min, avg, median/);
    assert.equal(Number(line.split(', ')[1]), 256);
  });
});
