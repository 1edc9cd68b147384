/**
 * fio job files: INI-style sections. `[global]` sets options for the jobs after it; every other
 * section is a job named after it. `key=value` or a bare `key` (a flag); lines starting with `;` or `#`
 * are comments; `${VAR}` takes an environment variable.
 */
import { RawOptions, setRawOption } from './options';
import { OptionError } from './units';

export interface JobSection {
  name: string;
  /** The section's options merged over the [global] options in force where it starts. */
  options: RawOptions;
}

export function parseJobFile(text: string, fileName: string, env: NodeJS.ProcessEnv = process.env): JobSection[] {
  const jobs: JobSection[] = [];
  let global: RawOptions = new Map();
  let current: RawOptions | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const where = `${fileName}:${index + 1}`;
    const line = rawLine.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) return;
    const section = /^\[(.*)\]$/.exec(line);
    if (section) {
      const name = section[1].trim();
      if (name === '') throw new OptionError(`${where}: empty section name`);
      if (name === 'global') {
        // A new [global] starts from the previous one, as in fio.
        global = new Map(global);
        current = global;
      } else {
        if (jobs.some((j) => j.name === name)) throw new OptionError(`${where}: job '${name}' is defined twice`);
        current = new Map(global);
        jobs.push({ name, options: current });
      }
      return;
    }
    if (current === undefined) throw new OptionError(`${where}: option '${line}' is outside any section`);
    const eq = line.indexOf('=');
    const key = eq < 0 ? line : line.slice(0, eq).trim();
    const value = eq < 0 ? undefined : expandEnv(line.slice(eq + 1).trim(), where, env);
    try {
      setRawOption(current, key, value);
    } catch (e) {
      if (e instanceof OptionError) throw new OptionError(`${where}: ${e.message}`);
      throw e;
    }
  });
  if (jobs.length === 0) throw new OptionError(`${fileName}: no job sections (only [global])`);
  return jobs;
}

function expandEnv(value: string, where: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const v = env[name];
    if (v === undefined) throw new OptionError(`${where}: environment variable '${name}' is not set`);
    return v;
  });
}
