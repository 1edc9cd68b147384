#!/usr/bin/env node
/**
 * blkbench: fio-style jobs on the blkio library. `blkbench` alone runs a short 4 KiB random-read job
 * on a temporary file; `blkbench job.fio`, `blkbench --rw=… --filename=…`, `blkbench compare …`.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, OutputFormat, USAGE, parseCommandLine } from './args';
import { CompareRow, compareRow, compareTable, specsForTarget } from './compare';
import { JobSpec } from './options';
import { ProgressLine, progressWanted } from './progress';
import { BLKBENCH_VERSION, fioJsonReport } from './report-json';
import { normalReport, startBanner } from './report-normal';
import { JobResult, mergeResults } from './results';
import { compareSvg } from './svg';
import { OptionError, fioSize } from './units';
import { reportedResults } from './groups';
import { STOP } from './loop';
import { terseReport } from './report-terse';
import { fleetMode, runClient, runServer } from './fleet/cli';
import { diskUtilJson, diskUtilText, finishDiskUtil, startDiskUtil } from './disk-util';

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WritableStream;
}

export async function main(argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let cmd: Command;
  try {
    const fleet = fleetMode(argv);
    if (fleet === 'server') return await runServer(argv, io);
    if (fleet === 'client') return await runClient(argv, io);
    cmd = parseCommandLine(argv);
  } catch (e) {
    if (e instanceof OptionError) {
      for (const line of e.message.split('\n')) io.stderr.write(`blkbench: ${line}\n`);
      return 1;
    }
    throw e;
  }
  if (cmd.kind === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  if (cmd.kind === 'version') {
    io.stdout.write(`${BLKBENCH_VERSION}\n`);
    return 0;
  }
  if (cmd.kind === 'parse-only') return 0;
  if (cmd.kind === 'showcmd') {
    for (const line of cmd.showcmd) io.stdout.write(`${line}\n`);
    return 0;
  }
  let tempFile: string | undefined;
  const removeTemp = () => {
    if (tempFile) fs.rmSync(tempFile, { force: true });
  };
  // SIGINT/SIGTERM, as fio: say so, stop every job (they finish their in-flight requests), report what
  // was measured, exit 128. A second signal exits at once.
  const stop = new Int32Array(new SharedArrayBuffer(4));
  let signalled = 0;
  const onSignal = (name: NodeJS.Signals) => {
    const number = name === 'SIGINT' ? 2 : 15;
    if (signalled !== 0) {
      removeTemp();
      process.exit(128);
    }
    signalled = number;
    activeProgress?.clear(); // restore the terminal line before saying so
    io.stderr.write(`\nblkbench: terminating on signal ${number}\n`);
    Atomics.store(stop, 0, STOP.stop);
    Atomics.notify(stop, 0); // wakes jobs sleeping in startdelay, thinktime or a rate pause
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  cmd.stop = stop;
  try {
    if (cmd.defaultJob) {
      tempFile = path.join(os.tmpdir(), `blkbench-${process.pid}-${Date.now()}.dat`);
      cmd.jobs = cmd.jobs.map((j) => ({ ...j, path: tempFile, echo: { ...j.echo, filename: tempFile! } }));
      if (!cmd.formats.some((f) => f.startsWith('json'))) {
        io.stdout.write(`blkbench: no job given: running ${describeDefault(cmd.jobs[0])} on a temporary file\n`);
      }
    }
    const code = cmd.kind === 'compare' ? await runCompare(cmd, io) : await runCommand(cmd, io);
    return signalled !== 0 ? 128 : code;
  } catch (e) {
    io.stderr.write(`blkbench: ${(e as Error).message}\n`);
    return signalled !== 0 ? 128 : 1; // e.g. a layout the signal stopped
  } finally {
    removeTemp();
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function describeDefault(spec: JobSpec): string {
  return Object.entries(spec.echo)
    .filter(([k]) => k !== 'filename')
    .map(([k, v]) => `--${k}=${v}`)
    .concat(spec.timeBased ? ['--time_based'] : [])
    .join(' ');
}

const wantsHuman = (formats: OutputFormat[]) => formats.includes('normal');

/** The progress line being drawn, so a signal can erase it before printing. */
let activeProgress: ProgressLine | undefined;

async function runSpecs(specs: JobSpec[], cmd: Command, io: Io): Promise<JobResult[]> {
  const human = wantsHuman(cmd.formats) && cmd.output === undefined;
  const clones = specs.flatMap((s) => new Array<JobSpec>(s.numjobs).fill(s));
  const progress = progressWanted(io.stdout, cmd.formats) ? new ProgressLine(clones, io.stdout) : undefined;
  activeProgress = progress;
  if (human) io.stdout.write(startBanner(specs));
  // One note per distinct reason (an engine that runs on io_uring, an option accepted without effect).
  for (const note of new Set(specs.flatMap((s) => s.notes))) io.stderr.write(`blkbench: note: ${note}\n`);
  // Loaded only to run jobs, so --help, --version and option errors work without the native addon.
  const { runJobs } = await import('./runner');
  try {
    return await runJobs(specs, {
      log: (line) => (human ? io.stdout.write(`${line}\n`) : undefined),
      onProgress: progress ? (p) => progress.update(p) : undefined,
      stop: cmd.stop,
    });
  } finally {
    progress?.clear();
    activeProgress = undefined;
  }
}

async function runCommand(cmd: Command, io: Io): Promise<number> {
  const disks = startDiskUtil(cmd.jobs);
  const started = Date.now();
  const all = await runSpecs(cmd.jobs, cmd, io);
  const diskLines = finishDiskUtil(disks, Date.now() - started);
  const reported = reportedResults(all, mergeResults);
  writeOutput(cmd, io, (format) =>
    format === 'normal'
      ? normalReport(reported, all) + diskUtilText(diskLines)
      : format === 'terse'
      ? terseReport(reported, diskLines)
      : JSON.stringify({ ...fioJsonReport(reported, { plus: format === 'json+' }), disk_util: diskUtilJson(diskLines) }, null, 2) + '\n',
  );
  return reportErrors(all, io);
}

async function runCompare(cmd: Command, io: Io): Promise<number> {
  const rows: CompareRow[] = [];
  const docs: Record<string, unknown> = {};
  const all: JobResult[] = [];
  for (const target of cmd.targets) {
    const specs = specsForTarget(cmd.rawJobs, target);
    const results = await runSpecs(specs, cmd, io);
    all.push(...results);
    rows.push(compareRow(target, results));
    docs[target.label] = fioJsonReport(results, { plus: cmd.formats.includes('json+') });
  }
  writeOutput(cmd, io, (format) =>
    format === 'normal'
      ? `\nCompare (ratios to ${rows[0].label}):\n${compareTable(rows)}`
      : JSON.stringify({ 'blkbench version': BLKBENCH_VERSION, targets: rows, results: docs }, null, 2) + '\n',
  );
  if (cmd.plot) {
    // The job as written, without any target's own options (those are in the subtitle).
    const base = { ...cmd.targets[0], options: [] };
    const title = `blkbench compare: ${describeJob(cmd.rawJobs.length > 0 ? specsForTarget(cmd.rawJobs, base)[0] : undefined)}`;
    const overrides = cmd.targets
      .map((t, i) => (t.options.length > 0 ? `${i + 1}: ${t.options.map(([k, v]) => (v === undefined ? k : `${k}=${v}`)).join(',')}` : ''))
      .filter((o) => o !== '');
    fs.writeFileSync(cmd.plot, compareSvg(rows, title, overrides.length > 0 ? `per-target options: ${overrides.join('; ')}` : ''));
  }
  return reportErrors(all, io);
}

function describeJob(spec: JobSpec | undefined): string {
  if (!spec) return '';
  const sizes = [...new Set(spec.bs.read.sizes.concat(spec.bs.write.sizes))];
  const bs = sizes.length === 1 ? `bs=${fioSize(sizes[0])}` : `bs=${sizes.map(fioSize).join('/')}`;
  return `rw=${spec.rw} ${bs} iodepth=${spec.iodepth} numjobs=${spec.numjobs}`;
}

function writeOutput(cmd: Command, io: Io, render: (format: OutputFormat) => string): void {
  const text = cmd.formats.map(render).join('\n');
  if (cmd.output !== undefined) fs.writeFileSync(cmd.output, text);
  else io.stdout.write(text);
}

function reportErrors(results: JobResult[], io: Io): number {
  let failed = false;
  for (const r of results) {
    if (r.error !== 0) {
      failed = true;
      io.stderr.write(`blkbench: ${r.name}: ${r.errorMessage ?? `error ${r.error}`}\n`);
    }
  }
  return failed ? 1 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: Error) => {
      process.stderr.write(`blkbench: ${e.stack ?? e.message}\n`);
      process.exitCode = 1;
    },
  );
}
