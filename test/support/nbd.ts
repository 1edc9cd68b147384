// Network block devices for tests and benches: an NBD server (qemu-nbd or
// nbdkit's file plugin) exporting an image over TCP on a local address, and
// qemu-storage-daemon reaching that export with its nbd block driver and
// exporting it over vhost-user to the library.
//
//   image file <- qemu-nbd | nbdkit (TCP 127.0.0.1:PORT) <- qsd nbd driver <- vhost-user socket <- library
//
// qemu-nbd before QEMU 8.1 leaves Nagle's algorithm on for its clients' sockets:
// with several requests in flight its replies wait for delayed ACKs (about 40 ms
// each), so it is slow at any queue depth above 1. nbdkit does not.
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { readFileRange, tempDir } from './files';
import { createRawImage, ImageFormat, Qsd, QsdOptions } from './qsd';
import { Target, TargetInstance } from './target';

export const NBD_EXPORT = 'disk';

export type NbdServerKind = 'qemu-nbd' | 'nbdkit';

export interface NbdServerOptions {
  /** qemu-nbd (default) or nbdkit. */
  kind?: NbdServerKind;
  /** The image to export (not deleted). */
  image: string;
  format?: ImageFormat;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port to listen on (default: a free one). */
  port?: number;
  writable?: boolean;
}

const running = new Set<ChildProcess>();
// A test run must never leave servers behind, whatever happens to it.
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A TCP port nobody listens on right now (the kernel's choice for port 0). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** An NBD server serving one image on a TCP address until stopped (clients may come and go). */
export class NbdServer {
  readonly image: string;
  readonly host: string;
  readonly port: number;
  readonly exportName = NBD_EXPORT;
  readonly kind: NbdServerKind;
  readonly #dir: string;
  #proc: ChildProcess | null = null;
  #exited: Promise<void> = Promise.resolve();
  #stderr = '';

  private constructor(kind: NbdServerKind, image: string, host: string, port: number) {
    this.kind = kind;
    this.image = image;
    this.host = host;
    this.port = port;
    this.#dir = tempDir('blkio-nbd-');
  }

  /** Starts the server and resolves once it listens. A port that was taken meanwhile is retried with another. */
  static async start(opts: NbdServerOptions): Promise<NbdServer> {
    const host = opts.host ?? '127.0.0.1';
    for (let attempt = 0; ; attempt++) {
      const n = new NbdServer(opts.kind ?? 'qemu-nbd', opts.image, host, opts.port ?? (await freePort(host)));
      try {
        await n.#spawn(opts);
        return n;
      } catch (e) {
        fs.rmSync(n.#dir, { recursive: true, force: true });
        if (opts.port !== undefined || attempt === 2 || !/in use/i.test((e as Error).message)) throw e;
      }
    }
  }

  get pid(): number {
    return this.#proc?.pid ?? -1;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Where qsd's nbd driver finds the export. */
  get source(): { host: string; port: number; exportName: string } {
    return { host: this.host, port: this.port, exportName: this.exportName };
  }

  #qemuNbdArgs(opts: NbdServerOptions, pidfile: string): string[] {
    return [
      `--format=${opts.format ?? 'raw'}`,
      `--bind=${this.host}`,
      `--port=${this.port}`,
      `--export-name=${this.exportName}`,
      '--persistent', // otherwise it exits when its first client disconnects
      '--shared=4',
      '--cache=writeback', // through the host page cache, so the file shows writes at once
      '--aio=threads',
      '--discard=unmap',
      `--pid-file=${pidfile}`,
      ...(opts.writable === false ? ['--read-only'] : []),
      this.image,
    ];
  }

  #nbdkitArgs(opts: NbdServerOptions, pidfile: string): string[] {
    if ((opts.format ?? 'raw') !== 'raw') throw new Error('nbdkit serves raw images only here');
    return [
      '--foreground',
      `--ipaddr=${this.host}`,
      `--port=${this.port}`,
      `--exportname=${this.exportName}`,
      `--pidfile=${pidfile}`, // written once it accepts connections
      ...(opts.writable === false ? ['--readonly'] : []),
      'file',
      `file=${this.image}`,
    ];
  }

  async #spawn(opts: NbdServerOptions): Promise<void> {
    const pidfile = path.join(this.#dir, 'server.pid');
    const args = this.kind === 'nbdkit' ? this.#nbdkitArgs(opts, pidfile) : this.#qemuNbdArgs(opts, pidfile);
    const proc = spawn(this.kind, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    running.add(proc);
    proc.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    let exitCode: number | string | null = null;
    let spawnError: Error | undefined;
    proc.on('error', (e) => (spawnError = e));
    this.#exited = new Promise<void>((resolve) => {
      proc.on('close', (code, signal) => {
        exitCode = code ?? signal;
        running.delete(proc);
        if (this.#proc === proc) this.#proc = null;
        resolve();
      });
    });
    // Both listen before they write their pid file.
    const deadline = Date.now() + 15000;
    const pkg = this.kind === 'nbdkit' ? 'nbdkit' : 'qemu-utils';
    while (!fs.existsSync(pidfile)) {
      if (spawnError) throw new Error(`${this.kind} could not be started (${spawnError.message}): install it with: apt-get install ${pkg}`);
      if (exitCode !== null) throw new Error(`${this.kind} exited (${exitCode}): ${this.#stderr}`);
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`${this.kind} did not start within 15 s: ${this.#stderr}`);
      }
      await sleep(10);
    }
  }

  /** Sends a signal (SIGTERM by default) and waits for the exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10000);
    proc.kill(signal);
    await this.#exited;
    clearTimeout(timer);
  }

  async dispose(): Promise<void> {
    await this.kill();
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** An image served by qemu-nbd and, through qsd's nbd driver, over vhost-user. */
export class NbdChain {
  private constructor(
    readonly dir: string,
    /** The raw file behind qemu-nbd. */
    readonly image: string,
    readonly size: number,
    readonly nbd: NbdServer,
    readonly qsd: Qsd,
    readonly ownsDir: boolean,
  ) {}

  /** The vhost-user socket (the library's 'path'). */
  get socket(): string {
    return this.qsd.socket;
  }

  /**
   * Starts the chain on a new raw image of size bytes (random unless told otherwise), or on the
   * given raw image, served by qemu-nbd unless told otherwise. qsd options go to the daemon
   * (queues, iothread...).
   */
  static async start(
    opts: { server?: NbdServerKind; size?: number; random?: boolean; image?: string; writable?: boolean; qsd?: QsdOptions; dir?: string } = {},
  ): Promise<NbdChain> {
    const dir = opts.dir ?? tempDir('blkio-nbd-chain-');
    const size = opts.image ? fs.statSync(opts.image).size : opts.size ?? 16 << 20;
    const image = opts.image ?? createRawImage(path.join(dir, 'disk.raw'), size, opts.random ?? true);
    let nbd: NbdServer | undefined;
    try {
      nbd = await NbdServer.start({ kind: opts.server, image, writable: opts.writable });
      const qsd = await Qsd.start({ ...opts.qsd, dir, nbd: nbd.source, size, writable: opts.writable });
      return new NbdChain(dir, image, size, nbd, qsd, opts.dir === undefined);
    } catch (e) {
      await nbd?.dispose();
      if (opts.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Stops qsd, then the NBD server, and deletes what was created here. */
  async dispose(): Promise<void> {
    await this.qsd.dispose();
    await this.nbd.dispose();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The chain as a target of the shared behavioural suite (data read outside from the image file). */
export function nbdTarget(server: NbdServerKind = 'qemu-nbd'): Target {
  return {
    driver: 'virtio-blk-vhost-user',
    description: `an NBD export (${server} over TCP, qemu-storage-daemon nbd driver)`,
    async setup(opts?: { readOnly?: boolean }): Promise<TargetInstance> {
      const chain = await NbdChain.start({ server, writable: !opts?.readOnly });
      return {
        path: chain.socket,
        capacity: chain.size,
        readOutside: async (offset, length) => readFileRange(chain.image, offset, length),
        teardown: () => chain.dispose(),
      };
    },
  };
}
