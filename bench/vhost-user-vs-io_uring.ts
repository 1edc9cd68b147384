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
//   node --expose-gc dist-test/bench/vhost-user-vs-io_uring.js [seconds=3] [rounds=3] [aio=threads|io_uring|native]
import { Qsd } from '../test/support/qsd';
import { cpuNsPerRequest, median, nsPerRequest, pageCachedFile, randomReadLoop, RandomReadSample, runMain } from './support';

const QD = 32;
const BS = 4096;
const FILE_SIZE = 256 << 20;
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);
const aio = (process.argv[4] ?? 'threads') as 'threads' | 'io_uring' | 'native';

type Run = RandomReadSample;



// The same QD-deep loop for both drivers: refill each completed slot.
function loop(driver: string, path: string, forSeconds: number, minComplete: number, daemonPid = -1, maxRequests = Infinity): Run {
  return randomReadLoop({ driver, path, size: FILE_SIZE, seconds: forSeconds, minComplete, daemonPid, maxRequests, queueDepth: QD, blockSize: BS });
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

runMain(main);
