/**
 * fio's own example job files (Debian's fio-examples package): every example that fio runs on this
 * machine, blkbench runs too, on the native loop. Each example is copied into a temporary directory
 * and shortened first: files and directories point into that directory, sizes are capped at 8 MiB
 * (fill_device too) and times at half a second, so nothing is written elsewhere and the whole list takes a minute or two;
 * a multicast group (the net examples) is joined and sent to on the loopback interface, so no datagram leaves the machine.
 * An example that names a real device is run by neither tool; one that fio cannot run here (an
 * engine or hardware this machine lacks) is skipped with fio's reason. blkbench refuses none that fio runs.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI } from '../../support/paths';

const EXAMPLES = '/usr/share/doc/fio/examples';
const MAX_BYTES = 8 << 20;
/** Each shortened example ends in a few seconds; fio hangs on some (io_submit_mode=offload with a rate). */
const RUN_LIMIT_MS = 10000;
const FIO_RETRY_LIMIT_MS = 20000;

/** Options holding a size, capped at MAX_BYTES. */
const SIZE_OPTIONS = new Set(['size', 'filesize', 'io_size', 'io_limit', 'offset', 'offset_increment']);
/** Options holding a time: [bare unit in seconds, cap in milliseconds]. */
const TIME_OPTIONS: Record<string, [number, number]> = {
  runtime: [1, 500], timeout: [1, 500], ramp_time: [1, 100], startdelay: [1, 100],
  ss_dur: [1, 1000], ss_ramp: [1, 0], thinktime: [1e-6, 10], // fio reads ss_* in whole seconds
};
const UNIT: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
const TIME_UNIT: Record<string, number> = { us: 1e-6, usec: 1e-6, ms: 1e-3, msec: 1e-3, s: 1, sec: 1, m: 60, min: 60, h: 3600, d: 86400 };
/** Devices that hold no data: reading or writing them harms nothing. */
const HARMLESS_DEVICES = new Set(['/dev/null', '/dev/zero']);

function capSize(value: string): string {
  return value.replace(/(\d+)([kmgtp]?)(i?b?)/gi, (all, n: string, u: string) =>
    Number(n) * UNIT[u.toLowerCase()] > MAX_BYTES ? `${MAX_BYTES >> 20}m` : all);
}

/** A longer time (or one not read here, such as a range) becomes the cap. */
function capTime(value: string, bareUnit: number, capMs: number): string {
  const m = /^(\d+(?:\.\d+)?)([a-z]*)$/i.exec(value);
  const unit = m && (m[2] === '' ? bareUnit : TIME_UNIT[m[2].toLowerCase()]);
  return m && unit && Number(m[1]) * unit * 1e3 <= capMs ? value : `${capMs}ms`;
}

/** A file name inside `dir`: relative names stay relative (both tools run in `dir`), absolute ones lose their directory. */
function redirect(name: string): string {
  return name.split(/(?<!\\):/).map((p) => (p.startsWith('/') ? path.basename(p) : p)).join(':');
}

/** The shortened copy of an example's text, or why it must not run at all. */
export function shorten(text: string): { text: string } | { skip: string } {
  // thread: fio's jobs as threads of one process (as blkbench runs them), which the time limit can kill.
  const out = ['[global]', 'runtime=500ms', 'thread'];
  for (const line of text.split('\n')) {
    if (/^\s*fill_(device|fs)\b/i.test(line)) {
      out.push(`size=${MAX_BYTES >> 20}m`); // fill the file system, fio's way: a capped size instead
      continue;
    }
    const m = /^(\s*)([a-z_]+)\s*=\s*([^;#]*?)\s*([;#].*)?$/i.exec(line);
    if (!m) {
      out.push(line);
      continue;
    }
    const key = m[2].toLowerCase();
    let value = m[3];
    if (key === 'filename' || key === 'filename_format') {
      const device = value.split(/(?<!\\):/).find((p) => p.startsWith('/dev/') && !HARMLESS_DEVICES.has(p));
      if (device) return { skip: `names the device ${device}` };
      value = redirect(value);
    } else if (key === 'directory') value = '.';
    else if (SIZE_OPTIONS.has(key)) value = capSize(value);
    else if (key in TIME_OPTIONS) value = capTime(value, ...TIME_OPTIONS[key]);
    else if (key === 'interface') continue; // net: multicast stays on the loopback interface (below)
    out.push(`${m[1]}${key}=${value}`);
    // A multicast group would be reached through the default route: the loopback interface keeps it on this machine.
    if (key === 'hostname' && /^2(2[4-9]|3\d)\./.test(value)) out.push(`${m[1]}interface=127.0.0.1`);
  }
  return { text: out.join('\n') };
}

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string, limitMs = RUN_LIMIT_MS): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: limitMs, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr + (r.error ? String(r.error) : '') };
}

/**
 * fio on an example: a run cut off at the limit gets a second, longer one, since a busy machine
 * slows fio down (the shortened examples take about a second each); one that never ends either way
 * (a Ceph peer waited for, a rate with offloaded submission) then counts as one fio cannot run here.
 */
function runFio(cwd: string): Run {
  const first = run('fio', ['job.fio'], cwd);
  return first.code === null ? run('fio', ['job.fio'], cwd, FIO_RETRY_LIMIT_MS) : first;
}

/** fio's reason in one line: its first error line, else the end of what it printed. */
function why(r: Run): string {
  if (r.code === null) return `fio does not finish in ${FIO_RETRY_LIMIT_MS / 1000} s`;
  const lines = (r.stderr + '\n' + r.stdout).split('\n').map((l) => l.trim()).filter(Boolean);
  const err = lines.find((l) => /error|fail|not|invalid|unable|bad/i.test(l)) ?? lines[lines.length - 1] ?? '';
  return `fio exits ${r.code}: ${err.slice(0, 160)}`;
}

const files = fs.existsSync(EXAMPLES) ? fs.readdirSync(EXAMPLES).filter((f) => f.endsWith('.fio')).sort() : [];

describe('fio\'s example job files run under blkbench where fio runs them', function () {
  this.timeout(RUN_LIMIT_MS + FIO_RETRY_LIMIT_MS + RUN_LIMIT_MS + 10000);
  let root: string;
  const outcome: string[] = [];
  let ranOnBoth = 0;

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-fio-examples-'));
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    if (outcome.length) console.log(`      fio's examples:\n${outcome.map((l) => `        ${l}`).join('\n')}`);
  });

  it('finds fio\'s examples installed', () => {
    assert.ok(files.length > 50, `${EXAMPLES} holds ${files.length} job files: install them with: apt-get install -y fio-examples (test/prerequisites.sh)`);
  });

  for (const file of files) {
    it(file, function () {
      const short = shorten(fs.readFileSync(path.join(EXAMPLES, file), 'utf8'));
      if ('skip' in short) {
        outcome.push(`${file}: neither tool runs it: ${short.skip}`);
        this.skip(); // it names a real device, which this machine must not have written (the reason is in the list printed after)
      }
      const dir = fs.mkdtempSync(path.join(root, `${file}-`));
      fs.writeFileSync(path.join(dir, 'job.fio'), short.text);
      const fio = runFio(dir);
      if (fio.code !== 0) {
        outcome.push(`${file}: fio cannot run it here (${why(fio)})`);
        this.skip(); // fio itself lacks the engine, peer or hardware here (its reason is in the list printed after)
      }
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      fs.writeFileSync(path.join(dir, 'job.fio'), short.text);
      const r = run(process.execPath, [BLKBENCH_CLI, '--output-format=json', 'job.fio'], dir);
      outcome.push(`${file}: ${r.code === 0 ? 'runs under fio and blkbench' : `blkbench FAILS: ${r.stderr.trim().split('\n')[0]}`}`);
      assert.equal(r.code, 0, `blkbench refuses an example fio runs:\n${r.stderr}`);
      const jobs = JSON.parse(r.stdout).jobs as Array<{ jobname: string; blkbench_loop?: string }>;
      assert.ok(jobs.length > 0);
      for (const j of jobs) assert.equal(j.blkbench_loop, 'native', `job ${j.jobname} ran on the ${j.blkbench_loop} loop`);
      ranOnBoth++;
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  // Skips above are fio's own gaps here; a machine where fio ran almost none of its examples would
  // check nothing, so the run must cover most of those that fio runs on a Debian machine.
  it('ran most of fio\'s examples under both tools', () => {
    assert.ok(ranOnBoth >= 32, `only ${ranOnBoth} examples ran under fio and blkbench:\n${outcome.join('\n')}`);
  });
});
