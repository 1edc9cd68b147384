/**
 * `blkbench --client=HOST job.fio [--client=HOST2 job2.fio …]`: runs job files on fio servers and
 * blkbench servers at once, as fio's client does (a job file belongs to the --client before it).
 * Prints each host's report, then, when more than one report came in, the "All clients" merge
 * (sums, merged latency histograms, the longest runtime), or fio's JSON with `client_stats`.
 * A server that fails or goes away is reported; the others' results are still printed.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { OutputFormat } from '../args';
import { FleetAddress, parseFleetAddress } from './address';
import { CLIENT_LIMITS } from './limits';
import { pduToDiskLine, threadStatToResult } from './convert';
import { Command, CommandReader, OP, ProtocolError, encodeCommand, opName } from './frame';
import {
  CLIENT_PROBE,
  JOB_OPTION,
  PROBE_REPLY,
  STOP as STOP_PDU,
  decodeDu,
  decodeText,
  decodeTs,
  encodeJob,
  encodeJobLine,
} from './pdu';
import { diskUtilJson, diskUtilText } from '../disk-util';
import { DiskLine } from '../report-terse';
import { BLKBENCH_VERSION, ctime, fioJsonReport } from '../report-json';
import { normalReport } from '../report-normal';
import { DIRECTIONS } from '../options';
import { JobResult, mergeResults } from '../results';
import { OptionError } from '../units';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface Host {
  arg: string;
  address: FleetAddress;
  jobFiles: string[];
  name: string;
  results: JobResult[];
  jobOptions: Map<number, Record<string, string>>;
  disks: DiskLine[];
  error: number;
  failure: string | undefined;
  text: string;
}

const ETA_INTERVAL_MS = 1000;
/** fio's client gives up on a server after about this long without an answer. */
const SILENCE_LIMIT_MS = 30000;

export async function runFleetClient(argv: string[], io: Io): Promise<number> {
  const hosts: Host[] = [];
  let formats: OutputFormat[] = ['normal'];
  let output: string | undefined;
  const remoteArgs: string[] = [];
  for (const a of argv) {
    if (a.startsWith('--client=')) {
      const arg = a.slice('--client='.length);
      hosts.push({ arg, address: parseFleetAddress(arg), jobFiles: [], name: arg, results: [], jobOptions: new Map(), disks: [], error: 0, failure: undefined, text: '' });
    } else if (a.startsWith('--output-format=')) {
      formats = a.slice('--output-format='.length).split(',') as OutputFormat[];
      for (const f of formats) if (!['normal', 'json', 'json+'].includes(f)) throw new OptionError(`--client: output format '${f}' is not supported (normal, json, json+)`);
    } else if (a.startsWith('--output=')) {
      output = a.slice('--output='.length);
    } else if (a.startsWith('--')) {
      remoteArgs.push(a);
    } else if (hosts.length === 0) {
      throw new OptionError(`job file '${a}' comes before any --client=HOST`);
    } else {
      hosts[hosts.length - 1].jobFiles.push(a);
    }
  }
  const idle = hosts.filter((h) => h.jobFiles.length === 0);
  for (const h of idle) io.stderr.write(`blkbench: --client=${h.arg} has no job file after it (as fio: --client=A job.fio --client=B job.fio); not used\n`);
  const active = hosts.filter((h) => h.jobFiles.length > 0);
  if (active.length === 0) throw new OptionError('--client: no job file given');
  const human = formats.includes('normal');
  const jobTexts = active.map((h) => h.jobFiles.map((f) => fs.readFileSync(f, 'utf8')));
  const out: string[] = [];
  // Ctrl-C, as fio's client: ask every server to stop (QUIT) and print what they measured; a second
  // signal exits at once.
  const quitters: Array<() => void> = [];
  let signalled = false;
  const onSignal = () => {
    if (signalled) process.exit(128);
    signalled = true;
    io.stderr.write('\nblkbench: stopping the jobs on every server\n');
    for (const q of quitters) q();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await Promise.all(
      active.map((h, i) =>
        runOnHost(h, jobTexts[i], remoteArgs, formats, (s) => {
          if (human) io.stdout.write(s);
        }, (q) => quitters.push(q)),
      ),
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  for (const h of active) if (h.failure) io.stderr.write(`blkbench: client ${h.arg}: ${h.failure}\n`);
  const reports = active.flatMap((h) => h.results);
  const merged = reports.length > 1 ? allClients(reports) : undefined;
  for (const f of formats) {
    if (f === 'normal') {
      for (const h of active) if (h.results.length > 0) out.push(normalReport(h.results, h.results) + diskUtilText(h.disks));
      if (merged) out.push(normalReport([merged], []));
    } else {
      out.push(JSON.stringify(clientJson(active, merged, f === 'json+'), null, 2) + '\n');
    }
  }
  const text = out.join('\n');
  if (output !== undefined) fs.writeFileSync(output, text);
  else io.stdout.write(text);
  return active.some((h) => h.failure !== undefined || h.error !== 0 || h.results.some((r) => r.error !== 0)) ? 1 : 0;
}

/**
 * fio's "All clients": the reports summed, histograms merged. Total-latency histograms and slat only
 * where every report has them (fio servers send lat percentiles only when asked), so the merge never
 * mixes one host's total latency with another's completion latency.
 */
function allClients(reports: JobResult[]): JobResult {
  const merged = { ...mergeResults(reports), name: 'All clients' };
  for (const d of DIRECTIONS) {
    const active = reports.filter((r) => r.dirs[d].ios > 0);
    if (active.some((r) => !r.dirs[d].totalHist)) delete merged.dirs[d].totalHist;
    if (active.some((r) => !r.dirs[d].slat)) delete merged.dirs[d].slat;
  }
  return merged;
}

function portOf(a: FleetAddress): number {
  return a.kind === 'ip' ? a.port : 0;
}

function clientJson(hosts: Host[], merged: JobResult | undefined, plus: boolean): Record<string, unknown> {
  const now = new Date();
  const stats: Array<Record<string, unknown>> = [];
  const disks: Array<Record<string, unknown>> = [];
  for (const h of hosts) {
    const where = { hostname: h.address.kind === 'ip' ? h.address.host ?? '' : h.address.path, port: portOf(h.address) };
    for (const j of fioJsonReport(h.results, { plus, now }).jobs as Array<Record<string, unknown>>) stats.push({ ...j, ...where });
    for (const d of diskUtilJson(h.disks)) disks.push({ ...d, ...where });
  }
  if (merged) {
    const first = hosts[0];
    const j = (fioJsonReport([merged], { plus, now }).jobs as Array<Record<string, unknown>>)[0];
    delete j['job options'];
    stats.push({ ...j, hostname: first.address.kind === 'ip' ? first.address.host ?? '' : first.address.path, port: portOf(first.address) });
  }
  // One set of global options, as fio's client keeps (the first host's).
  const global = hosts.map((h) => h.jobOptions.get(-1)).find((o) => o !== undefined) ?? {};
  return {
    'fio version': BLKBENCH_VERSION,
    timestamp: Math.floor(now.getTime() / 1000),
    timestamp_ms: now.getTime(),
    time: ctime(now),
    'global options': global,
    client_stats: stats,
    disk_util: disks,
  };
}

function connect(a: FleetAddress): net.Socket {
  if (a.kind === 'sock') return net.connect(a.path);
  return net.connect({ host: a.host ?? (a.family === 6 ? '::1' : '127.0.0.1'), port: a.port, family: a.family });
}

/** Runs the host's job files on it; resolves when the server quits, fails or goes away. */
function runOnHost(
  h: Host, jobTexts: string[], remoteArgs: string[], formats: OutputFormat[], print: (s: string) => void, onQuit: (quit: () => void) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect(h.address);
    onQuit(() => {
      if (!sock.destroyed) sock.write(encodeCommand(OP.QUIT));
    });
    const reader = new CommandReader(CLIENT_LIMITS.maxCommandBytes);
    let done = false;
    let running = false;
    let lastHeard = Date.now();
    let etaTimer: NodeJS.Timeout | undefined;
    let lineStart = true;
    const finish = (failure?: string) => {
      if (done) return;
      done = true;
      if (failure && !h.failure) h.failure = failure;
      if (etaTimer) clearInterval(etaTimer);
      sock.destroy();
      resolve();
    };
    const send = (op: number, payload?: Buffer, tag = 0n) => sock.write(encodeCommand(op, payload, tag));
    sock.on('connect', () => {
      connected = true;
      send(OP.PROBE, CLIENT_PROBE.encode({ flags: 0, server: h.arg }), 1n);
      // The output format and other remote options first, as fio's client sends them.
      const args = [...remoteArgs, ...formats.filter((f) => f !== 'normal').map((f) => `--output-format=${f}`)];
      if (args.length > 0) send(OP.JOBLINE, encodeJobLine(['fio', ...args]));
      for (const t of jobTexts) send(OP.JOB, encodeJob(t));
      send(OP.RUN);
      etaTimer = setInterval(() => {
        if (Date.now() - lastHeard > SILENCE_LIMIT_MS) finish(`no answer for ${SILENCE_LIMIT_MS / 1000} s: timed out`);
        else if (running) send(OP.SEND_ETA, undefined, 2n);
      }, ETA_INTERVAL_MS);
    });
    let connected = false;
    sock.on('error', (e) => finish(connected ? `the server went away before it finished (${e.message})` : `connection failed: ${e.message}`));
    sock.on('close', () => finish('the server went away before it finished (disconnected)'));
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      let cmds: Command[];
      try {
        cmds = reader.push(chunk);
      } catch (e) {
        finish(e instanceof ProtocolError ? `protocol error: ${e.message}` : String(e));
        return;
      }
      // Only whole commands count as an answer: a server that trickles bytes still times out.
      if (cmds.length > 0) lastHeard = Date.now();
      for (const c of cmds) {
        if (done) return;
        try {
          handle(c);
        } catch (e) {
          finish(`malformed ${opName(c.opcode)} from the server: ${(e as Error).message}`);
          return;
        }
      }
    });
    const handle = (c: Command) => {
      switch (c.opcode) {
        case OP.PROBE: {
          const p = PROBE_REPLY.decode(c.payload) as { hostname: string; fioVersion: string; bpp: number; flags: number; bigendian: number };
          h.name = p.hostname || h.arg;
          print(`hostname=${p.hostname}, be=${p.bigendian}, ${p.bpp * 8}-bit, os=Linux, fio=${p.fioVersion}, flags=${p.flags}\n`);
          return;
        }
        case OP.TEXT: {
          const t = decodeText(c.payload).text;
          h.text = (h.text + t).slice(-4096); // the last lines, to quote in an error
          print(`${lineStart ? `<${h.name}> ` : ''}${t}`);
          lineStart = t.endsWith('\n');
          return;
        }
        case OP.SERVER_START:
          running = true;
          return;
        case OP.JOB_OPT: {
          const o = JOB_OPTION.decode(c.payload) as { global: number; groupid: number; name: string; value: string };
          const key = o.global ? -1 : o.groupid;
          const opts = h.jobOptions.get(key) ?? {};
          if (!h.jobOptions.has(key) && h.jobOptions.size >= CLIENT_LIMITS.maxJobOptionSets) throw new RangeError(`more than ${CLIENT_LIMITS.maxJobOptionSets} sets of job options`);
          if (!(o.name in opts) && Object.keys(opts).length >= CLIENT_LIMITS.maxJobOptionsPerSet) throw new RangeError(`more than ${CLIENT_LIMITS.maxJobOptionsPerSet} options for one job`);
          if (o.name === '__proto__' || o.name === 'constructor' || o.name === 'prototype') return; // not a fio option
          opts[o.name] = o.value;
          h.jobOptions.set(key, opts);
          return;
        }
        case OP.TS: {
          if (h.results.length >= CLIENT_LIMITS.maxReports) throw new RangeError(`more than ${CLIENT_LIMITS.maxReports} reports`);
          const { ts } = decodeTs(c.payload);
          h.results.push(threadStatToResult(ts, h.jobOptions.get(ts.threadNumber - 1) ?? {}));
          return;
        }
        case OP.DU:
          if (h.disks.length >= CLIENT_LIMITS.maxDisks) throw new RangeError(`more than ${CLIENT_LIMITS.maxDisks} disk reports`);
          h.disks.push(pduToDiskLine(decodeDu(c.payload)));
          return;
        case OP.STOP: {
          const s = STOP_PDU.decode(c.payload) as { error: number };
          h.error = s.error;
          if (s.error !== 0) h.failure = `exited with error ${s.error}${h.text.trim() ? ` (${lastLine(h.text)})` : ''}`;
          return;
        }
        case OP.QUIT:
          finish();
          return;
        default:
          return; // START, GS (recomputed from the reports), ETA, ADD_JOB, IOLOG: nothing to print
      }
    };
  });
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n');
  return lines[lines.length - 1];
}
