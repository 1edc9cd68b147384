/**
 * The command line: `blkbench [--option=value…] [job.fio…]` and `blkbench compare … --target=…`.
 *
 * As in fio 3.33 (checked by running it): job options before the first `--name` are defaults for every
 * job, and a job file's settings (its [global] included) win over them; each `--name=X` starts a job
 * of its own, and command-line jobs come before the jobs of job files.
 */
import * as fs from 'node:fs';
import { JobSection, parseJobFileCollecting } from './jobfile';
import { assignGroups } from './groups';
import { optionHelp } from './option-table';
import { JobSpec, RawOptions, resolveJob, setRawOption } from './options';
import { OptionError, parseChoice } from './units';

export const OUTPUT_FORMATS = ['normal', 'json', 'json+', 'terse'] as const;
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
  kind: 'run' | 'compare' | 'help' | 'version' | 'parse-only' | 'showcmd';
  /** --showcmd: the jobs as one command line per job file, as fio prints them. */
  showcmd: string[];
  jobs: JobSpec[];
  rawJobs: RawJob[];
  formats: OutputFormat[];
  output: string | undefined;
  plot: string | undefined;
  targets: CompareTarget[];
  /** No job was given: run the built-in short job on a temporary file. */
  defaultJob: boolean;
  /** Set by the CLI: the shared stop word its signal handlers set. */
  stop?: Int32Array;
}

/** The job `npx blkbench` runs without arguments (the file is created and removed by blkbench). */
export const DEFAULT_JOB_OPTIONS: Array<[string, string | undefined]> = [
  ['rw', 'randread'], ['bs', '4k'], ['iodepth', '32'], ['size', '64m'],
  ['runtime', '3'], ['time_based', undefined], ['invalidate', '0'],
];

/** Options of blkbench itself, not of a job. They take `--x=v` or `--x v`. */
const CLI_OPTIONS = new Set(['output-format', 'output', 'plot', 'target', 'help', 'version', 'parse-only', 'showcmd']);
/** Of those, the ones that take no value. */
const CLI_FLAGS = new Set(['help', 'version', 'parse-only', 'showcmd']);

export function parseCommandLine(argv: string[], readFile: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): Command {
  const cmd: Command = {
    kind: 'run', showcmd: [], jobs: [], rawJobs: [], formats: ['normal'], output: undefined, plot: undefined, targets: [], defaultJob: false,
  };
  const args = [...argv];
  if (args[0] === 'compare') {
    cmd.kind = 'compare';
    args.shift();
  }
  const errors: string[] = [];
  const scanned = scanArguments(args, cmd, errors);
  if (cmd.kind === 'help' || cmd.kind === 'version') return cmd;
  checkCommand(cmd);

  const sections: RawJob[] = cmd.rawJobs;
  // Command-line jobs first, as fio orders them.
  for (const j of scanned.cliJobs) sections.push({ name: j.name, options: mergeRaw(scanned.global, j.options) });
  sections.push(...readJobFiles(scanned.files, scanned.global, readFile, cmd, errors));
  if (cmd.kind === 'showcmd') {
    if (errors.length > 0) throw new OptionError(errors.join('\n'));
    return cmd;
  }
  if (sections.length === 0 && errors.length === 0) sections.push(defaultSection(cmd, scanned));
  resolveJobs(sections, cmd, errors);
  if (errors.length > 0) throw new OptionError(errors.join('\n'));
  return cmd;
}

interface ScannedArguments {
  /** Job options before the first --name: defaults for every job. */
  global: RawOptions;
  cliJobs: Array<{ name: string; options: RawOptions }>;
  files: string[];
  anyJobOption: boolean;
}

/** Sorts the arguments into blkbench's own options (applied to cmd), command-line jobs and job files. */
function scanArguments(args: string[], cmd: Command, errors: string[]): ScannedArguments {
  const out: ScannedArguments = { global: new Map(), cliJobs: [], files: [], anyJobOption: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h') { cmd.kind = 'help'; continue; }
    if (!arg.startsWith('--')) {
      if (arg.startsWith('-') && arg !== '-') throw new OptionError(`unknown option '${arg}'`);
      out.files.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    const cliKey = key.replace(/_/g, '-');
    if (CLI_OPTIONS.has(cliKey)) {
      if (CLI_FLAGS.has(cliKey) && value !== undefined) throw new OptionError(`option '--${key}' takes no value`);
      if (cliKey === 'help') { cmd.kind = 'help'; continue; }
      if (cliKey === 'version') { cmd.kind = 'version'; continue; }
      if (cliKey === 'parse-only' || cliKey === 'showcmd') { cmd.kind = cliKey; continue; }
      if (value === undefined) {
        value = args[++i];
        if (value === undefined) throw new OptionError(`option '--${key}' needs a value`);
      }
      applyCliOption(cmd, cliKey, value);
      continue;
    }
    if (key === 'name') {
      if (value === undefined || value.trim() === '') throw new OptionError(`option '--name' needs a value`);
      out.cliJobs.push({ name: value, options: new Map() });
      continue;
    }
    out.anyJobOption = true;
    try {
      setRawOption(out.cliJobs.length > 0 ? out.cliJobs[out.cliJobs.length - 1].options : out.global, key, value);
    } catch (e) {
      if (!(e instanceof OptionError)) throw e;
      errors.push(e.message);
    }
  }
  return out;
}

/** Combinations of blkbench's own options that make no sense. */
function checkCommand(cmd: Command): void {
  if (cmd.kind === 'compare' && cmd.targets.length === 0) {
    throw new OptionError(`compare needs at least one '--target=DRIVER:PATH'`);
  }
  if (cmd.kind === 'run' && cmd.plot !== undefined) throw new OptionError(`option '--plot' only applies to 'blkbench compare'`);
  if (cmd.kind === 'compare' && cmd.formats.includes('terse')) throw new OptionError(`'blkbench compare' has no terse output: use normal or json`);
}

/** The jobs of each job file, with the command line's defaults under them; records --showcmd lines. */
function readJobFiles(files: string[], global: RawOptions, readFile: (p: string) => string, cmd: Command, errors: string[]): RawJob[] {
  const sections: RawJob[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFile(f);
    } catch (e) {
      errors.push(`cannot read job file '${f}': ${(e as Error).message}`);
      continue;
    }
    const parsed = parseJobFileCollecting(text, f, { env: process.env, readFile, errors });
    // The job file wins over command-line defaults, as in fio: `--runtime=1 job.fio` only fills in
    // a runtime the file does not set.
    // fio: `name=` in a job's own section renames it; in [global] it names nothing.
    for (const s of parsed) sections.push({ name: s.own.get('name') ?? s.name, options: mergeRaw(global, s.options) });
    cmd.showcmd.push(showcmdLine(parsed));
  }
  return sections;
}

/** No job given: blkbench's default job, or one job of the options given. */
function defaultSection(cmd: Command, scanned: ScannedArguments): RawJob {
  const base: RawOptions = new Map();
  const useDefault = !scanned.anyJobOption;
  if (useDefault) for (const [k, v] of DEFAULT_JOB_OPTIONS) setRawOption(base, k, v);
  cmd.defaultJob = useDefault && cmd.kind === 'run';
  return { name: useDefault ? 'blkbench' : 'job1', options: mergeRaw(base, scanned.global) };
}

/** Turns each section into a JobSpec (collecting every error) and assigns the job groups. */
function resolveJobs(sections: RawJob[], cmd: Command, errors: string[]): void {
  const names = new Set<string>();
  for (const s of sections) {
    if (names.has(s.name)) {
      errors.push(`job '${s.name}' is defined twice`);
      continue;
    }
    names.add(s.name);
    try {
      cmd.jobs.push(resolveJob(s.name, s.options));
    } catch (e) {
      if (!(e instanceof OptionError)) throw e;
      errors.push(sections.length > 1 ? `job '${s.name}': ${e.message}` : e.message);
    }
  }
  try {
    assignGroups(cmd.jobs);
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    errors.push(e.message);
  }
}

/** fio's --showcmd line for one job file: [global] options, then each job's --name and own options. */
function showcmdLine(sections: JobSection[]): string {
  const opt = ([k, v]: [string, string | undefined]) => (v === undefined ? `--${k}` : `--${k}=${v}`);
  const parts = ['blkbench'];
  let lastGlobal: RawOptions | undefined;
  for (const s of sections) {
    if (s.global !== lastGlobal) {
      for (const e of s.global) if (!lastGlobal || lastGlobal.get(e[0]) !== e[1] || !lastGlobal.has(e[0])) parts.push(opt(e));
      lastGlobal = s.global;
    }
    parts.push(`--name=${s.name}`);
    for (const e of s.own) parts.push(opt(e));
  }
  return parts.join(' ');
}

function applyCliOption(cmd: Command, key: string, value: string): void {
  switch (key) {
    case 'output-format':
      cmd.formats = [...new Set(value.split(',').map((f) => parseChoice('output-format', f, OUTPUT_FORMATS)))];
      if (cmd.formats.includes('json') && cmd.formats.includes('json+')) cmd.formats = cmd.formats.filter((f) => f !== 'json');
      if (cmd.formats.includes('terse') && cmd.formats.length > 1) {
        throw new OptionError(`option '--output-format=terse' cannot be combined with other formats`);
      }
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
       blkbench --server[=ADDRESS]                          (serve fio's and blkbench's clients)
       blkbench --client=ADDRESS job.fio [--client=ADDRESS job.fio ...]   (run on fio/blkbench servers)

Runs fio-style jobs on the blkio library. Without arguments, runs a short 4 KiB random-read job
on a temporary file. As in fio, --name=X starts a job; options before the first --name are defaults
for every job, and job files' own settings win over them.

Job options (fio's names and meanings):
${optionHelp()}

Output and control:
  --output-format=normal|json|json+|terse   --output=FILE   --plot=FILE (compare: SVG chart)
  --parse-only (check the jobs, run nothing)   --showcmd (print each job file as a command line)

Fleet ADDRESS (fio's syntax): [ip:|ip4:|ip6:]HOST[,PORT], :PORT or sock:PATH; the default port is 8765.
`;
