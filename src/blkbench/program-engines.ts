/**
 * The options of the engines that run something of another program's on the native loop: fio's exec
 * engine (a program of the job's, run for the job's runtime) and pmemblk engine (a libpmemblk pool,
 * named `path,bsize,fsize_mib`). What they need and what they refuse, with fio's rules.
 */
import * as path from 'node:path';
import type { JobSpec, RawOptions } from './options';
import { refuseWhatNeedsADevice } from './options';
import { EXEC_ENGINE, PMEMBLK_ENGINE } from './option-values';
import { OptionError } from './units';

/** The exec engine's own options. */
const EXEC_OPTIONS = ['program', 'arguments', 'grace_time', 'std_redirect'];

/** fio's exec engine looks at its program every 50 ms, and pauses as long again between requests. */
const EXEC_POLL_NS = 50e6;

/** ioengine=exec's and ioengine=pmemblk's checks; exec's options need ioengine=exec. */
export function checkProgramEngines(spec: JobSpec, raw: RawOptions): void {
  if (spec.driver === EXEC_ENGINE) setUpExecEngine(spec);
  else for (const k of EXEC_OPTIONS) if (raw.has(k)) throw new OptionError(`option '${k}' needs ioengine=exec`);
  if (spec.driver === PMEMBLK_ENGINE) checkPmemblkEngine(spec);
}

/**
 * ioengine=exec, as fio's: one request starts the program, every later one waits 50 ms, and the
 * job thinks another 50 ms after each (fio's engine sets both), one request at a time, until runtime.
 * blkbench's thinktime runs from a request's issue, so it is the whole 100 ms period.
 */
function setUpExecEngine(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`ioengine=exec: ${what}`);
  if (spec.program === undefined || spec.program.trim() === '') throw no(`needs 'program' (the program to run), as fio does`);
  if (spec.runtimeNs === 0) throw no(`needs 'runtime' (how long the program runs)`);
  if (spec.path !== undefined) throw no(`takes no 'filename': the program is the job's target`);
  refuseWhatNeedsADevice(spec, no);
  spec.thinktimeNs = 2 * EXEC_POLL_NS;
  spec.thinktimeSpinNs = 0;
  spec.thinktimeBlocks = 1;
  spec.iodepth = 1;
}

/**
 * The program's argv, as fio's engine builds it: "program arguments" with %r (the runtime in whole
 * seconds) and %n (the job's name) expanded, split at spaces (no quoting).
 */
export function execArgv(spec: JobSpec): string[] {
  const args = (spec.execArguments ?? '').replace(/%r/g, String(Math.floor(spec.runtimeNs / 1e9))).replace(/%n/g, spec.name);
  return `${spec.program} ${args}`.split(' ').filter((w) => w !== '');
}

/** A pmemblk filename: the pool's path, and the block size and file size to create it with (0: open only). */
export interface PmemblkName {
  path: string;
  bsize: number;
  poolSize: number;
}

/**
 * fio's pmemblk filename: `path` (an existing pool) or `path,bsize,fsize_mib` (created with bsize-byte
 * blocks in a file of fsize_mib MiB if it does not exist). Anything else after a comma is an error
 * here (fio would take the whole text as a path).
 */
export function parsePmemblkName(filename: string): PmemblkName {
  const parts = filename.split(',');
  if (parts.length === 1) return { path: filename, bsize: 0, poolSize: 0 };
  const [bsize, mib] = parts.slice(-2).map((p) => (/^\d+$/.test(p.trim()) ? Number(p.trim()) : NaN));
  const path = parts.slice(0, -2).join(',');
  if (parts.length < 3 || path === '' || !(bsize > 0) || !(mib > 0) || !Number.isSafeInteger(mib * 2 ** 20)) {
    throw new OptionError(`ioengine=pmemblk: bad filename '${filename}': expected path or path,bsize,fsize_mib (a block size in bytes and a pool size in MiB, both positive integers)`);
  }
  return { path, bsize, poolSize: mib * 2 ** 20 };
}

/** The pool's file: a relative path is in `directory`, as fio's file names are. */
export function pmemblkPoolName(spec: JobSpec): PmemblkName {
  const name = parsePmemblkName(spec.path!);
  return spec.directory && !path.isAbsolute(name.path) ? { ...name, path: path.join(spec.directory, name.path) } : name;
}

/**
 * ioengine=pmemblk, as fio's: a pool named by filename; requests on the pool's blocks. It is always
 * direct (a note, as fio's) and one request at a time per clone is all it does at once.
 */
function checkPmemblkEngine(spec: JobSpec): void {
  const no = (what: string) => new OptionError(`ioengine=pmemblk: ${what}`);
  if (spec.path === undefined) throw no(`needs 'filename' (path,bsize,fsize_mib: the pool, its block size in bytes and its size in MiB)`);
  parsePmemblkName(spec.path);
  if (spec.zonemode !== 'none' || spec.switchTo !== undefined || spec.waitMode === 'eventfd' || spec.jobLoop === 'js') {
    refuseWhatNeedsADevice({ ...spec, verify: 'none' }, no);
  }
  if (!spec.direct) spec.notes.push('ioengine=pmemblk: direct=0, but pmemblk is always direct');
}
