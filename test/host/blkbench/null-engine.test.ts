/**
 * ioengine=null: the native job loop with no target (startNullJobLoop), as fio's null engine. Its
 * requests are the ones a queue would get for the same spec and go through the same accounting; only
 * where they go differs. blkbench runs fio's null jobs with fio's counts and JSON fields.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Blkio, BlkioError, create } from '../../../src/lib';
import { JobLoopLatency, JobLoopSpec, runJobLoop, startNullJobLoop } from '../../../src/lib/bench';
import { randomFile, tempDir } from '../../support/files';
import { BLKBENCH_CLI } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';

const MiB = 1 << 20;

function histTotal(l: JobLoopLatency): number {
  return l.hist.reduce((a, c) => a + c, 0);
}

function assertBlkioError(f: () => unknown, code: string, message: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof BlkioError && e.code === code && message.test(e.message));
}

type Doc = { jobs: Array<Record<string, unknown> & { jobname: string; blkbench_loop?: string } & Record<'read' | 'write' | 'trim', Record<string, unknown>>> };

function runTool(tool: 'fio' | 'blkbench', text: string, dir: string): Doc {
  fs.writeFileSync(path.join(dir, 'job.fio'), text);
  const [cmd, args] = tool === 'fio' ? ['fio', []] : [process.execPath, [BLKBENCH_CLI]];
  const r = spawnSync(cmd, [...args, '--output-format=json', 'job.fio'], { cwd: dir, encoding: 'utf8', timeout: 30000 });
  assert.equal(r.status, 0, `${tool} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as Doc; // fio may print a note first
}

describe('ioengine=null: the job loop without a target', function () {
  this.timeout(30000);
  let dir: string;

  beforeEach(() => {
    dir = tempDir('blkbench-null-');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('issues the requests a queue gets for the same spec (zipf offsets, bssplit sizes, mixed directions)', async () => {
    const file = randomFile(4 * MiB, dir);
    const b: Blkio = create('io_uring');
    try {
      b.setStr('path', file);
      b.connect();
      b.start();
      const spec: JobLoopSpec = {
        rw: 'randrw', rwmixread: 70, regionLength: 4 * MiB, norandommap: true, iodepth: 8, iodepthBatchSubmit: 4,
        randomDistribution: { kind: 'zipf', param: 1.1 }, bssplit: { read: { sizes: [4096, 16384], weights: [50, 50] } },
        seed: 42n, traceLimit: 2000, numberIos: 1500, ioLimit: 64 * MiB,
      };
      const onQueue = await runJobLoop(b.getQueue(0)!, spec);
      const onNull = await startNullJobLoop(spec).done;
      assert.equal(onNull.error, 0, onNull.errorMessage ?? '');
      assert.equal(onNull.trace!.length, 1500);
      assert.deepEqual(onNull.trace, onQueue.trace);
      // zipf: some blocks are drawn again and again.
      const hits = new Map<number, number>();
      for (const [offset] of onNull.trace!) hits.set(offset, (hits.get(offset) ?? 0) + 1);
      assert.ok(Math.max(...hits.values()) > 20, `the most drawn block came ${Math.max(...hits.values())} times`);
    } finally {
      b.destroy();
    }
  });

  it('counts every request in ios, bytes, each latency histogram and the depth tables', async () => {
    const r = await startNullJobLoop({ rw: 'readwrite', regionLength: 8 * MiB, iodepth: 16, iodepthBatchSubmit: 4, seed: 1n }).done;
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.read.bytes + r.write.bytes, 8 * MiB);
    assert.equal(r.read.ios + r.write.ios, 8 * MiB / 4096);
    for (const d of [r.read, r.write]) {
      for (const l of [d.slat, d.clat, d.lat]) assert.equal(histTotal(l), d.ios);
    }
    assert.equal(r.depth.level.reduce((a, c) => a + c, 0), 8 * MiB / 4096);
    assert.ok(r.runtimeNs > 0);
  });

  it('stops on stop() like a loop on a queue (time_based)', async () => {
    const loop = startNullJobLoop({ rw: 'randread', regionLength: MiB, timeBased: true, runtimeNs: 60e9 });
    await new Promise((res) => setTimeout(res, 100));
    loop.stop();
    const r = await loop.done;
    assert.equal(r.stopped, true);
    assert.ok(r.read.ios > 0);
  });

  it('refuses what needs data or a device: verify, stampWrites, eventfd waits, zones', () => {
    const base: JobLoopSpec = { rw: 'write', regionLength: MiB };
    assertBlkioError(() => startNullJobLoop({ ...base, verify: 'crc32c' }), 'EINVAL', /verify needs data/);
    assertBlkioError(() => startNullJobLoop({ ...base, stampWrites: true }), 'EINVAL', /stampWrites needs data/);
    assertBlkioError(() => startNullJobLoop({ ...base, waitMode: 'eventfd' }), 'EINVAL', /completion fd/);
    assertBlkioError(() => startNullJobLoop({ ...base, zbd: { zoneSize: MiB, zones: [[MiB, 0, 1]] } }), 'EINVAL', /zoned device/);
  });

  it('blkbench runs fio\'s null jobs with fio\'s request counts and JSON fields, on the native loop', function () {
    requireFio();
    const text = ['[global]', 'ioengine=null', 'size=2m', 'thread', '[trim]', 'rw=randtrim', 'bs=16k', '[rw]', 'rw=rw', 'bs=8k', 'rwmixread=100', '[zipf]',
      'rw=randread', 'norandommap', 'random_distribution=zipf:0.5', 'iodepth=4'].join('\n');
    const fio = runTool('fio', text, dir);
    const bb = runTool('blkbench', text, dir);
    assert.deepEqual(fs.readdirSync(dir), ['job.fio'], 'neither tool creates a file');
    assert.deepEqual(bb.jobs.map((j) => j.jobname), fio.jobs.map((j) => j.jobname));
    fio.jobs.forEach((f, i) => {
      const j = bb.jobs[i];
      assert.equal(j.blkbench_loop, 'native');
      for (const d of ['read', 'write', 'trim'] as const) {
        assert.deepEqual([j[d].total_ios, j[d].io_bytes], [f[d].total_ios, f[d].io_bytes], `${f.jobname} ${d}`);
        for (const k of Object.keys(f[d])) assert.ok(k in j[d], `${f.jobname} ${d}: fio's field ${k} is missing`);
      }
      for (const k of Object.keys(f)) assert.ok(k in j, `${f.jobname}: fio's field ${k} is missing`);
    });
  });

  it('blkbench refuses a null job it cannot run as fio would, with the reason', () => {
    for (const [extra, why] of [
      ['', /ioengine=null: needs 'size'/],
      ['size=50%', /must be bytes/],
      ['size=1m\nverify=md5\nrw=write', /'verify' cannot be used/],
      ['size=1m\nblkbench_loop=js', /native job loop's/],
    ] as const) {
      fs.writeFileSync(path.join(dir, 'job.fio'), `[j]\nioengine=null\n${extra}\n`);
      const r = spawnSync(process.execPath, [BLKBENCH_CLI, 'job.fio'], { cwd: dir, encoding: 'utf8' });
      assert.notEqual(r.status, 0, extra);
      assert.match(r.stderr, why);
    }
  });
});
