/**
 * The two job loops are one engine: the same job (one JobLoopSpec object, given to both) with a fixed
 * seed issues the same requests (offsets, sizes, directions, in order) on the native loop and on the
 * JS loop, and verification agrees, also across loops (blocks one loop writes, the other checks).
 * Both run on io_uring over a real file.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Blkio, create, createCompletions } from '../../../src/lib';
import { JobLoopResult, JobLoopSpec, JobLoopZones, runJobLoop } from '../../../src/lib/bench';
import { parseCommandLine } from '../../../src/blkbench/args';
import { allocJobMemory } from '../../../src/blkbench/device';
import { JobLoop } from '../../../src/blkbench/loop';
import { jobLoopSpec } from '../../../src/blkbench/native-runner';
import { JobSpec, maxBlockSize } from '../../../src/blkbench/options';
import { JobResult } from '../../../src/blkbench/results';
import { randomFile, tempDir } from '../../support/files';

const MiB = 1 << 20;
const TRACE_ALL = 1 << 20;

type Trace = Array<[number, number, number, number]>;

function openFile(file: string): Blkio {
  const b = create('io_uring');
  b.setStr('path', file);
  b.connect();
  b.start();
  return b;
}

function jobSpec(file: string, args: string[]): JobSpec {
  return parseCommandLine([`--filename=${file}`, '--name=agree', '--randseed=12345', ...args]).jobs[0];
}

/** The one job definition both loops take. */
function loopSpecOf(spec: JobSpec, regionLen: number): JobLoopSpec {
  return jobLoopSpec(spec, { regionStart: 0, regionLength: regionLen, ioLimit: regionLen, jobIndex: 0, traceLimit: TRACE_ALL, zbd: zonesOf(spec, regionLen) });
}

/** zonemode=zbd on the file: fio's zones laid over a device without them (all empty at the start). */
function zonesOf(spec: JobSpec, regionLen: number): JobLoopZones | undefined {
  if (spec.zonemode !== 'zbd') return undefined;
  const zoneSize = spec.zonesize!;
  const zones = Array.from({ length: regionLen / zoneSize }, () => [spec.zonecapacity ?? zoneSize, 0, 1] as [number, number, number]);
  return {
    zoneSize, zones, maxOpenZones: spec.maxOpenZones, resetThreshold: spec.zoneResetThreshold, resetFrequency: spec.zoneResetFrequency, emulated: true,
  };
}

async function runJs(b: Blkio, spec: JobSpec, regionLen: number): Promise<{ trace: Trace; result: JobResult }> {
  const slotStride = Math.ceil(maxBlockSize(spec) / 4096) * 4096;
  const memory = allocJobMemory(b, slotStride * spec.iodepth);
  try {
    const loop = new JobLoop({
      spec, loopSpec: loopSpecOf(spec, regionLen), queue: b.getQueue(0)!, completions: createCompletions(spec.iodepth),
      memory: memory.buffer, memoryOffset: 0, slotStride, traceLimit: TRACE_ALL,
    });
    const result = spec.waitMode === 'eventfd' ? await loop.runEvented() : loop.runSync();
    return { trace: loop.trace, result };
  } finally {
    memory.release();
  }
}

async function runNative(b: Blkio, spec: JobSpec, regionLen: number): Promise<{ trace: Trace; result: JobLoopResult }> {
  const result = await runJobLoop(b.getQueue(0)!, loopSpecOf(spec, regionLen));
  return { trace: (result.trace ?? []) as Trace, result };
}

describe('blkbench: the native and JS job loops agree', function () {
  this.timeout(60000);
  let dir: string;
  let file: string;
  let b: Blkio;

  beforeEach(() => {
    dir = tempDir('blkio-agree-');
    file = randomFile(4 * MiB, dir);
    b = openFile(file);
  });

  afterEach(() => {
    b.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function assertSameRequests(args: string[], regionLen = 4 * MiB): Promise<Trace> {
    const spec = jobSpec(file, args);
    const js = await runJs(b, spec, regionLen);
    const native = await runNative(b, spec, regionLen);
    assert.equal(js.result.error, 0, js.result.errorMessage ?? '');
    assert.equal(native.result.error, 0, native.result.errorMessage ?? '');
    assert.ok(native.trace.length > 0, 'the native loop recorded its requests');
    assert.equal(native.trace.length, js.trace.length, 'as many requests on both loops');
    for (let i = 0; i < js.trace.length; i++) assert.deepEqual(native.trace[i], js.trace[i], `request ${i} (offset, length, direction, phase)`);
    return js.trace;
  }

  it('randrw with a bssplit over the random map: the same offsets, sizes (trimmed alike) and directions in the same order', async () => {
    const trace = await assertSameRequests(['--rw=randrw', '--rwmixread=60', '--bssplit=4k/50:8k/30:16k/20', '--iodepth=8']);
    const sizes = new Set(trace.map((t) => t[1]));
    assert.ok([4096, 8192, 16384].every((n) => sizes.has(n)) && new Set(trace.map((t) => t[2])).size === 2, 'the job used every size and both directions');
    assert.ok(sizes.has(12288), 'a 16k request trimmed to its 3 free blocks, as fio trims to its random map');
  });

  it('norandommap on a region of more than 2^21 blocks draws the same offsets (integer draws on both loops)', async () => {
    const big = 2 * 1024 * MiB;
    fs.truncateSync(file, big);
    b.destroy();
    b = openFile(file);
    const trace = await assertSameRequests(['--rw=randread', '--bs=512', '--norandommap', '--number_ios=3000', '--iodepth=4'], big);
    assert.ok(trace.some((t) => t[0] >= 1024 * MiB), 'offsets reach past 2^21 blocks');
  });

  it('a one-size randread over the random map (the plain benchmark job) draws the same offsets, each block once per pass', async () => {
    const trace = await assertSameRequests(['--rw=randread', '--bs=4k', '--iodepth=8', '--loops=2'], MiB);
    const blocks = MiB / 4096;
    assert.equal(trace.length, 2 * blocks, 'two passes of 4 KiB requests');
    for (const pass of [trace.slice(0, blocks), trace.slice(blocks)])
      assert.equal(new Set(pass.map((t) => t[0])).size, blocks, 'every block once in the pass');
  });

  it('randtrim, a zoned distribution and rw=read:N agree too', async () => {
    await assertSameRequests(['--rw=randtrim', '--bs=8k', '--iodepth=4'], MiB);
    await assertSameRequests(['--rw=randread', '--random_distribution=zoned:60/10:30/20:10/70', '--number_ios=2000', '--iodepth=4']);
    await assertSameRequests(['--rw=read:12k', '--bs=4k', '--iodepth=2', '--loops=2'], MiB);
  });

  // One request in flight: which zones are open depends on when writes complete (as in fio), so deeper
  // queues may differ between runs of either loop.
  it('zonemode=zbd: writes at write pointers under max_open_zones, with full zones reset, go alike', async () => {
    const zbd = ['--zonemode=zbd', '--zonesize=256k', '--direct=1', '--max_open_zones=3'];
    const trace = await assertSameRequests([...zbd, '--rw=randwrite', '--bs=16k', '--number_ios=600'], 2 * MiB);
    const js = await runJs(b, jobSpec(file, [...zbd, '--rw=randwrite', '--bs=16k', '--number_ios=600']), 2 * MiB);
    assert.ok((js.result.zoneResets ?? 0) > 0, 'full zones were reset');
    const zonesWritten = new Set(trace.map((t) => Math.floor(t[0] / (256 * 1024))));
    assert.ok(zonesWritten.size > 3, 'writes moved on to other zones as zones filled');
    await assertSameRequests([...zbd, '--rw=randrw', '--bs=16k', '--number_ios=800', '--zone_reset_threshold=0.3', '--zone_reset_frequency=0.05'], 2 * MiB);
    await assertSameRequests([...zbd, '--rw=write', '--bs=12k', '--iodepth=2', '--zonecapacity=200k'], 2 * MiB);
  });

  it('a verifying write job writes and reads back the same blocks, verified alike', async () => {
    const spec = jobSpec(file, ['--rw=randwrite', '--bs=4k', '--verify=crc32c', '--iodepth=8']);
    const js = await runJs(b, spec, MiB);
    const native = await runNative(b, spec, MiB);
    assert.deepEqual(native.trace, js.trace);
    assert.ok(js.trace.some((t) => t[3] === 3), 'the trace has the verify phase');
    assert.equal(js.result.verifiedBlocks, MiB / 4096);
    assert.equal(native.result.verifiedBlocks, js.result.verifiedBlocks);
    assert.equal(native.result.error, 0, native.result.errorMessage ?? '');
  });

  it('blocks written with verify on one loop check clean on the other (md5 and crc32c)', async () => {
    for (const kind of ['md5', 'crc32c']) {
      const write = jobSpec(file, ['--rw=write', '--bs=8k', `--verify=${kind}`, '--iodepth=4']);
      const read = jobSpec(file, ['--rw=read', '--bs=8k', `--verify=${kind}`, '--iodepth=4']);
      await runNative(b, write, MiB);
      const byJs = await runJs(b, read, MiB);
      assert.equal(byJs.result.error, 0, byJs.result.errorMessage ?? '');
      assert.equal(byJs.result.verifiedBlocks, MiB / 8192);
      await runJs(b, write, MiB);
      const byNative = await runNative(b, read, MiB);
      assert.equal(byNative.result.error, 0, byNative.result.errorMessage ?? '');
      assert.equal(byNative.result.verifiedBlocks, MiB / 8192);
    }
  });

  it('a corrupted block fails verification on both loops with the same message', async () => {
    const write = jobSpec(file, ['--rw=write', '--bs=4k', '--verify=crc32c']);
    await runNative(b, write, MiB);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0x00, 0xff]), 0, 3, 5 * 4096 + 100);
    fs.closeSync(fd);
    const read = jobSpec(file, ['--rw=read', '--bs=4k', '--verify=crc32c']);
    const js = await runJs(b, read, MiB);
    const native = await runNative(b, read, MiB);
    assert.equal(js.result.error, 84);
    assert.equal(native.result.error, 84);
    assert.match(native.result.errorMessage ?? '', /offset 20480 .*crc32c mismatch/);
    assert.equal(native.result.errorMessage, js.result.errorMessage);
  });

  it('verify_interval and verify_pattern blocks (meta, pattern, crc32c) written on one loop check clean on the other, byte for byte alike', async () => {
    for (const layout of [
      ['--verify=meta', '--verify_pattern=0xaa555aa5', '--verify_interval=512'],
      ['--verify_pattern=0x01"blk"255'],
      ['--verify=crc32c', '--verify_interval=1024'],
    ]) {
      const write = jobSpec(file, ['--rw=write', '--bs=8k', '--iodepth=4', '--do_verify=0', ...layout]);
      const read = jobSpec(file, ['--rw=read', '--bs=8k', '--iodepth=4', ...layout]);
      const wroteNative = await runNative(b, write, MiB);
      assert.ok(!wroteNative.trace.some((t) => t[3] === 3), `${layout.join(' ')}: do_verify=0 reads nothing back`);
      const nativeBytes = fs.readFileSync(file).subarray(0, MiB);
      const byJs = await runJs(b, read, MiB);
      assert.equal(byJs.result.error, 0, byJs.result.errorMessage ?? '');
      assert.equal(byJs.result.verifiedBlocks, MiB / 8192);
      await runJs(b, write, MiB);
      assert.ok(fs.readFileSync(file).subarray(0, MiB).equals(nativeBytes), `${layout.join(' ')}: both loops write the same bytes`);
      const byNative = await runNative(b, read, MiB);
      assert.equal(byNative.result.error, 0, byNative.result.errorMessage ?? '');
      assert.equal(byNative.result.verifiedBlocks, MiB / 8192);
    }
  });

  it('a byte off the pattern fails verify=meta on both loops with the same message, naming its chunk', async () => {
    const layout = ['--verify=meta', '--verify_pattern=0xaa555aa5', '--verify_interval=512'];
    await runNative(b, jobSpec(file, ['--rw=write', '--bs=64k', '--do_verify=0', ...layout]), MiB);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0x00]), 0, 1, 3 * 65536 + 1000);
    fs.closeSync(fd);
    const read = jobSpec(file, ['--rw=read', '--bs=64k', ...layout]);
    const js = await runJs(b, read, MiB);
    const native = await runNative(b, read, MiB);
    assert.equal(js.result.error, 84);
    assert.equal(native.result.error, 84);
    assert.equal(native.result.errorMessage, 'verify: bad block at offset 197120 (length 512): pattern mismatch at byte 488: 0x00, expected 0xaa');
    assert.equal(native.result.errorMessage, js.result.errorMessage);
  });
});
