// qemu-storage-daemon with a vhost-user-blk export, for tests and benches:
// a raw or qcow2 image in a temp dir, exported on a unix socket there.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from './files';
import { qmpCommand } from './qmp-command';

export type ImageFormat = 'raw' | 'qcow2';

export interface QsdOptions {
  /** Image format (default raw). */
  format?: ImageFormat;
  /** Image size in bytes when the image is created here (default 16 MiB). */
  size?: number;
  /** Fill a new image with random bytes (default true); false leaves it zeroed. */
  random?: boolean;
  /** Use this image instead of creating one (it is not deleted). */
  image?: string;
  /** Export writable (default true). */
  writable?: boolean;
  /** num-queues of the export (default 1). */
  numQueues?: number;
  logicalBlockSize?: number;
  /**
   * Options of a blkdebug node put between the file and the format node, to
   * inject errors: e.g. 'inject-error.0.event=read_aio,inject-error.0.errno=5'.
   */
  blkdebug?: string;
  /** Run the export in its own IOThread (which polls adaptively) instead of the main loop. */
  iothread?: boolean;
  /** The file node's aio mode (default threads, qsd's own default). */
  aio?: 'threads' | 'native' | 'io_uring';
  /** Directory for the socket and a created image (default: a new temp dir, deleted by dispose). */
  dir?: string;
  /**
   * Serve an NBD export instead of an image file: qsd's nbd block driver connects to it over TCP
   * (size is then required: the export's size).
   */
  nbd?: NbdSource;
  /** Serve a Ceph RBD image with qsd's rbd driver (qemu-block-extra); size is then required. */
  rbd?: RbdSource;
}

/** A Ceph RBD image, as qsd's rbd driver reaches it. */
export interface RbdSource {
  pool: string;
  image: string;
  /** The cluster's ceph.conf. */
  conf: string;
}

/** An NBD export on a TCP address, as qsd's nbd driver reaches it. */
export interface NbdSource {
  host: string;
  port: number;
  exportName: string;
}

const running = new Set<ChildProcess>();
// A test run must never leave daemons behind, whatever happens to it.
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Creates a raw image of size bytes (random or zeroed) and returns its path. */
export function createRawImage(file: string, size: number, random = true): string {
  if (random) {
    const fd = fs.openSync(file, 'w');
    const chunk = Buffer.alloc(1 << 20);
    for (let at = 0; at < size; at += chunk.length) {
      crypto.randomFillSync(chunk);
      fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - at));
    }
    fs.closeSync(fd);
  } else {
    fs.writeFileSync(file, '');
    fs.truncateSync(file, size);
  }
  return file;
}

/** Converts an image between formats with qemu-img (the daemon must not hold it for writing). */
export function convertImage(from: string, fromFormat: ImageFormat, to: string, toFormat: ImageFormat): void {
  execFileSync('qemu-img', ['convert', '-U', '-f', fromFormat, '-O', toFormat, from, to]);
}

/** `qemu-img compare` of two images: true when their guest-visible contents are equal. */
export function imagesEqual(a: string, aFormat: ImageFormat, b: string, bFormat: ImageFormat): boolean {
  try {
    execFileSync('qemu-img', ['compare', '-q', '-U', '-f', aFormat, '-F', bFormat, a, b]);
    return true;
  } catch (e) {
    if ((e as { status?: number }).status === 1) return false;
    throw e;
  }
}

export class Qsd {
  readonly dir: string;
  readonly socket: string;
  /** The daemon's QMP monitor socket. */
  readonly monitor: string;
  readonly image: string;
  readonly format: ImageFormat;
  readonly size: number;
  readonly #ownsDir: boolean;
  readonly #ownsImage: boolean;
  readonly #nbd: NbdSource | undefined;
  readonly #rbd: RbdSource | undefined;
  #proc: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';

  private constructor(opts: QsdOptions) {
    this.#ownsDir = opts.dir === undefined;
    this.dir = opts.dir ?? tempDir('blkio-qsd-');
    this.socket = path.join(this.dir, 'vhost-user-blk.sock');
    this.monitor = path.join(this.dir, 'qmp.sock');
    this.format = opts.format ?? 'raw';
    this.#ownsImage = opts.image === undefined && opts.nbd === undefined && opts.rbd === undefined;
    this.#nbd = opts.nbd;
    this.#rbd = opts.rbd;
    if (opts.nbd !== undefined || opts.rbd !== undefined) {
      if (opts.size === undefined) throw new Error('Qsd: a network source needs its size');
      this.image = opts.nbd ? `nbd://${opts.nbd.host}:${opts.nbd.port}/${opts.nbd.exportName}` : `rbd:${opts.rbd!.pool}/${opts.rbd!.image}`;
      this.size = opts.size;
    } else if (opts.image !== undefined) {
      this.image = opts.image;
      this.size = Number(JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', opts.image], { encoding: 'utf8' }))['virtual-size']);
    } else {
      this.size = opts.size ?? 16 << 20;
      const raw = createRawImage(path.join(this.dir, 'disk.raw'), this.size, opts.random ?? true);
      if (this.format === 'raw') {
        this.image = raw;
      } else {
        this.image = path.join(this.dir, `disk.${this.format}`);
        convertImage(raw, 'raw', this.image, this.format);
        fs.rmSync(raw);
      }
    }
  }

  /** Starts a daemon and resolves once its socket accepts connections. */
  static async start(opts: QsdOptions = {}): Promise<Qsd> {
    const q = new Qsd(opts);
    await q.#spawn(opts);
    return q;
  }

  get pid(): number {
    return this.#proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.#proc !== null;
  }

  /** What the daemon printed on stderr. */
  get stderr(): string {
    return this.#stderr;
  }

  async #spawn(opts: QsdOptions): Promise<void> {
    const writable = opts.writable ?? true;
    const ro = writable ? 'off' : 'on';
    const pidfile = path.join(this.dir, 'qsd.pid');
    fs.rmSync(pidfile, { force: true });
    fs.rmSync(this.socket, { force: true });
    fs.rmSync(this.monitor, { force: true });
    const exportOpts = [
      'type=vhost-user-blk',
      'id=export0',
      'node-name=fmt0',
      'addr.type=unix',
      `addr.path=${this.socket}`,
      `writable=${writable ? 'on' : 'off'}`,
      `num-queues=${opts.numQueues ?? 1}`,
      ...(opts.logicalBlockSize ? [`logical-block-size=${opts.logicalBlockSize}`] : []),
      ...(opts.iothread ? ['iothread=iothread0'] : []),
    ];
    const nbd = this.#nbd;
    const rbd = this.#rbd;
    const nodes = nbd
      ? ['--blockdev', `driver=nbd,node-name=fmt0,server.type=inet,server.host=${nbd.host},server.port=${nbd.port},export=${nbd.exportName},read-only=${ro}`]
      : rbd
      ? ['--blockdev', `driver=rbd,node-name=fmt0,pool=${rbd.pool},image=${rbd.image},conf=${rbd.conf},read-only=${ro}`]
      : this.#fileNodes(opts, ro);
    const args = [
      ...(opts.iothread ? ['--object', 'iothread,id=iothread0'] : []),
      ...nodes,
      '--export',
      exportOpts.join(','),
      '--chardev',
      `socket,id=qmp0,path=${this.monitor},server=on,wait=off`,
      '--monitor',
      'chardev=qmp0,mode=control',
      '--pidfile',
      pidfile,
    ];
    const proc = spawn('qemu-storage-daemon', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    running.add(proc);
    proc.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    let exitCode: number | string | null = null;
    this.#exited = new Promise<void>((resolve) => {
      proc.on('exit', (code, signal) => {
        exitCode = code ?? signal;
        running.delete(proc);
        if (this.#proc === proc) this.#proc = null;
        resolve();
      });
    });
    // qsd writes its pid file after creating the exports and before
    // accepting connections (a documented ordering), so the socket listens.
    const deadline = Date.now() + 15000;
    while (!fs.existsSync(pidfile)) {
      if (exitCode !== null) throw new Error(`qemu-storage-daemon exited (${exitCode}): ${this.#stderr}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`qemu-storage-daemon did not start within 15 s: ${this.#stderr}`);
      }
      await sleep(10);
    }
  }

  /** The file, blkdebug and format nodes over the image, the last one named fmt0. */
  #fileNodes(opts: QsdOptions, ro: string): string[] {
    return [
      '--blockdev',
      `driver=file,node-name=file0,filename=${this.image},aio=${opts.aio ?? 'threads'},discard=unmap,read-only=${ro}`,
      ...(opts.blkdebug ? ['--blockdev', `driver=blkdebug,node-name=debug0,image=file0,${opts.blkdebug}`] : []),
      '--blockdev',
      `driver=${this.format},node-name=fmt0,file=${opts.blkdebug ? 'debug0' : 'file0'},discard=unmap,read-only=${ro}`,
    ];
  }

  /** Resizes the exported image to size bytes (QMP block_resize); the export tells its client. */
  async resize(size: number): Promise<void> {
    await qmpCommand(this.monitor, 'block_resize', { 'node-name': 'fmt0', size });
  }

  /** Restarts a stopped daemon on the same image and socket. */
  async restart(opts: QsdOptions = {}): Promise<void> {
    if (this.#proc) throw new Error('the daemon is still running');
    await this.#spawn({ format: this.format, ...opts });
  }

  /** Stops the daemon cleanly (SIGTERM) and waits for it to exit. */
  async stop(): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Sends a signal (SIGKILL by default); waits for the exit unless it is SIGSTOP/SIGCONT. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    proc.kill(signal);
    if (signal !== 'SIGSTOP' && signal !== 'SIGCONT') await this.#exited;
  }

  /** Stops the daemon and deletes what it created. */
  async dispose(): Promise<void> {
    if (this.#proc) {
      this.#proc.kill('SIGCONT'); // a stopped daemon cannot handle SIGTERM
      await this.stop();
    }
    if (this.#ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
    else if (this.#ownsImage) fs.rmSync(this.image, { force: true });
  }
}
