// 4 KiB random reads at QD32 on a page-cached raw file: through
// qemu-storage-daemon's vhost-user-blk export (virtio-blk-vhost-user) and
// with io_uring straight on the same file, alternating in one run. Reports
// IOPS and the client process's CPU time per request (process.cpuUsage:
// every thread of this process, kernel time included), medians of the
// rounds; also the daemon's CPU per request and the client heap growth.
//
// Two loop shapes, the same for both drivers: doIo(min=1) refills each slot
// as soon as it completes (latency first); doIo(min=QD/2) waits for half the
// queue before refilling (fio's iodepth_batch_complete_min), which lets
// EVENT_IDX ask the daemon for one signal per batch instead of one per request.
//
//   node --expose-gc dist/bench/vhost-user-vs-io_uring.js [seconds=3] [rounds=3] [aio=threads|io_uring|native]
import * as fs from 'node:fs';
import { create, createCompletions } from '../src';
import { Qsd } from '../test/support/qsd';
import { cpuNsPerRequest, median, nsPerRequest, pageCachedFile, Sample } from './support';

const QD = 32;
const BS = 4096;
const FILE_SIZE = 256 << 20;
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);
const aio = (process.argv[4] ?? 'threads') as 'threads' | 'io_uring' | 'native';

interface Run extends Sample {
  daemonCpuSeconds: number;
}

function openQueue(driver: string, path: string) {
  const b = create(driver);
  b.setStr('path', path);
  b.connect();
  b.start();
  const region = b.allocMemRegion(QD * BS);
  b.mapMemRegion(region);
  const views = Array.from({ length: QD }, (_, i) => new Uint8Array(region.buffer, i * BS, BS));
  return { b, q: b.getQueue(0)!, views };
}

/** utime + stime of a process, in seconds. */
function processCpu(pid: number): number {
  if (pid < 0) return 0;
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

// The same QD-deep loop for both drivers: refill each completed slot.
function loop(driver: string, path: string, forSeconds: number, minComplete: number, daemonPid = -1, maxRequests = Infinity): Run {
  const { b, q, views } = openQueue(driver, path);
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
  const daemon0 = processCpu(daemonPid);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(forSeconds * 1e9));
  for (;;) {
    const n = q.doIo(completions, minComplete, QD);
    for (let i = 0; i < n; i++) {
      const c = completions[i];
      if (c.ret !== 0) throw new Error(`${driver}: read failed: ${c.ret} ${c.errorMsg}`);
      const slot = c.userData as number;
      q.read(next(), views[slot], slot);
    }
    done += n;
    if ((done & 1023) < n && (process.hrtime.bigint() >= end || done >= maxRequests)) break;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const daemonCpuSeconds = processCpu(daemonPid) - daemon0;
  q.doIo(completions, QD, QD); // drain before destroy
  b.destroy();
  return { requests: done, seconds: secs, cpuSeconds: (cpu.user + cpu.system) / 1e6, daemonCpuSeconds };
}

function heapGrowth(path: string, requests: number): { first: number; last: number } | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  loop('virtio-blk-vhost-user', path, 1e9, 1, -1, requests / 10); // warm up JIT and pools
  gc();
  const first = process.memoryUsage().heapUsed;
  loop('virtio-blk-vhost-user', path, 1e9, 1, -1, requests);
  gc();
  return { first, last: process.memoryUsage().heapUsed };
}

function describe(name: string, runs: Run[], daemon: boolean): string {
  const ns = median(runs.map(nsPerRequest));
  const cpu = median(runs.map(cpuNsPerRequest));
  let line = `  ${name.padEnd(22)}: ${(1e6 / ns).toFixed(0).padStart(4)} k IOPS, client CPU ${cpu.toFixed(0).padStart(5)} ns/request`;
  if (daemon) line += `, qsd CPU ${median(runs.map((r) => (r.daemonCpuSeconds / r.requests) * 1e9)).toFixed(0)} ns/request`;
  return line;
}

async function main(): Promise<void> {
  const { file, remove } = pageCachedFile(FILE_SIZE);
  const qsd = await Qsd.start({ image: file, format: 'raw', aio });
  try {
    loop('virtio-blk-vhost-user', qsd.socket, 0.5, 1, qsd.pid); // warm-up
    loop('io_uring', file, 0.5, 1);
    console.log(`4 KiB random read, QD${QD}, page-cached raw file, ${rounds} alternating rounds of ${seconds} s (medians); qsd aio=${aio}`);
    for (const minComplete of [1, QD / 2]) {
      const vu: Run[] = [];
      const uring: Run[] = [];
      for (let r = 0; r < rounds; r++) {
        uring.push(loop('io_uring', file, seconds, minComplete));
        vu.push(loop('virtio-blk-vhost-user', qsd.socket, seconds, minComplete, qsd.pid));
      }
      console.log(` doIo(min=${minComplete}, max=${QD}):`);
      console.log(describe('io_uring', uring, false));
      console.log(describe('virtio-blk-vhost-user', vu, true));
      const iopsRatio = median(uring.map(nsPerRequest)) / median(vu.map(nsPerRequest));
      const cpuRatio = median(vu.map(cpuNsPerRequest)) / median(uring.map(cpuNsPerRequest));
      console.log(`  vhost-user / io_uring: IOPS ${iopsRatio.toFixed(2)}x, client CPU per request ${cpuRatio.toFixed(2)}x (aim <= 1)`);
    }
    const heap = heapGrowth(qsd.socket, 2_000_000);
    if (!heap) console.log('  heap: run with node --expose-gc to measure');
    else
      console.log(
        `  vhost-user heap after warm-up: ${(heap.first / 1e6).toFixed(2)} MB; after 2 M more requests: ${(heap.last / 1e6).toFixed(2)} MB (delta ${((heap.last - heap.first) / 1e3).toFixed(0)} kB)`,
      );
  } catch (e) {
    if (qsd.stderr) console.error(`qemu-storage-daemon said: ${qsd.stderr}`);
    throw e;
  } finally {
    await qsd.dispose();
    remove();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
