/**
 * Copying 1 GiB with streams: `Device.createReadStream()` (open({ driver: 'io_uring' })) vs
 * `fs.createReadStream()`, each piped with stream.pipeline into fs.createWriteStream() of a new file,
 * from the same page-cached file, with the same highWaterMark. One unmeasured copy each first (page
 * cache and writeback settle), then alternating rounds in one run; medians of throughput and of the
 * process's CPU time per GiB (libuv's thread pool included). Then the same with the bytes dropped
 * instead of written (a Writable that discards them), which leaves the read streams' own cost.
 *
 *   node dist-test/bench/stream-copy-vs-fs.js [rounds=5] [highWaterMark=1048576] [size MiB=1024]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { open } from '../src/lib';
import { median, pageCachedFile, runMain } from './support';

interface Result {
  mibPerSec: number;
  cpuMsPerGib: number;
}

async function timed(copy: () => Promise<void>, bytes: number): Promise<Result> {
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await copy();
  const ns = Number(process.hrtime.bigint() - t0);
  const cpu = process.cpuUsage(cpu0);
  const gib = bytes / 2 ** 30;
  return { mibPerSec: bytes / 2 ** 20 / (ns / 1e9), cpuMsPerGib: (cpu.user + cpu.system) / 1000 / gib };
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 5);
  const highWaterMark = Number(process.argv[3] ?? 1 << 20);
  const bytes = Number(process.argv[4] ?? 1024) * 2 ** 20;
  const { file, remove } = pageCachedFile(bytes);
  const out = path.join(path.dirname(file), 'copy.bin');
  const dev = await open({ driver: 'io_uring', path: file });
  const discard = () => new Writable({ highWaterMark, write: (_chunk, _encoding, callback) => callback() });
  const run = async (copy: () => Promise<void>) => {
    fs.rmSync(out, { force: true });
    return timed(copy, bytes);
  };
  const compare = async (what: string, copyDevice: () => Promise<void>, copyFs: () => Promise<void>) => {
    const sides: Record<'device' | 'fs', Result[]> = { device: [], fs: [] };
    const ratios: number[] = [];
    await run(copyDevice);
    await run(copyFs);
    console.log(`${what}: ${bytes / 2 ** 20} MiB, highWaterMark ${highWaterMark}, ${rounds} alternating rounds`);
    for (let r = 0; r < rounds; r++) {
      const first = r % 2 === 0;
      const a = first ? await run(copyDevice) : await run(copyFs);
      const b = first ? await run(copyFs) : await run(copyDevice);
      const d = first ? a : b;
      const f = first ? b : a;
      sides.device.push(d);
      sides.fs.push(f);
      ratios.push(d.mibPerSec / f.mibPerSec);
      console.log(
        `  round ${r + 1}: Device.createReadStream ${d.mibPerSec.toFixed(0)} MiB/s (${d.cpuMsPerGib.toFixed(0)} ms CPU/GiB), ` +
          `fs.createReadStream ${f.mibPerSec.toFixed(0)} MiB/s (${f.cpuMsPerGib.toFixed(0)} ms CPU/GiB), ratio ${(d.mibPerSec / f.mibPerSec).toFixed(2)}`,
      );
    }
    const m = (xs: Result[], k: keyof Result) => median(xs.map((x) => x[k]));
    console.log(
      `  medians: Device.createReadStream ${m(sides.device, 'mibPerSec').toFixed(0)} MiB/s, ${m(sides.device, 'cpuMsPerGib').toFixed(0)} ms CPU/GiB; ` +
        `fs.createReadStream ${m(sides.fs, 'mibPerSec').toFixed(0)} MiB/s, ${m(sides.fs, 'cpuMsPerGib').toFixed(0)} ms CPU/GiB`,
    );
    console.log(
      `  throughput ratio device/fs: ${median(ratios).toFixed(2)}; CPU per GiB ratio: ${(m(sides.device, 'cpuMsPerGib') / m(sides.fs, 'cpuMsPerGib')).toFixed(2)}`,
    );
  };
  try {
    await compare(
      'Copy (page-cached file -> new file)',
      () => pipeline(dev.createReadStream({ highWaterMark }), fs.createWriteStream(out, { highWaterMark })),
      () => pipeline(fs.createReadStream(file, { highWaterMark }), fs.createWriteStream(out, { highWaterMark })),
    );
    await compare(
      'Read only (page-cached file -> discarded)',
      () => pipeline(dev.createReadStream({ highWaterMark }), discard()),
      () => pipeline(fs.createReadStream(file, { highWaterMark }), discard()),
    );
  } finally {
    await dev.close();
    remove();
  }
}

runMain(main);
