// What a virtio-blk-vfio-pci kick costs, before and after: 4 KiB random reads
// at QD1 (one kick per request) on the guest's vfio disk, with two builds of
// the addon in alternating rounds (each round a child process, since a process
// loads one addon). Reports IOPS and CPU time per request (medians) and ratios.
//
// Runs in the test guest (test/vm): QEMU TCG makes absolute numbers
// meaningless; only the ratio measured in the same run says anything.
//
//   node dist-test/bench/vfio-kick.js BEFORE.node AFTER.node [seconds=2] [rounds=5]
import { execFileSync } from 'node:child_process';
import { bindToVfio, VFIO_DRIVER, vfioCapacity } from '../test/support/vfio-target';
import { cpuNsPerRequest, median, nsPerRequest, randomReadLoop, RandomReadSample, runMain } from './support';

async function child(devicePath: string, seconds: number): Promise<void> {
  const size = vfioCapacity(devicePath);
  randomReadLoop({ driver: VFIO_DRIVER, path: devicePath, size, seconds: 0.3, queueDepth: 1 }); // warm-up
  const sample = randomReadLoop({ driver: VFIO_DRIVER, path: devicePath, size, seconds, queueDepth: 1 });
  process.stdout.write(JSON.stringify(sample));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3], Number(process.argv[4]));
  const [before, after] = process.argv.slice(2, 4);
  if (!before || !after) throw new Error('usage: vfio-kick.js BEFORE.node AFTER.node [seconds] [rounds]');
  const seconds = Number(process.argv[4] ?? 2);
  const rounds = Number(process.argv[5] ?? 5);
  const devicePath = await bindToVfio();
  const runs: Record<string, RandomReadSample[]> = { before: [], after: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, addon] of r % 2 ? [['after', after], ['before', before]] : [['before', before], ['after', after]]) {
      const out = execFileSync(process.execPath, [__filename, '--child', devicePath, String(seconds)], {
        env: { ...process.env, BLKIO_ADDON_PATH: addon },
        encoding: 'utf8',
      });
      runs[name].push(JSON.parse(out) as RandomReadSample);
    }
  }
  console.log(`virtio-blk-vfio-pci, 4 KiB random reads at QD1, ${rounds} alternating rounds of ${seconds} s (medians)`);
  for (const name of ['before', 'after']) {
    const iops = 1e9 / median(runs[name].map(nsPerRequest));
    console.log(`  ${name.padEnd(6)}: ${iops.toFixed(0).padStart(7)} IOPS, CPU ${median(runs[name].map(cpuNsPerRequest)).toFixed(0).padStart(7)} ns/request`);
  }
  const iopsRatio = median(runs.before.map(nsPerRequest)) / median(runs.after.map(nsPerRequest));
  const cpuRatio = median(runs.after.map(cpuNsPerRequest)) / median(runs.before.map(cpuNsPerRequest));
  console.log(`  after / before: IOPS ${iopsRatio.toFixed(2)}x, CPU per request ${cpuRatio.toFixed(2)}x`);
}

runMain(main);
