// A one-node Ceph cluster for tests and benches, from Debian's packages
// (ceph-mon, ceph-mgr, ceph-osd, ceph-common): one monitor on 127.0.0.1, one
// manager, one BlueStore OSD on a sparse file, a pool of size 1 for RBD
// images. Everything lives in a temp dir; authentication is off (the daemons
// listen on the loopback only). About 20 s to start on a loaded 2-core machine.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './files';
import { freePort } from './nbd';
import { RbdSource } from './qsd';

const run = promisify(execFile);

export const RBD_POOL = 'rbd';

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const NEEDS = 'install them with: apt-get install ceph-mon ceph-mgr ceph-osd ceph-common';

function config(dir: string, fsid: string, monAddr: string): string {
  return `[global]
fsid = ${fsid}
mon host = ${monAddr}
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
ms bind ipv4 = true
public network = 127.0.0.0/8
log file = ${dir}/log/$name.log
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon allow pool delete = true
osd crush chooseleaf type = 0
mon data avail warn = 1
mon data avail crit = 0
[mon]
mon data = ${dir}/mon/$cluster-$id
[mgr]
mgr data = ${dir}/mgr/$cluster-$id
[osd]
osd data = ${dir}/osd/$cluster-$id
osd objectstore = bluestore
bluestore block path = ${dir}/osd/block-$id
bluestore block create = true
bluestore block size = ${1 << 30}
osd memory target = ${896 << 20}
`;
}

export class CephCluster {
  readonly conf: string;
  /** Seconds each start-up step took, from the start (for docs and benches). */
  readonly timings: Array<[step: string, seconds: number]> = [];
  readonly #dir: string;
  readonly #daemons: ChildProcess[] = [];
  #stderr = '';

  private constructor(dir: string) {
    this.#dir = dir;
    this.conf = path.join(dir, 'ceph.conf');
  }

  /** Starts mon, mgr and an OSD, and creates the RBD pool. */
  static async start(): Promise<CephCluster> {
    const c = new CephCluster(tempDir('blkio-ceph-'));
    try {
      await c.#start();
      return c;
    } catch (e) {
      await c.dispose();
      throw e;
    }
  }

  /** The OSD daemon's pid (the data path of every RBD request), or -1. */
  get osdPid(): number {
    return this.#daemons.find((p) => p.spawnfile === 'ceph-osd')?.pid ?? -1;
  }

  /** Runs a ceph tool with this cluster's configuration; resolves with its stdout. */
  async tool(command: string, args: string[], timeoutMs = 60000): Promise<string> {
    try {
      const r = await run(command, ['-c', this.conf, ...args], { timeout: timeoutMs, maxBuffer: 64 << 20 });
      return r.stdout;
    } catch (e) {
      const err = e as NodeJS.ErrnoException & { stderr?: string };
      if (err.code === 'ENOENT') throw new Error(`${command} is missing: ${NEEDS}`);
      throw new Error(`${command} ${args.join(' ')} failed: ${err.stderr ?? err.message}`);
    }
  }

  #daemon(command: string, args: string[]): void {
    const p = spawn(command, ['-f', '-c', this.conf, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    p.on('error', (e) => (this.#stderr += `${command}: ${e.message} (${NEEDS})\n`));
    p.stderr!.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    running.add(p);
    p.on('close', () => running.delete(p));
    this.#daemons.push(p);
  }

  async #until(what: string, check: () => Promise<boolean>, timeoutMs = 120000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check().catch(() => false)) return;
      const dead = this.#daemons.find((p) => p.exitCode !== null || p.signalCode !== null);
      if (dead) throw new Error(`${dead.spawnfile} exited while waiting for ${what}: ${this.#stderr}`);
      if (Date.now() > deadline) throw new Error(`Ceph: no ${what} within ${timeoutMs / 1000} s: ${this.#stderr}`);
      await sleep(300);
    }
  }

  async #start(): Promise<void> {
    const t0 = Date.now();
    const mark = (step: string) => this.timings.push([step, (Date.now() - t0) / 1000]);
    const dir = this.#dir;
    for (const sub of ['mon/ceph-a', 'mgr/ceph-x', 'osd', 'log', 'run']) fs.mkdirSync(path.join(dir, sub), { recursive: true });
    const fsid = randomUUID();
    const monAddr = `127.0.0.1:${await freePort()}`;
    fs.writeFileSync(this.conf, config(dir, fsid, monAddr));
    const monmap = path.join(dir, 'monmap');
    await this.tool('monmaptool', ['--create', '--add', 'a', monAddr, '--fsid', fsid, monmap]);
    await this.tool('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', monmap]);
    this.#daemon('ceph-mon', ['-i', 'a']);
    await this.#until('monitor', async () => (await this.tool('ceph', ['--connect-timeout', '5', 'mon', 'stat'], 10000)).includes('quorum'));
    mark('monitor in quorum');
    this.#daemon('ceph-mgr', ['-i', 'x']);
    const uuid = randomUUID();
    const id = (await this.tool('ceph', ['osd', 'new', uuid])).trim();
    fs.mkdirSync(path.join(dir, 'osd', `ceph-${id}`));
    await this.tool('ceph-osd', ['-i', id, '--mkfs', '--osd-uuid', uuid], 120000);
    mark('OSD created (BlueStore on a file)');
    this.#daemon('ceph-osd', ['-i', id]);
    await this.#until('OSD up', async () => / 1 up/.test(await this.tool('ceph', ['osd', 'stat'], 10000)));
    mark('OSD up');
    await this.tool('ceph', ['osd', 'pool', 'create', RBD_POOL, '8']);
    await this.tool('ceph', ['osd', 'pool', 'set', RBD_POOL, 'size', '1', '--yes-i-really-mean-it']);
    await this.tool('rbd', ['pool', 'init', RBD_POOL], 120000);
    mark('RBD pool ready');
  }

  /** Creates an RBD image of size bytes, from a raw file's content if given; returns its source for qsd. */
  async createImage(name: string, size: number, from?: string): Promise<RbdSource> {
    if (from) await this.tool('rbd', ['import', '--image-format', '2', from, `${RBD_POOL}/${name}`], 120000);
    else await this.tool('rbd', ['create', '--size', `${Math.ceil(size / (1 << 20))}M`, `${RBD_POOL}/${name}`]);
    return { pool: RBD_POOL, image: name, conf: this.conf };
  }

  /** The image's content, read by Ceph's own client (rbd export), outside the library. */
  async exportImage(name: string, to: string): Promise<Buffer> {
    fs.rmSync(to, { force: true });
    await this.tool('rbd', ['export', `${RBD_POOL}/${name}`, to], 120000);
    return fs.readFileSync(to);
  }

  async removeImage(name: string): Promise<void> {
    await this.tool('rbd', ['rm', '--no-progress', `${RBD_POOL}/${name}`], 120000);
  }

  /** Stops the daemons (OSD first) and deletes the cluster's directory. */
  async dispose(): Promise<void> {
    for (const p of [...this.#daemons].reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const closed = new Promise((resolve) => p.once('close', resolve));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
      await closed;
      clearTimeout(timer);
    }
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}
