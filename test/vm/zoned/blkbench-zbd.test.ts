// Runs only inside the test guest: blkbench's zonemode=zbd against fio 3.33 on the same job files
// (test/vm/zoned/jobs) and the same zoned null_blk device. Each job runs once with each tool on
// zones reset beforehand; both must finish without error, move the same bytes, and leave the zones
// as zonemode=zbd promises (full zones where a sequential job wrote, open zones within
// max_open_zones, data under the write pointers only, resets where the threshold says).
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  allocateZones, create, decodeZones, Zone,
  ZONE_STATE_CLOSED, ZONE_STATE_EMPTY, ZONE_STATE_EXP_OPEN, ZONE_STATE_FULL, ZONE_STATE_IMP_OPEN,
} from '../../../src/lib';
import { complete } from '../../support/completions';
import { BLKBENCH_CLI, REPO_ROOT } from '../../support/paths';
import { requirePrerequisite } from '../../support/prerequisites';
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

if (process.env.BLKIO_IN_VM === '1') {
  describe('vm guest: blkbench zonemode=zbd agrees with fio on a zoned null_blk device', function () {
    this.timeout(120_000);
    let dev: ZonedNullBlk;
    let tmp: string;
    let shmShim: string;

    before(() => {
      requirePrerequisite(spawnSync('fio', ['--version']).status === 0, 'fio', 'apt-get install fio (test/prerequisites.sh)');
      // The guest kernel has no System V IPC, which fio keeps its job table in: see fio-shm.c.
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-zbd-'));
      shmShim = path.join(tmp, 'fio-shm.so');
      execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-o', shmShim, path.join(REPO_ROOT, 'test', 'vm', 'zoned', 'fio-shm.c')]);
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

    function zones(): Zone[] {
      const b = create('io_uring');
      try {
        b.setStr('path', dev.path);
        b.connect();
        b.start();
        const q = b.getQueue(0)!;
        const buf = allocateZones(ZONES);
        q.reportZones(0, buf);
        const [c] = complete(q, 1);
        assert.equal(c.ret, ZONES, `report zones: ${c.errorMsg}`);
        return decodeZones(buf, ZONES);
      } finally {
        b.destroy();
      }
    }

    function resetAll(): void {
      const b = create('io_uring');
      try {
        b.setStr('path', dev.path);
        b.connect();
        b.start();
        const q = b.getQueue(0)!;
        q.resetAllZones();
        const [c] = complete(q, 1);
        assert.equal(c.ret, 0, `reset all zones: ${c.errorMsg}`);
      } finally {
        b.destroy();
      }
      assert.ok(zones().every((z) => z.state === ZONE_STATE_EMPTY), 'every zone empty before the run');
    }

    function run(tool: 'fio' | 'blkbench', job: string): Done {
      const file = path.join(JOBS, job);
      const [cmd, args] = tool === 'fio'
        ? ['fio', ['--output-format=json', file]]
        : [process.execPath, [BLKBENCH_CLI, '--output-format=json', file]];
      const env = { ...process.env, ZBD_DEV: dev.path, ...(tool === 'fio' ? { LD_PRELOAD: shmShim } : {}) };
      const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 100_000, env });
      assert.equal(r.status, 0, `${tool} ${job} exited with ${r.status ?? r.signal}:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
      const report = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ error: number; read: { io_bytes: number }; write: { io_bytes: number } }> };
      const j = report.jobs[0];
      return { error: j.error, read: j.read.io_bytes, written: j.write.io_bytes };
    }

    const dataOnDevice = (zs: Zone[]) => zs.reduce((a, z) => a + (z.writePointer === null ? 0 : z.writePointer - z.start), 0);
    const partlyWritten = (zs: Zone[]) =>
      zs.filter((z) => z.state === ZONE_STATE_IMP_OPEN || z.state === ZONE_STATE_EXP_OPEN || z.state === ZONE_STATE_CLOSED).length;

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
      for (const tool of ['fio', 'blkbench'] as const) {
        resetAll();
        const done = run(tool, 'rand-write-reset.fio');
        assert.equal(done.error, 0, `${tool}: every write went in at a write pointer`);
        assert.equal(done.written, ZONES * ZONE, `${tool}: one pass over the device's blocks`);
        const zs = zones();
        assert.ok(partlyWritten(zs) <= 4, `${tool}: ${partlyWritten(zs)} zones open or closed, max_open_zones is 4`);
        // Without resets the device would hold every byte written: the threshold's resets dropped some.
        assert.ok(dataOnDevice(zs) < done.written, `${tool}: zones were reset (${dataOnDevice(zs)} of ${done.written} bytes left)`);
      }
    });

    it('a read job reads what lies below the write pointers, as much as fio', () => {
      for (const tool of ['fio', 'blkbench'] as const) {
        resetAll();
        assert.equal(run('fio', 'seq-write.fio').error, 0);
        const done = run(tool, 'read.fio');
        assert.equal(done.error, 0, `${tool}: error`);
        assert.equal(done.read, 64 * MiB, `${tool}: bytes read (the written zones only)`);
      }
    });

    it('a verify=crc32c write job writes and checks its blocks, as fio does', () => {
      for (const tool of ['fio', 'blkbench'] as const) {
        resetAll();
        assert.equal(run('fio', 'seq-write.fio').error, 0); // zones full of old data: the job resets them first
        const done = run(tool, 'verify-write.fio');
        assert.equal(done.error, 0, `${tool}: error (a verify failure is EILSEQ)`);
        assert.equal(done.written, 32 * MiB, `${tool}: bytes written`);
        const zs = zones();
        assert.deepEqual(zs.slice(0, 8).map((z) => z.state), Array(8).fill(ZONE_STATE_FULL), `${tool}: the job's 8 zones full`);
        assert.ok(zs.slice(8, 16).every((z) => z.state === ZONE_STATE_FULL), `${tool}: zones past the job's region untouched`);
      }
    });
  });
}
