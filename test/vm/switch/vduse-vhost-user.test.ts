// Switching a live device between two paths to one qemu-storage-daemon block
// node, in the guest: vhost-vdpa on its VDUSE export (standing in for a
// hardware vDPA device) and vhost-user on its vhost-user-blk export. A writer
// at QD32 that reads blocks back keeps going through 50 switches; afterwards
// every block of the image, read from outside, holds its last acknowledged
// write. Every step is bounded: a stuck one fails naming itself and what the
// threads involved were blocked in (BLKIO_TEST_TRACE=1 logs each step and,
// when a switch times out, probes the stall). Guest only.
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Device, open, OpenOptions, SwitchReport } from '../../../src/lib';
import { bounded, fdStates, threadStates, trace } from '../../support/bounded';
import { tempDir } from '../../support/files';
import { DRIVER, inVm, sleep, VduseExport } from '../../support/vdpa-targets';
import { VerifyingWriter } from '../../support/verifying-writer';

const MiB = 1 << 20;
const SWITCHES = 50;
// Generous for TCG on a loaded host; a step that takes this long is stuck.
const STEP_MS = 60_000;

function command(file: string, args: string[]): string {
  try {
    return execFileSync(file, args, { encoding: 'utf8', timeout: 5000 }).trim();
  } catch (e) {
    return `(${file} ${args.join(' ')}: ${(e as Error).message.split('\n')[0]})`;
  }
}

// Resolves once the writer acknowledged `count` more writes; rejects if it stopped on an error.
async function progress(writer: VerifyingWriter, count: number): Promise<void> {
  const target = writer.writes + count;
  while (writer.writes < target) {
    if (writer.error !== undefined) throw new Error(`the writer stopped: ${String(writer.error)}`);
    await sleep(5);
  }
}

// Diagnostics for a switch that failed because requests did not complete:
// were they completed by the device without a signal to us (a forced
// completion-fd wake-up finds them), or never taken by the device (a new
// request's kick gets them going)?
// The split ring's indexes in each ring memfd of this process (queue size 256).
function ringStates(): string {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.includes('virtio-ring')) continue;
    const b = Buffer.alloc(8192);
    const h = fs.openSync(`/proc/self/fd/${fd}`, 'r');
    fs.readSync(h, b, 0, b.length, 0);
    fs.closeSync(h);
    const avail = 4096;
    const used = 4672;
    out.push(
      `fd ${fd}: avail flags ${b.readUInt16LE(avail)} idx ${b.readUInt16LE(avail + 2)} used_event ${b.readUInt16LE(avail + 4 + 512)}; ` +
        `used flags ${b.readUInt16LE(used)} idx ${b.readUInt16LE(used + 2)} avail_event ${b.readUInt16LE(used + 4 + 2048)}`,
    );
  }
  return out.join('\n');
}

// Runs a diagnostic tool, resolving to what it printed (or why it could not run).
function tool(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const p = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', (e) => resolve(`(${file}: ${e.message})`));
    p.on('close', () => resolve(out));
  });
}

// CPU ticks (user+system) of each thread of a process.
function cpuTicks(pid: number): Map<string, number> {
  const ticks = new Map<string, number>();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(tid, Number(f[11]) + Number(f[12]));
    } catch {
      // gone
    }
  }
  return ticks;
}

async function probe(dev: Device, writer: VerifyingWriter, qsdPid: number): Promise<void> {
  const qsOut = await tool('timeout', ['1.5', 'strace', '-tt', '-p', String(qsdPid), '-e', 'trace=ppoll,poll,read,write,ioctl']);
  trace(`probe: strace of qemu-storage-daemon's main thread:\n${qsOut.split('\n').slice(0, 30).join('\n')}`);
  trace(`probe: qsd fds: ${command('ls', ['-l', `/proc/${qsdPid}/fd`])}`);
  const before = writer.writes;
  // What the event loop does meanwhile (strace of the main thread for 1.5 s).
  const straced = tool('timeout', ['1.5', 'strace', '-tt', '-p', String(process.pid), '-e', 'trace=epoll_wait,epoll_pwait,epoll_ctl,read,write']);
  const t0 = cpuTicks(process.pid);
  await sleep(1000);
  const t1 = cpuTicks(process.pid);
  trace(`probe: CPU ticks per thread over 1 s: ${[...t1].map(([tid, t]) => `${tid}:${t - (t0.get(tid) ?? 0)}`).join(' ')}; handles: ${(process as unknown as { _getActiveHandles(): object[] })._getActiveHandles().map((h) => h.constructor.name).join(',')}`);
  const lines = (await straced).split('\n');
  trace(`probe: strace of the main thread (${lines.length} lines), first and last:\n${lines.slice(0, 25).join('\n')}\n...\n${lines.slice(-15).join('\n')}`);
  trace(`probe: rings now:\n${ringStates()}`);
  trace(`probe: completion fd ${dev.blkio.getQueue(0)!.completionFd}`);
  const eight = Buffer.alloc(8);
  eight.writeBigUInt64LE(1n);
  fs.writeSync(dev.blkio.getQueue(0)!.completionFd, eight);
  await sleep(2000);
  trace(`probe: completion fd woken by hand: writes ${before} -> ${writer.writes}`);
  const read = dev.read(Buffer.alloc(4096), 0, 4096, 0).then(() => 'completed', (e) => `failed: ${String(e)}`);
  const outcome = await Promise.race([read, sleep(5000).then(() => 'not completed within 5 s')]);
  trace(`probe: one more request (a kick): ${outcome}; writes now ${writer.writes}`);
}

if (inVm) {
  describe('switching between vhost-vdpa (VDUSE) and vhost-user on one qemu-storage-daemon node', function () {
    this.timeout(SWITCHES * 2 * STEP_MS);
    let dir: string;
    let socket: string;
    let e: VduseExport | undefined;
    let dev: Device | undefined;
    let writer: VerifyingWriter | undefined;

    // What the test, the daemon and the devices were doing when a step got stuck.
    const diagnostics = (): string =>
      [
        `writer: ${writer?.writes ?? 0} writes acknowledged, error ${String(writer?.error)}`,
        `this process's threads:\n${threadStates('self')}`,
        `this process's fds:\n${fdStates('self')}`,
        e?.running ? `qemu-storage-daemon (pid ${e.pid}) threads:\n${threadStates(e.pid)}\nfds:\n${fdStates(e.pid)}` : 'qemu-storage-daemon: not running',
        `qemu-storage-daemon stderr: ${e?.stderr || '(none)'}`,
        `vdpa dev show: ${command('vdpa', ['dev', 'show'])}`,
        `VDUSE devices: ${command('ls', ['/sys/class/vduse'])}; vhost-vdpa nodes: ${command('sh', ['-c', 'ls /dev/vhost-vdpa-* 2>&1'])}`,
        `kernel log (last lines):\n${command('sh', ['-c', 'dmesg | tail -n 15'])}`,
      ].join('\n');
    const step = <T>(what: string, work: Promise<T>): Promise<T> => bounded(what, STEP_MS, work, diagnostics);

    before(async () => {
      dir = tempDir('blkio-switch-');
      socket = path.join(dir, 'vhost-user.sock');
      e = await step(
        'starting qemu-storage-daemon with a VDUSE and a vhost-user export of one node, and binding it to vhost_vdpa',
        VduseExport.start({ name: 'vduse-switch', format: 'raw', size: 8 * MiB, vhostUserSocket: socket }),
      );
    });
    after(async () => {
      try {
        if (writer) await step('stopping the writer', writer.stop());
        if (dev) await step('closing the device', dev.close({ timeoutMs: 10_000 }));
        if (e) await step('stopping qemu-storage-daemon', e.dispose());
      } finally {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`a QD32 writer keeps every acknowledged write through ${SWITCHES} switches, checked in the image`, async () => {
      const vdpa: OpenOptions = { driver: DRIVER, path: e!.devicePath };
      const vhostUser: OpenOptions = { driver: 'virtio-blk-vhost-user', path: socket };
      dev = await step(`opening ${e!.devicePath} (vhost-vdpa on VDUSE)`, open(vdpa));
      writer = new VerifyingWriter(dev, { blocks: 512, blockSize: 4096, depth: 32, flushEvery: 64 });
      const pauses: number[] = [];
      for (let i = 0; i < SWITCHES; i++) {
        const to = i % 2 === 0 ? vhostUser : vdpa;
        await step(`32 writes before switch ${i + 1}`, progress(writer, 32));
        let report: SwitchReport;
        try {
          report = await step(`switch ${i + 1} to ${to.driver}`, dev.switchTo(to));
        } catch (err) {
          if (process.env.BLKIO_TEST_TRACE === '1') await probe(dev, writer, e!.pid);
          throw err;
        }
        assert.equal(report.to, `${to.driver}:${to.path}`);
        pauses.push(report.pauseMs);
      }
      const w = writer;
      writer = undefined;
      const result = await step('stopping the writer', w.stop());
      assert.equal(result.error, undefined, String(result.error));
      await step('closing the device', dev.close({ timeoutMs: 10_000 }));
      dev = undefined;
      pauses.sort((a, b) => a - b);
      console.log(`      ${SWITCHES} switches: pause median ${pauses[pauses.length >> 1].toFixed(1)} ms, worst ${pauses[pauses.length - 1].toFixed(1)} ms`);
      await step('stopping qemu-storage-daemon (it writes everything to the image)', e!.stop());
      w.check(fs.readFileSync(e!.image));
      assert.ok(w.expected.size > 0);
    });
  });
}
