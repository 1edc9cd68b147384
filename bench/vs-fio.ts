/**
 * blkbench against fio on the same jobs, alternating the two in one run so both see the same machine.
 *
 *   node dist-test/bench/vs-fio.js [--rounds=5] [--runtime=5] [--size=256m] [--file=PATH]
 *
 * Jobs (4 KiB randread on a page-cached file, invalidate=0, one job):
 *   qd32          iodepth=32 with fio's default batching (each request submitted on its own)
 *   qd32-batched  iodepth=32, iodepth_batch_submit=32, iodepth_batch_complete_max=32 on both
 *   qd1           iodepth=1: latency p50/p99
 * Both sides run as child processes with JSON output; IOPS and CPU come from their own reports.
 * CPU per request = (usr_cpu + sys_cpu) × runtime / requests. fio's io_uring engine is its default
 * (no fixedbufs/registerfiles); blkbench's io_uring driver uses fixed buffers through its memory region.
 * Latency: blkbench's clat runs from submission to completion; the matching fio figure is lat
 * (slat + clat), since for a page-cache hit io_uring completes the read inside the submit call.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI } from '../test/support/paths';

interface Side {
  iops: number;
  cpuPerIoNs: number;
  p50: number;
  p99: number;
  fioClatP50?: number;
  fioClatP99?: number;
}

interface Config {
  name: string;
  options: string[];
}

const CONFIGS: Config[] = [
  { name: 'qd32', options: ['--iodepth=32'] },
  { name: 'qd32-batched', options: ['--iodepth=32', '--iodepth_batch_submit=32', '--iodepth_batch_complete_max=32'] },
  { name: 'qd1', options: ['--iodepth=1'] },
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

type FioJob = {
  job_runtime: number;
  usr_cpu: number;
  sys_cpu: number;
  read: {
    iops: number;
    total_ios: number;
    runtime: number;
    clat_ns: { percentile?: Record<string, number> };
    lat_ns: { percentile?: Record<string, number> };
  };
};

function sideFrom(job: FioJob, latKey: 'clat_ns' | 'lat_ns'): Side {
  const r = job.read;
  const cpuShare = (job.usr_cpu + job.sys_cpu) / 100;
  const pct = r[latKey].percentile ?? {};
  return {
    iops: r.iops,
    cpuPerIoNs: r.total_ios > 0 ? (cpuShare * r.runtime * 1e6) / r.total_ios : 0,
    p50: pct['50.000000'] ?? 0,
    p99: pct['99.000000'] ?? 0,
    fioClatP50: latKey === 'lat_ns' ? r.clat_ns.percentile?.['50.000000'] : undefined,
    fioClatP99: latKey === 'lat_ns' ? r.clat_ns.percentile?.['99.000000'] : undefined,
  };
}

function common(file: string, size: string, runtime: string): string[] {
  return [
    '--name=vsfio', `--filename=${file}`, `--size=${size}`, '--rw=randread', '--bs=4k', '--invalidate=0',
    `--runtime=${runtime}`, '--time_based', '--output-format=json',
  ];
}

function runFio(cfg: Config, file: string, size: string, runtime: string): Side {
  const out = execFileSync('fio', [...common(file, size, runtime), '--ioengine=io_uring', '--lat_percentiles=1', ...cfg.options], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return sideFrom(JSON.parse(out.slice(out.indexOf('{'))).jobs[0] as FioJob, 'lat_ns');
}

function runBlkbench(cfg: Config, file: string, size: string, runtime: string): Side {
  const cli = BLKBENCH_CLI;
  const out = execFileSync(process.execPath, [cli, ...common(file, size, runtime), '--ioengine=io_uring', ...cfg.options], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return sideFrom(JSON.parse(out).jobs[0] as FioJob, 'clat_ns');
}

function main(): void {
  const rounds = Number(arg('rounds', '5'));
  const runtime = arg('runtime', '5');
  const size = arg('size', '256m');
  const only = arg('only', '');
  const file = arg('file', path.join(os.tmpdir(), `blkbench-vs-fio-${process.pid}.dat`));
  const created = !fs.existsSync(file);
  try {
    execFileSync('fio', ['--name=layout', `--filename=${file}`, `--size=${size}`, '--rw=read', '--bs=1m', '--invalidate=0', '--output-format=terse'], { stdio: 'ignore' });
    fs.readFileSync(file); // bring it into the page cache
    console.log(`blkbench vs fio: 4 KiB randread, ${size} page-cached file, invalidate=0, ${runtime}s per run, ${rounds} alternating rounds`);
    console.log(`fio: ${execFileSync('fio', ['--version'], { encoding: 'utf8' }).trim()}, node ${process.version}, ${os.cpus().length} CPUs`);
    // Other work on the machine skews IOPS far more than CPU per request: say how busy it was.
    console.log(`load average before: ${os.loadavg()[0].toFixed(2)}\n`);
    for (const cfg of CONFIGS.filter((c) => only === '' || only.split(',').includes(c.name))) {
      const fio: Side[] = [];
      const bb: Side[] = [];
      const ratios: number[] = [];
      for (let r = 0; r < rounds; r++) {
        // Alternate who goes first, so drift in the machine's speed does not favour one side.
        let f: Side;
        let b: Side;
        if (r % 2 === 0) {
          f = runFio(cfg, file, size, runtime);
          b = runBlkbench(cfg, file, size, runtime);
        } else {
          b = runBlkbench(cfg, file, size, runtime);
          f = runFio(cfg, file, size, runtime);
        }
        fio.push(f);
        bb.push(b);
        ratios.push(b.iops / f.iops);
        console.log(
          `  ${cfg.name} round ${r + 1}: fio ${(f.iops / 1000).toFixed(1)}k IOPS (${(f.cpuPerIoNs / 1000).toFixed(2)} us CPU/IO), ` +
            `blkbench ${(b.iops / 1000).toFixed(1)}k IOPS (${(b.cpuPerIoNs / 1000).toFixed(2)} us CPU/IO), ratio ${(b.iops / f.iops).toFixed(3)}`,
        );
      }
      const m = (xs: Side[], k: keyof Side) => median(xs.map((x) => (x[k] as number) ?? 0));
      console.log(`${cfg.name} (${cfg.options.join(' ')}), medians of ${rounds} (load average ${os.loadavg()[0].toFixed(2)}):`);
      console.log(`  fio      : ${(m(fio, 'iops') / 1000).toFixed(1)}k IOPS, ${(m(fio, 'cpuPerIoNs') / 1000).toFixed(3)} us CPU per request`);
      console.log(`  blkbench : ${(m(bb, 'iops') / 1000).toFixed(1)}k IOPS, ${(m(bb, 'cpuPerIoNs') / 1000).toFixed(3)} us CPU per request`);
      console.log(`  IOPS ratio blkbench/fio: ${median(ratios).toFixed(3)} (per-round ratios ${ratios.map((x) => x.toFixed(2)).join(' ')})`);
      if (cfg.name === 'qd1') {
        console.log(`  latency p50 / p99: blkbench clat ${m(bb, 'p50')} / ${m(bb, 'p99')} ns; fio lat ${m(fio, 'p50')} / ${m(fio, 'p99')} ns ` +
          `(fio clat alone ${m(fio, 'fioClatP50')} / ${m(fio, 'fioClatP99')} ns)`);
      }
      console.log('');
    }
  } finally {
    if (created) fs.rmSync(file, { force: true });
  }
}

main();
