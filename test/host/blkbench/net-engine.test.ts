/**
 * ioengine=net: blkbench's native job loop sends and receives on sockets, as fio's net engine does.
 * Peers are real: blkbench jobs talking to each other in one job file over TCP, UNIX and UDP
 * sockets (and an IPv4 multicast group, on the loopback interface), and real fio on the other end,
 * each way, which checks that fio's wire format (the UDP open message, the close message, the
 * sequence trailer) is kept. Ports come from the kernel (bound to 0, then released) so runs do not
 * collide; every exchange stays on this machine.
 */
import * as assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { BlkioError } from '../../../src/lib';
import { startNetJobLoop } from '../../../src/lib/bench';
import { RawOptions, resolveJob, setRawOption } from '../../../src/blkbench/options';
import { tempDir } from '../../support/files';
import { BLKBENCH_CLI } from '../../support/paths';
import { until } from '../../support/until';
import { requireFio } from '../../support/prerequisites';

const KiB = 1024;
const MiB = 1 << 20;
const RUN_LIMIT_MS = 20000;

type Dir = { io_bytes: number; total_ios: number; short_ios?: number };
type Job = { jobname: string; error: number; blkbench_loop?: string; read: Dir; write: Dir };

function jobsOf(stdout: string): Map<string, Job> {
  const doc = JSON.parse(stdout.slice(stdout.indexOf('{'))) as { jobs: Job[] };
  return new Map(doc.jobs.map((j) => [j.jobname, j]));
}

/** A port nothing listens on now (the kernel's pick, released). */
async function freePort(kind: 'tcp' | 'udp'): Promise<number> {
  if (kind === 'udp') {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((res) => s.bind(0, '127.0.0.1', () => res()));
    const port = s.address().port;
    await new Promise<void>((res) => s.close(() => res()));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((res) => server.close(() => res()));
  return port;
}

/** Whether something is bound to the port (a TCP listener, or any UDP socket), from the kernel's tables. */
function bound(kind: 'tcp' | 'udp', port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of kind === 'tcp' ? ['/proc/net/tcp', '/proc/net/tcp6'] : ['/proc/net/udp', '/proc/net/udp6']) {
    if (!fs.existsSync(table)) continue;
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 3 && f[1].endsWith(`:${hex}`) && (kind === 'udp' || f[3] === '0A')) return true;
    }
  }
  return false;
}

/** Waits for `ready`, failing at once if the peer exits first. */
function untilPeer(what: string, ready: () => boolean, child: Running): Promise<void> {
  return until(what, ready, {
    intervalMs: 50,
    alsoCheck: () => {
      if (child.exited) throw new Error(`the peer exited before ${what}:\n${child.stderr}`);
    },
  });
}

interface Running { proc: ChildProcess; stdout: string; stderr: string; exited: boolean; done: Promise<number | null> }

/** A peer in the background (killed at the limit, so a hang fails the test instead of stalling it). */
function start(cmd: string, args: string[], cwd: string): Running {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const r = { proc, stdout: '', stderr: '', exited: false } as Running;
  proc.stdout!.on('data', (d) => (r.stdout += d));
  proc.stderr!.on('data', (d) => (r.stderr += d));
  const timer = setTimeout(() => proc.kill('SIGKILL'), RUN_LIMIT_MS);
  r.done = new Promise((res) => proc.on('close', (code) => {
    clearTimeout(timer);
    r.exited = true;
    res(code);
  }));
  return r;
}

function write(dir: string, name: string, text: string): string {
  fs.writeFileSync(path.join(dir, name), text);
  return name;
}

function blkbench(dir: string, file: string) {
  return spawnSync(process.execPath, [BLKBENCH_CLI, '--output-format=json', file], { cwd: dir, encoding: 'utf8', timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' });
}

function options(o: Record<string, string | undefined>) {
  const raw: RawOptions = new Map();
  for (const [k, v] of Object.entries(o)) setRawOption(raw, k, v);
  return resolveJob('job1', raw);
}

describe('ioengine=net: sends and receives on sockets', function () {
  this.timeout(RUN_LIMIT_MS + 10000);
  let dir: string;

  beforeEach(() => {
    dir = tempDir('blkbench-net-');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  describe('blkbench on both ends, in one job file', () => {
    it('moves every byte the sender sends to the TCP listener (netio.fio\'s jobs)', async () => {
      const port = await freePort('tcp');
      const file = write(dir, 'tcp.fio', `[global]\nioengine=net\nport=${port}\nprotocol=tcp\nbs=4k\nsize=4m\nruntime=10s\n` +
        `[receiver]\nlisten\nrw=read\n[sender]\nhostname=localhost\nstartdelay=100ms\nrw=write\n`);
      const r = blkbench(dir, file);
      assert.equal(r.status, 0, r.stderr);
      const jobs = jobsOf(r.stdout);
      assert.equal(jobs.get('sender')!.write.io_bytes, 4 * MiB);
      assert.equal(jobs.get('receiver')!.read.io_bytes, 4 * MiB);
      assert.equal(jobs.get('receiver')!.read.total_ios, 1024);
      for (const j of jobs.values()) assert.equal(j.blkbench_loop, 'native');
    });

    it('echoes every block over TCP on IPv6 with pingpong, with fio\'s socket options set', async () => {
      const port = await freePort('tcp');
      const file = write(dir, 'tcp6.fio', `[global]\nioengine=net\nport=${port}\nprotocol=tcpv6\nbs=8k\nsize=1m\nruntime=10s\npingpong\n` +
        `nodelay=1\nwindow_size=256k\nmss=1400\n[receiver]\nlisten\nrw=read\n[sender]\nhostname=::1\nstartdelay=100ms\nrw=write\n`);
      const r = blkbench(dir, file);
      assert.equal(r.status, 0, r.stderr);
      const jobs = jobsOf(r.stdout);
      assert.equal(jobs.get('sender')!.write.total_ios, 128);
      assert.equal(jobs.get('receiver')!.read.total_ios, 128);
    });

    it('connects a sender listed before its listener, without a startdelay', async () => {
      const port = await freePort('tcp');
      const file = write(dir, 'order.fio', `[global]\nioengine=net\nport=${port}\nbs=4k\nsize=1m\nruntime=10s\n` +
        `[sender]\nhostname=127.0.0.1\nrw=write\n[receiver]\nlisten\nrw=read\n`);
      const r = blkbench(dir, file);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(jobsOf(r.stdout).get('receiver')!.read.io_bytes, MiB);
    });

    it('moves every byte over a UNIX socket, whose reader listens on the path', async () => {
      const file = write(dir, 'unix.fio', `[global]\nioengine=net\nprotocol=unix\nfilename=${path.join(dir, 'sock')}\nbs=16k\nsize=2m\nruntime=10s\n` +
        `[reader]\nrw=read\n[writer]\nstartdelay=100ms\nrw=write\n`);
      const r = blkbench(dir, file);
      assert.equal(r.status, 0, r.stderr);
      const jobs = jobsOf(r.stdout);
      assert.equal(jobs.get('writer')!.write.io_bytes, 2 * MiB);
      assert.equal(jobs.get('reader')!.read.io_bytes, 2 * MiB);
      assert.ok(!fs.existsSync(path.join(dir, 'sock')), 'the listener removes the socket it created');
    });

    it('echoes every UDP datagram back with pingpong, and the close message ends the reader', async () => {
      const port = await freePort('udp');
      // runtime is far off: only the writer's close message can end the reader this soon.
      const file = write(dir, 'udp.fio', `[global]\nioengine=net\nprotocol=udp\nport=${port}\nbs=1k\nsize=1m\nruntime=60s\npingpong=1\n` +
        `[reader]\nrw=read\n[writer]\nhostname=127.0.0.1\nstartdelay=100ms\nrw=write\n`);
      const r = blkbench(dir, file);
      assert.equal(r.status, 0, r.stderr);
      const jobs = jobsOf(r.stdout);
      assert.equal(jobs.get('writer')!.write.total_ios, 1024);
      assert.equal(jobs.get('reader')!.read.total_ios, 1024);
      assert.equal(jobs.get('reader')!.read.io_bytes, MiB);
    });

    it('runs netio_multicast.fio\'s jobs: a multicast group, two readers, one answering the pingpong writer', async () => {
      const port = await freePort('udp');
      const file = write(dir, 'mc.fio', `[global]\nioengine=net\nprotocol=udp\nbs=64\nsize=128k\nport=${port}\nhostname=239.0.0.0\n` +
        `interface=127.0.0.1\nttl=0\nruntime=10s\n` +
        `[pingpong_reader]\npingpong=1\nrw=read\n[normal_reader]\nrw=read\n[pingpong_writer]\nstartdelay=100ms\npingpong=1\nrw=write\n`);
      const r = blkbench(dir, file);
      assert.equal(r.status, 0, r.stderr);
      const jobs = jobsOf(r.stdout);
      assert.equal(jobs.get('pingpong_writer')!.write.io_bytes, 128 * KiB);
      assert.equal(jobs.get('pingpong_reader')!.read.io_bytes, 128 * KiB);
      assert.equal(jobs.get('normal_reader')!.read.io_bytes, 128 * KiB, 'every reader of the group gets every datagram');
    });
  });

  describe('fio\'s UDP wire format', () => {
    /** A datagram as fio's UDP writer sends it: the block, ending in the trailer (magic, sequence number, size). */
    function datagram(seq: number, size: number): Buffer {
      const b = Buffer.alloc(size, 0x5a);
      b.writeBigUInt64LE(0x657375716e556563n, size - 24);
      b.writeBigUInt64LE(BigInt(seq), size - 16);
      b.writeBigUInt64LE(BigInt(size), size - 8);
      return b;
    }

    it('waits for the open message, counts the datagrams the sequence numbers skip in drop_ios, and ends on the close message', async () => {
      const port = await freePort('udp');
      const reader = start(process.execPath, [BLKBENCH_CLI, '--output-format=json',
        write(dir, 'rx.fio', `[rx]\nioengine=net\nprotocol=udp\nport=${port}\nrw=read\nbs=256\nsize=1m\nruntime=15s\n`)], dir);
      await untilPeer('blkbench binds', () => bound('udp', port), reader);
      const sock = dgram.createSocket('udp4');
      const send = (b: Buffer) => new Promise<void>((res, rej) => sock.send(b, port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      try {
        const open = Buffer.alloc(8);
        open.writeUInt32BE(0x6c696e6b, 0); // the open message is in network byte order
        open.writeUInt32BE(0x98, 4);
        await send(open);
        for (const seq of [0, 1, 2, 6, 7, 10]) await send(datagram(seq, 256)); // 3, 4, 5, 8 and 9 "lost"
        const close = Buffer.alloc(8);
        close.writeUInt32LE(0x6c696e6b, 0); // the close message is little-endian
        close.writeUInt32LE(0x89, 4);
        await send(close);
      } finally {
        sock.close();
      }
      assert.equal(await reader.done, 0, reader.stderr);
      const rx = jobsOf(reader.stdout).get('rx')! as Job & { read: Dir & { drop_ios: number } };
      assert.equal(rx.error, 0);
      assert.equal(rx.read.total_ios, 6);
      assert.equal(rx.read.io_bytes, 6 * 256);
      assert.equal(rx.read.drop_ios, 5);
    });
  });

  describe('with fio on the other end', () => {
    before(function () {
      requireFio();
    });

    it('takes every byte a fio TCP sender sends', async () => {
      const port = await freePort('tcp');
      const listener = start(process.execPath, [BLKBENCH_CLI, '--output-format=json',
        write(dir, 'rx.fio', `[rx]\nioengine=net\nlisten\nport=${port}\nrw=read\nbs=4k\nsize=64m\nruntime=15s\n`)], dir);
      await untilPeer('blkbench listens', () => bound('tcp', port), listener);
      const fio = spawnSync('fio', ['--output-format=json', write(dir, 'tx.fio', `[tx]\nioengine=net\nhostname=127.0.0.1\nport=${port}\nrw=write\nbs=4k\nsize=4m\n`)],
        { cwd: dir, encoding: 'utf8', timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' });
      assert.equal(fio.status, 0, fio.stderr);
      assert.equal(await listener.done, 0, listener.stderr);
      const sent = jobsOf(fio.stdout).get('tx')!.write.io_bytes;
      assert.equal(sent, 4 * MiB);
      assert.equal(jobsOf(listener.stdout).get('rx')!.read.io_bytes, sent, 'the sender\'s close ends the job with everything read');
    });

    it('sends to a fio TCP listener, which counts what a stream lets it', async () => {
      const port = await freePort('tcp');
      const listener = start('fio', ['--output-format=json', write(dir, 'rx.fio', `[rx]\nioengine=net\nlisten\nport=${port}\nrw=read\nbs=4k\nsize=64m\nruntime=15s\n`)], dir);
      await untilPeer('fio listens', () => bound('tcp', port), listener);
      const r = blkbench(dir, write(dir, 'tx.fio', `[tx]\nioengine=net\nhostname=localhost\nport=${port}\nrw=write\nbs=4k\nsize=4m\n`));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(await listener.done, 0, listener.stderr);
      const sent = jobsOf(r.stdout).get('tx')!.write.io_bytes;
      assert.equal(sent, 4 * MiB);
      const rx = jobsOf(listener.stdout).get('rx')!.read;
      // fio counts a short receive as one request with what it got, and then reads no further for that block.
      assert.ok(rx.io_bytes <= sent && rx.io_bytes >= sent - (rx.short_ios ?? 0) * 4 * KiB, `fio read ${rx.io_bytes} of ${sent} bytes (${rx.short_ios} short reads)`);
      assert.ok(rx.io_bytes > sent / 2, `fio read ${rx.io_bytes} of ${sent} bytes`);
    });

    it('answers a fio UDP pingpong writer, whose open and close messages it understands', async () => {
      const port = await freePort('udp');
      const reader = start(process.execPath, [BLKBENCH_CLI, '--output-format=json',
        write(dir, 'rx.fio', `[rx]\nioengine=net\nprotocol=udp\nport=${port}\npingpong=1\nrw=read\nbs=512\nsize=1m\nruntime=15s\n`)], dir);
      await untilPeer('blkbench binds', () => bound('udp', port), reader);
      const fio = spawnSync('fio', ['--output-format=json', write(dir, 'tx.fio',
        `[tx]\nioengine=net\nprotocol=udp\nhostname=127.0.0.1\nport=${port}\npingpong=1\nrw=write\nbs=512\nsize=256k\n`)],
        { cwd: dir, encoding: 'utf8', timeout: RUN_LIMIT_MS, killSignal: 'SIGKILL' });
      assert.equal(fio.status, 0, fio.stderr);
      assert.equal(await reader.done, 0, reader.stderr);
      assert.equal(jobsOf(fio.stdout).get('tx')!.write.io_bytes, 256 * KiB);
      assert.equal(jobsOf(reader.stdout).get('rx')!.read.io_bytes, 256 * KiB);
    });

    it('sends UDP to a fio pingpong reader, which takes its open message and ends on its close message', async () => {
      const port = await freePort('udp');
      const reader = start('fio', ['--output-format=json', write(dir, 'rx.fio',
        `[rx]\nioengine=net\nprotocol=udp\nport=${port}\npingpong=1\nrw=read\nbs=512\nsize=1m\nruntime=15s\n`)], dir);
      await untilPeer('fio binds', () => bound('udp', port), reader);
      const r = blkbench(dir, write(dir, 'tx.fio', `[tx]\nioengine=net\nprotocol=udp\nhostname=127.0.0.1\nport=${port}\npingpong=1\nrw=write\nbs=512\nsize=256k\n`));
      assert.equal(r.status, 0, r.stderr);
      assert.equal(await reader.done, 0, reader.stderr);
      assert.equal(jobsOf(r.stdout).get('tx')!.write.io_bytes, 256 * KiB);
      const rx = jobsOf(reader.stdout).get('rx')!;
      assert.equal(rx.read.io_bytes, 256 * KiB);
      assert.equal(rx.error, 0);
    });
  });

  describe('a peer that does not come or goes quiet', () => {
    it('ends a listener whose peer never connects at runtime, with an error saying so', async () => {
      const port = await freePort('tcp');
      const r = blkbench(dir, write(dir, 'alone.fio', `[alone]\nioengine=net\nlisten\nport=${port}\nrw=read\nruntime=500ms\n`));
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, /runtime ran out while waiting for a connection on port/);
    });

    it('fails a sender whose listener never comes with ECONNREFUSED', async () => {
      const port = await freePort('tcp');
      const r = blkbench(dir, write(dir, 'nobody.fio', `[nobody]\nioengine=net\nhostname=127.0.0.1\nport=${port}\nrw=write\nsize=1m\n`));
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, new RegExp(`connecting to 127.0.0.1 port ${port}: Connection refused`));
    });

    it('stops a listener without a runtime on SIGINT', async () => {
      const port = await freePort('tcp');
      const listener = start(process.execPath, [BLKBENCH_CLI, '--output-format=json', write(dir, 'wait.fio', `[wait]\nioengine=net\nlisten\nport=${port}\nrw=read\n`)], dir);
      await untilPeer('blkbench listens', () => bound('tcp', port), listener);
      listener.proc.kill('SIGINT');
      assert.notEqual(await listener.done, null, 'blkbench had to be killed');
      assert.ok(!bound('tcp', port), 'the port is free again');
    });

    it('gives up a receive that never completes when the runtime ends, without an error', async () => {
      const port = await freePort('tcp');
      const loop = startNetJobLoop({ protocol: 'tcp', port, listen: true }, { rw: 'read', regionLength: MiB, runtimeNs: 500e6 });
      const quiet = net.connect(port, '127.0.0.1'); // connects, sends nothing
      quiet.on('error', () => undefined);
      try {
        const r = await loop.done;
        assert.equal(r.error, 0, r.errorMessage ?? '');
        assert.equal(r.read.ios, 0);
        assert.ok(r.runtimeNs > 0);
      } finally {
        quiet.destroy();
      }
    });

    it('refuses a bad target at start with EINVAL, naming what is wrong', () => {
      const spec = { rw: 'read' as const, regionLength: MiB };
      const bad: Array<[object, RegExp]> = [
        [{ protocol: 'sctp', port: 9 }, /protocol must be/],
        [{ protocol: 'tcp', port: 70000, host: 'localhost' }, /port must be an integer/],
        [{ protocol: 'tcp', listen: true }, /need a port/],
        [{ protocol: 'tcp', port: 9 }, /needs a host/],
        [{ protocol: 'tcp', port: 9, host: 'local\0host' }, /holds a NUL/],
        [{ protocol: 'unix', host: '/tmp/x', port: 9, listen: true }, /takes no port/],
        [{ protocol: 'udp', port: 9, host: '127.0.0.1' }, /the reader is the listening side/],
        [{ protocol: 'tcp', port: 9, host: 'localhost', ttl: -1 }, /ttl must be an integer/],
      ];
      for (const [target, message] of bad) {
        assert.throws(() => startNetJobLoop(target as never, spec), (e: unknown) => e instanceof BlkioError && e.code === 'EINVAL' && message.test(e.message),
          JSON.stringify(target));
      }
      assert.throws(() => startNetJobLoop({ protocol: 'tcp', port: 9, host: 'localhost' }, { ...spec, rw: 'randread' }), /sequential/);
      assert.throws(() => startNetJobLoop({ protocol: 'unix', host: `/tmp/${'x'.repeat(120)}`, listen: true }, spec),
        (e: unknown) => e instanceof BlkioError && e.code === 'ENAMETOOLONG');
    });

    it('throws EADDRINUSE at start when the listener\'s port is taken', async () => {
      const server = net.createServer();
      await new Promise<void>((res) => server.listen(0, () => res()));
      try {
        const port = (server.address() as net.AddressInfo).port;
        assert.throws(() => startNetJobLoop({ protocol: 'tcp', port, listen: true }, { rw: 'read', regionLength: MiB, runtimeNs: 1e9 }),
          (e: unknown) => e instanceof BlkioError && e.code === 'EADDRINUSE' && /binding port/.test(e.message));
      } finally {
        server.close();
      }
    });
  });

  describe('options fio refuses, or that need a device', () => {
    const base = { ioengine: 'net', port: '8888', listen: undefined, rw: 'read' };
    const refusals: Array<[string, Record<string, string | undefined>, RegExp]> = [
      ['verify', { ...base, rw: 'write', listen: undefined, verify: 'md5' }, /verify/],
      ['zonemode=zbd', { ...base, zonemode: 'zbd' }, /zonemode=zbd needs a zoned device/],
      ['blkbench_loop=js', { ...base, blkbench_loop: 'js' }, /done only by the native job loop|blkbench_loop=js/],
      ['random offsets', { ...base, rw: 'randread' }, /cannot be random/],
      ['a missing port', { ioengine: 'net', listen: undefined, rw: 'read' }, /protocol=tcp needs 'port'/],
      ['a port on a UNIX socket', { ioengine: 'net', protocol: 'unix', filename: '/tmp/s', port: '1', rw: 'read' }, /'port' cannot be used with protocol=unix/],
      ['clones sharing one UNIX socket path', { ioengine: 'net', protocol: 'unix', filename: '/tmp/s', numjobs: '2', rw: 'read' }, /numjobs above 1 with protocol=unix/],
      ['a UNIX socket without a path', { ioengine: 'net', protocol: 'unix', rw: 'read' }, /needs the socket's path/],
      ['listen over udp', { ioengine: 'net', protocol: 'udp', port: '9', listen: undefined, rw: 'read' }, /'listen' is only for TCP/],
      ['reads and writes over udp', { ioengine: 'net', protocol: 'udp', port: '9', hostname: '127.0.0.1', rw: 'readwrite' }, /either reads or writes/],
      ['a TCP sender without a hostname', { ioengine: 'net', port: '9', rw: 'write' }, /needs 'hostname'/],
      ['a TCP listener with a hostname', { ...base, hostname: 'localhost' }, /'listen' takes no 'hostname'/],
      ['a UDP reader on a host that is not a multicast group', { ioengine: 'net', protocol: 'udp', port: '9', hostname: '127.0.0.1', rw: 'read' }, /must be a multicast group/],
      ['a net option on another engine', { ioengine: 'null', size: '1m', port: '9' }, /option 'port' needs ioengine=net/],
    ];
    for (const [what, o, message] of refusals) {
      it(`refuses ${what}`, () => {
        assert.throws(() => options(o), (e: unknown) => e instanceof Error && e.name === 'OptionError' && message.test(e.message));
      });
    }

    it('takes fio\'s netio.fio options as they are', () => {
      const s = options({ ioengine: 'net', port: '8888', protocol: 'tcp', hostname: 'localhost', rw: 'write', bs: '4k', size: '100g' });
      assert.equal(s.path, 'localhost');
      assert.equal(s.port, 8888);
    });
  });
});
