// 4 KiB random reads at QD32 on one NVMe namespace two ways, alternating in
// one run: nvme-io_uring (passthrough on /dev/ngXnY: NVMe commands built
// here, no block layer) and io_uring with O_DIRECT on its block device
// /dev/nvmeXnY. Reports IOPS and this process's CPU time per request
// (medians of the rounds) and their ratios.
//
// Runs in the test guest (test/vm: QEMU's emulated NVMe); QEMU TCG makes the
// absolute numbers meaningless, so only the ratio, measured in the same run,
// says anything.
//
//   node dist/bench/nvme-vs-io_uring.js [seconds=2] [rounds=3] [/dev/ngXnY /dev/nvmeXnY]
import * as fs from 'node:fs';
import { findNvmeNamespace } from '../test/support/nvme-target';
import { cpuNsPerRequest, median, nsPerRequest, randomReadLoop, RandomReadSample } from './support';

const QD = 32;
const BS = 4096;
const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const found = process.argv[4] ? undefined : findNvmeNamespace();
const charDevice = process.argv[4] ?? found?.charDevice;
const blockDevice = process.argv[5] ?? found?.blockDevice;

function loop(driver: 'nvme-io_uring' | 'io_uring', size: number, forSeconds: number, minComplete: number): RandomReadSample {
  const path = driver === 'io_uring' ? blockDevice! : charDevice!;
  const properties: Record<string, boolean> = driver === 'io_uring' ? { direct: true } : {};
  return randomReadLoop({ driver, path, size, seconds: forSeconds, minComplete, queueDepth: QD, blockSize: BS, properties });
}

function line(name: string, runs: RandomReadSample[]): string {
  const iops = 1e9 / median(runs.map(nsPerRequest));
  const cpu = median(runs.map(cpuNsPerRequest));
  return `  ${name.padEnd(14)}: ${iops.toFixed(0).padStart(7)} IOPS, CPU ${cpu.toFixed(0).padStart(7)} ns/request`;
}

function main(): void {
  if (!charDevice || !blockDevice) throw new Error('no namespace: pass /dev/ngXnY and /dev/nvmeXnY, or run in the test guest');
  const size = Number(fs.readFileSync(`/sys/block/${blockDevice.replace('/dev/', '')}/size`, 'utf8')) * 512;
  loop('nvme-io_uring', size, 0.5, 1); // warm-up (JIT)
  loop('io_uring', size, 0.5, 1);
  console.log(`4 KiB random reads, QD${QD}, ${rounds} alternating rounds of ${seconds} s (medians)`);
  console.log(`  nvme-io_uring: ${charDevice}; io_uring (direct): ${blockDevice} (${size >> 20} MiB)`);
  for (const minComplete of [1, QD / 2]) {
    const nvme: RandomReadSample[] = [];
    const uring: RandomReadSample[] = [];
    for (let r = 0; r < rounds; r++) {
      uring.push(loop('io_uring', size, seconds, minComplete));
      nvme.push(loop('nvme-io_uring', size, seconds, minComplete));
    }
    console.log(` doIo(min=${minComplete}, max=${QD}):`);
    console.log(line('io_uring', uring));
    console.log(line('nvme-io_uring', nvme));
    const iopsRatio = median(uring.map(nsPerRequest)) / median(nvme.map(nsPerRequest));
    const cpuRatio = median(nvme.map(cpuNsPerRequest)) / median(uring.map(cpuNsPerRequest));
    console.log(`  ratio nvme-io_uring / io_uring: IOPS ${iopsRatio.toFixed(2)}x, CPU per request ${cpuRatio.toFixed(2)}x`);
  }
}

main();
