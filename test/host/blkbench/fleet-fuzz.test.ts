/**
 * A blkbench fleet server attacked by a network peer, and a blkbench client facing a malicious
 * server. A seeded fuzzer (reproducible: the seed is fixed) sends random and mutated frames; after
 * each case the server must still answer a probe, every so often still run a real `fio --client`
 * job correctly, and its resident memory must stay bounded. The server runs in a process of its
 * own (fleet-server-process) with shortened timeouts, so the timeout cases take seconds.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI, DIST_TEST } from '../../support/paths';
import { crc16 } from '../../../src/blkbench/fleet/crc16';
import { CommandReader, Command, OP, encodeCommand, HEADER_SIZE, PROTOCOL_VERSION, FLAG_MORE } from '../../../src/blkbench/fleet/frame';
import {
  CLIENT_PROBE,
  DU,
  JOB_OPTION,
  PROBE_REPLY,
  STOP,
  TS_PDU_SIZE,
  decodeText,
  encodeJob,
  encodeJobLine,
  encodeText,
} from '../../../src/blkbench/fleet/pdu';

const SEED = 0x5eed17;
const HOST = '127.0.0.1';
/** Shortened timeouts; the other bounds are the server's defaults. */
const LIMITS = { idleTimeoutMs: 1500, setupTimeoutMs: 4000, lingerMs: 300 };
/** How much the server's RSS may grow over the whole suite; unbounded buffering exceeds it many times. */
const RSS_GROWTH_LIMIT = 160 * 1024 * 1024;

/** mulberry32: a small seeded generator, so every run sends the same bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface FrameOpts {
  version?: number;
  flags?: number;
  tag?: bigint;
  len?: number;
  badHeaderCrc?: boolean;
  badPayloadCrc?: boolean;
}

/** One fragment, with every header field open to mutation. */
function frame(op: number, payload: Buffer, o: FrameOpts = {}): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt16LE(o.version ?? PROTOCOL_VERSION, 0);
  h.writeUInt16LE(op & 0xffff, 2);
  h.writeUInt32LE((o.flags ?? 0) >>> 0, 4);
  h.writeBigUInt64LE(o.tag ?? 0n, 8);
  h.writeUInt32LE((o.len ?? payload.length) >>> 0, 16);
  h.writeUInt16LE(crc16(h, 0, 20) ^ (o.badHeaderCrc ? 0x5a5a : 0), 20);
  h.writeUInt16LE(crc16(payload) ^ (o.badPayloadCrc ? 0xa5a5 : 0), 22);
  return Buffer.concat([h, payload]);
}

function randomBytes(rnd: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
}

interface Exchange {
  replies: Command[];
  closedByServer: boolean;
}

/**
 * Connects, sends `parts` (with `gapMs` between them), optionally hangs up, and collects what the
 * server sends until it closes, `until` says enough, or `waitMs` pass.
 */
function exchange(
  port: number,
  parts: Buffer[],
  o: { hangUp?: boolean; gapMs?: number; waitMs?: number; until?: (replies: Command[]) => boolean } = {},
): Promise<Exchange> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    const reader = new CommandReader(64 * 1024 * 1024);
    const replies: Command[] = [];
    let closedByServer = false;
    let finished = false;
    const finish = () => {
      if (!finished) {
        finished = true;
        clearTimeout(timer);
        sock.destroy();
        resolve({ replies, closedByServer });
      }
    };
    const timer = setTimeout(finish, o.waitMs ?? 2000);
    sock.on('data', (b: Buffer) => {
      try {
        replies.push(...reader.push(b));
        if (o.until?.(replies)) finish();
      } catch {
        // a reply this test cannot frame is noted by the assertions on replies
      }
    });
    sock.on('end', () => {
      closedByServer = true;
      finish();
    });
    sock.on('error', () => {
      closedByServer = true;
      finish();
    });
    sock.on('connect', async () => {
      for (const p of parts) {
        if (finished) break; // the server closed the connection meanwhile
        sock.write(p);
        if (o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs));
      }
      if (o.hangUp && !finished) {
        sock.end();
        // a half-closed peer still reads the reply; the server closes its side after it
      }
    });
  });
}

function texts(x: Exchange): string {
  return x.replies.filter((c) => c.opcode === OP.TEXT).map((c) => decodeText(c.payload).text).join('');
}

function stopError(x: Exchange): number | undefined {
  const s = x.replies.find((c) => c.opcode === OP.STOP);
  return s ? (STOP.decode(s.payload) as { error: number }).error : undefined;
}

/** The server answers a PROBE: it is alive and its event loop turns. */
async function assertProbes(port: number, after: string): Promise<void> {
  const probe = encodeCommand(OP.PROBE, CLIENT_PROBE.encode({ flags: 0, server: 'fuzz' }), 7n);
  for (let attempt = 0; attempt < 3; attempt++) {
    const x = await exchange(port, [probe], { waitMs: 3000, until: (r) => r.some((c) => c.opcode === OP.PROBE) });
    const reply = x.replies.find((c) => c.opcode === OP.PROBE);
    if (reply) {
      assert.equal(reply.tag, 7n, `probe reply carries the probe's tag (after ${after})`);
      assert.match((PROBE_REPLY.decode(reply.payload) as { fioVersion: string }).fioVersion, /^blkbench-/);
      return;
    }
    // Busy with the connections a case left behind: they close within the linger time.
    await new Promise((r) => setTimeout(r, LIMITS.lingerMs * 2));
  }
  assert.fail(`the server no longer answers a PROBE after ${after}`);
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmRSS in /proc/PID/status');
  return Number(m[1]) * 1024;
}

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Job files an attacker might send: odd targets, absurd sizes, NUL bytes, junk. */
function hostileJobs(dir: string): string[] {
  const fifo = path.join(dir, 'fifo');
  return [
    `[a]\nfilename=/etc/passwd\nrw=read\nbs=512\nsize=512\n`,
    `[a]\nfilename=${fifo}\nrw=read\nsize=1m\n`,
    `[a]\ndirectory=${dir}\nfilename_format=fifo\nrw=read\nsize=1m\n`,
    `[a]\nfilename=/dev/zero\nrw=read\nsize=1m\n`,
    `[a]\nfilename=${dir}/absurd\nsize=1E\nrw=read\n`,
    `[a]\nfilename=${dir}/absurd\nsize=4P\nrw=randread\n`,
    `[a]\nfilename=${dir}/big\nsize=16m\nbs=16m\niodepth=64\nnumjobs=8\nrw=read\n`,
    Array.from({ length: 5 }, (_, i) => `[j${i}]\nfilename=${dir}/many\nsize=64k\nnumjobs=1024\n`).join(''),
    `[a]\ninclude /dev/zero\n`,
    `[a]\ninclude ${fifo}\n`,
    `[a]\nfilename=${dir}/nul\0\0\0size=64k\0rw=read\n`,
    `[${'x'.repeat(5000)}]\nfilename=${dir}/long\nsize=64k\n`,
    `[a]\n${'bs=4k\n'.repeat(20000)}`,
    `[a]\nfilename=\${HOME}/../../etc/shadow\nrw=read\n`,
    `\0\0\0\0`,
    '',
  ];
}

describe('blkbench fleet server under attack (seeded fuzzer, real fio 3.33 client)', function () {
  this.timeout(180000);
  let dir: string;
  let job: string;
  let port: number;
  let server: ChildProcess;
  let log = '';
  let baseline = 0;

  /** A real fio client runs a small job on the server and gets every byte counted. */
  async function assertServesFio(after: string): Promise<void> {
    const r = await run('fio', [`--client=ip:${HOST},${port}`, job, '--output-format=json'], dir);
    assert.equal(r.code, 0, `fio --client after ${after}: ${r.stderr}${r.stdout}`);
    const doc = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'), r.stdout.lastIndexOf('}') + 1));
    assert.equal(doc.client_stats[0].read.io_bytes, 256 * 1024, `fio --client after ${after}: bytes read`);
  }

  function assertAliveAndBounded(after: string): void {
    assert.equal(server.exitCode, null, `the server exited after ${after}: ${log.slice(-2000)}`);
    const rss = rssOf(server.pid!);
    assert.ok(rss - baseline < RSS_GROWTH_LIMIT, `server RSS grew by ${rss - baseline} bytes after ${after}`);
  }

  before(async function () {
    assert.ok(
      spawnSync('fio', ['--version'], { encoding: 'utf8' }).stdout?.startsWith('fio-3.33'),
      'fio 3.33 is missing: test/prerequisites.sh installs it (apt-get install fio)',
    );
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-fleet-fuzz-'));
    spawnSync('mkfifo', [path.join(dir, 'fifo')]);
    assert.ok(fs.statSync(path.join(dir, 'fifo')).isFIFO(), 'mkfifo made a FIFO');
    job = path.join(dir, 'read.fio');
    fs.writeFileSync(job, `[readjob]\nfilename=${path.join(dir, 'data.img')}\nsize=256k\nbs=4k\nrw=randread\niodepth=2\n`);
    port = await freePort();
    const script = path.join(DIST_TEST, 'test', 'host', 'blkbench', 'fleet-server-process.js');
    server = spawn(process.execPath, [script, HOST, String(port), JSON.stringify(LIMITS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    await new Promise<void>((resolve, reject) => {
      server.stdout!.once('data', () => resolve());
      server.once('exit', (code) => reject(new Error(`the server exited (${code}): ${log}`)));
    });
    await assertServesFio('start');
    baseline = rssOf(server.pid!);
  });

  after(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('survives 200 seeded random and mutated frames: probes after each, fio --client every 50', async () => {
    const rnd = prng(SEED);
    const int = (n: number) => Math.floor(rnd() * n);
    const jobs = hostileJobs(dir);
    const kinds = [
      'random-bytes', 'random-opcode', 'huge-len', 'zero-len-more', 'unfinished-fragments', 'mixed-fragments',
      'bad-header-crc', 'bad-payload-crc', 'truncated-header', 'other-version', 'hostile-job', 'hostile-jobline', 'junk-load-file',
    ];
    for (let i = 0; i < 200; i++) {
      const kind = kinds[int(kinds.length)];
      let parts: Buffer[];
      switch (kind) {
        case 'random-bytes':
          parts = [randomBytes(rnd, int(4096))];
          break;
        case 'random-opcode':
          parts = [frame(int(65536), randomBytes(rnd, int(1025)), { flags: int(2) ? 0 : int(2 ** 32), tag: BigInt(int(2 ** 32)) })];
          break;
        case 'huge-len':
          parts = [frame(OP.JOB, randomBytes(rnd, 64), { len: [1025, 2 ** 31, 2 ** 32 - 1][int(3)] })];
          break;
        case 'zero-len-more':
          parts = Array.from({ length: 1 + int(2000) }, () => frame(OP.JOB, Buffer.alloc(0), { flags: FLAG_MORE }));
          break;
        case 'unfinished-fragments':
          parts = Array.from({ length: 1 + int(40) }, () => frame(OP.JOB, randomBytes(rnd, 1024), { flags: FLAG_MORE }));
          break;
        case 'mixed-fragments':
          parts = [
            frame(OP.JOB, randomBytes(rnd, 1024), { flags: FLAG_MORE, tag: 1n }),
            frame(OP.JOBLINE, randomBytes(rnd, 100), { flags: FLAG_MORE, tag: 2n }),
            frame(OP.JOB, randomBytes(rnd, 10), { tag: 3n }),
          ];
          break;
        case 'bad-header-crc':
          parts = [frame(OP.PROBE, Buffer.alloc(0), { badHeaderCrc: true })];
          break;
        case 'bad-payload-crc':
          parts = [frame(OP.JOB, encodeJob('[a]\nsize=1m\n'), { badPayloadCrc: true })];
          break;
        case 'truncated-header':
          parts = [frame(OP.PROBE, Buffer.alloc(0)).subarray(0, int(HEADER_SIZE))];
          break;
        case 'other-version':
          parts = [frame(OP.PROBE, Buffer.alloc(0), { version: int(65536) })];
          break;
        case 'hostile-job':
          parts = [encodeCommand(OP.JOB, encodeJob(jobs[int(jobs.length)])), encodeCommand(OP.RUN)];
          break;
        case 'hostile-jobline':
          parts = [encodeCommand(OP.JOBLINE, encodeJobLine(['fio', ...Array.from({ length: int(50) }, () => randomBytes(rnd, int(200)).toString('latin1'))]))];
          break;
        default: {
          const name = ['/dev/zero', path.join(dir, 'fifo'), '/proc/self/environ', '/etc/passwd', dir, 'x'.repeat(4000)][int(6)];
          const p = Buffer.alloc(4 + Buffer.byteLength(name) + 1);
          p.writeUInt16LE(Buffer.byteLength(name), 0);
          p.write(name, 4);
          parts = [encodeCommand(OP.LOAD_FILE, p)];
        }
      }
      // Half the cases hang up at once; the others keep the connection for the server to close.
      const x = await exchange(port, parts, { hangUp: int(2) === 0, waitMs: 150 + int(200) });
      if (kind === 'bad-header-crc' || kind === 'bad-payload-crc' || kind === 'huge-len') {
        if (x.replies.length > 0) assert.equal(stopError(x), 71, `case ${i} (${kind}): the refusal's STOP carries EPROTO`);
      }
      const after = `case ${i} (${kind})`;
      await assertProbes(port, after);
      assertAliveAndBounded(after);
      if (i % 50 === 49) await assertServesFio(after);
    }
  });

  it('refuses a command over 1 MiB (fragments that never end) and closes the connection', async () => {
    const part = frame(OP.JOB, Buffer.alloc(1024, 0x41), { flags: FLAG_MORE });
    const x = await exchange(port, Array.from({ length: 4096 }, () => part), { waitMs: 10000 });
    assert.ok(x.closedByServer, 'the server closed the connection');
    assert.match(texts(x), /payload exceeds 1048576 bytes/);
    assert.equal(stopError(x), 71);
    assertAliveAndBounded('a 4 MiB command');
  });

  it('refuses job text over 1 MiB per connection sent as many job files', async () => {
    const one = (i: number) => encodeCommand(OP.JOB, encodeJob(`[a${i}]\n#${'x'.repeat(200 * 1024)}\nsize=64k\nfilename=${dir}/j\n`));
    const x = await exchange(port, Array.from({ length: 8 }, (_, i) => one(i)), { waitMs: 10000 });
    assert.match(texts(x), /more than the 1048576 a connection may send/);
    assert.equal(stopError(x), 7);
    assert.ok(x.closedByServer);
  });

  it('stops reading a peer that sends commands but never reads the replies, and closes it when its timeout passes', async () => {
    const probe = encodeCommand(OP.PROBE, CLIENT_PROBE.encode({ flags: 0, server: 'x' }));
    // 8 MiB of probes ask for ~45 MiB of replies; the server queues about 1 MiB of them.
    const burst = Buffer.concat(Array.from({ length: Math.ceil((8 * 1024 * 1024) / probe.length) }, () => probe));
    const before = log.length;
    const sock = net.connect({ host: HOST, port });
    sock.pause(); // never read
    sock.on('error', () => undefined);
    sock.on('connect', () => sock.write(burst));
    await new Promise((r) => setTimeout(r, 1000));
    assertAliveAndBounded('a peer that does not read');
    // Paused, it completes no command, so the idle timeout or the setup timeout closes it.
    const closing = /no whole command for 1\.5 s: closing|no job started within 4 s of connecting: closing/;
    for (let i = 0; i < 100 && !closing.test(log.slice(before)); i++) await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
    assert.match(log.slice(before), closing);
    assertAliveAndBounded('a peer that does not read');
    await assertProbes(port, 'a peer that does not read');
  });

  it('closes a slowloris that trickles a byte at a time without completing a command', async () => {
    const bytes = frame(OP.JOB, encodeJob('[a]\nsize=64k\n'));
    const x = await exchange(port, Array.from(bytes, (b) => Buffer.from([b])), { gapMs: 250, waitMs: 15000 });
    assert.ok(x.closedByServer, 'the server closed the slowloris');
    assert.match(texts(x), /no whole command for 1\.5 s: closing/);
    assert.equal(stopError(x), 110);
  });

  it('closes a connection that keeps probing but never starts a job', async () => {
    const probe = encodeCommand(OP.PROBE, CLIENT_PROBE.encode({ flags: 0, server: 'x' }));
    const x = await exchange(port, Array.from({ length: 40 }, () => probe), { gapMs: 500, waitMs: 20000 });
    assert.ok(x.closedByServer);
    assert.match(texts(x), /no job started within 4 s of connecting: closing/);
  });

  it('tells connections past 64 that it is busy, and serves fio again once they are gone', async () => {
    const socks: net.Socket[] = [];
    const busy: Exchange[] = [];
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: HOST, port });
          socks.push(s);
          const reader = new CommandReader(1024 * 1024);
          const x: Exchange = { replies: [], closedByServer: false };
          s.on('data', (b: Buffer) => x.replies.push(...reader.push(b)));
          s.on('error', () => resolve());
          s.on('end', () => {
            x.closedByServer = true;
            if (texts(x).includes('busy')) busy.push(x);
            resolve();
          });
          // the rest stay open (and idle) until the server's idle timeout closes them
          s.on('connect', () => (i % 3 === 0 ? s.write(frame(OP.PROBE, Buffer.alloc(0)).subarray(0, 10)) : undefined));
        }),
      ),
    );
    for (const s of socks) s.destroy();
    assert.ok(busy.length >= 300 - 64, `${busy.length} connections were told the server is busy`);
    for (const x of busy) assert.equal(stopError(x), 16);
    assertAliveAndBounded('300 connections');
    await new Promise((r) => setTimeout(r, 500));
    await assertServesFio('300 connections');
  });

  it('refuses a job whose target is a FIFO, and keeps answering', async () => {
    const x = await exchange(port, [encodeCommand(OP.JOB, encodeJob(`[a]\nfilename=${dir}/fifo\nrw=read\nsize=1m\n`)), encodeCommand(OP.RUN)]);
    assert.match(texts(x), /is a FIFO, which a job cannot use/);
    assert.equal(stopError(x), 22);
    await assertProbes(port, 'a FIFO job');
  });

  it('reads a server-side job file only if it is a regular file (fio --remote-config=/dev/zero)', async () => {
    const r = await run('fio', [`--client=ip:${HOST},${port}`, '--remote-config=/dev/zero'], dir);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /'\/dev\/zero' is not a regular file/);
    await assertProbes(port, 'remote-config=/dev/zero');
  });

  it('refuses jobs with more clones or I/O buffer memory than a client may use', async () => {
    const many = Array.from({ length: 5 }, (_, i) => `[j${i}]\nfilename=${dir}/many\nsize=64k\nnumjobs=1024\n`).join('');
    const x = await exchange(port, [encodeCommand(OP.JOB, encodeJob(many))]);
    assert.match(texts(x), /5120 job clones, more than the 4096/);
    const y = await exchange(port, [encodeCommand(OP.JOB, encodeJob(`[a]\nfilename=${dir}/big\nsize=16m\nbs=16m\niodepth=64\nnumjobs=8\nrw=read\n`)), encodeCommand(OP.RUN)]);
    assert.match(texts(y), /bytes of I\/O buffers .* more than the 4294967296/);
    assert.equal(fs.existsSync(path.join(dir, 'big')), false, 'the refused job laid out no file');
  });

  it("shows control characters a peer sent in the server's log as escapes", async () => {
    const before = log.length;
    const x = await exchange(port, [encodeCommand(OP.JOB, encodeJob('[a]\n\x1b[2Jwipe\x07=1\n'))]);
    assert.match(texts(x), /job refused/);
    await new Promise((r) => setTimeout(r, 200));
    assert.match(log.slice(before), /\\x1b\[2Jwipe\\x07/);
    assert.doesNotMatch(log.slice(before), /[\x07\x1b]/);
  });

  it('listens on the one address it was told and nothing else', () => {
    const ss = spawnSync('ss', ['-Hlntup'], { encoding: 'utf8' });
    assert.equal(ss.status, 0, `ss (iproute2) failed: ${ss.stderr}`);
    const own = ss.stdout.split('\n').filter((l) => l.includes(`pid=${server.pid},`));
    assert.equal(own.length, 1, own.join('\n'));
    assert.match(own[0], new RegExp(`^tcp\\s+LISTEN.*\\s127\\.0\\.0\\.1:${port}\\s`));
  });
});

/** A fake fio server: answers the client's connection with `script`'s bytes, then closes or not. */
function fakeServer(script: (sock: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  return new Promise((resolve) => {
    const socks = new Set<net.Socket>();
    const srv = net.createServer((s) => {
      socks.add(s);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      script(s);
    });
    srv.listen(0, HOST, () =>
      resolve({
        port: (srv.address() as net.AddressInfo).port,
        close: () => {
          for (const s of socks) s.destroy();
          srv.close();
        },
      }),
    );
  });
}

describe('blkbench --client against a malicious server', function () {
  this.timeout(120000);
  let dir: string;
  let job: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-fleet-evil-'));
    job = path.join(dir, 'read.fio');
    fs.writeFileSync(job, `[readjob]\nfilename=${path.join(dir, 'data.img')}\nsize=64k\nrw=read\n`);
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Runs the client against a fake server; it must end by itself, with a status and no stack trace. */
  async function clientAgainst(script: (sock: net.Socket) => void, format = 'normal'): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const srv = await fakeServer(script);
    try {
      const r = await run(process.execPath, [BLKBENCH_CLI, `--client=ip:${HOST},${srv.port}`, job, `--output-format=${format}`], dir);
      assert.equal(r.signal, null, `the client died of ${r.signal}: ${r.stderr}`);
      assert.ok(r.code === 0 || r.code === 1, `client exit status ${r.code}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /\n\s+at .*\(.*:\d+:\d+\)/, `the client crashed: ${r.stderr}`);
      return r;
    } finally {
      srv.close();
    }
  }

  const probeReply = (hostname: string) =>
    encodeCommand(OP.PROBE, PROBE_REPLY.encode({ hostname, bigendian: 0, fioVersion: 'fio-3.33', os: 1, arch: 1, bpp: 8, cpus: 1, flags: 0 }), 1n);
  const stopQuit = (error = 0) => Buffer.concat([encodeCommand(OP.STOP, STOP.encode({ error, signal: 0 })), encodeCommand(OP.QUIT)]);

  for (const format of ['normal', 'json']) {
    it(`prints seeded garbage statistics (random TS, DU, job options) without crashing (${format})`, async () => {
      const rnd = prng(SEED + 1);
      for (let round = 0; round < 4; round++) {
        const bytes = Buffer.concat([
          probeReply(randomBytes(rnd, 64).toString('latin1')),
          encodeCommand(OP.SERVER_START),
          encodeCommand(OP.JOB_OPT, randomBytes(rnd, JOB_OPTION.size)),
          encodeCommand(OP.TS, randomBytes(rnd, TS_PDU_SIZE)),
          encodeCommand(OP.TS, randomBytes(rnd, TS_PDU_SIZE)),
          encodeCommand(OP.DU, randomBytes(rnd, DU.size)),
          encodeCommand(OP.TEXT, randomBytes(rnd, 300)),
          stopQuit(),
        ]);
        const r = await clientAgainst((s) => s.end(bytes), format);
        assert.ok(r.stdout.length > 0, 'the client printed something');
      }
    });
  }

  it('stops reading a server that floods disk reports, naming the problem', async () => {
    const du = encodeCommand(OP.DU, Buffer.alloc(DU.size));
    const r = await clientAgainst((s) => {
      s.write(probeReply('flood'));
      for (let i = 0; i < 300; i++) s.write(du);
      s.end(stopQuit());
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /malformed DU from the server: more than 256 disk reports/);
  });

  it('refuses a server command over 4 MiB and reports the server as failed', async () => {
    const part = frame(OP.TEXT, Buffer.alloc(1024), { flags: FLAG_MORE });
    const r = await clientAgainst((s) => {
      for (let i = 0; i < 5000; i++) s.write(part);
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /protocol error: TEXT payload exceeds 4194304 bytes/);
  });

  it('reports a server that answers with garbage or a bad CRC as failed', async () => {
    const rnd = prng(SEED + 2);
    for (let i = 0; i < 3; i++) {
      const r = await clientAgainst((s) => s.end(randomBytes(rnd, 5000)));
      assert.equal(r.code, 1);
      assert.match(r.stderr, /client ip:127\.0\.0\.1,\d+: (protocol error|the server went away)/);
    }
  });

  it('prints a server text flood and exits when the server quits', async () => {
    const line = encodeCommand(OP.TEXT, encodeText('x'.repeat(900) + '\n'));
    const r = await clientAgainst((s) => {
      s.write(probeReply('chatty'));
      for (let i = 0; i < 2000; i++) s.write(line);
      s.end(stopQuit(5));
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /exited with error 5/);
  });
});
