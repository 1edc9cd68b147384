// 4 KiB random reads at QD32: through a VDUSE device served by
// qemu-storage-daemon (virtio-blk-vhost-vdpa) and with io_uring straight on
// the raw file behind it, alternating in one run. Reports IOPS and this
// process's CPU time per request (medians of the rounds) and their ratios.
//
// Runs in the test guest (test/vm), where the kernel has vDPA; QEMU TCG makes
// the absolute numbers meaningless, so only the ratio of the two, measured
// in the same guest run, says anything. test/vdpa/bench.test.ts runs it.
//
//   node dist-test/bench/vdpa-vs-io_uring.js [seconds=2] [rounds=3] [/dev/vhost-vdpa-N raw-file [daemon-pid]]
// (default device: $BLKIO_VDUSE_RAW, _FILE and _PID from the guest)
import * as fs from 'node:fs';
import { cpuNsPerRequest, median, nsPerRequest, randomReadLoop, RandomReadSample } from './support';

const QD = 32;
const BS = 4096;
const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const devicePath = process.argv[4] ?? process.env.BLKIO_VDUSE_RAW;
const rawFile = process.argv[5] ?? process.env.BLKIO_VDUSE_RAW_FILE;
// The daemon serving the device, when known: its CPU time is reported too.
const daemonPid = Number(process.argv[6] ?? (process.argv[4] ? -1 : (process.env.BLKIO_VDUSE_RAW_PID ?? -1)));

type Run = RandomReadSample;

/** utime + stime of a process, in seconds (0 when unknown). */

// The same QD-deep loop for both drivers: each completion refills its slot
// with a read at a new random offset; waits for at least minComplete.
function loop(driver: string, path: string, size: number, forSeconds: number, minComplete: number): Run {
  const pid = driver === 'io_uring' ? -1 : daemonPid;
  return randomReadLoop({ driver, path, size, seconds: forSeconds, minComplete, daemonPid: pid, queueDepth: QD, blockSize: BS });
}

function line(name: string, runs: Run[]): string {
  const iops = 1e9 / median(runs.map(nsPerRequest));
  const cpu = median(runs.map(cpuNsPerRequest));
  let text = `  ${name.padEnd(22)}: ${iops.toFixed(0).padStart(7)} IOPS, CPU ${cpu.toFixed(0).padStart(7)} ns/request`;
  const daemon = median(runs.map((r) => (r.daemonCpuSeconds / r.requests) * 1e9));
  if (daemon > 0) text += `, qemu-storage-daemon CPU ${daemon.toFixed(0)} ns/request`;
  return text;
}

function main(): void {
  if (!devicePath || !rawFile)
    throw new Error('no device: pass /dev/vhost-vdpa-N and its raw file, or run in the test guest (BLKIO_VDUSE_RAW)');
  const size = fs.statSync(rawFile).size;
  fs.readFileSync(rawFile); // the daemon reads through the page cache; so does io_uring here
  loop('virtio-blk-vhost-vdpa', devicePath, size, 0.5, 1); // warm-up (JIT, daemon)
  loop('io_uring', rawFile, size, 0.5, 1);
  console.log(`4 KiB random reads, QD${QD}, ${rounds} alternating rounds of ${seconds} s (medians)`);
  console.log(`  vhost-vdpa: ${devicePath} (VDUSE, qemu-storage-daemon); io_uring: ${rawFile} (${size >> 20} MiB)`);
  for (const minComplete of [1, QD / 2]) {
    const vdpa: Run[] = [];
    const uring: Run[] = [];
    for (let r = 0; r < rounds; r++) {
      uring.push(loop('io_uring', rawFile, size, seconds, minComplete));
      vdpa.push(loop('virtio-blk-vhost-vdpa', devicePath, size, seconds, minComplete));
    }
    console.log(` doIo(min=${minComplete}, max=${QD}):`);
    console.log(line('io_uring', uring));
    console.log(line('virtio-blk-vhost-vdpa', vdpa));
    const iopsRatio = median(uring.map(nsPerRequest)) / median(vdpa.map(nsPerRequest));
    const cpuRatio = median(vdpa.map(cpuNsPerRequest)) / median(uring.map(cpuNsPerRequest));
    console.log(`  ratio vhost-vdpa / io_uring: IOPS ${iopsRatio.toFixed(2)}x, CPU per request ${cpuRatio.toFixed(2)}x`);
  }
}

main();
