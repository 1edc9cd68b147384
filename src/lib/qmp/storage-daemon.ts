// qemu-storage-daemon serving one raw image: a vhost-user-blk export for the
// Device's slow path and a QMP monitor for the storage features. The node
// graph is file0 (the image) <- fmt0 (raw) <- thr0 (throttle filter in group
// tg0, unlimited until limits are set) <- the export, so that throttling,
// snapshots and backups need no change of what the export uses.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlkioError } from '../errors';
import { QmpClient } from './client';

export interface StorageDaemonOptions {
  /** The raw image to serve. */
  image: string;
  /** Directory for the sockets (default: a new temp dir, removed by stop()). */
  dir?: string;
  /** The daemon's executable (default qemu-storage-daemon from PATH). */
  binary?: string;
  /** How long to wait for the daemon to come up (default 15 s). */
  startTimeoutMs?: number;
}

/** Node names of the graph the daemon builds (see the file comment). */
export const NODES = { file: 'file0', format: 'fmt0', throttle: 'thr0', throttleGroup: 'tg0', export: 'export0' } as const;

const ENOENT = 2;
const ETIME = 62;

/** A running qemu-storage-daemon for one image. Start it with StorageDaemon.start(). */
export class StorageDaemon {
  /** The vhost-user-blk socket (driver virtio-blk-vhost-user). */
  readonly socket: string;
  readonly qmpSocket: string;
  readonly image: string;
  readonly #pidfile: string;
  readonly #dir: string;
  readonly #ownsDir: boolean;
  readonly #proc: ChildProcess;
  readonly #exited: Promise<void>;
  #qmp: QmpClient | null = null;
  #stderr = '';

  private constructor(opts: StorageDaemonOptions) {
    this.image = opts.image;
    this.#ownsDir = opts.dir === undefined;
    this.#dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-qsd-'));
    this.socket = path.join(this.#dir, 'slow-path.sock');
    this.qmpSocket = path.join(this.#dir, 'qmp.sock');
    this.#pidfile = path.join(this.#dir, 'qsd.pid');
    for (const f of [this.socket, this.qmpSocket, this.#pidfile]) fs.rmSync(f, { force: true });
    const args = [
      '--object', `throttle-group,id=${NODES.throttleGroup}`,
      '--blockdev', `driver=file,node-name=${NODES.file},filename=${opts.image},aio=threads,discard=unmap`,
      '--blockdev', `driver=raw,node-name=${NODES.format},file=${NODES.file},discard=unmap`,
      '--blockdev', `driver=throttle,node-name=${NODES.throttle},throttle-group=${NODES.throttleGroup},file=${NODES.format}`,
      '--export', `type=vhost-user-blk,id=${NODES.export},node-name=${NODES.throttle},addr.type=unix,addr.path=${this.socket},writable=on`,
      '--chardev', `socket,id=qmp0,path=${this.qmpSocket},server=on,wait=off`,
      '--monitor', 'chardev=qmp0',
      '--pidfile', this.#pidfile,
    ];
    this.#proc = spawn(opts.binary ?? 'qemu-storage-daemon', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    this.#exited = new Promise((resolve) => this.#proc.once('exit', () => resolve()));
  }

  /** Starts the daemon for an image and connects to its monitor. */
  static async start(opts: StorageDaemonOptions): Promise<StorageDaemon> {
    if (typeof opts !== 'object' || opts === null || typeof opts.image !== 'string')
      throw new BlkioError('StorageDaemon.start() needs { image }', 22);
    if (!fs.existsSync(opts.image)) throw new BlkioError(`image ${opts.image} does not exist`, ENOENT);
    const d = new StorageDaemon(opts);
    const spawnError = new Promise<never>((_, reject) => {
      d.#proc.once('error', (e) => reject(new BlkioError(`cannot start qemu-storage-daemon: ${e.message}`, ENOENT)));
      d.#proc.once('exit', (code, signal) =>
        reject(new BlkioError(`qemu-storage-daemon exited (${code ?? signal}) while starting: ${d.#stderr.trim()}`, 5)),
      );
    });
    spawnError.catch(() => undefined);
    try {
      const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
      // The daemon writes its pid file once its exports and monitor listen.
      while (!fs.existsSync(d.#pidfile)) {
        if (Date.now() > deadline) throw new BlkioError(`qemu-storage-daemon did not start in time: ${d.#stderr.trim()}`, ETIME);
        await Promise.race([new Promise((resolve) => setTimeout(resolve, 10)), spawnError]);
      }
      d.#qmp = await Promise.race([QmpClient.connect(d.qmpSocket), spawnError]);
      return d;
    } catch (e) {
      await d.stop();
      throw e;
    }
  }

  /** The monitor connection. */
  get qmp(): QmpClient {
    if (!this.#qmp) throw new BlkioError('the storage daemon is stopped', 107);
    return this.#qmp;
  }

  /** What the daemon printed on stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  /**
   * Stops the daemon: removes the export (refused while a client is still
   * connected: disconnect first), asks it to quit, and waits for it to exit
   * (SIGKILL after timeoutMs). The image is then no longer open in it.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    const qmp = this.#qmp;
    this.#qmp = null;
    if (qmp && this.#proc.exitCode === null) {
      try {
        await qmp.execute('block-export-del', { id: NODES.export });
        await qmp.execute('quit');
      } catch {
        // Gone already, or quit not answered: the signals below settle it.
      }
      qmp.close();
    }
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) {
      this.#proc.kill('SIGTERM');
      const timer = setTimeout(() => this.#proc.kill('SIGKILL'), timeoutMs);
      await this.#exited;
      clearTimeout(timer);
    }
    if (this.#ownsDir) fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}
