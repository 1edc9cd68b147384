// Shared bits of the benchmarks: the C reference, page-cached test files,
// medians.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { create, CreateOptions, createCompletions } from '../src/lib';
import { REPO_ROOT } from '../test/support/paths';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** A file of random data, read once so it sits in the page cache. */
export function pageCachedFile(bytes: number): { file: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-bench-'));
  const file = path.join(dir, 'bench.img');
  const fd = fs.openSync(file, 'w');
  const chunk = crypto.randomBytes(1 << 20);
  for (let done = 0; done < bytes; done += chunk.length) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
  fs.readFileSync(file); // warm the page cache
  return { file, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Builds a C reference from bench/c/ (gcc is on every machine here). */
export function buildC(name: string): string {
  const src = path.join(REPO_ROOT, 'bench', 'c', `${name}.c`);
  const out = path.join(os.tmpdir(), `blkio-bench-${name}-${process.pid}`);
  execFileSync('gcc', ['-O2', '-o', out, src]);
  return out;
}

/** Runs bench/c/uring_randread (from buildC) for the given time and depth. */
export function cReferenceLoop(binary: string, file: string, seconds: number, queueDepth: number): Sample {
  const out = execFileSync(binary, [file, String(seconds), String(queueDepth)], { encoding: 'utf8' });
  const [requests, secs, user, system] = out.trim().split(' ').map(Number);
  return { requests, seconds: secs, cpuSeconds: user + system, userSeconds: user };
}

export interface Sample {
  requests: number;
  seconds: number;
  cpuSeconds: number;
  /** User-space part of cpuSeconds, where a library's own cost shows. */
  userSeconds?: number;
}

export function nsPerRequest(s: Sample): number {
  return (s.seconds / s.requests) * 1e9;
}

export function cpuNsPerRequest(s: Sample): number {
  return (s.cpuSeconds / s.requests) * 1e9;
}

export function userNsPerRequest(s: Sample): number {
  return ((s.userSeconds ?? NaN) / s.requests) * 1e9;
}

/** utime + stime of another process (e.g. a storage daemon), in seconds. */
export function processCpu(pid: number): number {
  if (pid < 0) return 0;
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

export interface RandomReadJob {
  driver: string;
  path: string;
  /** Device or file size in bytes: offsets are drawn below it. */
  size: number;
  seconds: number;
  /** Stop earlier after this many requests. */
  maxRequests?: number;
  /** doIo's min_completions: 1 refills each slot at once; QD/2 batches. */
  minComplete?: number;
  queueDepth?: number;
  blockSize?: number;
  createOptions?: CreateOptions;
  /** Properties to set before connect besides path (e.g. direct). */
  properties?: Record<string, boolean>;
  /** A daemon whose CPU time to count too. */
  daemonPid?: number;
}

export interface RandomReadSample extends Sample {
  daemonCpuSeconds: number;
}

/**
 * The loop every benchmark here measures: a queue kept queueDepth deep with
 * random block reads into views of one mapped region, each completed slot
 * refilled at once; the same shape as bench/c/uring_randread.c.
 */
export function randomReadLoop(job: RandomReadJob): RandomReadSample {
  const qd = job.queueDepth ?? 32;
  const bs = job.blockSize ?? 4096;
  const b = create(job.driver, job.createOptions);
  b.setStr('path', job.path);
  for (const [name, value] of Object.entries(job.properties ?? {})) b.setBool(name, value);
  b.connect();
  b.start();
  const q = b.getQueue(0)!;
  const region = b.allocMemRegion(qd * bs);
  b.mapMemRegion(region);
  const views = Array.from({ length: qd }, (_, i) => new Uint8Array(region.buffer, i * bs, bs));
  const blocks = Math.floor(job.size / bs);
  const completions = createCompletions(qd);
  let rng = 0x2545f491;
  const next = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return ((rng >>> 0) % blocks) * bs;
  };
  for (let slot = 0; slot < qd; slot++) q.read(next(), views[slot], slot);
  const maxRequests = job.maxRequests ?? Infinity;
  const minComplete = job.minComplete ?? 1;
  let done = 0;
  const daemon0 = processCpu(job.daemonPid ?? -1);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const end = t0 + BigInt(Math.round(job.seconds * 1e9));
  for (;;) {
    const n = q.doIo(completions, minComplete, qd);
    for (let i = 0; i < n; i++) {
      const c = completions[i];
      if (c.ret !== 0) throw new Error(`${job.driver}: read failed: ${c.ret} ${c.errorMsg}`);
      const slot = c.userData as number;
      q.read(next(), views[slot], slot);
    }
    done += n;
    if ((done & 255) < n && (process.hrtime.bigint() >= end || done >= maxRequests)) break;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const daemonCpuSeconds = processCpu(job.daemonPid ?? -1) - daemon0;
  q.doIo(completions, qd, qd); // drain before destroy
  b.destroy();
  return {
    requests: done,
    seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    userSeconds: cpu.user / 1e6,
    daemonCpuSeconds,
  };
}

/** Runs a benchmark's async main: a failure is printed and the process exits with 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
