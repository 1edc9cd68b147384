// 4 KiB random reads at QD32: through a VDUSE device served by
// qemu-storage-daemon (virtio-blk-vhost-vdpa) and with io_uring straight on
// the raw file behind it, alternating in one run. Reports IOPS and this
// process's CPU time per request (medians of the rounds) and their ratios.
//
// Runs in the test guest (test/vm), where the kernel has vDPA; QEMU TCG makes
// the absolute numbers meaningless, so only the ratio of the two, measured
// in the same guest run, says anything. test/vdpa/bench.test.ts runs it.
//
//   node dist/bench/vdpa-vs-io_uring.js [seconds=2] [rounds=3] [/dev/vhost-vdpa-N raw-file [daemon-pid]]
// (default device: $BLKIO_VDUSE_RAW, _FILE and _PID from the guest)
import * as fs from 'node:fs';
import { create, createCompletions } from '../src';
import { cpuNsPerRequest, median, nsPerRequest, Sample } from './support';

const QD = 32;
const BS = 4096;
const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const devicePath = process.argv[4] ?? process.env.BLKIO_VDUSE_RAW;
const rawFile = process.argv[5] ?? process.env.BLKIO_VDUSE_RAW_FILE;
// The daemon serving the device, when known: its CPU time is reported too.
const daemonPid = Number(process.argv[6] ?? (process.argv[4] ? -1 : (process.env.BLKIO_VDUSE_RAW_PID ?? -1)));

interface Run extends Sample {
  daemonCpuSeconds: number;
}

/** utime + stime of a process, in seconds (0 when unknown). */
function processCpu(pid: number): number {
  if (pid <= 0) return 0;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
  } catch {
    return 0;
  }
}

// The same QD-deep loop for both drivers: each completion refills its slot
// with a read at a new random offset; waits for at least minComplete.
function loop(driver: string, path: string, size: number, forSeconds: number, minComplete: number): Run {
  const b = create(driver);
  b.setStr('path', path);
  b.connect();
  b.start();
  const region = b.allocMemRegion(QD * BS);
  b.mapMemRegion(region);
  const views = Array.from({ length: QD }, (_, i) => new Uint8Array(region.buffer, i * BS, BS));
  const q = b.getQueue(0)!;
  const blocks = size / BS;
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
    if ((done & 255) < n && process.hrtime.bigint() >= end) break;
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const daemonCpuSeconds = driver === 'io_uring' ? 0 : processCpu(daemonPid) - daemon0;
  q.doIo(completions, QD, QD); // drain before destroy
  b.destroy();
  return { requests: done, seconds: secs, cpuSeconds: (cpu.user + cpu.system) / 1e6, daemonCpuSeconds };
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
