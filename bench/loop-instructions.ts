/**
 * User-space instructions per request on the native job loop's thread, counted by callgrind: a measure
 * that stays the same from run to run where IOPS on a shared machine do not. Each job runs twice under
 * `valgrind --tool=callgrind --separate-threads=yes`, for N and 2N requests on a page-cached 64 MiB file
 * (N = its 4 KiB blocks, so both runs do whole passes of the random map). The difference of the loop
 * thread's counts, over N, is what one request costs, with the start-up and the result left out.
 * With the addon built with debug info (`CXXFLAGS=-g npx node-gyp rebuild`; the code is the same),
 * inlined code is told apart by its source file, so the counts are also split by layer.
 *
 *   node dist-test/bench/loop-instructions.js [--only=qd1,qd32-batched,zipf]
 *
 * Needs valgrind (Debian package valgrind), which only this script uses.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { create } from '../src/lib';
import { JobLoopSpec, runJobLoop } from '../src/lib/bench';

const FILE_SIZE = 64 << 20;
const BLOCKS = FILE_SIZE / 4096;

const JOBS: Record<string, Partial<JobLoopSpec>> = {
  qd1: { iodepth: 1 },
  'qd32-batched': { iodepth: 32, iodepthBatchSubmit: 32, iodepthBatchCompleteMax: 32 },
  zipf: { iodepth: 32, randomDistribution: { kind: 'zipf', param: 1.2 } },
};

function arg(name: string): string | undefined {
  return process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** In the child: one job loop of n 4 KiB random reads, under callgrind. */
async function child(file: string, job: string, n: number): Promise<void> {
  const b = create('io_uring');
  b.setStr('path', file);
  b.connect();
  b.start();
  const r = await runJobLoop(b.getQueue(0)!, { rw: 'randread', regionLength: FILE_SIZE, numberIos: n, timeBased: true, runtimeNs: 3600e9, ...JOBS[job] });
  b.destroy();
  if (r.error || r.read.ios !== n) throw new Error(`job ${job}: ${r.read.ios} of ${n} requests, error ${r.error} ${r.errorMessage ?? ''}`);
}

/** Where a function's (or inlined piece's) instructions belong; callgrind_annotate names it file:function. */
function layer(entry: string): string {
  const m = /^(\S*?):(.*)$/.exec(entry);
  const [file, fn] = m ? [m[1], m[2]] : ['', entry];
  if (file.includes('latency.h')) return 'job loop: histograms and sums (slat, clat, lat)';
  if (/offsets\.|prng\.h/.test(file) || /OffsetGenerator|DistributionOffsets|pow|ieee754|umodti3|floor/.test(fn))
    return 'job loop: offsets (random map or distribution, PRNG)';
  if (/clock_gettime|^syscall|memset|memcpy/.test(fn)) return 'libc (clock_gettime, syscall, memset)';
  if (file.includes('/io_uring/') || /RingQueue|UringQueue|Ring::/.test(fn)) return 'io_uring driver (enqueue, prepare, reap, finish, SQ/CQ, enter)';
  if (file.includes('/core/') || (!file.includes('bench/') && /Queue::/.test(fn) && !/JobLoop/.test(fn)))
    return 'core Queue (read, validate, do_io, reap_into, pool)';
  if (file.includes('bench/') || /JobLoop/.test(fn)) return 'job loop: issue, submit, reap, complete, run';
  return `other: ${fn}`;
}

/** The loop thread's instructions in one callgrind run: total and per layer. */
function loopThread(dir: string): { total: number; layers: Map<string, number> } {
  const files = fs.readdirSync(dir).map((f) => path.join(dir, f));
  const loop = files.find((f) => fs.readFileSync(f, 'latin1').includes('JobLoop::run'));
  if (!loop) throw new Error(`no callgrind output of the loop thread in ${dir}`);
  const out = execFileSync('callgrind_annotate', ['--threshold=100', '--auto=no', loop], { encoding: 'utf8', maxBuffer: 64 << 20 });
  let total = 0;
  const layers = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*?)(?:\s+\[.*\])?$/.exec(line);
    if (!m) continue;
    const count = Number(m[1].replace(/,/g, ''));
    if (m[2].includes('PROGRAM TOTALS')) total = count;
    else layers.set(layer(m[2]), (layers.get(layer(m[2])) ?? 0) + count);
  }
  return { total, layers };
}

function callgrind(file: string, job: string, n: number, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const args = ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${dir}/out.%p`, process.execPath, __filename, '--child', `--file=${file}`, `--job=${job}`, `--n=${n}`];
  return new Promise((resolve, reject) => {
    const p = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    p.on('error', (e) => reject(new Error(`valgrind could not run (${e.message}): install it (apt-get install valgrind)`)));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`valgrind ${job} n=${n} exited ${code}: ${err.slice(-2000)}`))));
  });
}

async function main(): Promise<void> {
  if (process.argv.includes('--child')) return child(arg('file')!, arg('job')!, Number(arg('n')));
  const jobs = (arg('only') ?? Object.keys(JOBS).join(',')).split(',');
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'loop-instructions-'));
  try {
    const file = path.join(scratch, 'data');
    const data = Buffer.alloc(FILE_SIZE);
    for (let i = 0; i < FILE_SIZE; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
    fs.writeFileSync(file, data);
    console.log(`instructions per request on the native loop's thread (4 KiB randread on a page-cached 64 MiB file; ${BLOCKS} and ${2 * BLOCKS} requests, difference over ${BLOCKS})`);
    for (const job of jobs) {
      if (!JOBS[job]) throw new Error(`unknown job ${job}: one of ${Object.keys(JOBS).join(', ')}`);
      const [small, big] = [path.join(scratch, `${job}-1`), path.join(scratch, `${job}-2`)];
      await Promise.all([callgrind(file, job, BLOCKS, small), callgrind(file, job, 2 * BLOCKS, big)]);
      const a = loopThread(small);
      const b = loopThread(big);
      console.log(`${job}: ${((b.total - a.total) / BLOCKS).toFixed(0)}`);
      const rows = [...new Set([...a.layers.keys(), ...b.layers.keys()])]
        .map((k) => [k, ((b.layers.get(k) ?? 0) - (a.layers.get(k) ?? 0)) / BLOCKS] as const)
        .filter(([, v]) => Math.abs(v) >= 0.5)
        .sort((x, y) => y[1] - x[1]);
      for (const [k, v] of rows) console.log(`  ${v.toFixed(0).padStart(5)}  ${k}`);
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
