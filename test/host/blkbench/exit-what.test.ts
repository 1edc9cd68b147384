/**
 * exitall with exit_what, as fio does it: when the quick [short] job (exitall) is done, group stops
 * the jobs of its reporting group only, stonewall every running job (the job after the next
 * stonewall still runs), all every job (the job after the stonewall never starts and is reported
 * with no I/O). Real fio runs the same file; both of blkbench's loops must agree with it.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI } from '../../support/paths';

/** [fast] would take 1.5 s at its rate: a stopped one does fewer than its 30 reads. */
const job = (exitWhat: string) => `
[global]
size=256k
bs=4k
rw=randread

[short]
number_ios=20
exitall
exit_what=${exitWhat}

[fast]
new_group
number_ios=30
rate_iops=20

[after]
stonewall
number_ios=10
`;

type Reads = Record<string, number>;

function reads(stdout: string): Reads {
  const jobs = JSON.parse(stdout).jobs as Array<{ jobname: string; read: { total_ios: number } }>;
  return Object.fromEntries(jobs.map((j) => [j.jobname, j.read.total_ios]));
}

describe('exitall with exit_what stops the jobs fio stops', function () {
  this.timeout(60000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-exit-what-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function run(tool: string, exitWhat: string): Reads {
    const cwd = fs.mkdtempSync(path.join(dir, `${tool}-`));
    fs.writeFileSync(path.join(cwd, 'job.fio'), job(exitWhat));
    const [cmd, ...args] = tool === 'fio'
      ? ['fio', '--output-format=json', 'job.fio']
      : [process.execPath, BLKBENCH_CLI, '--output-format=json', `--blkbench_loop=${tool}`, 'job.fio'];
    const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `${tool} exit_what=${exitWhat}: ${r.stderr}`);
    return reads(r.stdout);
  }

  const expected: Record<string, (r: Reads) => void> = {
    group: (r) => assert.deepEqual(r, { short: 20, fast: 30, after: 10 }),
    stonewall: (r) => {
      assert.ok(r.fast < 30, `fast did ${r.fast} reads`);
      assert.deepEqual({ ...r, fast: 0 }, { short: 20, fast: 0, after: 10 });
    },
    all: (r) => {
      assert.ok(r.fast < 30, `fast did ${r.fast} reads`);
      assert.deepEqual({ ...r, fast: 0 }, { short: 20, fast: 0, after: 0 });
    },
  };

  it('exit_what=all: the job that never started gets no block in the normal report, as in fio\'s', () => {
    for (const tool of ['fio', 'blkbench']) {
      const cwd = fs.mkdtempSync(path.join(dir, `${tool}-`));
      fs.writeFileSync(path.join(cwd, 'job.fio'), job('all'));
      const [cmd, ...args] = tool === 'fio' ? ['fio', 'job.fio'] : [process.execPath, BLKBENCH_CLI, 'job.fio'];
      const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 30000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^short: \(groupid=0/m, tool);
      assert.doesNotMatch(r.stdout, /^after: \(groupid/m, tool);
      assert.match(r.stdout, /^Run status group 2 \(all jobs\):$/m, tool);
    }
  });

  const says: Record<string, string> = {
    group: 'stops only the jobs of its reporting group',
    stonewall: 'stops every running job; the job after the stonewall runs',
    all: 'stops every job; the job after the stonewall never starts',
  };
  for (const [exitWhat, check] of Object.entries(expected)) {
    for (const tool of ['fio', 'native', 'js']) {
      const who = tool === 'fio' ? 'fio itself' : `blkbench's ${tool} loop`;
      it(`exit_what=${exitWhat} ${says[exitWhat]} (${who})`, () => check(run(tool, exitWhat)));
    }
  }
});
