// The compatibility path's price: the same QD32 4 KiB random-read loop on a
// page-cached file (as bench/io_uring-overhead.ts) through the N-API addon
// ('io_uring') and through the libblkio driver, koffi over a libblkio
// shared library ('libblkio:io_uring'), with the bare C io_uring loop of
// bench/c as the floor: alternating rounds, medians. The overhead of a path
// is its time per request above the C loop's.
// The library is this project's build/Release/libblkio.so.1 unless
// $BLKIO_LIBRARY names another (e.g. upstream's libblkio.so.1).
// Run: node dist-test/bench/koffi-vs-napi.js [seconds per round] [rounds]
import * as path from 'node:path';
import { buildC, cReferenceLoop, cpuNsPerRequest, median, nsPerRequest, pageCachedFile, randomReadLoop, Sample } from './support';
import { BUILD_DIR } from '../test/support/paths';

const QD = 32;
const BS = 4096;
const FILE_SIZE = 256 << 20;
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 5);
const library = process.env.BLKIO_LIBRARY || path.join(BUILD_DIR, 'libblkio.so.1');

function loop(driver: string, file: string, forSeconds: number): Sample {
  const createOptions = driver.startsWith('libblkio:') ? { library } : {};
  return randomReadLoop({ driver, path: file, size: FILE_SIZE, seconds: forSeconds, queueDepth: QD, createOptions });
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
      c.push(cReferenceLoop(reference, file, seconds, QD));
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
