// vhost-vdpa targets for the guest tests (test/vdpa): the devices guest-init
// created (BLKIO_VDPA_SIM, BLKIO_VDUSE_RAW, ...), and VDUSE exports a test
// makes itself with qemu-storage-daemon and src/vdpa.ts. Only meaningful in
// the test guest (test/vm/run-in-vm.sh).
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { create, createCompletions } from '../../src/lib';
import * as vdpa from '../../src/lib/vdpa';
import { readFileRange, tempDir } from './files';
import { Target, TargetInstance } from './target';

export const DRIVER = 'virtio-blk-vhost-vdpa';
export const SIM_CAPACITY = 128 << 20; // vdpa_sim_blk's RAM disk

export const inVm = process.env.BLKIO_IN_VM === '1';

/** The guest-init device variables, when that device was created. */
export function guestDevice(variable: 'BLKIO_VDPA_SIM' | 'BLKIO_VDUSE_RAW' | 'BLKIO_VDUSE_QCOW2'): string | undefined {
  return inVm ? process.env[variable] || undefined : undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Writes `data` at `offset` of a vhost-vdpa device through the library (setup helper). */
export function writeThroughLibrary(devicePath: string, offset: number, data: Uint8Array): void {
  const b = create(DRIVER);
  try {
    b.setStr('path', devicePath);
    b.connect();
    b.start();
    const size = Math.ceil(data.length / 4096) * 4096;
    const region = b.allocMemRegion(size);
    b.mapMemRegion(region);
    new Uint8Array(region.buffer).set(data);
    const q = b.getQueue(0)!;
    q.write(offset, new Uint8Array(region.buffer, 0, data.length));
    const c = createCompletions(1);
    q.doIo(c, 1, 1, 10e9);
    if (c[0].ret !== 0) throw new Error(`setup write failed: ${c[0].ret} ${c[0].errorMsg}`);
  } finally {
    b.destroy();
  }
}

// The start of every target holds random data (the shared suite checks
// that writes of zeros leave their neighbours alone).
const RANDOM_PREFIX = 256 << 10;

/** vdpa_sim_blk from guest-init: a RAM disk, readable only through the device. */
export function simTarget(devicePath: string): Target {
  return {
    driver: DRIVER,
    description: 'vdpa_sim_blk',
    async setup(): Promise<TargetInstance> {
      writeThroughLibrary(devicePath, 0, crypto.randomBytes(RANDOM_PREFIX));
      return { path: devicePath, capacity: SIM_CAPACITY, teardown: async () => {} };
    },
  };
}

/**
 * A VDUSE device from guest-init (served by qemu-storage-daemon from a raw
 * file, which qsd accesses through the page cache, so the file shows every
 * completed write).
 */
export function vduseRawTarget(devicePath: string, file: string): Target {
  return {
    driver: DRIVER,
    description: 'VDUSE (qemu-storage-daemon, raw file)',
    async setup(): Promise<TargetInstance> {
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, crypto.randomBytes(RANDOM_PREFIX), 0, RANDOM_PREFIX, 0);
      fs.closeSync(fd);
      return {
        path: devicePath,
        capacity: fs.statSync(file).size,
        readOutside: async (offset, length) => readFileRange(file, offset, length),
        teardown: async () => {},
      };
    },
  };
}

/** Sends QMP commands to a unix socket; resolves to each command's "return" value. */
export function qmp(socketPath: string, commands: { execute: string; arguments?: object }[]): Promise<unknown[]> {
  const all = [{ execute: 'qmp_capabilities' }, ...commands];
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    const replies: unknown[] = [];
    let buffered = '';
    let sent = 0;
    const timer = setTimeout(() => finish(new Error(`QMP on ${socketPath}: no answer within 20 s`)), 20000);
    function finish(error?: Error): void {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies.slice(1));
    }
    const send = () => socket.write(JSON.stringify(all[sent++]) + '\n');
    socket.setEncoding('utf8');
    socket.on('error', (e) => finish(e));
    // quit may close the connection before its reply arrives.
    socket.on('close', () => {
      if (sent === all.length && all[sent - 1].execute === 'quit') finish();
      else finish(new Error(`QMP on ${socketPath}: connection closed`));
    });
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
        buffered = buffered.slice(newline + 1);
        if ('event' in message) continue;
        if ('QMP' in message) {
          send();
          continue;
        }
        if ('error' in message) return finish(new Error(`QMP ${all[replies.length].execute}: ${JSON.stringify(message.error)}`));
        replies.push(message.return);
        if (replies.length === all.length) return finish();
        send();
      }
    });
  });
}

export type ImageFormat = 'raw' | 'qcow2';

export interface VduseOptions {
  /** VDUSE and vdpa device name (unique in the guest). */
  name: string;
  format?: ImageFormat;
  /** Size of a created image (default 16 MiB). */
  size?: number;
  /** Start from this raw file's content (copied or converted), else random data. */
  from?: string;
  queues?: number;
  queueSize?: number;
  /** Also export the same block node over vhost-user on this socket (one image, two paths). */
  vhostUserSocket?: string;
}

const daemons = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of daemons) p.kill('SIGKILL');
});

/**
 * A VDUSE block device served by qemu-storage-daemon from an image in a temp
 * dir, created with src/vdpa.ts (vdpa dev add) and bound to vhost_vdpa.
 */
export class VduseExport {
  readonly dir: string;
  readonly image: string;
  readonly qmpSocket: string;
  devicePath = '';
  #proc: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';
  #added = false;
  #exitStatus: number | string | null = null;

  private constructor(
    readonly name: string,
    readonly format: ImageFormat,
    readonly size: number,
  ) {
    this.dir = tempDir(`blkio-vduse-${name}-`);
    this.image = path.join(this.dir, `disk.${format}`);
    this.qmpSocket = path.join(this.dir, 'qmp.sock');
  }

  static async start(opts: VduseOptions): Promise<VduseExport> {
    const format = opts.format ?? 'raw';
    const size = opts.from ? fs.statSync(opts.from).size : (opts.size ?? 16 << 20);
    const e = new VduseExport(opts.name, format, size);
    const raw = format === 'raw' ? e.image : path.join(e.dir, 'source.raw');
    if (opts.from) fs.copyFileSync(opts.from, raw);
    else fs.writeFileSync(raw, crypto.randomBytes(size));
    if (format === 'qcow2') {
      execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, e.image]);
      fs.rmSync(raw);
    }
    try {
      await e.#spawn(opts.queues ?? 1, opts.queueSize ?? 256, opts.vhostUserSocket);
      await vdpa.addDevice({ name: e.name, mgmtdev: 'vduse' });
      e.#added = true;
      e.devicePath = await vdpa.bindDriver(e.name, 'vhost_vdpa');
    } catch (error) {
      await e.dispose();
      throw error;
    }
    return e;
  }

  get pid(): number {
    return this.#proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.#proc !== null;
  }

  /** The daemon's exit code or signal name once it exited. */
  get exitStatus(): number | string | null {
    return this.#exitStatus;
  }

  get stderr(): string {
    return this.#stderr;
  }

  async #spawn(queues: number, queueSize: number, vhostUserSocket?: string): Promise<void> {
    const pidfile = path.join(this.dir, 'qsd.pid');
    const node = this.format === 'qcow2' ? 'fmt0' : 'file0';
    const args = [
      '--chardev', `socket,id=qmp,path=${this.qmpSocket},server=on,wait=off`,
      '--monitor', 'chardev=qmp',
      '--blockdev', `driver=file,node-name=file0,filename=${this.image},discard=unmap`,
      ...(this.format === 'qcow2' ? ['--blockdev', 'driver=qcow2,node-name=fmt0,file=file0,discard=unmap'] : []),
      '--export',
      `type=vduse-blk,id=${this.name},node-name=${node},name=${this.name},writable=on,num-queues=${queues},queue-size=${queueSize}`,
      ...(vhostUserSocket
        ? ['--export', `type=vhost-user-blk,id=${this.name}-vu,node-name=${node},addr.type=unix,addr.path=${vhostUserSocket},writable=on`]
        : []),
      '--pidfile', pidfile,
    ];
    // TMPDIR: where libvduse keeps its reconnect log.
    const proc = spawn('qemu-storage-daemon', args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, TMPDIR: this.dir },
    });
    this.#proc = proc;
    daemons.add(proc);
    proc.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    let exit: number | string | null = null;
    this.#exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        exit = code ?? signal;
        this.#exitStatus = exit;
        daemons.delete(proc);
        if (this.#proc === proc) this.#proc = null;
        resolve();
      });
    });
    // qsd writes the pid file once the export (and its queues) exists,
    // which is what `vdpa dev add` needs.
    const deadline = Date.now() + 30000;
    while (!fs.existsSync(pidfile) || fs.statSync(pidfile).size === 0) {
      if (exit !== null) throw new Error(`qemu-storage-daemon exited (${exit}): ${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`qemu-storage-daemon did not start within 30 s: ${this.#stderr}`);
      await sleep(20);
    }
  }

  /** /sys/class/vduse/NAME/msg_timeout: how long the kernel waits for the daemon (default 30 s). */
  setMessageTimeout(seconds: number): void {
    fs.writeFileSync(`/sys/class/vduse/${this.name}/msg_timeout`, String(seconds));
  }

  /** Kills the daemon with a signal and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    proc.kill(signal);
    await this.#exited;
  }

  /** `vdpa dev del` through src/vdpa.ts: resolves once every fd of the device is closed. */
  deleteDevice(): Promise<void> {
    if (!this.#added) return Promise.resolve();
    this.#added = false;
    return vdpa.deleteDevice(this.name);
  }

  /**
   * Deletes the vdpa device (before the daemon, or the VDUSE device lingers)
   * and stops the daemon through QMP, so the image is complete.
   */
  async stop(): Promise<void> {
    await this.deleteDevice();
    const proc = this.#proc;
    if (!proc) return;
    const killer = setTimeout(() => proc.kill('SIGKILL'), 20000);
    try {
      await qmp(this.qmpSocket, [{ execute: 'quit' }]);
    } catch {
      proc.kill('SIGTERM');
    }
    await this.#exited;
    clearTimeout(killer);
  }

  /** stop(), then removes the image and temp dir. */
  async dispose(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.#proc?.kill('SIGKILL');
      await this.#exited;
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
