/**
 * The command line: `blkbench [--option=value…] [job.fio…]` and `blkbench compare … --target=…`.
 *
 * As in fio, job options before the first `--name` apply to every job (and override job files);
 * each `--name=X` starts a job of its own.
 */
import * as fs from 'node:fs';
import { parseJobFile } from './jobfile';
import { JobSpec, RawOptions, resolveJob, setRawOption } from './options';
import { OptionError, parseChoice } from './units';

export const OUTPUT_FORMATS = ['normal', 'json', 'json+'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** One target of `blkbench compare`: the same job on another driver and path. */
export interface CompareTarget {
  label: string;
  driver: string;
  path: string;
  /** Extra job options for this target only, e.g. direct=1. */
  options: Array<[string, string | undefined]>;
}

/** A job's options before they are resolved (compare mode re-resolves them per target). */
export interface RawJob {
  name: string;
  options: RawOptions;
}

export interface Command {
  kind: 'run' | 'compare' | 'help' | 'version';
  jobs: JobSpec[];
  rawJobs: RawJob[];
  formats: OutputFormat[];
  output: string | undefined;
  plot: string | undefined;
  targets: CompareTarget[];
  /** No job was given: run the built-in short job on a temporary file. */
  defaultJob: boolean;
}

/** The job `npx blkbench` runs without arguments (the file is created and removed by blkbench). */
export const DEFAULT_JOB_OPTIONS: Array<[string, string | undefined]> = [
  ['rw', 'randread'], ['bs', '4k'], ['iodepth', '32'], ['size', '64m'],
  ['runtime', '3'], ['time_based', undefined], ['invalidate', '0'],
];

/** Options of blkbench itself, not of a job. They take `--x=v` or `--x v`. */
const CLI_OPTIONS = new Set(['output-format', 'output', 'plot', 'target', 'help', 'version']);

export function parseCommandLine(argv: string[], readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): Command {
  const cmd: Command = {
    kind: 'run', jobs: [], rawJobs: [], formats: ['normal'], output: undefined, plot: undefined, targets: [], defaultJob: false,
  };
  const args = [...argv];
  if (args[0] === 'compare') {
    cmd.kind = 'compare';
    args.shift();
  }
  const global: RawOptions = new Map();
  const cliJobs: Array<{ name: string; options: RawOptions }> = [];
  const files: string[] = [];
  let anyJobOption = false;

  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h') { cmd.kind = 'help'; continue; }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-') throw new OptionError(`unknown option '${arg}'`);
      files.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    const cliKey = key.replace(/_/g, '-');
    if (CLI_OPTIONS.has(cliKey)) {
      if (cliKey === 'help') { cmd.kind = 'help'; continue; }
      if (cliKey === 'version') { cmd.kind = 'version'; continue; }
      if (value === undefined) {
        value = args[++i];
        if (value === undefined) throw new OptionError(`option '--${key}' needs a value`);
      }
      applyCliOption(cmd, cliKey, value);
      continue;
    }
    if (key === 'name') {
      if (value === undefined || value.trim() === '') throw new OptionError(`option '--name' needs a value`);
      cliJobs.push({ name: value, options: new Map() });
      continue;
    }
    anyJobOption = true;
    setRawOption(cliJobs.length > 0 ? cliJobs[cliJobs.length - 1].options : global, key, value);
  }
  if (cmd.kind === 'help' || cmd.kind === 'version') return cmd;
  if (cmd.kind === 'compare' && cmd.targets.length === 0) {
    throw new OptionError(`compare needs at least one '--target=DRIVER:PATH'`);
  }
  if (cmd.kind === 'run' && cmd.plot !== undefined) throw new OptionError(`option '--plot' only applies to 'blkbench compare'`);

  const sections: RawJob[] = cmd.rawJobs;
  for (const f of files) {
    let text: string;
    try {
      text = readFile(f);
    } catch (e) {
      throw new OptionError(`cannot read job file '${f}': ${(e as Error).message}`);
    }
    for (const s of parseJobFile(text, f)) {
      // Command-line options before any --name override the file, so `blkbench job.fio --runtime=1` works.
      sections.push({ name: s.name, options: mergeRaw(s.options, global) });
    }
  }
  for (const j of cliJobs) sections.push({ name: j.name, options: mergeRaw(global, j.options) });

  if (sections.length === 0) {
    const base: RawOptions = new Map();
    const useDefault = !anyJobOption;
    if (useDefault) for (const [k, v] of DEFAULT_JOB_OPTIONS) setRawOption(base, k, v);
    cmd.defaultJob = useDefault && cmd.kind === 'run';
    sections.push({ name: useDefault ? 'blkbench' : 'job1', options: mergeRaw(base, global) });
  }
  const names = new Set<string>();
  for (const s of sections) {
    if (names.has(s.name)) throw new OptionError(`job '${s.name}' is defined twice`);
    names.add(s.name);
    try {
      cmd.jobs.push(resolveJob(s.name, s.options));
    } catch (e) {
      if (e instanceof OptionError && sections.length > 1) throw new OptionError(`job '${s.name}': ${e.message}`);
      throw e;
    }
  }
  if (cmd.kind === 'run' && !cmd.defaultJob) {
    for (const j of cmd.jobs) if (j.path === undefined) throw new OptionError(`job '${j.name}' has no 'filename'`);
  }
  return cmd;
}

function applyCliOption(cmd: Command, key: string, value: string): void {
  switch (key) {
    case 'output-format':
      cmd.formats = [...new Set(value.split(',').map((f) => parseChoice('output-format', f, OUTPUT_FORMATS)))];
      if (cmd.formats.includes('json') && cmd.formats.includes('json+')) cmd.formats = cmd.formats.filter((f) => f !== 'json');
      break;
    case 'output':
      if (value === '') throw new OptionError(`option '--output' needs a file name`);
      cmd.output = value;
      break;
    case 'plot':
      if (value === '') throw new OptionError(`option '--plot' needs a file name`);
      cmd.plot = value;
      break;
    case 'target':
      cmd.targets.push(parseTarget(value));
      break;
  }
}

/** `[LABEL@]DRIVER:PATH[,option=value…]`, e.g. `raw@io_uring:/dev/sdb,direct=1`. */
export function parseTarget(text: string): CompareTarget {
  const at = text.indexOf('@');
  const label = at > 0 ? text.slice(0, at) : undefined;
  const rest = at > 0 ? text.slice(at + 1) : text;
  const colon = rest.indexOf(':');
  if (colon <= 0 || colon === rest.length - 1) {
    throw new OptionError(`bad value '${text}' for option '--target': expected [LABEL@]DRIVER:PATH[,option=value...]`);
  }
  const driver = rest.slice(0, colon);
  const [path, ...extra] = rest.slice(colon + 1).split(',');
  const options: Array<[string, string | undefined]> = extra.map((o) => {
    const eq = o.indexOf('=');
    return eq < 0 ? [o, undefined] : [o.slice(0, eq), o.slice(eq + 1)];
  });
  // Check the extra options now so a typo stops before the first target runs.
  const probe: RawOptions = new Map();
  for (const [k, v] of options) setRawOption(probe, k, v);
  return { label: label ?? driver, driver, path, options };
}

/** Options of `over` laid on top of `base`. */
export function mergeRaw(base: RawOptions, over: RawOptions): RawOptions {
  const out = new Map(base);
  for (const [k, v] of over) {
    out.delete(k);
    out.set(k, v);
  }
  return out;
}

export const USAGE = `usage: blkbench [--option=value ...] [job.fio ...]
       blkbench compare [--option=value ...] [job.fio] --target=[LABEL@]DRIVER:PATH[,opt=val...] ... [--plot=FILE]

Runs fio-style jobs on the blkio library. Without arguments, runs a short 4 KiB random-read job
on a temporary file.

Job options (fio names; --name=X starts a new job, options before it apply to all jobs):
  --ioengine|--driver=io_uring|virtio-blk-vhost-user|virtio-blk-vhost-vdpa   (default io_uring)
  --filename|--path=PATH   --size=SIZE|N%   --offset=SIZE|N%
  --rw=read|write|randread|randwrite|randrw|readwrite|trim|randtrim   --rwmixread=PCT
  --bs=SIZE[,SIZE[,SIZE]]   --bssplit=4k/50:64k/50
  --iodepth=N   --iodepth_batch_submit=N   --iodepth_batch_complete_min=N   --iodepth_batch_complete_max=N
  --numjobs=N   --runtime=TIME   --time_based   --ramp_time=TIME
  --direct=0|1   --invalidate=0|1 (default 1: drop the page cache first)   --norandommap
  --randrepeat=0|1   --randseed=N   --verify=crc32c|md5   --group_reporting
  --libblkio_pre_connect_props=a=b:c=d   --libblkio_pre_start_props=a=b   --hipri
  --libblkio_wait_mode=block|eventfd|loop   --libblkio_num_entries=N   --libblkio_queue_size=N

Output:
  --output-format=normal|json|json+   --output=FILE   --plot=FILE (compare: SVG chart)
`;
