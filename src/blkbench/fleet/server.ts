/**
 * `blkbench --server`: serves fio's clients (`fio --client=HOST job.fio`) and blkbench's. Each
 * connection gets its job file parsed and run by blkbench's own runner (native loop, every driver);
 * the results go back as fio's statistics, so the client prints them as it would a fio server's.
 *
 * A connection that breaks the protocol (bad CRC, other version, oversized fragment, unknown command)
 * or sends a job file that blkbench refuses gets the reason as text, a STOP with an errno and a QUIT,
 * then is closed; a client that goes away stops its job. Either way the server keeps serving.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import { parseCommandLine } from '../args';
import { describeFleetAddress, FleetAddress } from './address';
import { DEFAULT_LIMITS, FleetLimits, jobAdmissionError, readServerFile } from './limits';
import { diskLineToPdu, groupStats, resultToThreadStat } from './convert';
import { Command, CommandReader, OP, PROTOCOL_VERSION, ProtocolError, encodeCommand, opName } from './frame';
import {
  ARCH_X86_64,
  JOB_OPTION,
  OS_LINUX,
  PROBE_REPLY,
  START,
  STOP as STOP_PDU,
  decodeJob,
  decodeJobLine,
  encodeDu,
  encodeEta,
  encodeGs,
  encodeText,
  encodeTs,
} from './pdu';
import { finishDiskUtil, startDiskUtil } from '../disk-util';
import { reportedResults } from '../groups';
import { PHASE, PROGRESS_FIELDS, STOP } from '../loop';
import { JobSpec } from '../options';
import { jobHeaderLine } from '../report-normal';
import { BLKBENCH_VERSION } from '../report-json';
import { mergeResults } from '../results';
import { OptionError } from '../units';

/**
 * fio's options of the fio process rather than of a job, which fio's client passes on with the
 * remote arguments: they govern the client's display, so the server ignores them.
 */
const FIO_PROCESS_OPTIONS = new Set([
  'eta', 'eta-newline', 'eta-interval', 'status-interval', 'debug', 'warnings-fatal', 'max-jobs', 'terse-version',
  'minimal', 'append-terse', 'bandwidth-log', 'inflate-log', 'trigger', 'trigger-file', 'trigger-timeout',
  'trigger-remote', 'aux-path', 'output',
]);

const EINVAL = 22;
const EPROTO = 71;
const EBUSY = 16;
const ETIMEDOUT = 110;
const E2BIG = 7;

export interface FleetServerOptions {
  address: FleetAddress;
  /** Where the server says what it does (stderr for the CLI). */
  log: (line: string) => void;
  /** Bounds on what a peer may send (DEFAULT_LIMITS where not given). */
  limits?: Partial<FleetLimits>;
}

export class FleetServer {
  private server: net.Server | undefined;
  private readonly sessions = new Set<Session>();
  /** Set when a client sent EXIT (fio's server exits then too). */
  exitRequested: (() => void) | undefined;
  private readonly limits: FleetLimits;

  constructor(private opts: FleetServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    // Lines quote what peers sent (option names, paths): their control characters are shown, not
    // passed to the operator's terminal.
    const log = opts.log;
    this.opts = { ...opts, log: (line) => log(line.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)) };
  }

  listen(): Promise<void> {
    const a = this.opts.address;
    const server = net.createServer((sock) => this.accept(sock));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      const ready = () => {
        server.removeListener('error', reject);
        server.on('error', (e) => this.opts.log(`server error: ${e.message}`));
        this.opts.log(`listening on ${describeFleetAddress(a)}`);
        resolve();
      };
      if (a.kind === 'sock') {
        if (fs.existsSync(a.path) && fs.statSync(a.path).isSocket()) fs.unlinkSync(a.path); // a stale socket of an earlier server
        server.listen(a.path, ready);
      } else {
        server.listen({ host: a.host ?? (a.family === 6 ? '::' : '0.0.0.0'), port: a.port, ipv6Only: a.family === 6 }, ready);
      }
    });
  }

  /** Stops listening, stops every running job and closes every connection. */
  async close(): Promise<void> {
    for (const s of this.sessions) s.abort();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    await Promise.all([...this.sessions].map((s) => s.finished));
  }

  private accept(sock: net.Socket): void {
    const peer = sock.remoteAddress ? `${sock.remoteAddress},${sock.remotePort}` : 'local socket';
    if (this.sessions.size >= this.limits.maxConnections) {
      // Said in the protocol, so a fio client prints why; the socket is not kept waiting.
      this.opts.log(`client ${peer} refused: ${this.limits.maxConnections} connections already`);
      sock.on('error', () => undefined);
      const why = `blkbench server: busy, serving ${this.limits.maxConnections} connections already; try again later\n`;
      sock.end(Buffer.concat([
        encodeCommand(OP.TEXT, encodeText(why)),
        encodeCommand(OP.STOP, STOP_PDU.encode({ error: EBUSY, signal: 0 })),
        encodeCommand(OP.QUIT),
      ]));
      setTimeout(() => sock.destroy(), this.limits.lingerMs).unref();
      return;
    }
    const session = new Session(sock, peer, this.opts.log, () => this.exitRequested?.(), this.limits);
    this.sessions.add(session);
    void session.finished.then(() => this.sessions.delete(session));
  }
}

class Session {
  private readonly reader: CommandReader;
  /** Bytes of job text and command line this connection has sent. */
  private jobBytes = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private setupTimer: NodeJS.Timeout | undefined;
  private refused = false;
  private specs: JobSpec[] | undefined;
  /** Command-line options the client sent before its job files. */
  private lineArgs: string[] = [];
  /** Job files in the order sent: names of the ones sent (their text in `texts`) or server paths. */
  private readonly sources: string[] = [];
  private readonly texts = new Map<string, string>();
  /** Reports announced to the client so far (START's stat_outputs add up). */
  private announced = 0;
  /** Whether the client prints fio's normal output (else job headers and progress text are not sent). */
  private human = true;
  private readonly stop = new Int32Array(new SharedArrayBuffer(4));
  private running = false;
  private progress: Float64Array | undefined;
  private started = 0;
  private lastEta = { at: 0, bytes: [0, 0, 0], ios: [0, 0, 0] };
  private closed = false;
  readonly finished: Promise<void>;
  private resolveFinished!: () => void;

  constructor(
    private readonly sock: net.Socket,
    private readonly peer: string,
    private readonly log: (line: string) => void,
    private readonly onExit: () => void,
    private readonly limits: FleetLimits,
  ) {
    this.reader = new CommandReader(limits.maxConnectionBytes);
    this.finished = new Promise((r) => (this.resolveFinished = r));
    log(`client ${peer} connected`);
    // A peer that vanishes mid-job (host down, cable out) is found by the kernel's probes.
    sock.setKeepAlive(true, 15_000);
    sock.on('data', (chunk: Buffer) => this.onData(chunk));
    sock.on('drain', () => {
      if (!this.refused && !this.closed) sock.resume();
    });
    sock.on('error', () => undefined); // 'close' follows
    this.setupTimer = setTimeout(
      () => this.refuse(`no job started within ${limits.setupTimeoutMs / 1000} s of connecting: closing`, ETIMEDOUT),
      limits.setupTimeoutMs,
    );
    this.armIdle();
    sock.on('close', () => {
      this.closed = true;
      this.clearTimers();
      if (this.running) log(`client ${peer} went away: stopping its job`);
      this.abort();
      if (!this.running) this.resolveFinished();
    });
  }

  /** Restarts the idle clock: a connection without a job must complete a command now and then. */
  private armIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.running || this.refused || this.closed) return;
    this.idleTimer = setTimeout(
      () => this.refuse(`no whole command for ${this.limits.idleTimeoutMs / 1000} s: closing`, ETIMEDOUT),
      this.limits.idleTimeoutMs,
    );
  }

  private clearTimers(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    if (this.setupTimer) clearTimeout(this.setupTimer);
    this.idleTimer = this.setupTimer = undefined;
  }

  abort(): void {
    Atomics.store(this.stop, 0, STOP.stop);
    Atomics.notify(this.stop, 0);
    if (!this.running) this.sock.destroy();
  }

  private send(op: number, payload?: Buffer, tag = 0n, version = PROTOCOL_VERSION): void {
    if (!this.closed && this.sock.writable) this.sock.write(encodeCommand(op, payload, tag, version));
  }

  private text(s: string, version = PROTOCOL_VERSION): void {
    this.send(OP.TEXT, encodeText(s), 0n, version);
  }

  /** Says why, sends STOP with the errno and QUIT, and closes the connection once they are out. */
  private refuse(reason: string, errno: number, version = PROTOCOL_VERSION): void {
    if (this.refused || this.closed) return;
    this.refused = true;
    this.clearTimers();
    this.log(`client ${this.peer}: ${reason}`);
    this.text(`blkbench server: ${reason}\n`, version);
    this.send(OP.STOP, STOP_PDU.encode({ error: errno, signal: 0 }), 0n, version);
    this.send(OP.QUIT, undefined, 0n, version);
    Atomics.store(this.stop, 0, STOP.stop);
    Atomics.notify(this.stop, 0);
    this.sock.end();
    this.sock.removeAllListeners('data');
    this.sock.resume(); // what the peer still sends is read and dropped, so its writes do not stall
    setTimeout(() => this.sock.destroy(), this.limits.lingerMs).unref(); // a peer that does not close is not waited for
  }

  private onData(chunk: Buffer): void {
    if (this.refused || this.closed) return;
    let cmds: Command[];
    try {
      cmds = this.reader.push(chunk);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      // A peer of another version reads only its own version: answer in it, so it can print why.
      this.refuse(e.message, EPROTO, e.kind === 'version' ? e.peerVersion : PROTOCOL_VERSION);
      return;
    }
    for (const c of cmds) {
      if (this.closed || this.refused || !this.sock.writable) return;
      try {
        this.handle(c);
      } catch (e) {
        // A payload too short for its structure, or otherwise malformed.
        this.refuse(`malformed ${opName(c.opcode)}: ${(e as Error).message}`, EINVAL);
        return;
      }
    }
    if (cmds.length > 0) this.armIdle();
    // A peer that sends commands but does not read the replies: stop reading it until it does.
    if (!this.refused && this.sock.writableLength > this.limits.maxQueuedOutput) this.sock.pause();
  }

  /** Counts a job file or command line against the connection's bounds; false once refused. */
  private admit(bytes: number): boolean {
    this.jobBytes += bytes;
    if (this.jobBytes > this.limits.maxConnectionBytes) {
      this.refuse(`job files and command lines of ${this.jobBytes} bytes, more than the ${this.limits.maxConnectionBytes} a connection may send`, E2BIG);
      return false;
    }
    if (this.sources.length >= this.limits.maxJobFiles) {
      this.refuse(`more than ${this.limits.maxJobFiles} job files on one connection`, E2BIG);
      return false;
    }
    return true;
  }

  private handle(c: Command): void {
    switch (c.opcode) {
      case OP.PROBE:
        this.send(OP.PROBE, this.probeReply(), c.tag);
        return;
      case OP.JOB: {
        if (!this.admit(c.payload.length)) return;
        if (this.running) return this.refuse('a job file sent while a job runs', EINVAL);
        const name = `<job file ${this.sources.length + 1} from the client>`;
        this.texts.set(name, decodeJob(c.payload));
        this.sources.push(name);
        this.load();
        return;
      }
      case OP.JOBLINE: {
        // fio's client sends its remote arguments before its job files; they may define jobs
        // themselves (--name=…) or only set options (such as --output-format) for the files.
        if (this.running) return this.refuse('a command line sent while a job runs', EINVAL);
        this.jobBytes += c.payload.length;
        if (this.jobBytes > this.limits.maxConnectionBytes) {
          return this.refuse(`a command line of ${c.payload.length} bytes, more than the ${this.limits.maxConnectionBytes} a connection may send`, E2BIG);
        }
        let cmd: ReturnType<typeof parseCommandLine>;
        try {
          this.lineArgs = decodeJobLine(c.payload).slice(1).filter((a) => !FIO_PROCESS_OPTIONS.has(a.replace(/^--?/, '').split('=')[0]));
          cmd = parseCommandLine(this.lineArgs);
        } catch (e) {
          return this.refuse(`job refused: ${(e as Error).message.split('\n').join('; ')}`, EINVAL);
        }
        this.human = cmd.formats.includes('normal');
        if (!cmd.defaultJob) this.load();
        return;
      }
      case OP.LOAD_FILE: {
        // A job file on this host (fio --client=HOST --remote-config=PATH).
        if (c.payload.length < 4) throw new RangeError(`LOAD_FILE payload of ${c.payload.length} bytes has no header`);
        if (!this.admit(0)) return;
        if (this.running) return this.refuse('a job file named while a job runs', EINVAL);
        const len = c.payload.readUInt16LE(0);
        this.sources.push(c.payload.subarray(4, 4 + len).toString('utf8').replace(/\0.*$/s, ''));
        this.load();
        return;
      }
      case OP.RUN:
        if (!this.specs) return this.refuse('RUN without a job', EINVAL);
        if (this.running) return this.refuse('RUN while a job runs', EINVAL);
        {
          const why = jobAdmissionError(this.specs, this.limits);
          if (why) return this.refuse(`job refused: ${why}`, EINVAL);
        }
        this.clearTimers();
        void this.run(this.specs);
        return;
      case OP.SEND_ETA:
        this.send(OP.ETA, this.eta(), c.tag);
        return;
      case OP.QUIT:
        Atomics.store(this.stop, 0, STOP.stop);
        Atomics.notify(this.stop, 0);
        return;
      case OP.EXIT:
        this.abort();
        this.onExit();
        return;
      default:
        this.refuse(`unsupported command ${opName(c.opcode)}`, EINVAL);
    }
  }

  private probeReply(): Buffer {
    return PROBE_REPLY.encode({
      hostname: os.hostname(),
      bigendian: 0,
      fioVersion: BLKBENCH_VERSION,
      os: OS_LINUX,
      arch: process.arch === 'x64' ? ARCH_X86_64 : 0,
      bpp: 8,
      cpus: os.cpus().length,
      flags: 0, // no compression: nothing sent here is compressed
    });
  }

  /**
   * Parses everything the client sent so far (remote arguments, then job files in order, as blkbench
   * parses a local command line), announces the jobs not announced yet as fio does (their header
   * lines), and sends START with all jobs and the reports added.
   */
  private load(): void {
    let specs: JobSpec[];
    try {
      const read = (p: string) => this.texts.get(p) ?? readServerFile(p, this.limits.maxConnectionBytes);
      const cmd = parseCommandLine([...this.lineArgs, ...this.sources], read);
      specs = cmd.defaultJob ? [] : cmd.jobs;
      if (specs.length === 0) throw new OptionError('the job file defines no job');
      const clones = specs.reduce((a, s) => a + s.numjobs, 0);
      if (clones > this.limits.maxClones) throw new OptionError(`${clones} job clones, more than the ${this.limits.maxClones} a client may run here`);
    } catch (e) {
      const msg = e instanceof OptionError || e instanceof RangeError ? e.message : `cannot read the job: ${(e as Error).message}`;
      this.refuse(`job refused: ${msg.split('\n').join('; ')}`, EINVAL);
      return;
    }
    const seen = new Set((this.specs ?? []).map((s) => s.name));
    for (const s of specs.slice(this.specs?.length ?? 0)) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      if (this.human) this.text(`${jobHeaderLine(s)}\n`);
    }
    this.specs = specs;
    // fio's client adds up the reports announced by each START.
    const reports = statOutputs(specs);
    this.send(OP.START, START.encode({ jobs: specs.reduce((a, s) => a + s.numjobs, 0), statOutputs: reports - this.announced }));
    this.announced = reports;
  }

  private async run(specs: JobSpec[]): Promise<void> {
    this.running = true;
    this.started = Date.now();
    this.lastEta = { at: this.started, bytes: [0, 0, 0], ios: [0, 0, 0] };
    this.send(OP.SERVER_START);
    const clones = specs.reduce((a, s) => a + s.numjobs, 0);
    if (this.human) this.text(`Starting ${clones} thread${clones === 1 ? '' : 's'}\n`);
    this.log(`client ${this.peer}: running ${specs.length} job${specs.length === 1 ? '' : 's'}`);
    let errno = 0;
    try {
      const disks = startDiskUtil(specs);
      const { runJobs } = await import('../runner');
      const all = await runJobs(specs, {
        log: (line) => (this.human ? this.text(`${line}\n`) : undefined),
        onProgress: (p) => (this.progress = p),
        stop: this.stop,
      });
      const elapsed = Date.now() - this.started;
      const diskLines = finishDiskUtil(disks, elapsed);
      if (this.closed) return;
      const reported = reportedResults(all, mergeResults);
      const groups = [...new Set(all.map((r) => r.groupid))];
      const gs = new Map(groups.map((g) => [g, groupStats(all.filter((r) => r.groupid === g), g)]));
      // Thread numbers as fio counts them: clones in order, from 1.
      const numbers = new Map<object, number>();
      all.forEach((r, i) => numbers.set(r, i + 1));
      reported.forEach((r) => {
        // A merged group report has the number of its group's first job.
        const number = numbers.get(r) ?? all.findIndex((x) => x.groupid === r.groupid) + 1;
        for (const [name, value] of Object.entries(r.spec.echo ?? {})) {
          this.send(OP.JOB_OPT, JOB_OPTION.encode({ global: 0, groupid: number - 1, name, value: value ?? '' }));
        }
        this.send(OP.TS, encodeTs(resultToThreadStat(r, number, process.pid), gs.get(r.groupid) ?? {}));
        if (r.error !== 0 && errno === 0) errno = r.error;
      });
      for (const g of groups) this.send(OP.GS, encodeGs(gs.get(g)!));
      for (const l of diskLines) this.send(OP.DU, encodeDu(diskLineToPdu(l, elapsed)));
      for (const r of all) if (r.error !== 0) this.text(`${r.name}: ${r.errorMessage ?? `error ${r.error}`}\n`);
    } catch (e) {
      errno = errno || EINVAL;
      this.text(`blkbench server: ${(e as Error).message}\n`);
    } finally {
      this.running = false;
      this.log(`client ${this.peer}: job done${this.closed ? ' (client gone)' : ''}`);
      this.send(OP.STOP, STOP_PDU.encode({ error: errno, signal: 0 }));
      this.send(OP.QUIT);
      this.refused = true; // nothing more is read from this connection
      this.sock.end();
      this.sock.resume();
      // A client that never closes its side is not waited for (fio's client closes on QUIT).
      setTimeout(() => this.sock.destroy(), this.limits.lingerMs).unref();
      if (this.closed) this.resolveFinished();
    }
  }

  private eta(): Buffer {
    const p = this.progress;
    const clones = this.specs ? this.specs.reduce((a, s) => a + s.numjobs, 0) : 0;
    const now = Date.now();
    const bytes = [0, 0, 0];
    const ios = [0, 0, 0];
    let runStr = '';
    let nrRunning = 0;
    let fraction = 1;
    for (let i = 0; i < clones; i++) {
      const phase = p ? p[i * PROGRESS_FIELDS] : 0;
      if (this.running && phase !== PHASE.done) nrRunning++;
      if (p) fraction = Math.min(fraction, p[i * PROGRESS_FIELDS + 1]);
      runStr += !this.running ? 'P' : phase === PHASE.done ? '_' : phase === PHASE.verify ? 'V' : 'R';
      for (let d = 0; d < 3; d++) {
        bytes[d] += p ? p[i * PROGRESS_FIELDS + 2 + d] : 0;
        ios[d] += p ? p[i * PROGRESS_FIELDS + 5 + d] : 0;
      }
    }
    const secs = Math.max(1e-3, (now - this.lastEta.at) / 1000);
    // fio's ETA rates are in KiB/s.
    const rate = bytes.map((b, d) => Math.max(0, b - this.lastEta.bytes[d]) / 1024 / secs);
    const iops = ios.map((n, d) => Math.max(0, n - this.lastEta.ios[d]) / secs);
    this.lastEta = { at: now, bytes, ios };
    const elapsed = this.running ? (now - this.started) / 1000 : 0;
    return encodeEta({
      nrRunning,
      nrThreads: clones,
      elapsedSec: Math.floor(elapsed),
      // From the slowest job's fraction done (time or bytes, whichever ends it).
      etaSec: fraction > 0 && fraction < 1 ? Math.round((elapsed * (1 - fraction)) / fraction) : 0,
      rate,
      iops,
      runStr,
    });
  }
}

/** How many thread_stat reports a job list produces: one per clone, one per group_reporting group. */
function statOutputs(specs: JobSpec[]): number {
  const groups = new Map<number, { reporting: boolean; clones: number }>();
  for (const s of specs) {
    const g = groups.get(s.groupid) ?? { reporting: false, clones: 0 };
    g.reporting ||= s.groupReporting;
    g.clones += s.numjobs;
    groups.set(s.groupid, g);
  }
  let n = 0;
  for (const g of groups.values()) n += g.reporting ? 1 : g.clones;
  return n;
}
