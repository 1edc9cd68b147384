/**
 * blkbench_switch_to / blkbench_switch_every: a running job alternating between io_uring on a raw
 * file and virtio-blk-vhost-user on qemu-storage-daemon exporting that same file, in both job loops;
 * the image is checked from outside afterwards. Then the combinations refused, and the native job
 * loop's switching API itself.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Blkio, BlkioError, create, createCompletions } from '../../../src/lib';
import { runJobLoop, startJobLoop } from '../../../src/lib/bench';
import { parseCommandLine } from '../../../src/blkbench/args';
import { checkBlock } from '../../../src/blkbench/verify';
import { tempDir } from '../../support/files';
import { createRawImage, Qsd } from '../../support/qsd';
import { blkbench } from '../../support/blkbench';

const MiB = 1 << 20;
const SIZE = 16 * MiB;
const BLOCK = 4096;

const run = (args: string[]) => blkbench(['--invalidate=0', ...args], { timeoutMs: 90_000 });

/** Every block of the image holds a whole verify block written for its own offset (not the random fill). */
function assertImageVerifies(image: string): void {
  const data = fs.readFileSync(image);
  for (let off = 0; off < data.length; off += BLOCK) {
    const failure = checkBlock(new Uint8Array(data.buffer, data.byteOffset + off, BLOCK), off, 'crc32c');
    assert.equal(failure, null, failure?.message);
  }
}

describe('blkbench switching a running job between io_uring and vhost-user on one image', function () {
  this.timeout(120000);
  let dir: string;
  let image: string;
  let qsd: Qsd;

  beforeEach(async () => {
    dir = tempDir('blkbench-switch-');
    image = createRawImage(path.join(dir, 'disk.raw'), SIZE);
    qsd = await Qsd.start({ image, dir });
  });
  afterEach(async () => {
    await qsd.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function switchingWriteJob(extra: string[]): any {
    const r = run([
      '--name=sw', `--filename=${image}`, '--ioengine=io_uring', '--rw=randwrite', `--bs=${BLOCK}`, '--iodepth=32',
      '--verify=crc32c', '--runtime=2', '--time_based', '--output-format=json',
      `--blkbench_switch_to=virtio-blk-vhost-user:${qsd.socket}`, '--blkbench_switch_every=200ms', ...extra,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout).jobs[0];
  }

  function assertSwitchedAndVerified(job: any, loop: string): void {
    assert.equal(job.error, 0, job.error_message ?? '');
    assert.equal(job.blkbench_loop, loop);
    const s = job.blkbench_switches;
    assert.ok(s.count >= 3, `only ${s.count} switches in 2 s at one per 200 ms`);
    assert.equal(s.switches.length, s.count);
    assert.ok(s.pause_median_us > 0 && s.pause_max_us >= s.pause_median_us, JSON.stringify(s));
    assert.deepEqual(s.paths.map((p: any) => p.path), [`io_uring:${image}`, `virtio-blk-vhost-user:${qsd.socket}`]);
    // Stretches alternate, starting on the job's own target; every write counted went to one of them.
    assert.equal(s.paths[0].stretches, Math.ceil((s.count + 1) / 2));
    assert.equal(s.paths[1].stretches, Math.floor((s.count + 1) / 2));
    for (const p of s.paths) assert.ok(p.ios > 0 && p.lat_mean_us > 0, JSON.stringify(p));
    assert.equal(s.paths[0].ios + s.paths[1].ios, job.write.total_ios);
    // The read-back after the writes (across backends too) checked every block the job wrote.
    assert.equal(job.verified_blocks, SIZE / BLOCK);
    assertImageVerifies(image);
  }

  it('the native loop writes with verify at iodepth 32, switching every 200 ms: switches reported, nothing lost', () => {
    assertSwitchedAndVerified(switchingWriteJob([]), 'native');
  });

  it('the JS loop does the same', () => {
    assertSwitchedAndVerified(switchingWriteJob(['--blkbench_loop=js']), 'js');
  });

  it('the JS loop waiting on the completion fd moves its wait to the new queue', () => {
    assertSwitchedAndVerified(switchingWriteJob(['--blkbench_loop=js', '--libblkio_wait_mode=eventfd']), 'js');
  });

  it('a verifying read job switching between the backends finds every block as written', () => {
    assert.equal(switchingWriteJob(['--runtime=1']).error, 0);
    const r = run([
      '--name=rd', `--filename=${image}`, '--ioengine=io_uring', '--rw=randread', `--bs=${BLOCK}`, '--iodepth=32', '--verify=crc32c',
      '--output-format=json', `--blkbench_switch_to=virtio-blk-vhost-user:${qsd.socket}`, '--blkbench_switch_every=20ms',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const job = JSON.parse(r.stdout).jobs[0];
    assert.equal(job.error, 0, job.error_message ?? '');
    assert.equal(job.verified_blocks, SIZE / BLOCK);
    assert.equal(job.read.total_ios, SIZE / BLOCK);
  });

  it('the normal report has a line for the switches and one per backend', () => {
    const r = run([
      '--name=n', `--filename=${image}`, '--rw=randwrite', '--iodepth=8', '--runtime=1', '--time_based',
      `--blkbench_switch_to=virtio-blk-vhost-user:${qsd.socket}`, '--blkbench_switch_every=200ms',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /\n {2}switches {5}: \d+, pause median \d+\.\d\d ms, worst \d+\.\d\d ms\n/);
    assert.match(r.stdout, new RegExp(`\\n {4}io_uring:${image}: \\d+ stretches, [\\d.]+ s, IOPS=[\\d.]+k?, lat avg=[\\d.]+ usec\\n`));
    assert.match(r.stdout, new RegExp(`\\n {4}virtio-blk-vhost-user:${qsd.socket}: \\d+ stretches`));
  });

  it('refuses a switch target whose image has another size, naming both', async () => {
    const other = await Qsd.start({ size: SIZE / 2 });
    try {
      const r = run([
        '--name=x', `--filename=${image}`, '--rw=randread', `--blkbench_switch_to=virtio-blk-vhost-user:${other.socket}`, '--blkbench_switch_every=1s',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`x: blkbench_switch_to=virtio-blk-vhost-user:${other.socket} serves ${SIZE / 2} bytes but '${image}' has ${SIZE}: both must be the same image`));
    } finally {
      await other.dispose();
    }
  });

  it('refuses a block size the switch target cannot take', async () => {
    const big = await Qsd.start({ image, dir: tempDir('blkbench-switch-4k-'), logicalBlockSize: 4096 });
    try {
      const r = run([
        '--name=x', `--filename=${image}`, '--rw=randread', '--bs=512', `--blkbench_switch_to=virtio-blk-vhost-user:${big.socket}`,
        '--blkbench_switch_every=1s',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /x: blkbench_switch_to=virtio-blk-vhost-user:.*: block size 512 is not a multiple of the device's request-alignment 4096/);
    } finally {
      await big.dispose();
    }
  });

  it('refuses a read-only switch target for a job that writes', async () => {
    const ro = await Qsd.start({ size: SIZE, writable: false });
    try {
      const r = run([
        '--name=x', `--filename=${image}`, '--rw=randwrite', `--blkbench_switch_to=virtio-blk-vhost-user:${ro.socket}`, '--blkbench_switch_every=1s',
      ]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /x: blkbench_switch_to=virtio-blk-vhost-user:.*: starting the device failed: Device is read-only/);
    } finally {
      await ro.dispose();
    }
  });

  it('refuses a switch target that cannot be opened, naming it', () => {
    const r = run([
      '--name=x', `--filename=${image}`, '--rw=randread', `--blkbench_switch_to=virtio-blk-vhost-user:${dir}/nothing.sock`, '--blkbench_switch_every=1s',
    ]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`x: blkbench_switch_to=virtio-blk-vhost-user:${dir}/nothing.sock: connecting to '${dir}/nothing.sock' failed`));
  });
});

describe('blkbench switch options refused', () => {
  const parse = (...args: string[]) => () => parseCommandLine(['--name=j', '--filename=/tmp/x', ...args]);

  it('blkbench_switch_to needs DRIVER:PATH with one of the addon\'s drivers', () => {
    assert.throws(parse('--blkbench_switch_to=/tmp/qsd.sock', '--blkbench_switch_every=1s'), /expected DRIVER:PATH/);
    assert.throws(parse('--blkbench_switch_to=io_uring:', '--blkbench_switch_every=1s'), /expected DRIVER:PATH/);
    assert.throws(parse('--blkbench_switch_to=nbd:/tmp/x', '--blkbench_switch_every=1s'), /driver 'nbd' is not one of io_uring/);
  });

  it('each switch option needs the other', () => {
    assert.throws(parse('--blkbench_switch_to=io_uring:/tmp/y'), /'blkbench_switch_to' needs 'blkbench_switch_every'/);
    assert.throws(parse('--blkbench_switch_every=1s'), /'blkbench_switch_every' needs 'blkbench_switch_to'/);
  });

  it('a switching job runs one clone and no poll queues', () => {
    assert.throws(parse('--blkbench_switch_to=io_uring:/tmp/y', '--blkbench_switch_every=1s', '--numjobs=2'), /numjobs=2/);
    assert.throws(parse('--blkbench_switch_to=io_uring:/tmp/y', '--blkbench_switch_every=1s', '--hipri'), /'hipri'/);
  });

  it('blkbench_switch_every takes fio time units', () => {
    const spec = parseCommandLine(['--name=j', '--filename=/tmp/x', '--blkbench_switch_to=io_uring:/tmp/y', '--blkbench_switch_every=250ms']).jobs[0];
    assert.equal(spec.switchEveryNs, 250e6);
    assert.deepEqual(spec.switchTo, { driver: 'io_uring', path: '/tmp/y' });
  });
});

describe('native job loop switch targets', function () {
  this.timeout(30000);
  let dir: string;
  let file: string;
  const opened: Blkio[] = [];

  function openFile(f: string): Blkio {
    const b = create('io_uring');
    opened.push(b);
    b.setStr('path', f);
    b.connect();
    b.start();
    return b;
  }

  beforeEach(() => {
    dir = tempDir('blkio-job-loop-switch-');
    file = createRawImage(path.join(dir, 'a.raw'), 2 * MiB);
  });
  afterEach(() => {
    for (const b of opened.splice(0)) b.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('alternates between the queues, each doing part of the job, and gives them back', async () => {
    const a = openFile(file);
    const b = openFile(file);
    const r = await runJobLoopSwitching(a, b);
    assert.equal(r.error, 0, r.errorMessage ?? '');
    const s = r.switching!;
    assert.ok(s.switches.length >= 1);
    assert.equal(s.segments.length, s.switches.length + 1);
    s.switches.forEach((w, i) => assert.deepEqual([w.from, w.to], i % 2 === 0 ? [0, 1] : [1, 0]));
    assert.equal(s.segments.reduce((n, g) => n + g.ios, 0), r.write.ios);
    assert.equal(r.verifiedBlocks, (2 * MiB) / BLOCK);
    // Both queues are free again.
    for (const q of [a.getQueue(0)!, b.getQueue(0)!]) assert.equal((await runJobLoop(q, { rw: 'read', regionLength: MiB })).error, 0);
  });

  it('switches between two queues of one device (its buffers mapped once)', async () => {
    const b = create('io_uring');
    opened.push(b);
    b.setStr('path', file);
    b.connect();
    b.setInt('num-queues', 2);
    b.start();
    const r = await startJobLoop(
      b.getQueue(0)!, { rw: 'randread', regionLength: 2 * MiB, iodepth: 8, runtimeNs: 300e6, timeBased: true, switchEveryNs: 50e6 },
      { switchTo: [b.getQueue(1)!] },
    ).done;
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.ok(r.switching!.switches.length >= 1);
    assert.ok(r.switching!.segments.every((g) => g.ios > 0));
  });

  it('destroying the switch target\'s Blkio during a run ends the loop with ECANCELED, without a crash or hang', async () => {
    const a = openFile(file);
    const b = openFile(file);
    const loop = startJobLoop(
      a.getQueue(0)!, { rw: 'randwrite', regionLength: 2 * MiB, iodepth: 16, runtimeNs: 20e9, timeBased: true, switchEveryNs: 20e6 },
      { switchTo: [b.getQueue(0)!] },
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    b.destroy();
    const r = await loop.done;
    assert.equal(r.error, 125, r.errorMessage ?? ''); // ECANCELED
    // The loop let go of the job's own queue (doIo on a claimed queue throws EBUSY).
    assert.equal(a.getQueue(0)!.doIo(createCompletions(1), 0, 0), 0);
  });

  it('refuses a target of another size, a target without switchEveryNs, and the job\'s own queue', () => {
    const a = openFile(file);
    const small = openFile(createRawImage(path.join(dir, 'b.raw'), MiB));
    const q = a.getQueue(0)!;
    const spec = { rw: 'read' as const, regionLength: MiB, switchEveryNs: 1e6 };
    const refused = (f: () => unknown, code: string, re: RegExp) =>
      assert.throws(f, (e: unknown) => e instanceof BlkioError && e.code === code && re.test(e.message));
    refused(() => startJobLoop(q, spec, { switchTo: [small.getQueue(0)!] }), 'EINVAL', /capacity \(1048576 bytes\) differs from the queue's \(2097152 bytes\)/);
    refused(() => startJobLoop(q, { ...spec, switchEveryNs: 0 }, { switchTo: [openFile(file).getQueue(0)!] }), 'EINVAL', /switchEveryNs/);
    refused(() => startJobLoop(q, spec, { switchTo: [q] }), 'EBUSY', /switch target queue is the job's own/);
    // Nothing was left claimed by the refusals.
    return runJobLoop(q, { rw: 'read', regionLength: MiB }).then((r) => assert.equal(r.error, 0));
  });
});

function runJobLoopSwitching(a: Blkio, b: Blkio) {
  return startJobLoop(
    a.getQueue(0)!,
    { rw: 'randwrite', regionLength: 2 * MiB, iodepth: 16, verify: 'crc32c', runtimeNs: 600e6, timeBased: true, switchEveryNs: 100e6 },
    { switchTo: [b.getQueue(0)!] },
  ).done;
}
