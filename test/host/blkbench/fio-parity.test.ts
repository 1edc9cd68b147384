/**
 * blkbench against fio 3.33 on the same job files (test/host/blkbench/jobs/*.fio): both run each file
 * in a directory of their own (PARITY_DIR), and what they did must agree: the jobs and their groups,
 * bytes and requests per direction, and the files created with their sizes. blkbench runs every job
 * of them on its native loop.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI, REPO_ROOT } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';

const CLI = BLKBENCH_CLI;
/** The job files live in the source tree (tsc does not copy them). */
const JOBS = path.join(REPO_ROOT, 'test', 'host', 'blkbench', 'jobs');

interface DirDone {
  io_bytes: number;
  total_ios: number;
}
interface JobDone {
  jobname: string;
  groupid: number;
  error: number;
  read: DirDone;
  write: DirDone;
  blkbench_loop?: string;
}
interface Outcome {
  jobs: JobDone[];
  files: Array<[string, number]>;
  stderr: string;
}

function run(tool: 'fio' | 'blkbench', jobFile: string, dir: string): Outcome {
  const [cmd, args] = tool === 'fio' ? ['fio', [] as string[]] : [process.execPath, [CLI]];
  const r = spawnSync(cmd, [...args, '--output-format=json', jobFile], {
    cwd: dir, encoding: 'utf8', timeout: 60000, env: { ...process.env, PARITY_DIR: dir },
  });
  assert.equal(r.status, 0, `${tool} ${path.basename(jobFile)} failed: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { jobs: JobDone[] };
  const files = fs.readdirSync(dir)
    .filter((n) => !n.endsWith('.state')) // fio's verify state files
    .map((n): [string, number] => [n, fs.statSync(path.join(dir, n)).size])
    .sort((a, b) => a[0].localeCompare(b[0]));
  return { jobs: doc.jobs, files, stderr: r.stderr };
}

type Check = 'exact' | 'total' | 'writes' | 'bytes';
/** How a job's I/O is compared: random draws differ between the two, totals must not. */
const CHECKS: Record<string, Record<string, Check>> = {
  'mixes.fio': { rw: 'total', readwrite: 'total', bsrange: 'bytes', bssplit: 'bytes' },
  // fio counts the verify phase's reads as the job's reads; blkbench reports them as verified blocks.
  'data.fio': { verify: 'writes' },
};

function compareJob(file: string, fio: JobDone, bb: JobDone): void {
  const what = `${file} [${fio.jobname}]`;
  assert.equal(bb.jobname, fio.jobname, `${what}: job order`);
  assert.equal(bb.groupid, fio.groupid, `${what}: groupid`);
  assert.equal(bb.error, fio.error, `${what}: error`);
  const check = CHECKS[file]?.[fio.jobname] ?? 'exact';
  const sum = (j: JobDone) => j.read.io_bytes + j.write.io_bytes;
  if (check === 'total') assert.equal(sum(bb), sum(fio), `${what}: bytes read + written`);
  if (check === 'bytes') {
    assert.equal(bb.read.io_bytes, fio.read.io_bytes, `${what}: bytes read`);
    assert.equal(bb.write.io_bytes, fio.write.io_bytes, `${what}: bytes written`);
  }
  if (check === 'writes') assert.deepEqual([bb.write.io_bytes, bb.write.total_ios], [fio.write.io_bytes, fio.write.total_ios], `${what}: writes`);
  if (check === 'exact') {
    for (const d of ['read', 'write'] as const) {
      assert.deepEqual([bb[d].io_bytes, bb[d].total_ios], [fio[d].io_bytes, fio[d].total_ios], `${what}: ${d} bytes and requests`);
    }
  }
}

describe('blkbench and fio 3.33 on the same job files', function () {
  this.timeout(120000);
  let root: string;

  before(function () {
    requireFio();
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'fio-parity-'));
  });

  after(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  const files = fs.readdirSync(JOBS).filter((f) => f.endsWith('.fio') && f !== 'exitall.fio').sort();
  for (const file of files) {
    it(`does what fio does for ${file}`, () => {
      const fioDir = fs.mkdtempSync(path.join(root, 'fio-'));
      const bbDir = fs.mkdtempSync(path.join(root, 'bb-'));
      const fio = run('fio', path.join(JOBS, file), fioDir);
      const bb = run('blkbench', path.join(JOBS, file), bbDir);
      assert.deepEqual(bb.jobs.map((j) => j.jobname), fio.jobs.map((j) => j.jobname));
      fio.jobs.forEach((j, i) => compareJob(file, j, bb.jobs[i]));
      assert.deepEqual(bb.files, fio.files, `${file}: files created and their sizes`);
    });
  }

  for (const file of [...files, 'exitall.fio']) {
    it(`runs every job of ${file} on the native loop`, () => {
      const bb = run('blkbench', path.join(JOBS, file), fs.mkdtempSync(path.join(root, 'bb-')));
      assert.deepEqual(bb.jobs.filter((j) => j.blkbench_loop !== 'native').map((j) => `${j.jobname}: ${j.blkbench_loop}`), []);
    });
  }

  it('ends the other jobs when an exitall job is done, as fio does (exitall.fio)', () => {
    const fioDir = fs.mkdtempSync(path.join(root, 'fio-'));
    const bbDir = fs.mkdtempSync(path.join(root, 'bb-'));
    const bb = run('blkbench', path.join(JOBS, 'exitall.fio'), bbDir);
    const fio = run('fio', path.join(JOBS, 'exitall.fio'), fioDir);
    for (const o of [fio, bb]) {
      assert.equal(o.jobs[0].read.total_ios, 20);
      // [long] would run 30 s at 200 IOPS; it stops with [short] instead.
      assert.ok(o.jobs[1].read.total_ios < 200, `long did ${o.jobs[1].read.total_ios} reads`);
    }
  });

  it('notes once that a fio kernel engine runs on io_uring (engines.fio)', () => {
    const bb = run('blkbench', path.join(JOBS, 'engines.fio'), fs.mkdtempSync(path.join(root, 'bb-')));
    const notes = bb.stderr.split('\n').filter((l) => l.includes('ioengine=libaio'));
    assert.deepEqual(notes, ["blkbench: note: ioengine=libaio runs on blkbench's io_uring driver (iodepth and batching keep their meaning)"]);
  });
});
