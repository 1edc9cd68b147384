/**
 * ioengine=pmemblk, fio's engine on libpmemblk pools, on the native loop's pmemblk sink: real pools
 * (libpmemblk.so.1, loaded by the addon at run time) in files here, written and read back with
 * blkbench's verify, and exchanged with real fio both ways (fio's verify=pattern blocks are blkbench's).
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startPmemblkJobLoop } from '../../../src/lib/bench';
import { BLKBENCH_CLI } from '../../support/paths';
import { requireFio, requirePrerequisite } from '../../support/prerequisites';
import { tempDir } from '../../support/files';

/** libpmemblk's smallest pool is a little over 16 MiB. */
const POOL_MIB = 17;

interface Run { code: number | null; stdout: string; stderr: string }

function run(cmd: string, args: string[], cwd: string): Run {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 20000, killSignal: 'SIGKILL' });
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

const blkbench = (dir: string, args: string[]) => run(process.execPath, [BLKBENCH_CLI, '--output-format=json', ...args], dir);
const fio = (dir: string, args: string[]) => run('fio', ['--output-format=json', '--thread', ...args], dir);

function firstJob(r: Run): { error: number; verified_blocks?: number; blkbench_loop?: string; read: { total_ios: number }; write: { total_ios: number } } {
  return JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).jobs[0];
}

function requireLibpmemblk(): void {
  const found = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' }).stdout.includes('libpmemblk.so.1');
  requirePrerequisite(found, 'libpmemblk.so.1', 'apt-get install -y libpmemblk1 (test/prerequisites.sh)');
}

describe('ioengine=pmemblk: reads and writes of a libpmemblk pool', function () {
  this.timeout(30000);
  let dir: string;

  beforeEach(() => {
    requireLibpmemblk();
    dir = tempDir('blkbench-pmemblk-');
  });
  afterEach(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the pool named path,bsize,fsize_mib, writes it, and reads every block back verified', () => {
    const r = blkbench(dir, ['--name=w', '--ioengine=pmemblk', `--filename=pool,4096,${POOL_MIB}`, '--rw=randwrite', '--bs=16k', '--size=1m', '--verify=crc32c']);
    assert.equal(r.code, 0, r.stderr);
    const j = firstJob(r);
    assert.deepEqual([j.error, j.blkbench_loop, j.write.total_ios, j.verified_blocks], [0, 'native', 64, 64]);
    assert.equal(fs.statSync(path.join(dir, 'pool')).size, POOL_MIB * 2 ** 20, 'the pool file has fsize_mib MiB');
  });

  it('a pool blkbench wrote is read and verified by fio', () => {
    requireFio();
    const w = blkbench(dir, ['--name=w', '--ioengine=pmemblk', `--filename=pool,512,${POOL_MIB}`, '--rw=write', '--bs=4k', '--size=1m', '--verify=pattern', '--verify_pattern=0x5eed1e55']);
    assert.equal(w.code, 0, w.stderr);
    const read = ['--name=r', '--ioengine=pmemblk', '--filename=pool', '--rw=read', '--bs=4k', '--size=1m', '--verify=pattern'];
    const ok = fio(dir, [...read, '--verify_pattern=0x5eed1e55']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([firstJob(ok).error, firstJob(ok).read.total_ios], [0, 256]);
    const wrong = fio(dir, [...read, '--verify_pattern=0x5eed1e56']);
    assert.notEqual(wrong.code, 0, 'fio took blocks of another pattern: the check proves nothing');
  });

  it('a pool fio wrote is read and verified by blkbench', () => {
    requireFio();
    const w = fio(dir, ['--name=w', '--ioengine=pmemblk', `--filename=pool,4096,${POOL_MIB}`, '--rw=write', '--bs=8k', '--size=1m', '--verify=pattern', '--verify_pattern=0x12345678', '--do_verify=0']);
    assert.equal(w.code, 0, w.stderr);
    const read = ['--name=r', '--ioengine=pmemblk', '--filename=pool', '--rw=read', '--bs=8k', '--size=1m', '--verify=pattern'];
    const ok = blkbench(dir, [...read, '--verify_pattern=0x12345678']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual([firstJob(ok).error, firstJob(ok).read.total_ios], [0, 128]);
    const wrong = blkbench(dir, [...read, '--verify_pattern=0x12345679']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /verify: bad block at offset 0 .*pattern mismatch/);
  });

  it('clones share the pool (libpmemblk opens a pool once), and unlink=1 removes its file', () => {
    const r = blkbench(dir, ['--name=w', '--ioengine=pmemblk', `--filename=pool,4096,${POOL_MIB}`, '--rw=randwrite', '--bs=4k', '--numjobs=4', '--number_ios=32', '--unlink=1']);
    assert.equal(r.code, 0, r.stderr);
    const jobs = JSON.parse(r.stdout).jobs as Array<{ error: number; write: { total_ios: number } }>;
    assert.deepEqual(jobs.map((j) => [j.error, j.write.total_ios]), [[0, 32], [0, 32], [0, 32], [0, 32]]);
    assert.ok(!fs.existsSync(path.join(dir, 'pool')), 'unlink=1 left the pool');
  });

  it('a request off the pool\'s blocks fails with EINVAL in the result', async () => {
    const pool = { path: path.join(dir, 'pool'), bsize: 4096, poolSize: POOL_MIB * 2 ** 20, create: true };
    const off = await startPmemblkJobLoop(pool, { rw: 'write', blockSize: 2048, regionLength: 65536 }).done;
    assert.equal(off.error, 22, off.errorMessage ?? '');
    assert.match(off.errorMessage ?? '', /not on the pmemblk pool's blocks/);
    const ok = await startPmemblkJobLoop(pool, { rw: 'write', blockSize: 4096, regionLength: 65536 }).done;
    assert.deepEqual([ok.error, ok.write.ios], [0, 16], ok.errorMessage ?? '');
  });

  it('closes the pool when the loop is done, so another process can open it at once', async () => {
    requireFio();
    const pool = { path: path.join(dir, 'pool'), bsize: 4096, poolSize: POOL_MIB * 2 ** 20, create: true };
    const w = await startPmemblkJobLoop(pool, { rw: 'write', blockSize: 4096, regionLength: 65536, verify: 'pattern', verifyPattern: [0xab] }).done;
    assert.equal(w.error, 0, w.errorMessage ?? '');
    // libpmemblk locks an open pool's file: fio could not open it if this process still had it open.
    const r = fio(dir, ['--name=r', '--ioengine=pmemblk', '--filename=pool', '--rw=read', '--bs=4k', '--size=64k', '--verify=pattern', '--verify_pattern=0xab']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([firstJob(r).error, firstJob(r).read.total_ios], [0, 16]);
  });

  it('refuses a bad filename, a block size off the pool\'s blocks, and a pool of another block size', () => {
    const bad = blkbench(dir, ['--name=b', '--ioengine=pmemblk', '--filename=pool,4k,17', '--rw=read']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /ioengine=pmemblk: bad filename 'pool,4k,17': expected path or path,bsize,fsize_mib/);
    const missing = blkbench(dir, ['--name=m', '--ioengine=pmemblk', '--filename=nopool', '--rw=read']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /cannot open pmemblk pool 'nopool'.*name it path,bsize,fsize_mib to create it/);
    const w = blkbench(dir, ['--name=w', '--ioengine=pmemblk', `--filename=pool,4096,${POOL_MIB}`, '--rw=write', '--bs=4k', '--size=64k']);
    assert.equal(w.code, 0, w.stderr);
    const small = blkbench(dir, ['--name=s', '--ioengine=pmemblk', '--filename=pool', '--rw=read', '--bs=1k']);
    assert.match(small.stderr, /block size 1024 is not a multiple of the pmemblk pool's block size 4096/);
    const other = blkbench(dir, ['--name=o', '--ioengine=pmemblk', `--filename=pool,512,${POOL_MIB}`, '--rw=read']);
    assert.match(other.stderr, /wrong bsize \(512\), pool created with bsize 4096/);
  });
});
