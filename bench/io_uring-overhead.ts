// What the library costs per request: 4 KiB random reads at QD32 on a
// page-cached file through the mirror API, beside a bare C io_uring loop on
// the same file in the same run (alternating), plus the heap over 10 M
// requests. Run: node --expose-gc dist-test/bench/io_uring-overhead.js [seconds]
import Benchmark from 'benchmark';
import { create, createCompletions } from '../src/lib';
import {
  buildC,
  cReferenceLoop,
  cpuNsPerRequest,
  median,
  nsPerRequest,
  pageCachedFile,
  randomReadLoop,
  Sample,
  userNsPerRequest,
} from './support';

const QD = 32;
const BS = 4096;
const FILE_SIZE = 256 << 20;
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);

function openQueue(file: string) {
  const b = create('io_uring');
  b.setStr('path', file);
  b.connect();
  b.start();
  const region = b.allocMemRegion(QD * BS);
  b.mapMemRegion(region);
  const views = Array.from({ length: QD }, (_, i) => new Uint8Array(region.buffer, i * BS, BS));
  return { b, q: b.getQueue(0)!, views };
}

function libraryLoop(file: string, forSeconds: number, maxRequests = Infinity): Sample {
  return randomReadLoop({ driver: 'io_uring', path: file, size: FILE_SIZE, seconds: forSeconds, maxRequests, queueDepth: QD });
}


function heapOver(file: string, requests: number): { first: number; last: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return { first: NaN, last: NaN };
  libraryLoop(file, 1e9, requests / 10); // warm up JIT and pools
  gc();
  const first = process.memoryUsage().heapUsed;
  libraryLoop(file, 1e9, requests);
  gc();
  return { first, last: process.memoryUsage().heapUsed };
}

function main(): void {
  const { file, remove } = pageCachedFile(FILE_SIZE);
  const reference = buildC('uring_randread');
  try {
    const lib: Sample[] = [];
    const c: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      c.push(cReferenceLoop(reference, file, seconds, QD));
      lib.push(libraryLoop(file, seconds));
    }
    const libNs = median(lib.map(nsPerRequest));
    const cNs = median(c.map(nsPerRequest));
    const libUser = median(lib.map(userNsPerRequest));
    const cUser = median(c.map(userNsPerRequest));
    const row = (name: string, xs: Sample[]) => {
      const ns = median(xs.map(nsPerRequest));
      return `  ${name}: ${(1e6 / ns).toFixed(0)} k IOPS, ${ns.toFixed(0)} ns/request wall, ${median(xs.map(cpuNsPerRequest)).toFixed(0)} ns CPU/request (${median(xs.map(userNsPerRequest)).toFixed(0)} ns in user space)`;
    };
    console.log(`4 KiB random read, QD${QD}, page-cached file, ${rounds} alternating rounds of ${seconds} s (medians)`);
    console.log(row('C io_uring loop ', c));
    console.log(row('blkio mirror API', lib));
    console.log(`  ratio blkio/C IOPS: ${(cNs / libNs).toFixed(3)}`);
    // The kernel does the same work for both; what the library adds is its
    // user-space time (wall time also carries the noise of a shared machine).
    console.log(`  library overhead: ${(libUser - cUser).toFixed(0)} ns of user-space CPU per request (aim <= 150); wall difference ${(libNs - cNs).toFixed(0)} ns`);

    // benchmark.js on one batch of the same loop, as a second opinion on the per-batch cost.
    const { b, q, views } = openQueue(file);
    const completions = createCompletions(QD);
    for (let slot = 0; slot < QD; slot++) q.read(slot * BS, views[slot], slot);
    const suite = new Benchmark.Suite();
    suite
      .add(`doIo batch of ${QD} completions + ${QD} re-enqueues`, () => {
        let got = 0;
        while (got < QD) {
          const n = q.doIo(completions, 1, QD);
          for (let i = 0; i < n; i++) {
            const slot = completions[i].userData as number;
            q.read(((slot * 7919 + got) % 65536) * BS, views[slot], slot);
          }
          got += n;
        }
      })
      .on('cycle', (e: Benchmark.Event) => {
        const t = e.target as Benchmark.Target & { stats: { mean: number; rme: number } };
        console.log(`  benchmark.js: ${((t.stats.mean / QD) * 1e9).toFixed(0)} ns/request ±${t.stats.rme.toFixed(1)}%`);
      })
      .run();
    b.destroy();

    const heap = heapOver(file, 10_000_000);
    if (Number.isNaN(heap.first)) console.log('  heap: run with node --expose-gc to measure');
    else
      console.log(`  heap after 1 M warm-up: ${(heap.first / 1e6).toFixed(2)} MB; after 10 M more requests: ${(heap.last / 1e6).toFixed(2)} MB (delta ${((heap.last - heap.first) / 1e3).toFixed(0)} kB)`);
  } finally {
    remove();
  }
}

main();
