/**
 * What a fleet server and client accept from a network peer. A peer may send anything: these bounds
 * keep each connection's memory and time finite, so one peer cannot starve the others or the host.
 * The server's defaults are documented in docs/fleet.md ("Robustness"); tests shorten the timeouts.
 */
import * as fs from 'node:fs';
import { assignFiles } from '../files';
import { JobSpec } from '../options';

export interface FleetLimits {
  /** Connections served at once; one more is told the server is busy and closed. */
  maxConnections: number;
  /** Bytes of one command (fragments joined), and of all job text one connection sends. */
  maxConnectionBytes: number;
  /** Job files (sent or named on the server) one connection may load. */
  maxJobFiles: number;
  /** Job clones one connection may run (fio's own maximum number of jobs). */
  maxClones: number;
  /** I/O buffer memory (clones x iodepth x largest block) one connection's job may ask for. */
  maxJobMemory: number;
  /** Without a job running, a connection that completes no command for this long is closed. */
  idleTimeoutMs: number;
  /** A connection that has not started a job this long after connecting is closed. */
  setupTimeoutMs: number;
  /** Replies queued for a peer that does not read; above this, its commands are not read either. */
  maxQueuedOutput: number;
  /** After QUIT, or a refusal, a peer that keeps its side open is closed after this long. */
  lingerMs: number;
}

export const DEFAULT_LIMITS: FleetLimits = {
  maxConnections: 64,
  maxConnectionBytes: 1024 * 1024,
  maxJobFiles: 64,
  maxClones: 4096,
  maxJobMemory: 4 * 1024 ** 3,
  idleTimeoutMs: 30_000,
  setupTimeoutMs: 60_000,
  maxQueuedOutput: 1024 * 1024,
  lingerMs: 5000,
};

/** The client's bounds on what one server may send. */
export const CLIENT_LIMITS = {
  /** Bytes of one command: a TS report is 184 KiB. */
  maxCommandBytes: 4 * 1024 * 1024,
  /** Reports kept per server (fio's maximum number of jobs). */
  maxReports: 4096,
  /** Disk utilisation lines and job option sets kept per server. */
  maxDisks: 256,
  maxJobOptionSets: 4096,
  maxJobOptionsPerSet: 1024,
};

/**
 * Reads a job file that lives on the server (`--remote-config`, `include`): only a regular file of
 * at most `maxBytes`, opened without blocking, so a FIFO, a device or /proc cannot stall or flood
 * the server.
 */
export function readServerFile(p: string, maxBytes: number): string {
  const fd = fs.openSync(p, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new Error(`'${p}' is not a regular file`);
    if (st.size > maxBytes) throw new Error(`'${p}' is ${st.size} bytes, more than the ${maxBytes} a job file may have here`);
    const buf = Buffer.alloc(maxBytes + 1);
    let got = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got > maxBytes) throw new Error(`'${p}' grew past the ${maxBytes} bytes a job file may have here`);
    }
    return buf.subarray(0, got).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Why the server will not run these jobs, or undefined. Beyond the checks blkbench makes for any job:
 * bounds on clones and buffer memory (a peer's job shares the host with other peers'), and no FIFO
 * as a target (opening one waits for a writer, which would stall the server).
 */
export function jobAdmissionError(specs: JobSpec[], limits: FleetLimits): string | undefined {
  let clones = 0;
  let memory = 0;
  for (const s of specs) {
    clones += s.numjobs;
    const largest = Math.max(...Object.values(s.bs).flatMap((c) => c.sizes));
    memory += s.numjobs * s.iodepth * largest;
  }
  if (clones > limits.maxClones) return `${clones} job clones, more than the ${limits.maxClones} a client may run here`;
  if (memory > limits.maxJobMemory) {
    return `the jobs ask for ${memory} bytes of I/O buffers (numjobs x iodepth x bs), more than the ${limits.maxJobMemory} a client may use here`;
  }
  let placed: JobSpec[];
  try {
    placed = assignFiles(specs);
  } catch {
    return undefined; // the runner says why
  }
  for (const s of placed) {
    if (s.path === undefined) continue;
    for (const p of new Set([s.path, ...s.path.split(':')])) {
      let st: fs.Stats | undefined;
      try {
        st = fs.statSync(p);
      } catch {
        continue; // created by the job, or the driver says why not
      }
      if (st.isFIFO()) return `job '${s.name}': '${p}' is a FIFO, which a job cannot use (opening it waits for a writer)`;
    }
  }
  return undefined;
}
