/**
 * The targets of ioengine=exec and ioengine=pmemblk, set up before the job starts: the program's path
 * (PATH searched, as fio's execvp does), argv and output files; the pmemblk pool, opened (or created)
 * once here so that the job's region is checked against its blocks before any request.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pmemblkPoolInfo } from '../lib/bench';
import { PreparedDevice, SetupError, jobRegion } from './device';
import { JobSpec, jobDirections } from './options';
import { execArgv, pmemblkPoolName } from './program-engines';

/** The program's path: one with a slash as it is, else the first executable file of that name in PATH (or none). */
function findProgram(name: string): string | undefined {
  const runnable = (p: string) => {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) return runnable(name) ? name : undefined;
  return (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').map((d) => path.join(d || '.', name)).find(runnable);
}

/**
 * ioengine=exec: no I/O target and no end but runtime (a region of 2^50 bytes to draw request offsets
 * from). A program that cannot be run gets a note; the job still runs its time, as fio's does.
 */
export function execDevice(spec: JobSpec, log: (line: string) => void): PreparedDevice {
  const argv = execArgv(spec);
  const found = findProgram(argv[0]);
  if (!found) log(`${spec.name}: note: cannot execute '${argv[0]}' (not found or not executable): the job runs its time without it, as fio's does`);
  const region = 2 ** 50;
  const out = spec.stdRedirect ? { stdout: `${spec.name}.stdout`, stderr: `${spec.name}.stderr` } : {};
  const what = argv.join(' ');
  log(out.stdout ? `${spec.name} : Saving output of ${what} : stdout=${out.stdout} stderr=${out.stderr}` : `${spec.name} : Running ${what}`);
  return {
    blkio: undefined, regionStart: 0, regionLen: region, ioLimit: region, capacity: region, slotStride: 0, memoryLen: 0,
    exec: { program: found ?? argv[0], argv, ...out, graceNs: spec.graceTime * 1e9 },
  };
}

/** ioengine=pmemblk: the pool's blocks are the job's capacity; block sizes and offsets must be on them. */
export function pmemblkDevice(spec: JobSpec): PreparedDevice {
  const name = pmemblkPoolName(spec);
  const pool = { path: name.path, bsize: name.bsize, poolSize: name.poolSize, create: true };
  let info: { bsize: number; nblocks: number };
  try {
    info = pmemblkPoolInfo(pool);
  } catch (e) {
    throw new SetupError(`${spec.name}: ${(e as Error).message}`);
  }
  for (const d of jobDirections(spec.rw)) {
    const bad = spec.bs[d].sizes.find((b) => b % info.bsize !== 0);
    if (bad !== undefined) throw new SetupError(`${spec.name}: block size ${bad} is not a multiple of the pmemblk pool's block size ${info.bsize}`);
  }
  const capacity = info.bsize * info.nblocks;
  const region = jobRegion({ ...spec, path: name.path }, capacity, 1);
  if (region.offset % info.bsize !== 0 || spec.offsetIncrement % info.bsize !== 0) {
    throw new SetupError(`${spec.name}: offset ${region.offset} (offset_increment ${spec.offsetIncrement}) is not on the pmemblk pool's ${info.bsize}-byte blocks`);
  }
  return {
    blkio: undefined, regionStart: region.offset, regionLen: region.size, ioLimit: spec.ioSize ?? region.size, capacity, slotStride: 0, memoryLen: 0,
    pmemblk: pool,
  };
}
