/**
 * blkbench against fio on the same jobs, alternating the sides in one run so all see the same machine.
 *
 *   node dist-test/bench/vs-fio.js [--rounds=5] [--runtime=5] [--size=256m] [--file=PATH] [--only=qd1,qd32]
 *                                  [--loops=native,js] [--t-io_uring=PATH] [--atime=off|on]
 *
 * Jobs (io_uring on a page-cached file, invalidate=0):
 *   qd1            4 KiB randread, iodepth=1
 *   qd32           4 KiB randread, iodepth=32 with fio's default batching (each request submitted on its own)
 *   qd32-batched   ... iodepth_batch_submit=32 iodepth_batch_complete_max=32
 *   qd128-batched  4 KiB randread, iodepth=128, iodepth_batch_submit=128 iodepth_batch_complete_max=128
 *   numjobs2       4 KiB randread, iodepth=32, numjobs=2 (fio --thread; one queue per blkbench job)
 *   randwrite      4 KiB randwrite, iodepth=32, to the page-cached file
 *   seqread-128k   128 KiB sequential read, iodepth=32
 *   verify         4 KiB randwrite, iodepth=32, verify=crc32c (the write phase is measured; both then read back)
 *   bssplit        randread, bssplit=4k/50:16k/30:64k/20, iodepth=32 (fio trims a request to the free part of
 *                  its random map, blkbench moves it: their mean request sizes differ, compare bandwidth)
 *   rate           4 KiB randread, iodepth=8, rate_iops=20000 (capped: the CPU per request is what differs)
 *   zipf           4 KiB randread, iodepth=32, random_distribution=zipf:1.2
 * With --t-io_uring=PATH (fio's t/io_uring, built from fio's source outside this repository), the
 * qd32-batched job also runs it as a reference: registered ring, files and buffers, depth 32, batches
 * of 32, no polling, no O_DIRECT; its IOPS is the median of its per-second lines, CPU not reported.
 * atime: t/io_uring opens its file with O_NOATIME; fio and blkbench do not (fio does so only for
 * devices). So that all three do the same file-system work per read, the file this script creates is
 * marked no-atime (`chattr +A`, a flag of the file, not of its opener) unless --atime=on; a file given
 * with --file is left as it is. The header says which.
 * Both sides get exactly the same options: fio's defaults plus the job's (no reporting extras on
 * either side), so neither does work the other skips.
 * Every side runs as a child process with JSON output; IOPS and CPU come from its own report, summed
 * over jobs. CPU per request = Σ (usr_cpu + sys_cpu) × job_runtime / Σ requests: fio's job thread (fio
 * counts RUSAGE_THREAD in every mode), blkbench's native loop thread (its main thread sleeps until the
 * loops finish); for the JS loop the whole process on one job (with V8's threads and io_uring's io-wq
 * workers, which matters for buffered writes), the worker thread with numjobs.
 * blkbench's "js" side is its JS loop over the mirror API (--blkbench_loop=js).
 * Latency percentiles: what each reports by default (fio's clat percentiles; blkbench's the same).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI } from '../test/support/paths';

interface Side {
  iops: number;
  /** Bytes per second: what to compare where the two tools cut requests differently (bssplit). */
  bw: number;
  cpuPerIoNs: number;
  p50: number;
  p99: number;
}

interface Config {
  name: string;
  options: string[];
  /** How fio spells an option blkbench takes too (fio runs jobs as processes unless --thread). */
  fioOnly?: string[];
}

const CONFIGS: Config[] = [
  { name: 'qd1', options: ['--rw=randread', '--bs=4k', '--iodepth=1'] },
  { name: 'qd32', options: ['--rw=randread', '--bs=4k', '--iodepth=32'] },
  { name: 'qd32-batched', options: ['--rw=randread', '--bs=4k', '--iodepth=32', '--iodepth_batch_submit=32', '--iodepth_batch_complete_max=32'] },
  { name: 'qd128-batched', options: ['--rw=randread', '--bs=4k', '--iodepth=128', '--iodepth_batch_submit=128', '--iodepth_batch_complete_max=128'] },
  { name: 'numjobs2', options: ['--rw=randread', '--bs=4k', '--iodepth=32', '--numjobs=2'], fioOnly: ['--thread'] },
  { name: 'randwrite', options: ['--rw=randwrite', '--bs=4k', '--iodepth=32'] },
  { name: 'seqread-128k', options: ['--rw=read', '--bs=128k', '--iodepth=32'] },
  { name: 'verify', options: ['--rw=randwrite', '--bs=4k', '--iodepth=32', '--verify=crc32c'] },
  { name: 'bssplit', options: ['--rw=randread', '--bssplit=4k/50:16k/30:64k/20', '--iodepth=32'] },
  { name: 'rate', options: ['--rw=randread', '--bs=4k', '--iodepth=8', '--rate_iops=20000'] },
  { name: 'zipf', options: ['--rw=randread', '--bs=4k', '--iodepth=32', '--random_distribution=zipf:1.2'] },
];

function arg(name: string, dflt: string): string {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : dflt;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

interface FioDir {
  iops: number;
  bw_bytes: number;
  total_ios: number;
  lat_ns: { percentile?: Record<string, number> };
  clat_ns: { percentile?: Record<string, number> };
}
type FioJob = { job_runtime: number; usr_cpu: number; sys_cpu: number; read: FioDir; write: FioDir };

/**
 * Sums a report's jobs: IOPS and requests over both directions, CPU time over jobs. A verify job
 * counts its writes only: fio reports its read-back as the job's reads and blkbench does not, so
 * both sides' CPU (which includes the read-back on both) is divided by the same requests, and a read
 * rate over the read-back's fraction of a second is not added to the write rate.
 */
function sideFrom(jobs: FioJob[], verify: boolean): Side {
  let iops = 0;
  let bw = 0;
  let ios = 0;
  let cpuNs = 0;
  for (const j of jobs) {
    iops += (verify ? 0 : j.read.iops) + j.write.iops;
    bw += (verify ? 0 : j.read.bw_bytes) + j.write.bw_bytes;
    ios += (verify ? 0 : j.read.total_ios) + j.write.total_ios;
    cpuNs += ((j.usr_cpu + j.sys_cpu) / 100) * j.job_runtime * 1e6;
  }
  const first = jobs[0];
  const dir = first.read.total_ios > 0 ? first.read : first.write;
  const pct = dir.lat_ns.percentile ?? dir.clat_ns.percentile ?? {};
  return { iops, bw, cpuPerIoNs: ios > 0 ? cpuNs / ios : 0, p50: pct['50.000000'] ?? 0, p99: pct['99.000000'] ?? 0 };
}

function common(file: string, size: string, runtime: string): string[] {
  return ['--name=vsfio', `--filename=${file}`, `--size=${size}`, '--ioengine=io_uring', '--invalidate=0', `--runtime=${runtime}`, '--time_based', '--output-format=json'];
}

type SideName = 'fio' | 'native' | 'js' | 't/io_uring';

/**
 * fio's t/io_uring at qd32-batched's settings: the practical limit of one io_uring thread. Its CPU per
 * request: the process's user + system time (bash's `times` after it exits) per second of its run,
 * over its IOPS (its per-second lines leave out the last part-second, so they cannot count requests).
 */
function runTioUring(bin: string, file: string, runtime: string): Side {
  const args = ['-d32', '-s32', '-c32', '-b4096', '-p0', '-B1', '-F1', '-X1', '-O0', '-n1', `-r${runtime}`, file];
  const started = process.hrtime.bigint();
  const out = execFileSync('bash', ['-c', '"$0" "$@" && times', bin, ...args], { encoding: 'utf8' });
  const wallNs = Number(process.hrtime.bigint() - started);
  const perSecond = [...out.matchAll(/^IOPS=([\d.]+)([KM]?)/gm)].map((m) => Number(m[1]) * (m[2] === 'M' ? 1e6 : m[2] === 'K' ? 1e3 : 1));
  const seconds = (m: string, s: string) => Number(m) * 60 + Number(s);
  const times = [...out.matchAll(/^(\d+)m([\d.]+)s (\d+)m([\d.]+)s$/gm)].at(-1); // the children's line
  const cpuNs = times ? (seconds(times[1], times[2]) + seconds(times[3], times[4])) * 1e9 : 0;
  const iops = median(perSecond.length > 1 ? perSecond.slice(1) : perSecond);
  return { iops, bw: 0, cpuPerIoNs: iops > 0 ? cpuNs / (wallNs / 1e9) / iops : 0, p50: 0, p99: 0 };
}

// Both sides run in a scratch directory: fio leaves a verify state file behind after a verify job.
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-vs-fio-'));

function run(side: SideName, cfg: Config, file: string, size: string, runtime: string): Side {
  if (side === 't/io_uring') return runTioUring(arg('t-io_uring', ''), file, runtime);
  const args = [...common(file, size, runtime), ...cfg.options];
  const out =
    side === 'fio'
      ? execFileSync('fio', [...args, ...(cfg.fioOnly ?? [])], { encoding: 'utf8', maxBuffer: 64 << 20, cwd: scratch })
      : execFileSync(process.execPath, [BLKBENCH_CLI, ...args, `--blkbench_loop=${side}`], {
          encoding: 'utf8',
          maxBuffer: 64 << 20,
          cwd: scratch,
        });
  return sideFrom(JSON.parse(out.slice(out.indexOf('{'))).jobs as FioJob[], cfg.options.some((o) => o.startsWith('--verify=')));
}

/** Marks the file no-atime for every opener (ext4, xfs, btrfs): what the header says about atime. */
function markNoAtime(file: string): string {
  try {
    execFileSync('chattr', ['+A', file], { stdio: 'ignore' });
    return 'not updated (chattr +A, for all three tools)';
  } catch {
    return 'kept (chattr +A failed here: fio and blkbench check it on every read, t/io_uring does not)';
  }
}

const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
const us = (ns: number) => (ns / 1000).toFixed(2);

function main(): void {
  const rounds = Number(arg('rounds', '3'));
  const runtime = arg('runtime', '5');
  const size = arg('size', '256m');
  const only = arg('only', '');
  const loops = arg('loops', 'native').split(',') as SideName[];
  const file = arg('file', path.join(os.tmpdir(), `blkbench-vs-fio-${process.pid}.dat`));
  const created = !fs.existsSync(file);
  const tio = arg('t-io_uring', '') !== '';
  const summary: string[] = [];
  try {
    execFileSync('fio', ['--name=layout', `--filename=${file}`, `--size=${size}`, '--rw=read', '--bs=1m', '--invalidate=0', '--output-format=terse'], { stdio: 'ignore' });
    fs.readFileSync(file); // bring it into the page cache
    const atime = created && arg('atime', 'off') === 'off' ? markNoAtime(file) : 'kept (fio and blkbench check it on every read, t/io_uring does not)';
    console.log(`blkbench vs fio: io_uring, ${size} page-cached file, invalidate=0, ${runtime}s per run, ${rounds} alternating rounds, atime ${atime}`);
    console.log(`fio: ${execFileSync('fio', ['--version'], { encoding: 'utf8' }).trim()}, node ${process.version}, ${os.cpus().length} CPUs`);
    // Other work on the machine skews IOPS far more than CPU per request: say how busy it was.
    console.log(`load average before: ${os.loadavg()[0].toFixed(2)}\n`);
    for (const cfg of CONFIGS.filter((c) => only === '' || only.split(',').includes(c.name))) {
      const sides: SideName[] = ['fio', ...loops, ...(tio && cfg.name === 'qd32-batched' ? ['t/io_uring' as const] : [])];
      const got = new Map<SideName, Side[]>(sides.map((s) => [s, []]));
      const ratios = new Map<SideName, number[]>(loops.map((s) => [s, []]));
      const bwRatios = new Map<SideName, number[]>(loops.map((s) => [s, []]));
      const tioRatios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // Rotate who goes first, so drift in the machine's speed does not favour one side.
        const order = sides.map((_, i) => sides[(i + r) % sides.length]);
        const round = new Map<SideName, Side>();
        for (const s of order) round.set(s, run(s, cfg, file, size, runtime));
        for (const s of sides) got.get(s)!.push(round.get(s)!);
        const f = round.get('fio')!;
        for (const s of loops) ratios.get(s)!.push(round.get(s)!.iops / f.iops);
        for (const s of loops) bwRatios.get(s)!.push(round.get(s)!.bw / f.bw);
        if (round.has('t/io_uring')) tioRatios.push(round.get(loops[0])!.iops / round.get('t/io_uring')!.iops);
        console.log(
          `  ${cfg.name} round ${r + 1}: ` +
            sides.map((s) => `${s} ${k(round.get(s)!.iops)} IOPS ${us(round.get(s)!.cpuPerIoNs)} us CPU/IO`).join(', '),
        );
      }
      const m = (s: SideName, key: keyof Side) => median(got.get(s)!.map((x) => x[key]));
      if (tioRatios.length > 0) {
        const r = median(tioRatios);
        // The CPU ratio is the steadier measure on a busy machine: IOPS of one thread follow its share of a CPU.
        const cpu = m(loops[0], 'cpuPerIoNs') / m('t/io_uring', 'cpuPerIoNs');
        console.log(`  ${loops[0]}/t-io_uring: IOPS ${r.toFixed(3)} (rounds ${tioRatios.map((x) => x.toFixed(2)).join(' ')}), CPU per request ${cpu.toFixed(3)}, t/io_uring ${k(m('t/io_uring', 'iops'))} IOPS`);
        summary.push(`| ${cfg.name} | ${loops[0]} vs t/io_uring | ${k(m('t/io_uring', 'iops'))} / ${us(m('t/io_uring', 'cpuPerIoNs'))} | ${k(m(loops[0], 'iops'))} / ${us(m(loops[0], 'cpuPerIoNs'))} | ${r.toFixed(2)} | - | ${cpu.toFixed(2)} |`);
      }
      console.log(`${cfg.name} (${cfg.options.join(' ')}), medians of ${rounds} (load average ${os.loadavg()[0].toFixed(2)}):`);
      for (const s of sides) {
        console.log(
          `  ${s.padEnd(7)}: ${k(m(s, 'iops'))} IOPS, ${us(m(s, 'cpuPerIoNs'))} us CPU per request, lat p50/p99 ${us(m(s, 'p50'))}/${us(m(s, 'p99'))} us`,
        );
      }
      for (const s of loops) {
        const iopsRatio = median(ratios.get(s)!);
        const cpuRatio = m(s, 'cpuPerIoNs') / m('fio', 'cpuPerIoNs');
        const bwRatio = median(bwRatios.get(s)!);
        console.log(`  ${s}/fio: IOPS ${iopsRatio.toFixed(3)} (rounds ${ratios.get(s)!.map((x) => x.toFixed(2)).join(' ')}), bandwidth ${bwRatio.toFixed(3)}, CPU per request ${cpuRatio.toFixed(3)}`);
        summary.push(`| ${cfg.name} | ${s} | ${k(m('fio', 'iops'))} / ${us(m('fio', 'cpuPerIoNs'))} | ${k(m(s, 'iops'))} / ${us(m(s, 'cpuPerIoNs'))} | ${iopsRatio.toFixed(2)} | ${bwRatio.toFixed(2)} | ${cpuRatio.toFixed(2)} |`);
      }
      console.log('');
    }
    console.log('| job | blkbench loop | fio IOPS / µs CPU per IO | blkbench IOPS / µs CPU per IO | IOPS ratio | bandwidth ratio | CPU ratio |');
    console.log('|---|---|---|---|---|---|---|');
    for (const line of summary) console.log(line);
  } finally {
    if (created) fs.rmSync(file, { force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main();
