// Local vs network storage through existing engines, each measured by one
// `blkbench compare` run (4 KiB random reads, QD8, time based), with its chart:
//
//   host:  file     io_uring on a page-cached file
//          qsd      the same kind of file behind qemu-storage-daemon (vhost-user): the cost of the daemon
//          nbd      nbdkit (file plugin) on 127.0.0.1 <- qsd's nbd driver <- vhost-user: the cost of NBD over TCP
//          qemu-nbd the same with qemu-nbd as the server (7.2 leaves Nagle's algorithm on: slow at QD > 1)
//          rbd      a one-node Ceph cluster <- qsd's rbd driver <- vhost-user
//   guest: file, qsd, nbd, qemu-nbd as above, and
//          nvme-tcp the kernel's nvmet target on 127.0.0.1 <- nvme-tcp initiator <- nvme-io_uring on /dev/ngXnY
//
// NVMe/TCP needs nvmet, which only the test guest's kernel has (test/vm), so that
// table comes from a QEMU TCG guest: its numbers compare only with each other.
// CPU per request is blkbench's own (the library's process, usr + sys) and, next
// to it, the servers' (the storage daemons' processes over the run; for NVMe/TCP
// the kernel threads, which do the target's and the initiator's work).
//
//   node dist-test/bench/network-storage.js [--runtime=SECONDS] [--host-only | --guest-only] [--out=DIR]
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CompareRow, compareTable } from '../src/blkbench/compare';
import { compareSvg } from '../src/blkbench/svg';
import { CephCluster } from '../test/support/ceph';
import { tempDir } from '../test/support/files';
import { NbdChain } from '../test/support/nbd';
import { NvmeTcpConnection, NvmetTcpTarget } from '../test/support/nvme-tcp';
import { BLKBENCH_CLI, REPO_ROOT } from '../test/support/paths';
import { Qsd } from '../test/support/qsd';
import { processCpu } from './support';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const inGuest = args.includes('--in-guest');
const runtime = Number(option('runtime', inGuest ? '2' : '3'));
const outDir = option('out', '');
const SIZE = 64 << 20;
const JOB = ['--rw=randread', '--bs=4k', '--iodepth=8', `--runtime=${runtime}`, '--time_based', '--invalidate=0'];
const GUEST_MARK = '@@network-storage-json@@';

interface Target {
  label: string;
  spec: string;
  /** CPU seconds of this target's servers so far. */
  serverCpu(): number;
  serverWhat: string;
}

interface Measured {
  rows: CompareRow[];
  serverCpuNsPerIo: Record<string, number>;
  serverWhat: Record<string, string>;
  title: string;
}

/** Seconds of CPU of the kernel's threads (children of kthreadd). */
function kernelThreadsCpu(): number {
  let sum = 0;
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      if (fields[1] === '2' || pid === '2') sum += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // the thread exited meanwhile
    }
  }
  return sum;
}

function randomFile(file: string): string {
  const fd = fs.openSync(file, 'w');
  const chunk = Buffer.alloc(1 << 20);
  for (let at = 0; at < SIZE; at += chunk.length) fs.writeSync(fd, crypto.randomFillSync(chunk));
  fs.closeSync(fd);
  return file;
}

/** One blkbench compare run over the targets; server CPU sampled around it. */
function measure(targets: Target[], where: string): Measured {
  const before = targets.map((t) => t.serverCpu());
  const r = spawnSync(process.execPath, [BLKBENCH_CLI, 'compare', ...JOB, ...targets.map((t) => `--target=${t.label}@${t.spec}`), '--output-format=json'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`blkbench compare failed (${r.status ?? r.signal}): ${r.stderr}`);
  const after = targets.map((t) => t.serverCpu());
  const rows = (JSON.parse(r.stdout) as { targets: CompareRow[] }).targets;
  const serverCpuNsPerIo: Record<string, number> = {};
  const serverWhat: Record<string, string> = {};
  rows.forEach((row, i) => {
    const ios = row.iops * runtime;
    serverCpuNsPerIo[row.label] = ios > 0 ? ((after[i] - before[i]) * 1e9) / ios : 0;
    serverWhat[row.label] = targets[i].serverWhat;
  });
  return { rows, serverCpuNsPerIo, serverWhat, title: `blkbench compare (${where}): rw=randread bs=4k iodepth=8, ${runtime} s per target` };
}

async function hostTargets(dir: string, cleanup: Array<() => Promise<void>>): Promise<Target[]> {
  const file = randomFile(path.join(dir, 'local.raw'));
  const qsdFile = randomFile(path.join(dir, 'qsd.raw'));
  const qsd = await Qsd.start({ image: qsdFile, dir: tempDir('blkio-bench-qsd-') });
  cleanup.push(async () => {
    await qsd.dispose();
    fs.rmSync(qsd.dir, { recursive: true, force: true });
  });
  const chain = await NbdChain.start({ server: 'nbdkit', size: SIZE });
  cleanup.push(() => chain.dispose());
  const qemuNbd = await NbdChain.start({ server: 'qemu-nbd', size: SIZE });
  cleanup.push(() => qemuNbd.dispose());
  const targets: Target[] = [
    { label: 'file', spec: `io_uring:${file}`, serverCpu: () => 0, serverWhat: '-' },
    { label: 'qsd', spec: `virtio-blk-vhost-user:${qsd.socket}`, serverCpu: () => processCpu(qsd.pid), serverWhat: 'qsd' },
    { label: 'nbd', spec: `virtio-blk-vhost-user:${chain.socket}`, serverCpu: () => processCpu(chain.qsd.pid) + processCpu(chain.nbd.pid), serverWhat: 'qsd + nbdkit' },
    {
      label: 'qemu-nbd',
      spec: `virtio-blk-vhost-user:${qemuNbd.socket}`,
      serverCpu: () => processCpu(qemuNbd.qsd.pid) + processCpu(qemuNbd.nbd.pid),
      serverWhat: 'qsd + qemu-nbd',
    },
  ];
  if (!inGuest) {
    const ceph = await CephCluster.start();
    cleanup.push(() => ceph.dispose());
    const source = await ceph.createImage('bench', SIZE, randomFile(path.join(dir, 'rbd-seed.raw')));
    const rbdQsd = await Qsd.start({ rbd: source, size: SIZE, dir: tempDir('blkio-bench-rbd-') });
    cleanup.unshift(async () => {
      await rbdQsd.dispose();
      fs.rmSync(rbdQsd.dir, { recursive: true, force: true });
    });
    console.error(`ceph: ${ceph.timings.map(([s, t]) => `${s} at ${t.toFixed(1)} s`).join(', ')}`);
    targets.push({ label: 'rbd', spec: `virtio-blk-vhost-user:${rbdQsd.socket}`, serverCpu: () => processCpu(rbdQsd.pid) + processCpu(ceph.osdPid), serverWhat: 'qsd + ceph-osd' });
  } else {
    const backing = randomFile(path.join(dir, 'nvme-tcp.raw'));
    const target = NvmetTcpTarget.create({ backingFile: backing });
    cleanup.push(async () => target.teardown());
    const conn = NvmeTcpConnection.connect(target);
    cleanup.unshift(async () => conn.disconnect());
    targets.push({ label: 'nvme-tcp', spec: `nvme-io_uring:${conn.namespace.charDevice}`, serverCpu: kernelThreadsCpu, serverWhat: 'kernel threads' });
  }
  return targets;
}

async function measureHere(where: string): Promise<Measured> {
  const dir = tempDir('blkio-bench-netstore-');
  const cleanup: Array<() => Promise<void>> = [];
  try {
    return measure(await hostTargets(dir, cleanup), where);
  } finally {
    for (const c of cleanup) await c().catch((e) => console.error(`cleanup: ${(e as Error).message}`));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function measureInGuest(): Measured {
  const r = spawnSync(path.join(REPO_ROOT, 'test/vm/run-in-vm.sh'), [process.execPath, __filename, '--in-guest', `--runtime=${runtime}`], {
    encoding: 'utf8',
    env: { ...process.env, BLKIO_VM_DEVICES: 'none', BLKIO_VM_HUGEPAGES: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith(GUEST_MARK));
  if (r.status !== 0 || !line) throw new Error(`the guest run failed (${r.status ?? r.signal}):\n${r.stdout.slice(-4000)}`);
  return JSON.parse(line.slice(GUEST_MARK.length)) as Measured;
}

function markdown(m: Measured): string {
  const us = (ns: number) => (ns / 1000).toFixed(ns < 10_000 ? 2 : 1);
  const base = m.rows[0];
  const lines = [
    '| target | IOPS | ratio | clat mean (us) | clat p99 (us) | CPU/request, blkbench (us) | CPU/request, servers (us) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of m.rows) {
    const p99 = r.percentiles.find(([p]) => p === 99)?.[1] ?? 0;
    const server = m.serverWhat[r.label] === '-' ? '-' : `${us(m.serverCpuNsPerIo[r.label])} (${m.serverWhat[r.label]})`;
    lines.push(`| ${r.label} | ${Math.round(r.iops)} | ${(r.iops / base.iops).toFixed(2)} | ${us(r.latMeanNs)} | ${us(p99)} | ${us(r.cpuPerIoNs)} | ${server} |`);
  }
  return lines.join('\n');
}

function report(m: Measured, name: string): void {
  console.log(`\n${m.title}\n`);
  console.log(compareTable(m.rows));
  console.log(markdown(m));
  const dir = outDir || fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-network-storage-'));
  fs.mkdirSync(dir, { recursive: true });
  const svg = path.join(dir, `network-storage-${name}.svg`);
  fs.writeFileSync(svg, compareSvg(m.rows, m.title));
  console.log(`\nchart: ${svg}`);
}

async function main(): Promise<void> {
  if (inGuest) {
    const m = await measureHere('QEMU TCG guest');
    console.log(GUEST_MARK + JSON.stringify(m));
    return;
  }
  if (!args.includes('--guest-only')) report(await measureHere('host'), 'host');
  if (!args.includes('--host-only')) report(measureInGuest(), 'guest');
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
