/**
 * fio's engines that move no data on the native job loop: falloc and ftruncate as its system-call sink
 * (startFileEngineJobLoop), each request one fallocate or ftruncate on a real file, with what fio's
 * engines make of each direction (blkbench's request counts and file sizes against fio's are in
 * jobs/file-engines.fio); cpuio as its CPU sink (startCpuJobLoop), each request a burst of CPU work.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError } from '../../../src/lib';
import { spawnSync } from 'node:child_process';
import { startCpuJobLoop, startFileEngineJobLoop, startFileOpJobLoop } from '../../../src/lib/bench';
import { BLKBENCH_CLI } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';
import { tempDir } from '../../support/files';

const MiB = 1 << 20;

/** The file holds `bytes` of data blocks (a file system may add a block or two of its own metadata). */
function assertAllocated(file: string, bytes: number): void {
  const allocated = fs.statSync(file).blocks * 512;
  assert.ok(allocated >= bytes && allocated <= bytes + 65536, `${allocated} bytes allocated, expected ${bytes}`);
}

describe('file engines: fallocate and ftruncate per request', function () {
  this.timeout(30000);
  let dir: string;
  let file: string;

  beforeEach(() => {
    dir = tempDir('blkbench-file-engines-');
    file = path.join(dir, 'f');
    fs.writeFileSync(file, '');
    fs.truncateSync(file, MiB);
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fallocate: writes allocate the region\'s blocks, trims punch them out again, the size stays', async () => {
    assert.equal(fs.statSync(file).blocks, 0, 'a sparse file to start with');
    const w = await startFileEngineJobLoop(file, 'fallocate', { rw: 'randwrite', regionLength: MiB, iodepth: 4 }).done;
    assert.deepEqual([w.error, w.write.ios], [0, MiB / 4096], w.errorMessage ?? '');
    assertAllocated(file, MiB);
    const t = await startFileEngineJobLoop(file, 'fallocate', { rw: 'trim', regionLength: MiB, blockSize: 65536 }).done;
    assert.deepEqual([t.error, t.trim.ios], [0, 16], t.errorMessage ?? '');
    assert.deepEqual([fs.statSync(file).blocks, fs.statSync(file).size], [0, MiB]);
  });

  it('fallocate: a read allocates past the end without growing the file (FALLOC_FL_KEEP_SIZE)', async () => {
    fs.truncateSync(file, 0);
    const r = await startFileEngineJobLoop(file, 'fallocate', { rw: 'read', regionLength: MiB }).done;
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.equal(fs.statSync(file).size, 0);
    assertAllocated(file, MiB);
  });

  it('ftruncate: each write sets the size to its offset; reads fail with EINVAL in the result', async () => {
    const w = await startFileEngineJobLoop(file, 'ftruncate', { rw: 'write', regionLength: MiB, blockSize: 65536 }).done;
    assert.deepEqual([w.error, w.write.ios], [0, 16]);
    assert.equal(fs.statSync(file).size, MiB - 65536);
    const r = await startFileEngineJobLoop(file, 'ftruncate', { rw: 'read', regionLength: MiB }).done;
    assert.equal(r.error, 22);
    assert.match(r.errorMessage ?? '', /takes only writes/);
  });

  it('refuses a target that is not a regular file, an unknown engine, and verify', () => {
    const bad = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof BlkioError && e.code === 'EINVAL' && re.test(e.message));
    assert.throws(() => startFileEngineJobLoop(dir, 'fallocate', { rw: 'write', regionLength: MiB }), (e: unknown) => e instanceof BlkioError && e.code === 'EISDIR');
    bad(() => startFileEngineJobLoop('/dev/null', 'ftruncate', { rw: 'write', regionLength: MiB }), /not a regular file/);
    bad(() => startFileEngineJobLoop(file, 'truncate' as 'ftruncate', { rw: 'write', regionLength: MiB }), /engine must be/);
    bad(() => startFileEngineJobLoop(file, 'fallocate', { rw: 'write', regionLength: MiB, verify: 'md5' }), /verify needs data/);
  });
});

describe('ioengine=cpuio: CPU bursts instead of I/O', function () {
  this.timeout(30000);

  it('counts each burst as a request without bytes, its time in clat, paced by the thinktime', async () => {
    const r = await startCpuJobLoop({ rw: 'read', regionLength: 1 << 30, timeBased: true, runtimeNs: 300e6, thinktimeNs: 20e6 }, { mode: 'noop', cycleNs: 10e6 }).done;
    assert.equal(r.error, 0, r.errorMessage ?? '');
    assert.ok(r.read.ios >= 1 && r.read.ios <= 16, `${r.read.ios} bursts in 300 ms of 20 ms periods`);
    assert.equal(r.read.bytes, 0);
    assert.ok(r.read.clat.min >= 10e6, `a burst took ${r.read.clat.min} ns`);
    const q = await startCpuJobLoop({ rw: 'read', regionLength: 1 << 30, numberIos: 2 }, { mode: 'qsort', cycleNs: 1e6 }).done;
    assert.deepEqual([q.error, q.read.ios, q.read.bytes], [0, 2, 0]);
  });

  it('refuses a bad burst', () => {
    assert.throws(() => startCpuJobLoop({ rw: 'read', regionLength: 4096 }, { mode: 'spin' as 'noop', cycleNs: 1e6 }), /cpuMode must be/);
    assert.throws(() => startCpuJobLoop({ rw: 'read', regionLength: 4096 }, { mode: 'noop', cycleNs: 5 }), /cycleNs must be/);
  });

  it('blkbench runs fio\'s cpuio jobs with fio\'s JSON fields, no bytes, on the native loop', () => {
    requireFio();
    const dir = tempDir('blkbench-cpuio-');
    try {
      fs.writeFileSync(path.join(dir, 'job.fio'), '[global]\nthread\nioengine=cpuio\ntime_based\nruntime=400ms\ncpuload=50\ncpuchunks=20000\n[noop]\n[qsort]\ncpumode=qsort\n');
      const out = (cmd: string, args: string[]) => {
        const r = spawnSync(cmd, [...args, '--output-format=json', 'job.fio'], { cwd: dir, encoding: 'utf8', timeout: 30000 });
        assert.equal(r.status, 0, r.stderr);
        return (JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<Record<string, unknown> & { read: Record<string, number> }> }).jobs;
      };
      const fio = out('fio', []);
      const bb = out(process.execPath, [BLKBENCH_CLI]);
      fio.forEach((f, i) => {
        const j = bb[i];
        assert.equal(j.blkbench_loop, 'native');
        assert.equal(j.read.io_bytes, 0);
        assert.ok(j.read.total_ios > 0);
        for (const k of Object.keys(f)) assert.ok(k in j, `fio's field ${k} is missing`);
        for (const k of Object.keys(f.read)) assert.ok(k in j.read, `fio's read field ${k} is missing`);
      });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ioengine=filecreate, filestat, filedelete: one operation per file', function () {
  this.timeout(30000);
  let dir: string;

  beforeEach(() => {
    dir = tempDir('blkbench-file-ops-');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates, stats and unlinks each file once, whatever its number of blocks', async () => {
    const files = Array.from({ length: 5 }, (_, i) => path.join(dir, `f.${i}`));
    const spec = { rw: 'read' as const, regionLength: 5 * 8192, blockSize: 4096 };
    const c = await startFileOpJobLoop(files, 'create', 8192, spec).done;
    assert.deepEqual([c.error, c.read.ios, c.read.bytes], [0, 10, 5 * 8192], c.errorMessage ?? '');
    assert.deepEqual(fs.readdirSync(dir).sort(), files.map((f) => path.basename(f)));
    for (const op of ['stat', 'lstat', 'statx'] as const) {
      const s = await startFileOpJobLoop(files, op, 8192, spec).done;
      assert.equal(s.error, 0, `${op}: ${s.errorMessage}`);
    }
    const d = await startFileOpJobLoop(files, 'unlink', 8192, spec).done;
    assert.equal(d.error, 0, d.errorMessage ?? '');
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('a missing file fails the job with ENOENT', async () => {
    const r = await startFileOpJobLoop([path.join(dir, 'none')], 'stat', 4096, { rw: 'read', regionLength: 4096 }).done;
    assert.equal(r.error, 2);
    assert.match(r.errorMessage ?? '', /stat of the file failed/);
  });

  it('refuses a region past the files, a bad operation and no files', () => {
    const f = [path.join(dir, 'a')];
    assert.throws(() => startFileOpJobLoop(f, 'stat', 4096, { rw: 'read', regionLength: 8192 }), /reaches past the last file/);
    assert.throws(() => startFileOpJobLoop(f, 'chmod' as 'stat', 4096, { rw: 'read', regionLength: 4096 }), /fileOp must be/);
    assert.throws(() => startFileOpJobLoop([], 'stat', 4096, { rw: 'read', regionLength: 4096 }), /files must hold 1 to/);
  });
});
