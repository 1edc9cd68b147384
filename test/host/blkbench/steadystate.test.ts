/**
 * Steady-state detection (ss, ss_dur, ss_ramp) on real targets: a time_based job whose rate holds
 * steady is stopped long before its runtime, on the native loop (/dev/null, as fio's example) and on
 * the JS loop (a file), per reporting group; the JSON carries fio's steadystate object with the fields
 * fio 3.33 writes for the same job. Jobs on the kernel's memory devices run on their own sink.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError } from '../../../src/lib';
import { startMemDeviceJobLoop } from '../../../src/lib/bench';
import { tempDir } from '../../support/files';
import { BLKBENCH_CLI } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';

type Job = { jobname: string; job_runtime: number; error: number; blkbench_loop?: string; steadystate?: Record<string, unknown> & { attained: number; data: Record<string, unknown> } };

function run(tool: 'fio' | 'blkbench', dir: string, text: string): Job[] {
  fs.writeFileSync(path.join(dir, 'job.fio'), text);
  const [cmd, args] = tool === 'fio' ? ['fio', []] : [process.execPath, [BLKBENCH_CLI]];
  const r = spawnSync(cmd, [...args, '--output-format=json', 'job.fio'], { cwd: dir, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `${tool}: ${r.stderr}`);
  // fio prints nan for a slope it could not take; JSON has no such number.
  return (JSON.parse(r.stdout.slice(r.stdout.indexOf('{')).replace(/-?nan/g, '0')) as { jobs: Job[] }).jobs;
}

const STEADY = ['[global]', 'thread', 'time_based', 'runtime=30s', 'size=8m', 'ss=iops:100%', 'ss_dur=2'];

describe('steady state: a job stops once its rate holds', function () {
  this.timeout(60000);
  let dir: string;

  beforeEach(() => {
    dir = tempDir('blkbench-ss-');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a /dev/null writer on the native loop stops after its 2 s window, not its 30 s runtime, with fio\'s steadystate fields', () => {
    requireFio();
    const text = [...STEADY, '[w]', 'filename=/dev/null', 'rw=write', 'bs=64k'].join('\n') + '\n';
    const [bb] = run('blkbench', dir, text);
    const [fio] = run('fio', dir, text);
    assert.equal(bb.blkbench_loop, 'native');
    assert.equal(bb.error, 0);
    assert.ok(bb.steadystate && fio.steadystate);
    assert.equal(bb.steadystate.attained, 1);
    assert.ok(bb.job_runtime < 10000, `ran ${bb.job_runtime} ms`);
    assert.deepEqual(Object.keys(bb.steadystate).sort(), Object.keys(fio.steadystate).sort());
    assert.deepEqual(Object.keys(bb.steadystate.data).sort(), Object.keys(fio.steadystate.data).sort());
    assert.deepEqual([bb.steadystate.ss, bb.steadystate.duration], [fio.steadystate.ss, fio.steadystate.duration]);
    assert.equal((bb.steadystate.data.iops as number[]).length, 2);
  });

  it('a reporting group on the JS loop (a file) is judged as one and stops together', () => {
    const text = [...STEADY, 'group_reporting', 'blkbench_loop=js', 'filename=data.bin', '[r]', 'rw=randread', 'numjobs=2'].join('\n') + '\n';
    const jobs = run('blkbench', dir, text);
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0].blkbench_loop, 'js');
    assert.equal(jobs[0].steadystate?.attained, 1);
    assert.ok(jobs[0].job_runtime < 10000, `ran ${jobs[0].job_runtime} ms`);
  });

  it('a job that never holds steady runs its runtime, reported as not attained', () => {
    const text = ['[global]', 'thread', 'time_based', 'runtime=1500ms', 'size=8m', '[z]', 'filename=/dev/zero', 'rw=read', 'ss=iops:0%', 'ss_dur=1'].join('\n') + '\n';
    const [z] = run('blkbench', dir, text);
    assert.equal(z.steadystate?.attained, 0);
    assert.ok(z.job_runtime >= 1400, `ran ${z.job_runtime} ms`);
  });
});

describe('memory character devices: the job loop\'s own sink', function () {
  this.timeout(30000);

  it('reads /dev/zero and writes /dev/null with the job\'s counts', async () => {
    const r = await startMemDeviceJobLoop('/dev/zero', { rw: 'randrw', regionLength: 1 << 20, iodepth: 4, seed: 3n }).done;
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.read.bytes + r.write.bytes, 1 << 20);
    const w = await startMemDeviceJobLoop('/dev/null', { rw: 'write', regionLength: 1 << 20, blockSize: 65536 }).done;
    assert.deepEqual([w.error, w.write.ios], [0, 16]);
  });

  it('fails trims with ENOTSUP in the result: a character device has no blocks', async () => {
    const r = await startMemDeviceJobLoop('/dev/null', { rw: 'trim', regionLength: 1 << 20 }).done;
    assert.equal(r.error, 95);
    assert.match(r.errorMessage ?? '', /takes only reads, writes and flushes/);
  });

  it('refuses anything but the memory devices (a regular file, /dev/mem)', () => {
    const dir = tempDir('blkbench-memdev-');
    try {
      const file = path.join(dir, 'f');
      fs.writeFileSync(file, Buffer.alloc(4096));
      for (const p of [file, ...(fs.existsSync('/dev/mem') ? ['/dev/mem'] : [])]) {
        assert.throws(() => startMemDeviceJobLoop(p, { rw: 'read', regionLength: 4096 }),
          (e: unknown) => e instanceof BlkioError && e.code === 'EINVAL' && /is not \/dev\/null, \/dev\/zero/.test(e.message));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
