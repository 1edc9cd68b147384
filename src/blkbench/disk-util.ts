/**
 * fio's disk_util: for each disk under the jobs' targets (a block device itself, or the disk holding a
 * regular file, the whole disk for a partition, as fio reports "vda"), the change in
 * /sys/block/<disk>/stat over the run: requests, merges, ticks, time in queue, and utilization
 * (busy time over the run's wall time).
 */
import { onFiles } from './files';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JobSpec } from './options';
import { DiskLine } from './report-terse';

interface DiskStat {
  name: string;
  statFile: string;
  /** The fields of the stat file (see Documentation/block/stat.rst). */
  start: number[];
}

/** The disk under a job's target, or undefined (a socket, tmpfs, a vDPA device). */
function diskOf(spec: JobSpec): { name: string; statFile: string } | undefined {
  if (!onFiles(spec)) return undefined;
  // A job without a filename gets one in `directory` (or here): its disk is that directory's.
  const target = spec.path ?? spec.directory ?? '.';
  let st: fs.Stats;
  try {
    st = fs.statSync(target);
  } catch {
    return undefined;
  }
  const dev = st.isBlockDevice() ? st.rdev : st.dev;
  const major = Math.floor(dev / 256) & 0xfff; // Linux's new_encode_dev layout, as Node reports dev
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  let dir: string;
  try {
    dir = fs.realpathSync(`/sys/dev/block/${major}:${minor}`);
  } catch {
    return undefined; // no block device (tmpfs, overlay)
  }
  if (fs.existsSync(path.join(dir, 'partition'))) dir = path.dirname(dir);
  const statFile = path.join(dir, 'stat');
  return fs.existsSync(statFile) ? { name: path.basename(dir), statFile } : undefined;
}

function readStat(file: string): number[] {
  return fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number);
}

/** Takes the starting counters of every distinct disk under jobs that keep disk_util on. */
export function startDiskUtil(specs: JobSpec[]): DiskStat[] {
  const disks = new Map<string, DiskStat>();
  for (const spec of specs) {
    if (!spec.diskUtil) continue;
    const d = diskOf(spec);
    if (d && !disks.has(d.name)) disks.set(d.name, { ...d, start: readStat(d.statFile) });
  }
  return [...disks.values()];
}

/** The change since startDiskUtil, over `elapsedMs` of wall time. */
export function finishDiskUtil(disks: DiskStat[], elapsedMs: number): DiskLine[] {
  return disks.map((d) => {
    const now = readStat(d.statFile);
    const delta = (i: number) => Math.max(0, (now[i] ?? 0) - (d.start[i] ?? 0));
    return {
      name: d.name,
      readIos: delta(0), readMerges: delta(1), readTicks: delta(3),
      writeIos: delta(4), writeMerges: delta(5), writeTicks: delta(7),
      inQueue: delta(10),
      utilPercent: elapsedMs > 0 ? Math.min(100, (100 * delta(9)) / elapsedMs) : 0,
    };
  });
}

/** fio's JSON disk_util entries. */
export function diskUtilJson(lines: DiskLine[]): Array<Record<string, unknown>> {
  return lines.map((l) => ({
    name: l.name, read_ios: l.readIos, write_ios: l.writeIos, read_merges: l.readMerges, write_merges: l.writeMerges,
    read_ticks: l.readTicks, write_ticks: l.writeTicks, in_queue: l.inQueue, util: l.utilPercent,
  }));
}

/** fio's "Disk stats (read/write):" block of the normal report. */
export function diskUtilText(lines: DiskLine[]): string {
  if (lines.length === 0) return '';
  return ['\nDisk stats (read/write):', ...lines.map((l) =>
    `  ${l.name}: ios=${l.readIos}/${l.writeIos}, merge=${l.readMerges}/${l.writeMerges}, ` +
    `ticks=${l.readTicks}/${l.writeTicks}, in_queue=${l.inQueue}, util=${l.utilPercent.toFixed(2)}%`)].join('\n') + '\n';
}
