// The compatibility path's price: the same QD32 4 KiB random-read loop on a
// page-cached file (as bench/io_uring-overhead.ts) through the N-API addon
// ('io_uring') and through the libblkio driver, koffi over a libblkio
// shared library ('libblkio:io_uring'), with the bare C io_uring loop of
// bench/c as the floor: alternating rounds, medians. The overhead of a path
// is its time per request above the C loop's.
// The library is this project's build/Release/libblkio.so.1 unless
// $BLKIO_LIBRARY names another (e.g. upstream's libblkio.so.1).
// Run: node dist/bench/koffi-vs-napi.js [seconds per round] [rounds]
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { create, createCompletions } from '../src';
import { buildC, cpuNsPerRequest, median, nsPerRequest, pageCachedFile, Sample } from './support';

const QD = 32;
const BS = 4096;
const FILE_SIZE = 256 << 20;
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 5);
const library = process.env.BLKIO_LIBRARY || path.join(__dirname, '..', '..', 'build', 'Release', 'libblkio.so.1');

function loop(driver: string, file: string, forSeconds: number): Sample {
  const b = create(driver, driver.startsWith('libblkio:') ? { library } : {});
  b.setStr('path', file);
  b.connect();
  b.start();
  const q = b.getQueue(0)!;
  const region = b.allocMemRegion(QD * BS);
  b.mapMemRegion(region);
  const views = Array.from({ length: QD }, (_, i) => new Uint8Array(region.buffer, i * BS, BS));
  const blocks = FILE_SIZE / BS;
  const completions = createCompletions(QD);
  let rng = 0x2545f491;
  const next = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return ((rng >>> 0) % blocks) * BS;
  };
  for (let slot = 0; slot < QD; slot++) q.read(next(), views[slot], slot);
  let done = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(forSeconds * 1e9));
  for (;;) {
    const n = q.doIo(completions, 1, QD);
    for (let i = 0; i < n; i++) {
      const c = completions[i];
      if (c.ret !== 0) throw new Error(`read failed: ${c.ret} ${c.errorMsg}`);
      const slot = c.userData as number;
      q.read(next(), views[slot], slot);
    }
    done += n;
    if ((done & 1023) < n && process.hrtime.bigint() >= end) break;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  b.destroy();
  return { requests: done, seconds: secs, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function cLoop(binary: string, file: string, forSeconds: number): Sample {
  const [requests, secs, cpu] = execFileSync(binary, [file, String(forSeconds), String(QD)], { encoding: 'utf8' })
    .trim()
    .split(' ')
    .map(Number);
  return { requests, seconds: secs, cpuSeconds: cpu };
}

function main(): void {
  const { file, remove } = pageCachedFile(FILE_SIZE);
  const reference = buildC('uring_randread');
  try {
    // Warm up both paths' JIT and pools before measuring.
    loop('io_uring', file, 0.5);
    loop('libblkio:io_uring', file, 0.5);
    const c: Sample[] = [];
    const napi: Sample[] = [];
    const koffi: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      c.push(cLoop(reference, file, seconds));
      napi.push(loop('io_uring', file, seconds));
      koffi.push(loop('libblkio:io_uring', file, seconds));
    }
    const ns = (xs: Sample[]) => median(xs.map(nsPerRequest));
    const cpu = (xs: Sample[]) => median(xs.map(cpuNsPerRequest));
    const line = (name: string, xs: Sample[]) =>
      `  ${name.padEnd(34)} ${(1e6 / ns(xs)).toFixed(0).padStart(5)} k IOPS, ${ns(xs).toFixed(0).padStart(5)} ns/request, ${cpu(xs).toFixed(0).padStart(5)} ns CPU/request`;
    console.log(`4 KiB random read, QD${QD}, page-cached file, ${rounds} alternating rounds of ${seconds} s (medians)`);
    console.log(`  library for the koffi path: ${library}`);
    console.log(line('bare C io_uring loop', c));
    console.log(line('N-API addon (io_uring)', napi));
    console.log(line('koffi + C ABI (libblkio:io_uring)', koffi));
    const over = (xs: Sample[], f: (xs: Sample[]) => number) => f(xs) - f(c);
    console.log(
      `  overhead above C, wall: N-API ${over(napi, ns).toFixed(0)} ns, koffi ${over(koffi, ns).toFixed(0)} ns per request` +
        ` (ratio ${(over(koffi, ns) / over(napi, ns)).toFixed(2)})`,
    );
    console.log(
      `  overhead above C, CPU:  N-API ${over(napi, cpu).toFixed(0)} ns, koffi ${over(koffi, cpu).toFixed(0)} ns per request` +
        ` (ratio ${(over(koffi, cpu) / over(napi, cpu)).toFixed(2)})`,
    );
    console.log(
      `  koffi/N-API: time per request ${(ns(koffi) / ns(napi)).toFixed(2)}, CPU per request ${(cpu(koffi) / cpu(napi)).toFixed(2)}`,
    );
  } finally {
    remove();
  }
}

main();
