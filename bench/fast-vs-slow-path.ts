// Fast path vs slow path, through the Promise layer at QD32: 4 KiB random
// writes on a raw 64 MiB file (page-cached) with io_uring straight on it
// (fast) and through qemu-storage-daemon over vhost-user (slow), alternating
// rounds, IOPS ratio slow/fast; then a device switching between the two
// every 250 ms with the writers running: the switch pauses (median, worst)
// and what was moved.
//
// --vduse (in the test guest only: it needs VDUSE and vhost_vdpa): the same
// daemon node is also exported over VDUSE and bound to vhost_vdpa, which
// stands in for a hardware vDPA device: a third path in the rounds, and
// switching between it and the other two as well.
//
//   node dist-test/bench/fast-vs-slow-path.js [seconds=2] [rounds=3] [switches=20] [--vduse]
import * as path from 'node:path';
import * as fs from 'node:fs';
import { open, OpenOptions, StorageDaemon } from '../src/lib';
import { tempDir } from '../test/support/files';
import { createRawImage } from '../test/support/qsd';
import { VduseExport } from '../test/support/vdpa-targets';
import { QD, SIZE, sleep, startWriters, writeIops } from './promise-writers';
import { median } from './support';

const withVduse = process.argv.includes('--vduse');
const args = process.argv.slice(2).filter((a) => a !== '--vduse');
const seconds = Number(args[0] ?? 2);
const rounds = Number(args[1] ?? 3);
const switches = Number(args[2] ?? 20);

const k = (x: number) => `${(x / 1000).toFixed(1)}k IOPS`;

interface BenchPath {
  label: string;
  options: OpenOptions;
}

// The image, the daemon serving it, and the paths to it.
async function setUp(dir: string): Promise<{ paths: BenchPath[]; stop(): Promise<void> }> {
  if (!withVduse) {
    const image = createRawImage(path.join(dir, 'disk.raw'), SIZE, false);
    const daemon = await StorageDaemon.start({ image, dir });
    return {
      paths: [
        { label: 'fast: io_uring on the raw file', options: { driver: 'io_uring', path: image } },
        { label: 'slow: qemu-storage-daemon, vhost-user', options: { driver: 'virtio-blk-vhost-user', path: daemon.socket } },
      ],
      stop: () => daemon.stop(),
    };
  }
  const socket = path.join(dir, 'vhost-user.sock');
  const e = await VduseExport.start({ name: 'vduse-bench', format: 'raw', size: SIZE, vhostUserSocket: socket });
  return {
    paths: [
      { label: 'fast: io_uring on the raw file', options: { driver: 'io_uring', path: e.image } },
      { label: 'slow: qemu-storage-daemon, vhost-user', options: { driver: 'virtio-blk-vhost-user', path: socket } },
      { label: 'vdpa: qemu-storage-daemon, VDUSE + vhost-vdpa', options: { driver: 'virtio-blk-vhost-vdpa', path: e.devicePath } },
    ],
    stop: () => e.dispose(),
  };
}

// One device switched between a and b every 250 ms with the writers running.
async function switching(a: BenchPath, b: BenchPath): Promise<void> {
  const dev = await open(a.options);
  const w = startWriters(dev);
  const pauses: number[] = [];
  let moved = 0;
  const t0 = performance.now();
  const before = w.done();
  const failed: string[] = [];
  for (let i = 0; i < switches; i++) {
    await sleep(250);
    try {
      const r = await dev.switchTo(i % 2 === 0 ? b.options : a.options);
      pauses.push(r.pauseMs);
      moved += r.inflightMoved;
    } catch (e) {
      // Reported, not fatal: the device stays on its backend.
      failed.push(`switch ${i + 1}: ${(e as Error).message}`);
    }
  }
  const rate = (w.done() - before) / ((performance.now() - t0) / 1000);
  await w.stop();
  await dev.close();
  console.log(`${switches} switches ${a.options.driver} <-> ${b.options.driver} every 250 ms with the writers running: ${k(rate)} overall`);
  console.log(`  switch pause: median ${median(pauses).toFixed(2)} ms, worst ${Math.max(...pauses).toFixed(2)} ms; requests moved: ${moved}`);
  for (const f of failed) console.log(`  FAILED ${f}`);
}

async function main(): Promise<void> {
  const dir = tempDir('blkio-bench-switch-');
  const { paths, stop } = await setUp(dir);
  try {
    const [fast, slow] = paths;
    console.log(
      `fast path (io_uring on the raw file) vs slow path (qemu-storage-daemon, vhost-user)${withVduse ? ' vs VDUSE + vhost-vdpa on the same daemon node' : ''}: ` +
        `4 KiB random writes, QD${QD}, Promise layer, ${seconds}s x ${rounds} alternating rounds`,
    );
    const results: number[][] = paths.map(() => []);
    for (let r = 1; r <= rounds; r++) {
      for (let p = 0; p < paths.length; p++) results[p].push(await writeIops(paths[p].options, seconds));
      const f = results[0][r - 1];
      console.log(`  round ${r}: ` + paths.map((p, i) => `${p.label.split(':')[0]} ${k(results[i][r - 1])}`).join(', ') +
        ', ratios to fast ' + results.slice(1).map((x) => (x[r - 1] / f).toFixed(2)).join(', '));
    }
    const fastMedian = median(results[0]);
    for (let p = 0; p < paths.length; p++)
      console.log(`median ${paths[p].label}: ${k(median(results[p]))}, ratio to fast ${(median(results[p]) / fastMedian).toFixed(2)}`);

    await switching(fast, slow);
    if (paths.length > 2) {
      await switching(paths[2], slow);
      await switching(fast, paths[2]);
    }
  } finally {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
