// A QMP client: JSON over a QEMU monitor's unix socket, one message a line.
// Commands carry an id, so answers find their caller whatever events come
// in between; an error answer becomes a BlkioError naming the command.
import * as net from 'node:net';
import { BlkioError } from '../errors';

const EIO = 5;
const ETIME = 62;
const ENOTCONN = 107;

/** An asynchronous QMP event (`{ event, data, timestamp }`). */
export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  timestamp: { seconds: number; microseconds: number };
}

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  command: string;
}

/** One QMP connection, capabilities negotiated. Create it with QmpClient.connect(). */
export class QmpClient {
  readonly #socket: net.Socket;
  readonly #waiting = new Map<number, Waiter>();
  readonly #listeners = new Set<(e: QmpEvent) => void>();
  #nextId = 1;
  #buffered = '';
  #closed: Error | null = null;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
  }

  /**
   * Connects to the monitor at socketPath, reads the greeting and leaves
   * capabilities negotiation mode (qmp_capabilities).
   */
  static async connect(socketPath: string, timeoutMs = 10_000): Promise<QmpClient> {
    const socket = net.createConnection(socketPath);
    const client = new QmpClient(socket);
    const greeting = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new BlkioError(`QMP ${socketPath}: no greeting within ${timeoutMs} ms`, ETIME));
      }, timeoutMs);
      client.#onGreeting = () => (clearTimeout(timer), resolve());
      socket.once('error', (e) => (clearTimeout(timer), reject(new BlkioError(`QMP ${socketPath}: ${e.message}`, ENOTCONN))));
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => client.#receive(chunk));
    socket.on('error', (e) => client.#fail(new BlkioError(`QMP ${socketPath}: ${e.message}`, ENOTCONN)));
    socket.on('close', () => client.#fail(new BlkioError(`QMP ${socketPath}: connection closed`, ENOTCONN)));
    await greeting;
    await client.execute('qmp_capabilities');
    return client;
  }

  #onGreeting: (() => void) | null = null;

  /** Runs a command; resolves to its `return` value, rejects with a BlkioError carrying QMP's error. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject, command });
      this.#socket.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** Calls listener for every event; returns a function that stops it. */
  onEvent(listener: (e: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves with the first event named `name` that `matches` (default: any), or rejects after timeoutMs. */
  waitEvent(name: string, matches: (e: QmpEvent) => boolean = () => true, timeoutMs = 60_000): Promise<QmpEvent> {
    return new Promise<QmpEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new BlkioError(`QMP: no ${name} event within ${timeoutMs} ms`, ETIME));
      }, timeoutMs);
      const stop = this.onEvent((e) => {
        if (e.event !== name || !matches(e)) return;
        clearTimeout(timer);
        stop();
        resolve(e);
      });
    });
  }

  /**
   * Waits until job `id` (created with auto-dismiss off) reaches `status`:
   * 'concluded' (then its error, if any, rejects the wait and the job is
   * dismissed) or 'ready' (a mirror or active commit waiting for
   * job-complete). Rejects if the job concludes before reaching 'ready'.
   */
  async waitJob(id: string, status: 'concluded' | 'ready' = 'concluded', timeoutMs = 600_000): Promise<void> {
    const reached = (s: string) => s === status || s === 'concluded';
    let seen = '';
    let wake: (() => void) | null = null;
    // Subscribed before asking, so that no change is missed.
    const stop = this.onEvent((e) => {
      if (e.event !== 'JOB_STATUS_CHANGE' || e.data.id !== id || !reached(String(e.data.status))) return;
      seen = String(e.data.status);
      wake?.();
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      const jobs = await this.execute<{ id: string; status: string }[]>('query-jobs');
      const job = jobs.find((j) => j.id === id);
      if (!job) throw new BlkioError(`QMP: no job ${id}`, EIO);
      if (!seen && reached(job.status)) seen = job.status;
      if (!seen) {
        await new Promise<void>((resolve, reject) => {
          wake = resolve;
          timer = setTimeout(() => reject(new BlkioError(`QMP: job ${id} not ${status} within ${timeoutMs} ms`, ETIME)), timeoutMs);
        });
      }
    } finally {
      stop();
      clearTimeout(timer);
    }
    if (seen === 'ready') return;
    const [done] = (await this.execute<{ id: string; error?: string }[]>('query-jobs')).filter((j) => j.id === id);
    await this.execute('job-dismiss', { id });
    if (done?.error) throw new BlkioError(`QMP job ${id} failed: ${done.error}`, EIO);
    if (status === 'ready') throw new BlkioError(`QMP job ${id} concluded without becoming ready`, EIO);
  }

  /** Closes the connection; pending commands reject. */
  close(): void {
    this.#fail(new BlkioError('QMP connection closed by the client', ENOTCONN));
    this.#socket.destroy();
  }

  #receive(chunk: string): void {
    this.#buffered += chunk;
    for (let nl = this.#buffered.indexOf('\n'); nl >= 0; nl = this.#buffered.indexOf('\n')) {
      const line = this.#buffered.slice(0, nl).trim();
      this.#buffered = this.#buffered.slice(nl + 1);
      if (line) this.#message(line);
    }
  }

  #message(line: string): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return this.#fail(new BlkioError(`QMP: not JSON: ${line.slice(0, 200)}`, EIO));
    }
    if (typeof m !== 'object' || m === null) return;
    if ('QMP' in m) return this.#onGreeting?.();
    if (typeof m.event === 'string') {
      const e = { event: m.event, data: (m.data ?? {}) as Record<string, unknown>, timestamp: m.timestamp } as QmpEvent;
      for (const l of [...this.#listeners]) l(e);
      return;
    }
    const waiter = typeof m.id === 'number' ? this.#waiting.get(m.id) : undefined;
    if (!waiter) return;
    this.#waiting.delete(m.id as number);
    if ('error' in m) {
      const err = (m.error ?? {}) as { class?: string; desc?: string };
      waiter.reject(new BlkioError(`QMP ${waiter.command}: ${err.desc ?? 'failed'} (${err.class ?? 'GenericError'})`, EIO));
    } else {
      waiter.resolve(m.return);
    }
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
  }
}
