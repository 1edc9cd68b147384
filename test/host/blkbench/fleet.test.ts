/**
 * blkbench in fio's client/server fleets, against the real fio 3.33 on the other side: a fio client
 * runs jobs on a blkbench server, a blkbench client drives fio servers, several servers at once, and
 * the faults a server must survive. Hosts are distinct loopback addresses (127.0.0.x) on free ports,
 * and, in the last suite, network namespaces linked by veth pairs.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { requireFio } from '../../support/prerequisites';
import { BLKBENCH_CLI } from '../../support/paths';
import { crc16 } from '../../../src/blkbench/fleet/crc16';
import { CommandReader, OP, encodeCommand } from '../../../src/blkbench/fleet/frame';
import { decodeText } from '../../../src/blkbench/fleet/pdu';

const CLI = BLKBENCH_CLI;

/** A port nobody listens on right now (the kernel picks it). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitListening(host: string, port: number, child: ChildProcess, what: string): Promise<void> {
  let listening = false;
  for (let i = 0; i < 200 && !listening; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before listening`);
    listening = await canConnect(host, port);
    if (!listening) await new Promise((r) => setTimeout(r, 50));
  }
  if (!listening) throw new Error(`${what} does not listen on ${host},${port}`);
}

/** Waits until a TCP socket listens on `port` inside namespace `ns` (iproute2's ss). */
async function waitListeningIn(ns: string, port: number, child: ChildProcess, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited (${child.exitCode}) before listening`);
    const r = spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn', `sport = :${port}`], { encoding: 'utf8' });
    if (r.stdout.trim() !== '') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} does not listen on port ${port}`);
}

interface Server {
  host: string;
  port: number;
  child: ChildProcess;
  log: () => string;
}

const servers: Server[] = [];

/** Runs `cmd` in the network namespace `ns` (the test's own when undefined). */
function inNs(ns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

async function startServer(kind: 'blkbench' | 'fio', host: string, ns?: string, fixedPort?: number): Promise<Server> {
  const port = fixedPort ?? (await freePort(host));
  const arg = host.includes(':') ? `--server=ip6:${host},${port}` : `--server=ip:${host},${port}`;
  const opts = { stdio: ['ignore', 'pipe', 'pipe'] as Array<'ignore' | 'pipe'>, detached: true };
  const child = spawn(...inNs(ns, kind === 'fio' ? 'fio' : process.execPath, kind === 'fio' ? [arg] : [CLI, arg]), opts);
  let log = '';
  child.stdout!.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  const s = { host, port, child, log: () => log };
  servers.push(s);
  if (ns) await waitListeningIn(ns, port, child, `${kind} --server in ${ns}`);
  else await waitListening(host, port, child, `${kind} --server`);
  return s;
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Kills a server with the processes it forked. fio's server forks a process per connection and one
 * per job, which leave its process group; they are found by the server's own command line, unique
 * to this test through its address and port.
 */
function killServer(s: Server): void {
  const own = `--server=ip:${s.host},${s.port}`;
  const pids = [s.child.pid!];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(own)) pids.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  for (const pid of new Set(pids)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** fio prints notes (and a fio client the servers' notes) before its JSON document. */
function jsonOf(stdout: string): any {
  const start = stdout.startsWith('{') ? 0 : stdout.indexOf('\n{') + 1;
  return JSON.parse(stdout.slice(start, stdout.lastIndexOf('}') + 1));
}

const blkbench = (args: string[], cwd: string) => run(process.execPath, [CLI, ...args], cwd);
const fio = (args: string[], cwd: string) => run('fio', args, cwd);
const where = (s: Server) => `ip:${s.host},${s.port}`;

/** Every command a raw connection gets until the server closes it. */
function rawSession(s: Server, bytes: Buffer): Promise<Array<{ opcode: number; version: number; payload: Buffer }>> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: s.host, port: s.port });
    const got: Buffer[] = [];
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (b: Buffer) => got.push(b));
    sock.on('error', reject);
    sock.on('close', () => {
      const all = Buffer.concat(got);
      // Read the frames without a version check: a refusal is framed in the peer's version.
      const out = [];
      let at = 0;
      while (at + 24 <= all.length) {
        const len = all.readUInt32LE(at + 16);
        out.push({ version: all.readUInt16LE(at), opcode: all.readUInt16LE(at + 2), payload: all.subarray(at + 24, at + 24 + len) });
        at += 24 + len;
      }
      resolve(out);
    });
  });
}

describe('blkbench in fio client/server fleets (real fio 3.33)', function () {
  this.timeout(120000);
  let dir: string;
  let job: string;

  before(function () {
    requireFio();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-fleet-'));
    job = path.join(dir, 'read.fio');
    fs.writeFileSync(job, `[readjob]\nfilename=${path.join(dir, 'data.img')}\nsize=2m\nbs=4k\nrw=randread\niodepth=4\n`);
  });

  after(() => {
    for (const s of servers) killServer(s);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('fio --client with a blkbench server', () => {
    let server: Server;
    before(async () => {
      server = await startServer('blkbench', '127.0.0.1');
    });

    it('prints the job as for a fio server: probe line, job header, statistics, group line', async () => {
      const r = await fio([`--client=${where(server)}`, job], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /fio=blkbench-/);
      assert.match(r.stdout, /<[^>]+> readjob: \(g=0\): rw=randread/);
      assert.match(r.stdout, /readjob: \(groupid=0, jobs=1\): err= 0/);
      assert.match(r.stdout, /read: IOPS=.*\(2048KiB\/\d+msec\)/);
      assert.match(r.stdout, /clat percentiles/);
      assert.match(r.stdout, /Run status group 0 \(all jobs\):\n {3}READ: .*io=2048KiB/);
    });

    it("gives fio's JSON client_stats the same counts as the job run locally by blkbench", async () => {
      const remote = await fio([`--client=${where(server)}`, job, '--output-format=json'], dir);
      assert.equal(remote.code, 0, remote.stderr);
      const local = await blkbench([job, '--output-format=json'], dir);
      assert.equal(local.code, 0, local.stderr);
      const r = jsonOf(remote.stdout).client_stats[0];
      const l = jsonOf(local.stdout).jobs[0];
      assert.equal(r.jobname, l.jobname);
      assert.equal(r.hostname, '127.0.0.1');
      assert.equal(r.port, server.port);
      for (const field of ['io_bytes', 'io_kbytes', 'total_ios']) assert.equal(r.read[field], l.read[field], field);
      assert.equal(r.read.clat_ns.N, l.read.clat_ns.N);
      assert.equal(r.read.slat_ns.N, l.read.slat_ns.N);
      assert.equal(r.write.total_ios, 0);
      assert.equal(r['job options'].rw, 'randread');
      assert.equal(r.latency_depth, 4);
      assert.deepEqual(Object.keys(r.read.clat_ns.percentile), Object.keys(l.read.clat_ns.percentile));
    });

    it("answers fio's ETA requests while the job runs, in the units fio prints", async () => {
      const timed = path.join(dir, 'timed.fio');
      fs.writeFileSync(timed, `[timed]\nfilename=${path.join(dir, 'data.img')}\nsize=2m\nbs=4k\nrw=randread\ntime_based\nruntime=3\n`);
      const r = await fio([`--client=${where(server)}`, timed, '--eta=always'], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /Jobs: 1 \(f=1\): \[R\]\[\d+\.\d%\]\[r=[\d.]+[KMG]?\]\[r=[\d.]+k? IOPS\]\[eta 00m:0\ds\]/);
      assert.doesNotMatch(r.stdout + r.stderr, /timeout/);
    });

    it("prints in fio's text the same numbers as in fio's JSON of the same run", async () => {
      const r = await fio([`--client=${where(server)}`, job, '--output-format=normal,json'], dir);
      assert.equal(r.code, 0, r.stderr);
      const j = jsonOf(r.stdout.slice(r.stdout.indexOf('\n{'))).client_stats[0];
      const io = /read: IOPS=[^,]+, BW=[^(]+\([^)]+\)\((\d+)KiB\/(\d+)msec\)/.exec(r.stdout)!;
      assert.ok(io, r.stdout);
      assert.equal(Number(io[1]), j.read.io_kbytes);
      assert.equal(Number(io[2]), j.read.runtime);
      assert.match(r.stdout, new RegExp(`issued rwts: total=${j.read.total_ios},0,0,0`));
      assert.match(r.stdout, new RegExp(`cpu +: usr=[\\d.]+%, sys=[\\d.]+%, ctx=${j.ctx}, majf=${j.majf}, minf=${j.minf}`));
      assert.match(r.stdout, /latency +: target=0, window=0, percentile=100.00%, depth=4/);
    });

    it("prints the job header and the group's io= as blkbench prints them for the job run locally", async () => {
      const remote = await fio([`--client=${where(server)}`, job], dir);
      const local = await blkbench([job], dir);
      assert.equal(local.code, 0, local.stderr);
      const header = /^readjob: \(g=0\): .*$/m.exec(local.stdout)![0];
      assert.ok(remote.stdout.includes(`> ${header}\n`), `${header} not in\n${remote.stdout}`);
      const io = (t: string) => /READ: bw=.*, (io=\S+ \(\S+\))/.exec(t)![1];
      assert.equal(io(remote.stdout), io(local.stdout));
    });

    it("runs fio's ioengine=libblkio job (libblkio_driver=io_uring) with verify on blkbench's driver", async () => {
      const lib = path.join(dir, 'libblkio.fio');
      fs.writeFileSync(lib, `[lib]\nioengine=libblkio\nlibblkio_driver=io_uring\nlibblkio_path=${path.join(dir, 'lib.img')}\nsize=1m\nbs=4k\nrw=write\nverify=crc32c\niodepth=4\n`);
      fs.writeFileSync(path.join(dir, 'lib.img'), Buffer.alloc(1024 * 1024));
      const r = await fio([`--client=${where(server)}`, lib, '--output-format=json'], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const j = jsonOf(r.stdout).client_stats[0];
      assert.equal(j.error, 0);
      assert.equal(j.write.total_ios, 256);
      assert.equal(j['job options'].ioengine, 'libblkio');
    });

    it('runs every job file the client sends, and fio merges their reports into All clients', async () => {
      const second = path.join(dir, 'second.fio');
      fs.writeFileSync(second, `[second]\nfilename=${path.join(dir, 'data.img')}\nsize=1m\nbs=4k\nrw=read\n`);
      const r = await fio([`--client=${where(server)}`, job, second, '--output-format=json'], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const stats = jsonOf(r.stdout).client_stats as Array<Record<string, any>>;
      assert.deepEqual(stats.map((s) => s.jobname), ['readjob', 'second', 'All clients']);
      assert.equal(stats[2].read.total_ios, 512 + 256);
    });

    it('runs a job file that is on the server (fio --remote-config)', async () => {
      const r = await fio([`--client=${where(server)}`, '--remote-config', job], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /issued rwts: total=512,0,0,0/);
    });

    it("stops the job on fio's QUIT (fio --client interrupted) and sends what was measured, group_reporting merged", async () => {
      const long = path.join(dir, 'group.fio');
      fs.writeFileSync(long, `[grp]\nfilename=${path.join(dir, 'data.img')}\nsize=2m\nbs=4k\nrw=randread\nnumjobs=2\ngroup_reporting\ntime_based\nruntime=60\n`);
      const child = spawn('fio', [`--client=${where(server)}`, long], { cwd: dir });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      for (let i = 0; i < 400 && !/Starting 2 threads/.test(out); i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 500));
      child.kill('SIGINT');
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, out);
      assert.match(out, /grp: \(groupid=0, jobs=2\): err= 0/);
      assert.match(out, /READ: bw=.*run=\d+-\d+msec/);
      assert.equal((out.match(/\(groupid=/g) ?? []).length, 1); // one merged report
    });

    it('serves two clients at once', async () => {
      const [a, b] = await Promise.all([fio([`--client=${where(server)}`, job], dir), fio([`--client=${where(server)}`, job], dir)]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      assert.match(a.stdout, /issued rwts: total=512,0,0,0/);
      assert.match(b.stdout, /issued rwts: total=512,0,0,0/);
    });

    it('refuses a job file it cannot run: the error reaches fio, which exits non-zero, and the server keeps serving', async () => {
      const bad = path.join(dir, 'bad.fio');
      fs.writeFileSync(bad, '[bad]\nrw=sideways\nsize=1m\n');
      const r = await fio([`--client=${where(server)}`, bad], dir);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /job refused: .*sideways/);
      const next = await fio([`--client=${where(server)}`, job], dir);
      assert.equal(next.code, 0, next.stderr);
    });

    it('stops the job of a client killed mid-run and serves the next client', async () => {
      const long = path.join(dir, 'long.fio');
      fs.writeFileSync(long, `[long]\nfilename=${path.join(dir, 'data.img')}\nsize=2m\nbs=4k\nrw=randread\ntime_based\nruntime=60\n`);
      const child = spawn('fio', [`--client=${where(server)}`, long], { cwd: dir });
      await new Promise<void>((resolve) => {
        let out = '';
        child.stdout.on('data', (b: Buffer) => {
          out += b.toString();
          if (/Starting 1 thread/.test(out)) resolve();
        });
      });
      child.kill('SIGKILL');
      for (let i = 0; i < 200 && !/went away: stopping its job[\s\S]*job done/.test(server.log()); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(server.log(), /went away: stopping its job[\s\S]*job done \(client gone\)/);
      const next = await fio([`--client=${where(server)}`, job], dir);
      assert.equal(next.code, 0, next.stderr);
    });

    it('answers a header with a bad CRC with the reason, STOP and QUIT, then keeps serving', async () => {
      const bad = encodeCommand(OP.PROBE);
      bad[20] ^= 0xff;
      const got = await rawSession(server, bad);
      assert.deepEqual(got.map((c) => c.opcode), [OP.TEXT, OP.STOP, OP.QUIT]);
      assert.match(decodeText(got[0].payload).text, /bad CRC on command header/);
      assert.equal(got[1].payload.readUInt32LE(0), 71); // EPROTO
      assert.equal((await fio([`--client=${where(server)}`, job], dir)).code, 0);
    });

    it('answers another protocol version in that version, so the peer can print the mismatch', async () => {
      const got = await rawSession(server, encodeCommand(OP.PROBE, Buffer.alloc(136), 1n, 96));
      assert.equal(got[0].version, 96);
      assert.match(decodeText(got[0].payload).text, /version mismatch \(96 != 97\)/);
    });

    it('refuses an oversized fragment and garbage bytes, and keeps serving', async () => {
      const big = encodeCommand(OP.JOB);
      big.writeUInt32LE(1 << 20, 16);
      big.writeUInt16LE(crc16(big, 0, 20), 20);
      const a = await rawSession(server, big);
      assert.match(decodeText(a[0].payload).text, /payload too large/);
      const b = await rawSession(server, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.equal(b[0].opcode, OP.TEXT);
      assert.equal((await fio([`--client=${where(server)}`, job], dir)).code, 0);
    });

    it('refuses a command whose payload is too short for its structure, and keeps serving', async () => {
      const got = await rawSession(server, encodeCommand(OP.JOB, Buffer.from([1, 2, 3])));
      assert.match(decodeText(got[0].payload).text, /malformed JOB/);
      assert.equal(got[1].payload.readUInt32LE(0), 22); // EINVAL
      assert.equal((await fio([`--client=${where(server)}`, job], dir)).code, 0);
    });

    it('listens only on the address it was given', async () => {
      assert.equal(await canConnect('127.0.0.1', server.port), true);
      assert.equal(await canConnect('127.0.0.2', server.port), false);
    });
  });

  describe('other address families', () => {
    it('serves fio on a Unix socket (sock:PATH)', async () => {
      const sockPath = path.join(dir, 'bb.sock');
      const child = spawn(process.execPath, [CLI, `--server=sock:${sockPath}`], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      servers.push({ host: 'sock', port: 0, child, log: () => '' });
      for (let i = 0; i < 200 && !fs.existsSync(sockPath); i++) await new Promise((r) => setTimeout(r, 50));
      const r = await fio([`--client=sock:${sockPath}`, job], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /issued rwts: total=512,0,0,0/);
    });

    it('serves fio over IPv6 (ip6:::1,PORT)', async function () {
      try {
        await freePort('::1');
      } catch (e) {
        this.skip(); // IPv6 is disabled on this machine (no ::1): nothing to test
      }
      const s = await startServer('blkbench', '::1');
      const r = await fio([`--client=ip6:::1,${s.port}`, job], dir);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, /issued rwts: total=512,0,0,0/);
    });
  });

  describe('blkbench --client', () => {
    it("drives a fio server and reports the same counts as fio's local run of the job", async () => {
      const s = await startServer('fio', '127.0.0.3');
      const r = await blkbench([`--client=${where(s)}`, job, '--output-format=json'], dir);
      assert.equal(r.code, 0, r.stderr);
      const local = await fio([job, '--output-format=json'], dir);
      const remote = jsonOf(r.stdout).client_stats[0];
      const l = jsonOf(local.stdout).jobs[0];
      assert.equal(remote.jobname, l.jobname);
      for (const field of ['io_bytes', 'total_ios']) assert.equal(remote.read[field], l.read[field], field);
      assert.equal(remote.read.clat_ns.N, l.read.clat_ns.N);
      assert.equal(remote.hostname, '127.0.0.3');
      assert.equal(remote['job options'].rw, 'randread');
    });

    it('runs on a fio and a blkbench server at once: per-host reports and the All clients merge', async () => {
      const f = await startServer('fio', '127.0.0.4');
      const b = await startServer('blkbench', '127.0.0.5');
      const r = await blkbench([`--client=${where(f)}`, job, `--client=${where(b)}`, job, '--output-format=json,normal'], dir);
      assert.equal(r.code, 0, r.stderr);
      const doc = jsonOf(r.stdout);
      const stats = doc.client_stats as Array<Record<string, any>>;
      assert.deepEqual(stats.map((s) => s.jobname).sort(), ['All clients', 'readjob', 'readjob']);
      const hosts = stats.filter((s) => s.jobname === 'readjob');
      const all = stats.find((s) => s.jobname === 'All clients')!;
      assert.deepEqual(hosts.map((h) => h.hostname).sort(), ['127.0.0.4', '127.0.0.5']);
      assert.equal(all.read.total_ios, hosts[0].read.total_ios + hosts[1].read.total_ios);
      assert.equal(all.read.io_bytes, 2 * 2 * 1024 * 1024);
      assert.equal(all.read.clat_ns.N, hosts[0].read.clat_ns.N + hosts[1].read.clat_ns.N);
      assert.match(r.stdout, /All clients: \(groupid=0, jobs=2\)/);
    });

    it('merges the hosts\' latency histograms bucket by bucket into All clients (json+ bins)', async () => {
      const f = await startServer('fio', '127.0.0.12');
      const b = await startServer('blkbench', '127.0.0.13');
      const r = await blkbench([`--client=${where(f)}`, job, `--client=${where(b)}`, job, '--output-format=json+'], dir);
      assert.equal(r.code, 0, r.stderr);
      const stats = jsonOf(r.stdout).client_stats as Array<Record<string, any>>;
      const bins = (s: Record<string, any>) => s.read.clat_ns.bins as Record<string, number>;
      const sum: Record<string, number> = {};
      for (const h of stats.filter((s) => s.jobname === 'readjob')) for (const [k, v] of Object.entries(bins(h))) sum[k] = (sum[k] ?? 0) + v;
      assert.deepEqual(bins(stats.find((s) => s.jobname === 'All clients')!), sum);
    });

    it('fio --client merges a fio and a blkbench server into its All clients group', async () => {
      const f = await startServer('fio', '127.0.0.6');
      const b = await startServer('blkbench', '127.0.0.7');
      // fio's client adds a server's results to "All clients" only once every server has said START:
      // a job over in milliseconds on one server can report before a loaded fio server started.
      // Paced to 2 s, the jobs outlast that.
      const paced = path.join(dir, 'paced.fio');
      fs.writeFileSync(paced, `${fs.readFileSync(job, 'utf8')}rate_iops=256\n`);
      const r = await fio([`--client=${where(f)}`, paced, `--client=${where(b)}`, paced, '--output-format=json'], dir);
      assert.equal(r.code, 0, r.stderr);
      const stats = jsonOf(r.stdout).client_stats as Array<Record<string, any>>;
      const all = stats.find((s) => s.jobname === 'All clients')!;
      assert.equal(all.read.total_ios, 1024);
      assert.equal(all.read.clat_ns.N, 1024);
    });

    it('reports a job file the blkbench server refuses, with its reason, and exits 1', async () => {
      const b = await startServer('blkbench', '127.0.0.10');
      const bad = path.join(dir, 'bad2.fio');
      fs.writeFileSync(bad, '[bad]\nrw=sideways\nsize=1m\n');
      const r = await blkbench([`--client=${where(b)}`, bad], dir);
      assert.equal(r.code, 1);
      assert.match(r.stdout, /job refused: .*sideways/);
      assert.match(r.stderr, /exited with error 22/);
    });

    it('reports a port that answers garbage as a protocol error, without hanging', async () => {
      const garbage = net.createServer((c) => c.end(Buffer.alloc(64, 0x5a)));
      await new Promise<void>((r) => garbage.listen(0, '127.0.0.11', r));
      const port = (garbage.address() as net.AddressInfo).port;
      try {
        const r = await blkbench([`--client=ip:127.0.0.11,${port}`, job], dir);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /protocol error: bad CRC on command header/);
      } finally {
        garbage.close();
      }
    });

    it('stops the jobs on every server on Ctrl-C (QUIT, as fio) and prints what they measured', async () => {
      const f = await startServer('fio', '127.0.0.14');
      const b = await startServer('blkbench', '127.0.0.15');
      const long = path.join(dir, 'long3.fio');
      fs.writeFileSync(long, `[long]\nfilename=${path.join(dir, 'data3.img')}\nsize=2m\nbs=4k\nrw=randread\ntime_based\nruntime=60\n`);
      const child = spawn(process.execPath, [CLI, `--client=${where(f)}`, long, `--client=${where(b)}`, long], { cwd: dir });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      for (let i = 0; i < 400 && (out.match(/Starting 1 (process|thread)/g) ?? []).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGINT');
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 0, err + out);
      assert.match(err, /stopping the jobs on every server/);
      assert.equal((out.match(/long: \(groupid=0, jobs=1\): err= 0/g) ?? []).length, 2, out);
      assert.match(out, /All clients: \(groupid=0, jobs=2\)/);
    });

    it('reports the other servers and the failure when a server is killed mid-run', async () => {
      const f = await startServer('fio', '127.0.0.8');
      const b = await startServer('blkbench', '127.0.0.9');
      const long = path.join(dir, 'long2.fio');
      fs.writeFileSync(long, `[long]\nfilename=${path.join(dir, 'data2.img')}\nsize=2m\nbs=4k\nrw=randread\ntime_based\nruntime=30\n`);
      const pending = blkbench([`--client=${where(b)}`, job, `--client=${where(f)}`, long, '--output-format=json'], dir);
      await new Promise((r) => setTimeout(r, 2500));
      killServer(f);
      const r = await pending;
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`client ip:127.0.0.8,${f.port}: the server went away`));
      const stats = jsonOf(r.stdout).client_stats as Array<Record<string, any>>;
      assert.equal(stats.length, 1);
      assert.equal(stats[0].hostname, '127.0.0.9');
      assert.equal(stats[0].read.total_ios, 512);
    });
  });
});

describe('blkbench fleets across network namespaces (one host each, veth links)', function () {
  this.timeout(120000);
  const tag = `bf${process.pid}`;
  const clientNs = `${tag}c`;
  const serverNs = [1, 2, 3].map((i) => `${tag}s${i}`);
  const addr = (i: number) => `10.77.${i + 1}.2`;
  // Each namespace is a host of its own; a port from this run's pid keeps parallel runs apart.
  const port = 20000 + (process.pid % 20000);
  let dir: string;
  let job: string;
  const nsServers: Server[] = [];

  const ipCmd = (args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr} (network namespaces need root and iproute2: test/prerequisites.sh)`);
  };

  before(async function () {
    requireFio();
    assert.equal(process.getuid?.(), 0, 'network namespaces need root (CI runs the tests as root)');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-fleet-ns-'));
    job = path.join(dir, 'read.fio');
    // Paced to 2 s: fio's client merges "All clients" only once every server has said START.
    fs.writeFileSync(job, `[nsjob]\nfilename=${path.join(dir, 'data.img')}\nsize=2m\nbs=4k\nrw=randread\nrate_iops=256\n`);
    ipCmd(['netns', 'add', clientNs]);
    serverNs.forEach((ns, i) => {
      ipCmd(['netns', 'add', ns]);
      ipCmd(['link', 'add', `${tag}c${i}`, 'netns', clientNs, 'type', 'veth', 'peer', 'name', `${tag}s${i}`, 'netns', ns]);
      ipCmd(['-n', clientNs, 'addr', 'add', `10.77.${i + 1}.1/24`, 'dev', `${tag}c${i}`]);
      ipCmd(['-n', ns, 'addr', 'add', `${addr(i)}/24`, 'dev', `${tag}s${i}`]);
      ipCmd(['-n', clientNs, 'link', 'set', `${tag}c${i}`, 'up']);
      ipCmd(['-n', ns, 'link', 'set', `${tag}s${i}`, 'up']);
    });
    nsServers.push(await startServer('fio', addr(0), serverNs[0], port));
    nsServers.push(await startServer('blkbench', addr(1), serverNs[1], port));
    nsServers.push(await startServer('blkbench', addr(2), serverNs[2], port));
  });

  after(() => {
    for (const s of nsServers) killServer(s);
    for (const ns of [clientNs, ...serverNs]) spawnSync('ip', ['netns', 'del', ns]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const clients = () => serverNs.flatMap((_, i) => [`--client=ip:${addr(i)},${port}`, job]);

  it('fio --client in a namespace of its own merges a fio and two blkbench servers, each in its own', async () => {
    const r = await run(...inNs(clientNs, 'fio', [...clients(), '--output-format=json']), dir);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const stats = jsonOf(r.stdout).client_stats as Array<Record<string, any>>;
    const hosts = stats.filter((s) => s.jobname === 'nsjob');
    assert.deepEqual(hosts.map((h) => h.hostname).sort(), [addr(0), addr(1), addr(2)]);
    for (const h of hosts) assert.equal(h.read.total_ios, 512, h.hostname);
    const all = stats.find((s) => s.jobname === 'All clients')!;
    assert.equal(all.read.total_ios, 3 * 512);
    assert.equal(all.read.clat_ns.N, 3 * 512);
  });

  it('blkbench --client in a namespace of its own drives the same three hosts', async () => {
    const r = await run(...inNs(clientNs, process.execPath, [CLI, ...clients(), '--output-format=json']), dir);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const stats = jsonOf(r.stdout).client_stats as Array<Record<string, any>>;
    const hosts = stats.filter((s) => s.jobname === 'nsjob');
    assert.deepEqual(hosts.map((h) => h.hostname).sort(), [addr(0), addr(1), addr(2)]);
    for (const h of hosts) assert.equal(h.read.total_ios, 512, h.hostname);
    const all = stats.find((s) => s.jobname === 'All clients')!;
    assert.equal(all.read.total_ios, 3 * 512);
    assert.equal(all.read.clat_ns.N, 3 * 512);
    assert.equal(all.read.io_bytes, 3 * 2 * 1024 * 1024);
  });
});
