// Runs only inside the test guest: blkbench's zonemode=zbd against fio 3.33 on the same job files
// (test/vm/zoned/jobs) and the same zoned device: a zoned null_blk, and QEMU's NVMe Zoned Namespace
// (whose own open-zone limit applies). Each job runs once with each tool on
// zones reset beforehand; both must finish without error, move the same bytes, and leave the zones
// as zonemode=zbd promises (full zones where a sequential job wrote, open zones within
// max_open_zones, data under the write pointers only, resets where the threshold says).
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  allocateZones, Completion, create, decodeZones, Queue, Zone,
  ZONE_STATE_CLOSED, ZONE_STATE_EMPTY, ZONE_STATE_EXP_OPEN, ZONE_STATE_FULL, ZONE_STATE_IMP_OPEN,
} from '../../../src/lib';
import { complete } from '../../support/completions';
import { findNvmeNamespace } from '../../support/nvme-target';
import { BLKBENCH_CLI, REPO_ROOT } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';
import { createZonedNullBlk, ZonedNullBlk } from './null-blk';

const MiB = 1 << 20;
const ZONE = 4 * MiB;
const ZONES = 32;
const JOBS = path.join(REPO_ROOT, 'test', 'vm', 'zoned', 'jobs');

interface Done {
  error: number;
  read: number;
  written: number;
}

/** One request on a started io_uring Blkio of the device, which is destroyed afterwards. */
function onDevice(device: string, enqueue: (q: Queue) => void): Completion {
  const b = create('io_uring');
  try {
    b.setStr('path', device);
    b.connect();
    b.start();
    const q = b.getQueue(0)!;
    enqueue(q);
    return complete(q, 1)[0];
  } finally {
    b.destroy();
  }
}

/** The zones of a zoned block device, read through the library. */
function zonesOf(device: string, count: number): Zone[] {
  const buf = allocateZones(count);
  const c = onDevice(device, (q) => q.reportZones(0, buf));
  assert.equal(c.ret, count, `report zones: ${c.errorMsg}`);
  return decodeZones(buf, count);
}

function resetAllZones(device: string, count: number): void {
  const c = onDevice(device, (q) => q.resetAllZones());
  assert.equal(c.ret, 0, `reset all zones: ${c.errorMsg}`);
  assert.ok(zonesOf(device, count).every((z) => z.state === ZONE_STATE_EMPTY), 'every zone empty before the run');
}

/** fio keeps its job table in System V shared memory, which the guest kernel lacks: see fio-shm.c. */
function buildShmShim(dir: string): string {
  requireFio();
  const shim = path.join(dir, 'fio-shm.so');
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o', shim, path.join(REPO_ROOT, 'test', 'vm', 'zoned', 'fio-shm.c')]);
  return shim;
}

interface Ran {
  status: number | null;
  output: string;
  done?: Done;
}

/** One job file run by fio or blkbench with env (the job files take the device and more from it). */
function runJob(tool: 'fio' | 'blkbench', job: string, env: Record<string, string>, shim: string, blkbenchArgs: string[] = []): Ran {
  const file = path.join(JOBS, job);
  const [cmd, args] = tool === 'fio'
    ? ['fio', ['--output-format=json', file]]
    : [process.execPath, [BLKBENCH_CLI, ...blkbenchArgs, '--output-format=json', file]];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 100_000, env: { ...process.env, ...env, ...(tool === 'fio' ? { LD_PRELOAD: shim } : {}) } });
  const output = `${r.stderr}\n${r.stdout.slice(-2000)}`;
  if (r.status !== 0) return { status: r.status, output };
  const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ error: number; read: { io_bytes: number }; write: { io_bytes: number } }> };
  const j = report.jobs[0];
  return { status: 0, output, done: { error: j.error, read: j.read.io_bytes, written: j.write.io_bytes } };
}

function ranOk(tool: string, job: string, r: Ran): Done {
  assert.equal(r.status, 0, `${tool} ${job} exited with ${r.status}:\n${r.output}`);
  return r.done!;
}

const dataOnDevice = (zs: Zone[]) => zs.reduce((a, z) => a + (z.writePointer === null ? 0 : z.writePointer - z.start), 0);
/** Zones holding data but not full: the ones a writer has open (or had, and closed). */
const partlyWritten = (zs: Zone[]) =>
  zs.filter((z) => z.state === ZONE_STATE_IMP_OPEN || z.state === ZONE_STATE_EXP_OPEN || z.state === ZONE_STATE_CLOSED).length;

if (process.env.BLKIO_IN_VM === '1') {
  describe('vm guest: blkbench zonemode=zbd agrees with fio on a zoned null_blk device', function () {
    this.timeout(120_000);
    let dev: ZonedNullBlk;
    let tmp: string;
    let shmShim: string;

    before(() => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-zbd-'));
      shmShim = buildShmShim(tmp);
      dev = createZonedNullBlk('blkio-zbd', { zoneSizeMiB: ZONE / MiB, zones: ZONES, conventional: 0, maxOpen: 0, maxActive: 0, blockSize: 4096 });
      // Writes queued deeper than 1 reach a zone in order only through mq-deadline's zone write locking (fio's advice too).
      const scheduler = path.join('/sys/block', path.basename(dev.path), 'queue', 'scheduler');
      fs.writeFileSync(scheduler, 'mq-deadline\n');
      assert.match(fs.readFileSync(scheduler, 'utf8'), /\[mq-deadline\]/, `${scheduler}: mq-deadline is needed for writes at iodepth above 1`);
    });
    after(() => {
      dev?.remove();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const zones = () => zonesOf(dev.path, ZONES);
    const resetAll = () => resetAllZones(dev.path, ZONES);
    const run = (tool: 'fio' | 'blkbench', job: string): Done => ranOk(tool, job, runJob(tool, job, { ZBD_DEV: dev.path }, shmShim));

    it('a sequential write job with max_open_zones fills the same zones as fio', () => {
      const after: Record<string, Zone[]> = {};
      for (const tool of ['fio', 'blkbench'] as const) {
        resetAll();
        const done = run(tool, 'seq-write.fio');
        assert.equal(done.error, 0, `${tool}: error`);
        assert.equal(done.written, 64 * MiB, `${tool}: bytes written`);
        after[tool] = zones();
      }
      const full = (zs: Zone[]) => zs.filter((z) => z.state === ZONE_STATE_FULL).map((z) => z.start / ZONE);
      assert.deepEqual(full(after.blkbench), full(after.fio), 'the same zones full');
      assert.equal(full(after.fio).length, 16);
      assert.equal(dataOnDevice(after.blkbench), dataOnDevice(after.fio));
    });

    it('random writes under max_open_zones with zone_reset_threshold/frequency: writes at write pointers, open zones within the limit, zones reset', () => {
      // blkbench on both job loops: each resets zones on the device itself.
      for (const [tool, args] of [['fio', []], ['blkbench', []], ['blkbench', ['--blkbench_loop=js']]] as const) {
        resetAll();
        const job = 'rand-write-reset.fio';
        const done = ranOk(tool, job, runJob(tool, job, { ZBD_DEV: dev.path }, shmShim, [...args]));
        assert.equal(done.error, 0, `${tool}: every write went in at a write pointer`);
        assert.equal(done.written, 64 * MiB, `${tool}: one pass over the region's blocks`);
        const zs = zones();
        assert.ok(partlyWritten(zs) <= 4, `${tool}: ${partlyWritten(zs)} zones open or closed, max_open_zones is 4`);
        // Without resets the device would hold every byte written: the threshold's resets dropped some.
        assert.ok(dataOnDevice(zs) < done.written, `${tool}: zones were reset (${dataOnDevice(zs)} of ${done.written} bytes left)`);
      }
    });

    it('a read job reads what lies below the write pointers, as much as fio', () => {
      resetAll();
      assert.equal(run('fio', 'seq-write.fio').error, 0);
      for (const tool of ['fio', 'blkbench'] as const) {
        const done = run(tool, 'read.fio'); // reads leave the zones as they are
        assert.equal(done.error, 0, `${tool}: error`);
        assert.equal(done.read, 64 * MiB, `${tool}: bytes read (the written zones only)`);
      }
    });

    it('a verify=crc32c write job writes and checks its blocks, as fio does', () => {
      resetAll();
      assert.equal(run('fio', 'seq-write.fio').error, 0); // zones full of old data: the job resets them first
      for (const tool of ['fio', 'blkbench'] as const) {
        const done = run(tool, 'verify-write.fio'); // and leaves them full again for the next tool
        assert.equal(done.error, 0, `${tool}: error (a verify failure is EILSEQ)`);
        assert.equal(done.written, 32 * MiB, `${tool}: bytes written`);
        const zs = zones();
        assert.deepEqual(zs.slice(0, 8).map((z) => z.state), Array(8).fill(ZONE_STATE_FULL), `${tool}: the job's 8 zones full`);
        assert.ok(zs.slice(8, 16).every((z) => z.state === ZONE_STATE_FULL), `${tool}: zones past the job's region untouched`);
      }
    });
  });

  describe('vm guest: blkbench zonemode=zbd agrees with fio on an NVMe Zoned Namespace (its open-zone limit)', function () {
    this.timeout(120_000);
    const ZNS_ZONE = MiB;
    const ZNS_ZONES = 16;
    const DEVICE_MAX_OPEN = 3; // run-in-vm.sh: zoned.max_open=3
    let tmp: string;
    let shmShim: string;
    let block: string;
    let char: string;

    before(() => {
      const ns = findNvmeNamespace('blkio-zns');
      if (!ns) throw new Error('no NVMe controller with serial blkio-zns in the guest (run-in-vm.sh adds it)');
      block = ns.blockDevice;
      char = ns.charDevice;
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-zbd-zns-'));
      shmShim = buildShmShim(tmp);
    });
    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    const runs = [
      { tool: 'fio', engine: 'io_uring', device: () => block },
      { tool: 'blkbench', engine: 'io_uring', device: () => block },
      { tool: 'blkbench', engine: 'nvme-io_uring', device: () => char },
    ] as const;

    it('random writes without max_open_zones keep within the namespace\'s limit on every tool and driver', () => {
      for (const { tool, engine, device } of runs) {
        resetAllZones(block, ZNS_ZONES);
        const job = 'zns-rand-write.fio';
        const done = ranOk(`${tool} (${engine})`, job, runJob(tool, job, { ZBD_DEV: device(), ZBD_ENGINE: engine, ZBD_MAX_OPEN: '0' }, shmShim));
        assert.equal(done.error, 0, `${tool} (${engine}): no write was refused (ETOOMANYREFS past the open limit)`);
        assert.equal(done.written, ZNS_ZONES * ZNS_ZONE, `${tool} (${engine}): one pass over the namespace's blocks`);
        const zs = zonesOf(block, ZNS_ZONES);
        assert.ok(partlyWritten(zs) <= DEVICE_MAX_OPEN, `${tool} (${engine}): ${partlyWritten(zs)} zones open or closed`);
      }
    });

    it('max_open_zones above the namespace\'s limit is refused, as fio refuses it', () => {
      const env = { ZBD_DEV: block, ZBD_ENGINE: 'io_uring', ZBD_MAX_OPEN: '5' };
      const byFio = runJob('fio', 'zns-rand-write.fio', env, shmShim);
      assert.notEqual(byFio.status, 0, 'fio refuses it');
      const byBlkbench = runJob('blkbench', 'zns-rand-write.fio', env, shmShim);
      assert.notEqual(byBlkbench.status, 0, 'blkbench refuses it');
      assert.match(byBlkbench.output, /zonemode=zbd: max_open_zones 5 is above the device's limit 3/);
    });
  });
}
