/**
 * fio job files: INI-style sections. `[global]` sets options for the jobs after it; every other
 * section is a job named after it. `key=value` or a bare `key` (a flag). As in fio: `;` and `#` start a
 * comment anywhere on a line (fio 3.33 cuts the line at the first one, even inside a value),
 * `include FILE` reads another file in place (relative to the including file), `${VAR}` takes an
 * environment variable, and `$pagesize`, `$mb_memory` and `$ncpus` are the machine's values.
 *
 * Errors do not stop the parse: every bad line is collected with its file:line, so one run shows them all.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { RawOptions, setRawOption } from './options';
import { OptionError } from './units';

export interface JobSection {
  name: string;
  /** The section's options merged over the [global] options in force where it starts. */
  options: RawOptions;
  /** The [global] options in force where it starts, and the section's own (for --showcmd). */
  global: RawOptions;
  own: RawOptions;
  /** Where the section starts, "file:line". */
  where: string;
}

export type ReadFile = (p: string) => string;

export interface ParseContext {
  env: NodeJS.ProcessEnv;
  readFile?: ReadFile;
  /** Every error found, "file:line: message"; the caller reports them together. */
  errors: string[];
}

/** Parses a job file; throws an OptionError listing every problem (one per line) if there were any. */
export function parseJobFile(text: string, fileName: string, env: NodeJS.ProcessEnv = process.env, readFile?: ReadFile): JobSection[] {
  const ctx: ParseContext = { env, readFile, errors: [] };
  const jobs = parseJobFileCollecting(text, fileName, ctx);
  if (ctx.errors.length > 0) throw new OptionError(ctx.errors.join('\n'));
  return jobs;
}

interface State {
  jobs: JobSection[];
  global: RawOptions;
  current: JobSection | undefined;
  inGlobal: boolean;
  depth: number;
}

/** Parses a job file, adding problems to ctx.errors instead of throwing. */
export function parseJobFileCollecting(text: string, fileName: string, ctx: ParseContext): JobSection[] {
  const state: State = { jobs: [], global: new Map(), current: undefined, inGlobal: false, depth: 0 };
  parseInto(text, fileName, ctx, state);
  if (state.jobs.length === 0 && ctx.errors.length === 0) ctx.errors.push(`${fileName}: no job sections (only [global])`);
  return state.jobs;
}

function parseInto(text: string, fileName: string, ctx: ParseContext, state: State): void {
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const where = `${fileName}:${index + 1}`;
    try {
      parseLine(rawLine, where, fileName, ctx, state);
    } catch (e) {
      if (!(e instanceof OptionError)) throw e;
      ctx.errors.push(`${where}: ${e.message}`);
    }
  });
}

function parseLine(rawLine: string, where: string, fileName: string, ctx: ParseContext, state: State): void {
  const line = stripComment(rawLine).trim();
  if (line === '') return;
  const section = /^\[(.*)\]$/.exec(line);
  if (section) {
    if (state.depth > 0) throw new OptionError('an included file cannot start sections (as in fio: it adds options to the section that includes it)');
    const name = section[1].trim();
    if (name === '') throw new OptionError('empty section name');
    if (name === 'global') {
      // A new [global] starts from the previous one, as in fio.
      state.global = new Map(state.global);
      state.inGlobal = true;
      state.current = undefined;
    } else {
      if (state.jobs.some((j) => j.name === name)) throw new OptionError(`job '${name}' is defined twice`);
      state.inGlobal = false;
      state.current = { name, options: new Map(state.global), global: state.global, own: new Map(), where };
      state.jobs.push(state.current);
    }
    return;
  }
  const include = /^include\s+(.+)$/.exec(line);
  if (include) {
    if (!state.inGlobal && state.current === undefined) throw new OptionError(`'include' is outside any section (fio reads includes only inside one)`);
    includeFile(include[1].trim(), fileName, ctx, state);
    return;
  }
  if (!state.inGlobal && state.current === undefined) throw new OptionError(`option '${line}' is outside any section`);
  const eq = line.indexOf('=');
  const key = eq < 0 ? line : line.slice(0, eq).trim();
  const value = eq < 0 ? undefined : expandVariables(line.slice(eq + 1).trim(), ctx.env);
  if (state.inGlobal) {
    setRawOption(state.global, key, value);
  } else {
    setRawOption(state.current!.options, key, value);
    setRawOption(state.current!.own, key, value);
  }
}

function includeFile(name: string, fromFile: string, ctx: ParseContext, state: State): void {
  if (!ctx.readFile) throw new OptionError(`'include ${name}' cannot be read here`);
  if (state.depth >= 16) throw new OptionError(`'include ${name}': includes nested more than 16 deep`);
  const target = path.isAbsolute(name) ? name : path.join(path.dirname(fromFile), name);
  let text: string;
  try {
    text = ctx.readFile(target);
  } catch (e) {
    throw new OptionError(`cannot read included file '${target}': ${(e as Error).message}`);
  }
  state.depth++;
  try {
    parseInto(text, target, ctx, state);
  } finally {
    state.depth--;
  }
}

/** fio cuts a line at the first ';' or '#'. */
export function stripComment(line: string): string {
  const cut = line.search(/[;#]/);
  return cut < 0 ? line : line.slice(0, cut);
}

/** fio's built-in variables, then ${VAR} from the environment. */
export function expandVariables(value: string, env: NodeJS.ProcessEnv): string {
  const expanded = value
    .replace(/\$pagesize\b/g, () => String(pageSize()))
    .replace(/\$mb_memory\b/g, () => String(Math.floor(os.totalmem() / (1024 * 1024))))
    .replace(/\$ncpus\b/g, () => String(os.availableParallelism()));
  return expanded.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new OptionError(`environment variable '${name}' is not set`);
    return v;
  });
}

function pageSize(): number {
  return 4096; // Linux on x86-64 and most arm64 kernels; Node does not expose sysconf(_SC_PAGESIZE).
}
