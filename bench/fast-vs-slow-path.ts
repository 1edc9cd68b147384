// Fast path vs slow path, through the Promise layer at QD32: 4 KiB random
// writes on a raw 64 MiB file (page-cached) with io_uring straight on it
// (fast) and through qemu-storage-daemon over vhost-user (slow), alternating
// rounds, IOPS ratio slow/fast; then a device switching between the two
// every 250 ms with the writers running: the switch pauses (median, worst)
// and what was moved.
//
//   node dist-test/bench/fast-vs-slow-path.js [seconds=2] [rounds=3] [switches=20]
import * as path from 'node:path';
import * as fs from 'node:fs';
import { Device, open, OpenOptions, StorageDaemon } from '../src/lib';
import { tempDir } from '../test/support/files';
import { createRawImage } from '../test/support/qsd';
import { median } from './support';

const QD = 32;
const BS = 4096;
const SIZE = 64 << 20;
const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const switches = Number(process.argv[4] ?? 20);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function startWriters(dev: Device): { stop(): Promise<void>; done(): number } {
  let stopped = false;
  let done = 0;
  const one = async (): Promise<void> => {
    const buf = Buffer.alloc(BS, 0xa5);
    while (!stopped) {
      await dev.write(buf, 0, BS, Math.floor(Math.random() * (SIZE / BS)) * BS);
      done++;
    }
  };
  const all = Promise.all([...Array(QD).keys()].map(() => one()));
  return {
    stop: async () => {
      stopped = true;
      await all;
    },
    done: () => done,
  };
}

async function iops(options: OpenOptions): Promise<number> {
  const dev = await open(options);
  const w = startWriters(dev);
  await sleep(200);
  const before = w.done();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const n = w.done() - before;
  const elapsed = (performance.now() - t0) / 1000;
  await w.stop();
  await dev.close();
  return n / elapsed;
}

const k = (x: number) => `${(x / 1000).toFixed(1)}k IOPS`;

async function main(): Promise<void> {
  const dir = tempDir('blkio-bench-switch-');
  const image = createRawImage(path.join(dir, 'disk.raw'), SIZE, false);
  const daemon = await StorageDaemon.start({ image, dir });
  try {
    const fast: OpenOptions = { driver: 'io_uring', path: image };
    const slow: OpenOptions = { driver: 'virtio-blk-vhost-user', path: daemon.socket };
    console.log(`fast path (io_uring on the raw file) vs slow path (qemu-storage-daemon, vhost-user): 4 KiB random writes, QD${QD}, Promise layer, ${seconds}s x ${rounds} alternating rounds`);
    const f: number[] = [];
    const s: number[] = [];
    for (let r = 1; r <= rounds; r++) {
      f.push(await iops(fast));
      s.push(await iops(slow));
      console.log(`  round ${r}: fast ${k(f[r - 1])}, slow ${k(s[r - 1])}, ratio slow/fast ${(s[r - 1] / f[r - 1]).toFixed(2)}`);
    }
    console.log(`medians: fast ${k(median(f))}, slow ${k(median(s))}, ratio slow/fast ${(median(s) / median(f)).toFixed(2)}`);

    const dev = await open(fast);
    const w = startWriters(dev);
    const pauses: number[] = [];
    let moved = 0;
    const t0 = performance.now();
    const before = w.done();
    for (let i = 0; i < switches; i++) {
      await sleep(250);
      const r = await dev.switchTo(i % 2 === 0 ? slow : fast);
      pauses.push(r.pauseMs);
      moved += r.inflightMoved;
    }
    const rate = (w.done() - before) / ((performance.now() - t0) / 1000);
    await w.stop();
    await dev.close();
    console.log(`${switches} switches fast <-> slow every 250 ms with the writers running: ${k(rate)} overall`);
    console.log(`  switch pause: median ${median(pauses).toFixed(2)} ms, worst ${Math.max(...pauses).toFixed(2)} ms; requests moved: ${moved}`);
  } finally {
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
