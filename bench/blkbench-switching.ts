// blkbench switching a running job between io_uring on a raw file and
// virtio-blk-vhost-user on qemu-storage-daemon exporting the same file
// (blkbench_switch_to), against the same job on io_uring alone, alternating
// in one run: 4 KiB random writes at QD32 with verify=crc32c, per job loop.
// Prints the pauses (median and worst over each run's switches), each
// backend's IOPS while it served the job, and the whole job's IOPS as a
// ratio to the job that does not switch.
//
//   node dist-test/bench/blkbench-switching.js [seconds=3] [rounds=3] [every=200ms] [direct=1]
import { spawnSync } from 'node:child_process';
import { BLKBENCH_CLI } from '../test/support/paths';
import { Qsd } from '../test/support/qsd';
import { median, pageCachedFile, runMain } from './support';

const FILE_SIZE = 64 << 20;
const seconds = Number(process.argv[2] ?? 3);
const rounds = Number(process.argv[3] ?? 3);
const every = process.argv[4] ?? '200ms';
const direct = process.argv[5] ?? '1';

interface Job {
  iops: number;
  switches?: { count: number; pause_median_us: number; pause_max_us: number; paths: Array<{ path: string; iops: number }> };
}

function run(file: string, loop: string, switchTo?: string): Job {
  const args = [
    BLKBENCH_CLI, '--name=b', `--filename=${file}`, '--ioengine=io_uring', `--direct=${direct}`, '--rw=randwrite', '--bs=4k',
    '--iodepth=32', '--verify=crc32c', `--runtime=${seconds}`, '--time_based', '--invalidate=0', '--output-format=json',
    `--blkbench_loop=${loop}`, ...(switchTo ? [`--blkbench_switch_to=${switchTo}`, `--blkbench_switch_every=${every}`] : []),
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: (seconds + 60) * 1000 });
  if (r.status !== 0) throw new Error(`blkbench failed: ${r.stderr}`);
  const job = JSON.parse(r.stdout).jobs[0];
  if (job.error !== 0) throw new Error(`blkbench job failed: ${job.error_message}`);
  return { iops: job.write.iops, switches: job.blkbench_switches };
}

async function main(): Promise<void> {
  const { file, remove } = pageCachedFile(FILE_SIZE);
  const qsd = await Qsd.start({ image: file, format: 'raw' });
  const target = `virtio-blk-vhost-user:${qsd.socket}`;
  try {
    console.log(
      `4 KiB random writes, QD32, verify=crc32c, direct=${direct}, ${rounds} alternating rounds of ${seconds} s, switching every ${every} (medians)`,
    );
    for (const loop of ['native', 'js']) {
      const alone: Job[] = [];
      const switching: Job[] = [];
      for (let i = 0; i < rounds; i++) {
        alone.push(run(file, loop, undefined));
        switching.push(run(file, loop, target));
      }
      const s = switching.map((j) => j.switches!);
      const ms = (us: number) => (us / 1000).toFixed(2);
      console.log(`  ${loop} loop:`);
      console.log(`    io_uring alone      : ${(median(alone.map((j) => j.iops)) / 1000).toFixed(1)} k IOPS`);
      console.log(
        `    switching           : ${(median(switching.map((j) => j.iops)) / 1000).toFixed(1)} k IOPS, ${median(s.map((x) => x.count))} switches, ` +
          `pause median ${ms(median(s.map((x) => x.pause_median_us)))} ms, worst ${ms(Math.max(...s.map((x) => x.pause_max_us)))} ms`,
      );
      for (const p of [0, 1]) {
        console.log(`      on ${s[0].paths[p].path.split(':')[0].padEnd(22)}: ${(median(s.map((x) => x.paths[p].iops)) / 1000).toFixed(1)} k IOPS`);
      }
      console.log(`    ratio switching/alone: ${(median(switching.map((j) => j.iops)) / median(alone.map((j) => j.iops))).toFixed(2)}`);
    }
  } finally {
    await qsd.dispose();
    remove();
  }
}

runMain(main);
