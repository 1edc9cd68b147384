/**
 * The Promise layer against Node's own file API: 4 KiB random reads at queue depth 32 on the same
 * page-cached file, `Device.read(buffer, 0, length, position)` (open({ driver: 'io_uring' })) vs fs/promises
 * `FileHandle.read(buffer, 0, 4096, offset)`, each with 32 reads kept in flight and reusing its buffers.
 * Alternating rounds in one run; medians of IOPS and of the process's CPU per request.
 *
 *   node dist/bench/promise-vs-fs.js [seconds=3] [rounds=5] [depth=32]
 */
import * as fsp from 'node:fs/promises';
import { open } from '../src/lib';
import { median, pageCachedFile } from './support';

const FILE_BYTES = 256 << 20;
const BLOCK = 4096;
const BLOCKS = FILE_BYTES / BLOCK;

interface Result {
  iops: number;
  cpuNsPerIo: number;
}

type ReadAt = (buffer: Uint8Array, offset: number) => Promise<unknown>;

/** Keeps `depth` reads in flight for `seconds`, each worker reading into its own buffer. */
async function closedLoop(readAt: ReadAt, seconds: number, depth: number): Promise<Result> {
  let done = 0;
  let seed = 0x9e3779b9;
  const nextOffset = () => {
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return ((seed >>> 0) % BLOCKS) * BLOCK;
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(seconds * 1e9));
  const worker = async () => {
    const buffer = new Uint8Array(BLOCK);
    for (;;) {
      await readAt(buffer, nextOffset());
      done++;
      if ((done & 255) === 0 && process.hrtime.bigint() >= end) return;
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { iops: done / secs, cpuNsPerIo: ((cpu.user + cpu.system) * 1000) / done };
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 3);
  const rounds = Number(process.argv[3] ?? 5);
  const depth = Number(process.argv[4] ?? 32);
  const { file, remove } = pageCachedFile(FILE_BYTES);
  const dev = await open({ driver: 'io_uring', path: file });
  const fh = await fsp.open(file, 'r');
  try {
    const sides: Record<'device' | 'fs', Result[]> = { device: [], fs: [] };
    const ratios: number[] = [];
    const runDevice = () => closedLoop((b, off) => dev.read(b, 0, BLOCK, off), seconds, depth);
    const runFs = () => closedLoop((b, off) => fh.read(b, 0, BLOCK, off), seconds, depth);
    console.log(`Promise layer vs fs/promises: 4 KiB random reads, QD${depth}, 256 MiB page-cached file, ${seconds}s x ${rounds} alternating rounds`);
    for (let r = 0; r < rounds; r++) {
      const first = r % 2 === 0;
      const a = first ? await runDevice() : await runFs();
      const b = first ? await runFs() : await runDevice();
      const d = first ? a : b;
      const f = first ? b : a;
      sides.device.push(d);
      sides.fs.push(f);
      ratios.push(d.iops / f.iops);
      console.log(`  round ${r + 1}: Device.read ${(d.iops / 1000).toFixed(1)}k IOPS (${(d.cpuNsPerIo / 1000).toFixed(2)} us CPU/IO), ` +
        `FileHandle.read ${(f.iops / 1000).toFixed(1)}k IOPS (${(f.cpuNsPerIo / 1000).toFixed(2)} us CPU/IO), ratio ${(d.iops / f.iops).toFixed(2)}`);
    }
    const m = (xs: Result[], k: keyof Result) => median(xs.map((x) => x[k]));
    console.log(`medians: Device.read ${(m(sides.device, 'iops') / 1000).toFixed(1)}k IOPS, ${(m(sides.device, 'cpuNsPerIo') / 1000).toFixed(2)} us CPU per request; ` +
      `FileHandle.read ${(m(sides.fs, 'iops') / 1000).toFixed(1)}k IOPS, ${(m(sides.fs, 'cpuNsPerIo') / 1000).toFixed(2)} us CPU per request`);
    console.log(`IOPS ratio Device/FileHandle: ${median(ratios).toFixed(2)}; CPU per request ratio: ${(m(sides.device, 'cpuNsPerIo') / m(sides.fs, 'cpuNsPerIo')).toFixed(2)}`);
  } finally {
    await fh.close();
    await dev.close();
    remove();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
