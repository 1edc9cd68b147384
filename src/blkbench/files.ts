/**
 * The files of io_uring jobs, laid out as fio does:
 * - no `filename`: fio's `filename_format` ($jobname.$jobnum.$filenum) in `directory` (or the
 *   current directory), one file per clone (numjobs);
 * - a missing or short file is created or extended to offset + size; jobs that read get data in it,
 *   write-only jobs only get space (`fallocate=` mode, then the size), so a write job never writes
 *   more than it issues;
 * - before writing anything, the file system must have room for what is laid out;
 * - `create_on_open`: the file is created empty and sized, with no layout or preallocation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CPU_ENGINE, FILE_ENGINES, FILE_OP_ENGINES, JobSpec, NET_ENGINE, NULL_ENGINE, jobDirections } from './options';
import { FallocateMode } from './option-values';
import { Prng } from './random';
import { humanNumber } from './units';
import { EXEC_ENGINE, PMEMBLK_ENGINE } from './option-values';
import { pmemblkPoolName } from './program-engines';

/** A problem with a job's file, found before I/O started. */
export class FileSetupError extends Error {
  override name = 'FileSetupError';
}

/** fio's file name for clone `jobnum` of a job without a filename. */
export function defaultFileName(spec: JobSpec, jobnum: number, filenum = 0): string {
  const name = spec.filenameFormat
    .replace(/\$jobname/g, spec.name)
    .replace(/\$jobnum/g, String(jobnum))
    .replace(/\$filenum/g, String(filenum));
  return spec.directory ? path.join(spec.directory, name) : name;
}

/** Jobs whose target is a file blkbench names, lays out and unlinks: io_uring's, and the file engines' (falloc, ftruncate). */
export function onFiles(spec: JobSpec): boolean {
  return spec.driver === 'io_uring' || spec.driver in FILE_ENGINES;
}

/**
 * Gives every io_uring job a path: a job without a filename becomes one job per clone, each with its
 * own file, as fio gives each clone its own file. A relative filename goes into `directory`.
 */
export function assignFiles(specs: JobSpec[]): JobSpec[] {
  return specs.flatMap((spec) => {
    if (spec.driver === EXEC_ENGINE || spec.driver === PMEMBLK_ENGINE) return [spec]; // a program; a pool the clones share (program-devices.ts)
    if (spec.path !== undefined) {
      if (spec.directory && onFiles(spec) && !path.isAbsolute(spec.path)) {
        return [{ ...spec, path: path.join(spec.directory, spec.path) }];
      }
      return [spec];
    }
    // No file: fio's null and cpuio engines only name one; the file-operation engines have many (device.ts);
    // a net job's "file" is its peer (a TCP listener has none).
    if (spec.driver === NULL_ENGINE || spec.driver === CPU_ENGINE || spec.driver in FILE_OP_ENGINES || spec.driver === NET_ENGINE) return [spec];
    if (!onFiles(spec)) throw new FileSetupError(`job '${spec.name}': driver '${spec.driver}' needs a 'filename'`);
    return Array.from({ length: spec.numjobs }, (_, i) => ({
      ...spec,
      numjobs: 1,
      path: defaultFileName(spec, i),
      // Each clone is a job of its own now: its offset_increment becomes its offset.
      offset: 'bytes' in spec.offset ? { bytes: spec.offset.bytes + i * spec.offsetIncrement } : spec.offset,
      offsetIncrement: 0,
    }));
  });
}

/** How many bytes the job's file must have: offset + size (size defaults to filesize). */
function neededBytes(spec: JobSpec): number | undefined {
  const size = spec.size ?? (spec.filesize !== undefined ? { bytes: spec.filesize } : undefined);
  if (size === undefined || !('bytes' in size)) return undefined;
  const offset = ('bytes' in spec.offset ? spec.offset.bytes : 0) + (spec.numjobs - 1) * spec.offsetIncrement;
  return Math.max(offset + size.bytes, spec.filesize ?? 0);
}

const readsData = (spec: JobSpec) => jobDirections(spec.rw).some((d) => d === 'read') || spec.verify !== 'none';

/**
 * Creates or extends an io_uring job's regular file so the job's region exists. The data is written a
 * chunk at a time, yielding to the event loop in between (a fleet server keeps answering, progress
 * keeps printing), and stopped() ends it early with an error (a signal during a long layout).
 */
export async function layOutJobFile(spec: JobSpec, log: (line: string) => void, stopped: () => boolean = () => false): Promise<void> {
  if (!onFiles(spec) || spec.path === undefined) return;
  const file = spec.path;
  let have = 0;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return; // a block device or similar: its size is its own
    have = st.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError(spec, file, e as Error);
    const dir = path.dirname(path.resolve(file));
    if (!fs.existsSync(dir)) throw new FileSetupError(`job '${spec.name}': cannot create '${file}': directory '${dir}' does not exist`);
  }
  const need = neededBytes(spec);
  if (need === undefined) {
    if (have === 0) throw new FileSetupError(`job '${spec.name}': file '${file}' does not exist or is empty; give 'size' in bytes to create it`);
    return;
  }
  if (have >= need) return;
  const withData = readsData(spec) && !spec.createOnOpen;
  checkRoom(spec, file, need - have);
  if (!spec.createOnOpen) log(`${spec.name}: Laying out IO file (1 file / ${humanNumber(need, 1024, 'B')})`);
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (e) {
    throw fileError(spec, file, e as Error);
  }
  try {
    if (!spec.createOnOpen) preallocate(spec, fh.fd, have, need - have);
    if (withData) await fillWithData(spec, fh, have, need, stopped);
    await fh.truncate(need);
  } catch (e) {
    throw e instanceof FileSetupError ? e : fileError(spec, file, e as Error);
  } finally {
    await fh.close();
  }
}

function fileError(spec: JobSpec, file: string, e: Error): FileSetupError {
  return new FileSetupError(`job '${spec.name}': file '${file}': ${e.message}`);
}

/** Refuses before laying out when the file system cannot hold the new part of the file. */
function checkRoom(spec: JobSpec, file: string, more: number): void {
  let free: number;
  try {
    const st = fs.statfsSync(path.dirname(path.resolve(file)));
    free = st.bavail * st.bsize;
  } catch {
    return; // no statfs here: the layout itself will report ENOSPC
  }
  if (more > free) {
    throw new FileSetupError(
      `job '${spec.name}': file '${file}' needs ${humanNumber(more, 1024, 'B')} more, ` +
        `but its file system has ${humanNumber(free, 1024, 'B')} free`,
    );
  }
}

type Fallocate = (fd: number, mode: number, offset: number, len: number) => number;
type PosixFallocate = (fd: number, offset: number, len: number) => number;
let libc: { fallocate: Fallocate; posixFallocate: PosixFallocate; errno: () => number } | undefined;

function loadLibc(): NonNullable<typeof libc> {
  if (!libc) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const koffi = require('koffi') as {
      load(lib: string): { func(sig: string): (...a: number[]) => number };
      errno(): number;
    };
    const lib = koffi.load('libc.so.6');
    libc = {
      fallocate: lib.func('int fallocate(int fd, int mode, int64_t offset, int64_t len)'),
      posixFallocate: lib.func('int posix_fallocate(int fd, int64_t offset, int64_t len)'),
      errno: () => koffi.errno(),
    };
  }
  return libc;
}

const FALLOC_FL_KEEP_SIZE = 1;
const ENOSPC = 28;

/** fio's fallocate= modes; native falls back to nothing where the file system cannot. */
function preallocate(spec: JobSpec, fd: number, from: number, len: number): void {
  const mode: FallocateMode = spec.fallocate;
  if (mode === 'none' || mode === 'truncate' || len <= 0) return;
  const c = loadLibc();
  let err = 0;
  if (mode === 'posix') err = c.posixFallocate(fd, from, len);
  else if (c.fallocate(fd, mode === 'keep' ? FALLOC_FL_KEEP_SIZE : 0, from, len) !== 0) err = c.errno();
  if (err === ENOSPC) {
    throw new FileSetupError(`job '${spec.name}': fallocate=${mode} of ${humanNumber(len, 1024, 'B')} on '${spec.path}': no space left on device`);
  }
  // Other failures (EOPNOTSUPP on tmpfs for some modes): as fio, go on without preallocation.
}

async function fillWithData(spec: JobSpec, fh: fs.promises.FileHandle, from: number, to: number, stopped: () => boolean): Promise<void> {
  const chunk = Buffer.alloc(Math.min(to - from, 1 << 20));
  const rng = new Prng(spec.randseed, 0xf11e);
  const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >>> 2);
  for (let pos = from; pos < to; pos += chunk.length) {
    if (stopped()) throw new FileSetupError(`job '${spec.name}': laying out '${spec.path}' stopped at ${humanNumber(pos, 1024, 'B')} of ${humanNumber(to, 1024, 'B')}`);
    for (let i = 0; i < words.length; i++) words[i] = rng.nextU32();
    await fh.write(chunk, 0, Math.min(chunk.length, to - pos), pos);
  }
}

/** unlink=1: removes the job's file after the run. */
export function unlinkJobFile(spec: JobSpec): void {
  if (spec.unlink && spec.driver === PMEMBLK_ENGINE) fs.rmSync(pmemblkPoolName(spec).path, { force: true }); // without ',bsize,fsize_mib'
  if (spec.unlink && onFiles(spec) && spec.path !== undefined) fs.rmSync(spec.path, { force: true });
}
