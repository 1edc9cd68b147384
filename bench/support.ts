// Shared bits of the benchmarks: the C reference, page-cached test files,
// medians.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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
  const src = path.join(__dirname, '..', '..', 'bench', 'c', `${name}.c`);
  const out = path.join(os.tmpdir(), `blkio-bench-${name}-${process.pid}`);
  execFileSync('gcc', ['-O2', '-o', out, src]);
  return out;
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
