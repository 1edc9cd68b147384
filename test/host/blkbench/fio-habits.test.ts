/**
 * blkbench behaves as a fio user expects: Ctrl-C reports what was measured, write jobs lay out only
 * space, a file system too small is refused before anything is written, short files are extended,
 * terse output has fio's fields, and disk_util reports a block device's counters.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BLKBENCH_CLI } from '../../support/paths';

const CLI = BLKBENCH_CLI;

function blkbench(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: 'utf8', timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs blkbench until its stdout shows `ready`, then sends `signal`; resolves with what it printed. */
function interrupt(args: string[], cwd: string, ready: RegExp, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
      if (!sent && ready.test(stdout)) {
        sent = true;
        setTimeout(() => child.kill(signal), 300); // let some I/O happen
      }
    });
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('blkbench with fio habits', function () {
  this.timeout(60000);
  let dir: string;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkbench-habits-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('SIGINT and SIGTERM', () => {
    const job = ['--name=long', '--filename=sig.img', '--size=1m', '--rw=randread', '--time_based', '--runtime=60'];

    it('stops on SIGINT, says so as fio does, prints the report so far and exits 128', async () => {
      const r = await interrupt(job, dir, /Starting 1 thread/, 'SIGINT');
      assert.equal(r.code, 128);
      assert.match(r.stderr, /blkbench: terminating on signal 2\n/);
      assert.match(r.stdout, /read: IOPS=/);
      assert.match(r.stdout, /Run status group 0 \(all jobs\):/);
    });

    it('wakes a job sleeping in startdelay when the signal comes (else this times out)', async () => {
      const r = await interrupt(['--name=late', '--filename=sig.img', '--size=1m', '--rw=read', '--startdelay=600'], dir, /Starting 1 thread/, 'SIGINT');
      assert.equal(r.code, 128);
      assert.match(r.stdout, /Run status group 0 \(all jobs\):/);
    });

    it('stops a job paced by rate_iops on the signal', async () => {
      const paced = ['--name=slow', '--filename=sig.img', '--size=1m', '--rw=read', '--rate_iops=1', '--time_based', '--runtime=60'];
      const r = await interrupt(paced, dir, /Starting 1 thread/, 'SIGINT');
      assert.equal(r.code, 128);
      // At one read a second, a job that slept through the signal would run its 60 s and issue 60.
      // (How many it issued before the signal depends on the machine's load: 0 is possible.)
      const ios = Number(/issued rwts: total=(\d+),/.exec(r.stdout)?.[1]);
      assert.ok(ios < 10, `${ios} reads`);
    });

    it('prints valid JSON with what was measured when SIGTERM stops a JSON run', async () => {
      // A file of its own: blkbench creates it after installing its signal handlers.
      const own = job.map((a) => (a === '--filename=sig.img' ? '--filename=sigterm.img' : a));
      const child = spawn(process.execPath, [CLI, '--output-format=json', ...own], { cwd: dir });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      // Nothing is printed before the end in JSON mode: wait for the file to be laid out, then signal.
      while (!fs.existsSync(path.join(dir, 'sigterm.img'))) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1000));
      child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      assert.equal(code, 128);
      const doc = JSON.parse(stdout) as { jobs: Array<{ read: { total_ios: number } }> };
      assert.ok(doc.jobs[0].read.total_ios > 0);
    });
  });

  describe('file layout', () => {
    it('refuses a write job the file system cannot hold before creating its file', () => {
      const free = fs.statfsSync(dir);
      const tooBig = free.bavail * free.bsize * 4;
      const r = blkbench(['--name=huge', '--filename=huge.img', `--size=${tooBig}`, '--rw=write', '--runtime=1'], dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /job 'huge': file 'huge\.img' needs .* more, but its file system has .* free/);
      assert.equal(fs.existsSync(path.join(dir, 'huge.img')), false);
    });

    it('allocates a write job\'s file and writes only what the job issues', () => {
      const r = blkbench(['--name=w', '--filename=sparse.img', '--size=64m', '--rw=write', '--number_ios=4', '--fallocate=none'], dir);
      assert.equal(r.code, 0, r.stderr);
      const st = fs.statSync(path.join(dir, 'sparse.img'));
      assert.equal(st.size, 64 << 20);
      assert.ok(st.blocks * 512 < 1 << 20, `${st.blocks * 512} bytes allocated for 4 writes of 4 KiB`);
    });

    it('extends a file shorter than offset + size, as fio does', () => {
      fs.writeFileSync(path.join(dir, 'short.img'), Buffer.alloc(64 << 10));
      const r = blkbench(['--name=s', '--filename=short.img', '--size=1m', '--rw=read', '--output-format=json'], dir);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(fs.statSync(path.join(dir, 'short.img')).size, 1 << 20);
      assert.equal(JSON.parse(r.stdout).jobs[0].read.io_bytes, 1 << 20);
    });

    it('stops laying out a large file on SIGINT, instead of finishing it first', async () => {
      const big = 4 * 1024 ** 3;
      const r = await interrupt(['--name=big', '--filename=big.img', `--size=${big}`, '--rw=read', '--fallocate=none'], dir, /Laying out IO file/, 'SIGINT');
      try {
        assert.equal(r.code, 128, r.stderr);
        assert.match(r.stderr, /blkbench: terminating on signal 2\n/);
        assert.match(r.stderr, /job 'big': laying out 'big\.img' stopped at /);
        const written = fs.statSync(path.join(dir, 'big.img')).blocks * 512;
        assert.ok(written < big, `${written} bytes written: the layout ran to its end`);
      } finally {
        fs.rmSync(path.join(dir, 'big.img'), { force: true });
      }
    });

    it('names the job when the file\'s directory does not exist', () => {
      const r = blkbench(['--name=lost', '--filename=no/such/dir/f.img', '--size=1m', '--rw=write'], dir);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /job 'lost': cannot create 'no\/such\/dir\/f\.img': directory '.*no\/such\/dir' does not exist/);
    });
  });

  describe('reports', () => {
    it('prints fio\'s terse v3 line with as many fields as fio 3.33 for the same job', function () {
      const fio = spawnSync('fio', ['--name=t', '--filename=terse.img', '--size=256k', '--rw=randrw', '--output-format=terse'], { cwd: dir, encoding: 'utf8' });
      assert.equal(fio.status, 0, `fio failed (test/prerequisites.sh installs it): ${fio.stderr}`);
      const r = blkbench(['--name=t', '--filename=terse.img', '--size=256k', '--rw=randrw', '--output-format=terse'], dir);
      assert.equal(r.code, 0, r.stderr);
      const ours = r.stdout.trim().split(';');
      const theirs = fio.stdout.trim().split(';');
      assert.equal(ours.length, theirs.length);
      assert.deepEqual([ours[0], ours[2], ours[3], ours[4]], ['3', 't', '0', '0']);
      // read_kb and write_kb add up to the job's size in both.
      assert.equal(Number(ours[5]) + Number(ours[46]), 256);
      assert.equal(Number(theirs[5]) + Number(theirs[46]), 256);
    });

    it('reports disk_util for a block device target (a loop device)', function () {
      const img = path.join(dir, 'loop.img');
      fs.writeFileSync(img, Buffer.alloc(8 << 20));
      const losetup = spawnSync('losetup', ['-f', '--show', img], { encoding: 'utf8' });
      assert.equal(losetup.status, 0, `losetup failed (the host tests need root and loop devices): ${losetup.stderr}`);
      const dev = losetup.stdout.trim();
      try {
        const r = blkbench(['--name=blk', `--filename=${dev}`, '--rw=randread', '--direct=1', '--size=4m', '--output-format=json'], dir);
        assert.equal(r.code, 0, r.stderr);
        const util = JSON.parse(r.stdout).disk_util as Array<{ name: string; read_ios: number }>;
        assert.equal(util.length, 1);
        assert.equal(util[0].name, path.basename(dev));
        assert.ok(util[0].read_ios >= 1024, `read_ios ${util[0].read_ios}`);
      } finally {
        spawnSync('losetup', ['-d', dev]);
      }
    });
  });
});
