/**
 * The native job loop (startJobLoop / runJobLoop) on the io_uring driver and real files: what it
 * counts, where its requests go, its stop flag and live counters, how failures come back, and that
 * it owns its queue while it runs. blkbench's use of it (loop selection, reports) at the end.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Blkio, BlkioError, createCompletions, create } from '../../../src/lib';
import { JobLoopLatency, runJobLoop, startJobLoop } from '../../../src/lib/bench';
import { randomFile, tempDir } from '../../support/files';
import { BLKBENCH_CLI, BUILD_DIR, LIB_DIR } from '../../support/paths';
import { Qsd } from '../../support/qsd';
import { requirePrerequisite } from '../../support/prerequisites';

const MiB = 1 << 20;
const BLOCK = 4096;
const CLI = BLKBENCH_CLI;

function openFile(file: string, readOnly = false): Blkio {
  const b = create('io_uring');
  b.setStr('path', file);
  b.setBool('read-only', readOnly);
  b.connect();
  b.start();
  return b;
}

function histTotal(l: JobLoopLatency): number {
  return l.hist.reduce((a, c) => a + c, 0);
}

function assertBlkioError(f: () => unknown, code: string, message: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof BlkioError && e.code === code && message.test(e.message));
}

describe('native job loop (io_uring on files)', function () {
  this.timeout(30000);
  let dir: string;
  let file: string;
  let b: Blkio;

  beforeEach(() => {
    dir = tempDir('blkio-job-loop-');
    file = randomFile(2 * MiB, dir);
    b = openFile(file);
  });

  afterEach(() => {
    b.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a size-bound sequential read does one pass: every block once, counted in ios, bytes and each latency kind', async () => {
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'read', regionLength: MiB, iodepth: 4 });
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.read.ios, MiB / BLOCK);
    assert.equal(r.read.bytes, MiB);
    assert.equal(r.write.ios, 0);
    for (const l of [r.read.slat, r.read.clat, r.read.lat]) {
      assert.equal(l.n, MiB / BLOCK);
      assert.equal(histTotal(l), MiB / BLOCK);
    }
  });

  it('total latency is submission latency plus completion latency, request by request', async () => {
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 8 });
    const n = r.read.lat.n;
    const sum = (l: JobLoopLatency) => l.mean * n;
    assert.ok(Math.abs(sum(r.read.lat) - sum(r.read.slat) - sum(r.read.clat)) <= 1e-6 * sum(r.read.lat) + 1);
    assert.ok(r.read.lat.min >= r.read.clat.min && r.read.lat.max >= r.read.slat.max);
  });

  it('random writes with the random map hit every block of the region exactly once, and the data lands there', async () => {
    const regionStart = 64 * BLOCK;
    const before = fs.readFileSync(file);
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randwrite', regionStart, regionLength: MiB, iodepth: 16, stampWrites: true });
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.write.ios, MiB / BLOCK);
    const after = fs.readFileSync(file);
    for (let off = regionStart; off < regionStart + MiB; off += BLOCK) {
      assert.equal(after.readBigUInt64LE(off), BigInt(off), `block at ${off} does not carry its own offset`);
    }
    assert.ok(after.subarray(0, regionStart).equals(before.subarray(0, regionStart)), 'bytes before the region changed');
    assert.ok(after.subarray(regionStart + MiB).equals(before.subarray(regionStart + MiB)), 'bytes after the region changed');
  });

  it('vectored writes (readv/writev of one element) land where plain ones do', async () => {
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randwrite', regionLength: MiB, iodepth: 8, vectored: true, stampWrites: true });
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.write.ios, MiB / BLOCK);
    const after = fs.readFileSync(file);
    for (let off = 0; off < MiB; off += BLOCK) assert.equal(after.readBigUInt64LE(off), BigInt(off), `block at ${off}`);
  });

  it('trims as write-zeroes leave the region reading zeroes, counted as trims', async () => {
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randtrim', blockSize: 8192, regionLength: MiB, iodepth: 4, writeZeroesOnTrim: true });
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(r.trim.ios, MiB / 8192);
    assert.equal(r.trim.bytes, MiB);
    assert.ok(fs.readFileSync(file).subarray(0, MiB).every((x) => x === 0), 'the region reads zeroes');
  });

  it('rate_iops paces the run: its requests take at least their share of a second', async () => {
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 4, numberIos: 50, rateIops: { read: 500 } });
    assert.equal(r.read.ios, 50);
    assert.ok(r.runtimeNs >= 49 / 500 * 1e9, `50 requests at 500/s took ${r.runtimeNs} ns`);
  });

  it('randrw splits one pass between reads and writes by rwmixread', async () => {
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randrw', rwmixread: 70, regionLength: MiB, iodepth: 4 });
    assert.equal(r.read.ios + r.write.ios, MiB / BLOCK);
    assert.ok(r.read.ios > r.write.ios && r.write.ios > 0, `reads ${r.read.ios}, writes ${r.write.ios}`);
  });

  it('batched submission and completion fill the depth tables by batch size', async () => {
    const r = await runJobLoop(b.getQueue(0)!, {
      rw: 'randread', regionLength: MiB, iodepth: 32, iodepthBatchSubmit: 32, iodepthBatchCompleteMax: 32,
    });
    assert.equal(r.read.ios, MiB / BLOCK);
    assert.ok(r.depth.submit[4] > 0, `submit table ${r.depth.submit}`); // batches of 17-32
    assert.equal(r.depth.level[5], MiB / BLOCK); // 32-63 in flight at every submission
  });

  it('ramp time runs before the measured phase and is not part of it', async () => {
    const rampTimeNs = 300e6;
    const runtimeNs = 300e6;
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 4, timeBased: true, rampTimeNs, runtimeNs });
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.ok(r.elapsedNs >= rampTimeNs + runtimeNs, `elapsed ${r.elapsedNs}`);
    assert.ok(r.runtimeNs >= runtimeNs && r.runtimeNs < r.elapsedNs - rampTimeNs / 2, `runtime ${r.runtimeNs}, elapsed ${r.elapsedNs}`);
    assert.equal(r.read.lat.n, r.read.ios);
  });

  it('stop() ends a time-based run early: in-flight requests are counted and done resolves', async () => {
    const loop = startJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 8, timeBased: true, runtimeNs: 60e9 });
    await new Promise((res) => setTimeout(res, 300));
    loop.stop();
    const r = await loop.done;
    assert.equal(r.stopped, true);
    assert.equal(r.error, 0);
    assert.ok(r.read.ios > 0);
    assert.ok(r.elapsedNs < 60e9);
    assert.equal(r.leftInFlight, 0);
  });

  it('the live counters end with the phase "done" and the final request and byte counts', async () => {
    const loop = startJobLoop(b.getQueue(0)!, { rw: 'read', regionLength: MiB, iodepth: 2 });
    const r = await loop.done;
    assert.equal(loop.progress[0], 4);
    assert.equal(loop.progress[1], 1);
    assert.equal(loop.progress[2], r.read.bytes);
    assert.equal(loop.progress[5], r.read.ios);
  });

  it('a request error comes back in the result with its errno and message; nothing is left in flight', async () => {
    b.destroy();
    b = openFile(file, true);
    const r = await runJobLoop(b.getQueue(0)!, { rw: 'write', regionLength: MiB, iodepth: 4 });
    assert.equal(r.error, 9); // EBADF: the device is read-only
    assert.match(r.errorMessage ?? '', /write of 4096 bytes at offset \d+ failed: device is read-only/);
    assert.equal(r.leftInFlight, 0);
  });

  it('the queue belongs to the loop while it runs: doIo gets EBUSY, a second loop too; afterwards doIo works', async () => {
    const q = b.getQueue(0)!;
    const loop = startJobLoop(q, { rw: 'randread', regionLength: MiB, iodepth: 4, timeBased: true, runtimeNs: 30e9 });
    assertBlkioError(() => q.doIo(createCompletions(1), 0, 1), 'EBUSY', /job loop/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB }), 'EBUSY', /job loop/);
    loop.stop();
    await loop.done;
    assert.equal(q.doIo(createCompletions(1), 0, 1), 0);
  });

  it('a queue with requests outstanding cannot start a loop (their completions would be lost)', () => {
    const q = b.getQueue(0)!;
    const region = b.allocMemRegion(BLOCK);
    b.mapMemRegion(region);
    q.read(0, new Uint8Array(region.buffer, 0, BLOCK));
    q.doIo(createCompletions(1), 0, 0); // submitted, not reaped
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB }), 'EBUSY', /outstanding/);
    assert.equal(q.doIo(createCompletions(1), 1, 1), 1);
  });

  it('destroying the Blkio during a run ends the loop with ECANCELED, without a crash or hang', async () => {
    const loop = startJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 8, timeBased: true, runtimeNs: 30e9 });
    await new Promise((res) => setTimeout(res, 100));
    b.destroy();
    const r = await loop.done;
    assert.equal(r.error, 125); // ECANCELED
    assert.match(r.errorMessage ?? '', /destroyed/);
  });

  it('a process that exits while a loop runs exits cleanly (the loop is abandoned, not waited for)', () => {
    const lib = LIB_DIR;
    const script = `
      const { create } = require(${JSON.stringify(lib)});
      const { startJobLoop } = require(${JSON.stringify(lib + '/bench')});
      const b = create('io_uring'); b.setStr('path', ${JSON.stringify(file)}); b.connect(); b.start();
      startJobLoop(b.getQueue(0), { rw: 'randread', regionLength: ${MiB}, iodepth: 8, timeBased: true, runtimeNs: 60e9 });
      setTimeout(() => process.exit(7), 200);`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 7, r.stderr);
  });

  it('a worker terminated while its loop runs ends cleanly, and the process goes on', () => {
    const lib = LIB_DIR;
    const script = `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const { create } = require(${JSON.stringify(lib)});
        const { startJobLoop } = require(${JSON.stringify(lib + '/bench')});
        const b = create('io_uring'); b.setStr('path', ${JSON.stringify(file)}); b.connect(); b.start();
        startJobLoop(b.getQueue(0), { rw: 'randread', regionLength: ${MiB}, iodepth: 8, timeBased: true, runtimeNs: 60e9 });
        require('node:worker_threads').parentPort.postMessage('running');\`, { eval: true });
      w.on('message', () => setTimeout(() => w.terminate().then(() => console.log('terminated')), 200));`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /terminated/);
  });

  it('bad specs throw EINVAL naming the problem', () => {
    const q = b.getQueue(0)!;
    assertBlkioError(() => startJobLoop(q, { rw: 'bogus' as 'read', regionLength: MiB }), 'EINVAL', /rw must be one of/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB, iodepth: 0 }), 'EINVAL', /iodepth/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: 1024 }), 'EINVAL', /smaller than the block size/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB, blockSize: 1.5 }), 'EINVAL', /blockSize/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB, bssplit: { read: { sizes: [4096, 8192], weights: [50] } } }), 'EINVAL', /as many weights/);
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, blockSize: 16, verify: 'md5' }), 'EINVAL', /verify header/);
    assertBlkioError(() => startJobLoop(q, { rw: 'randread', regionLength: MiB, randomDistribution: { kind: 'zipf', param: 1 } }), 'EINVAL', /zipf/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB, timeBased: true }), 'EINVAL', /runtimeNs/);
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB, iodepth: 65536, blockSize: 1 << 20 }), 'EINVAL', /1 GiB/);
  });

  it('bad zbd specs throw EINVAL naming the problem', () => {
    const q = b.getQueue(0)!;
    const zones = (n: number) => Array.from({ length: n }, () => [256 * 1024, 0, 1] as [number, number, number]);
    const zbd = { zoneSize: 256 * 1024, zones: zones(4) };
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, zbd: { ...zbd, zones: zones(3) } }), 'EINVAL', /regionLength must be its zones \(3 of 262144 bytes\)/);
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, zbd: { ...zbd, zones: [] } }), 'EINVAL', /1 to 2\^24 zones/);
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, zbd: { ...zbd, zones: [[1, 2, 1], ...zones(3)] } }), 'EINVAL', /zbd.zones\[0\] written/);
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, zbd: { ...zbd, zones: [[4096, 0, 7], ...zones(3)] } }), 'EINVAL', /zbd.zones\[0\] kind/);
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, zbd: { ...zbd, resetFrequency: 2 } }), 'EINVAL', /resetFrequency/);
    assertBlkioError(() => startJobLoop(q, { rw: 'write', regionLength: MiB, zbd: { ...zbd, jobMaxOpenZones: 1 } }), 'EINVAL', /jobMaxOpenZones/);
    assertBlkioError(() => startJobLoop(q, { rw: 'trim', regionLength: MiB, zbd }), 'EINVAL', /does not take trims/);
  });

  it('live counters must live in a SharedArrayBuffer (an ArrayBuffer could be detached under the loop)', () => {
    const q = b.getQueue(0)!;
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB }, { progress: new Float64Array(8) }), 'EINVAL', /SharedArrayBuffer/);
    const short = new Float64Array(new SharedArrayBuffer(4 * 8));
    assertBlkioError(() => startJobLoop(q, { rw: 'read', regionLength: MiB }, { progress: short }), 'EINVAL', /at least 8/);
  });

  it('the addon\'s stopJobLoop takes only its own handles (another External is refused, not misread)', () => {
    const addon = require(path.join(BUILD_DIR, 'blkio.node'));
    const watch = addon.watchFd(b.getQueue(0)!.completionFd, () => undefined); // an External of another kind
    try {
      assertBlkioError(() => addon.stopJobLoop(watch), 'EINVAL', /job loop handle/);
      assertBlkioError(() => addon.stopJobLoop({}), 'EINVAL', /job loop handle/);
    } finally {
      addon.unwatchFd(watch);
    }
  });

  it('queues of the libblkio (koffi) driver are refused with ENOTSUP', function () {
    const lib = path.join(BUILD_DIR, 'libblkio.so.1');
    requirePrerequisite(fs.existsSync(lib), lib, "a checkout's npm install builds it");
    const k = create('io_uring', { library: lib });
    try {
      k.setStr('path', file);
      k.connect();
      k.start();
      assertBlkioError(() => startJobLoop(k.getQueue(0)!, { rw: 'read', regionLength: MiB }), 'ENOTSUP', /this addon's drivers/);
    } finally {
      k.destroy();
    }
  });
});

describe('blkbench on the native job loop', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;

  before(() => {
    dir = tempDir('blkbench-native-');
    file = randomFile(4 * MiB, dir);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function json(args: string[]): any {
    const r = spawnSync(process.execPath, [CLI, `--filename=${file}`, '--invalidate=0', '--output-format=json', ...args], {
      encoding: 'utf8',
      timeout: 60000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).jobs[0];
  }

  it('runs jobs on the native loop by default and reports slat, clat and lat like fio', () => {
    const job = json(['--name=n', '--rw=randread', '--size=1m', '--iodepth=4']);
    assert.equal(job.blkbench_loop, 'native');
    assert.equal(job.read.total_ios, 256);
    for (const k of ['slat_ns', 'clat_ns', 'lat_ns']) assert.equal(job.read[k].N, 256, k);
    assert.ok(job.read.clat_ns.percentile['50.000000'] > 0);
    assert.equal(job.read.lat_ns.percentile, undefined, 'lat percentiles only with lat_percentiles=1, as in fio');
  });

  it('--blkbench_loop=js runs the JS loop and says so', () => {
    const job = json(['--name=j', '--rw=randread', '--size=1m', '--blkbench_loop=js']);
    assert.equal(job.blkbench_loop, 'js');
    assert.equal(job.blkbench_loop_note, undefined);
    assert.equal(job.read.total_ios, 256);
  });

  it('numjobs=2 runs one native loop per queue, each doing the whole job', () => {
    const job = json(['--name=m', '--rw=randread', '--size=1m', '--numjobs=2', '--group_reporting']);
    assert.equal(job.blkbench_loop, 'native');
    assert.equal(job.read.total_ios, 512);
  });
});

describe('native job loop (virtio-blk-vhost-user against qemu-storage-daemon)', function () {
  this.timeout(60000);
  let qsd: Qsd | undefined;

  beforeEach(async function () {
    qsd = await Qsd.start({ size: 4 * MiB });
  });

  afterEach(() => qsd?.dispose());

  function connect(socket: string): Blkio {
    const b = create('virtio-blk-vhost-user');
    b.setStr('path', socket);
    b.connect();
    b.start();
    return b;
  }

  it('random writes land in the daemon\'s image, every block of the region once', async () => {
    const b = connect(qsd!.socket);
    try {
      const r = await runJobLoop(b.getQueue(0)!, { rw: 'randwrite', regionLength: MiB, iodepth: 16, stampWrites: true });
      assert.equal(r.error, 0, r.errorMessage ?? '');
      assert.equal(r.write.ios, MiB / BLOCK);
    } finally {
      b.destroy();
    }
    await qsd!.stop();
    const image = fs.readFileSync(qsd!.image);
    for (let off = 0; off < MiB; off += BLOCK) assert.equal(image.readBigUInt64LE(off), BigInt(off), `block at ${off}`);
  });

  it('destroying the Blkio while the daemon is stopped ends the loop (its waits are sliced), without a hang', async () => {
    const b = connect(qsd!.socket);
    const loop = startJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 8, timeBased: true, runtimeNs: 30e9 });
    await new Promise((res) => setTimeout(res, 200));
    await qsd!.kill('SIGSTOP'); // requests stay on the ring, unanswered
    await new Promise((res) => setTimeout(res, 200));
    b.destroy();
    const r = await loop.done;
    assert.equal(r.error, 125, r.errorMessage ?? ''); // ECANCELED
    assert.ok(r.read.ios > 0);
    await qsd!.kill('SIGCONT');
  });

  it('a daemon killed mid-run fails the run with EIO: the loop ends, nothing hangs', async () => {
    const b = connect(qsd!.socket);
    try {
      const loop = startJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: MiB, iodepth: 8, timeBased: true, runtimeNs: 30e9 });
      await new Promise((res) => setTimeout(res, 200));
      await qsd!.kill('SIGKILL');
      const r = await loop.done;
      assert.equal(r.error, 5, r.errorMessage ?? '');
      assert.match(r.errorMessage ?? '', /read of 4096 bytes at offset \d+ failed/);
      assert.ok(r.read.ios > 0);
    } finally {
      b.destroy();
    }
  });
});
