/**
 * fio's verify layout options under blkbench and fio 3.33 on the same files: verify=pattern blocks
 * are fio's byte for byte (verify_pattern repeated from each block's start, no header), so each tool
 * checks what the other wrote, and both find the same corrupted byte. (verify=meta and
 * verify_interval have blkbench's own headers: their request counts are checked against fio's in
 * jobs/verify-layout.fio.)
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../support/files';
import { BLKBENCH_CLI } from '../../support/paths';
import { requireFio } from '../../support/prerequisites';

const JOB = ['filename=pattern.dat', 'size=512k', 'bs=64k', 'verify=pattern', 'verify_pattern=0x0102"fio"7', 'thread'];

interface Outcome { status: number | null; error: number; stderr: string; verified?: number }

function run(tool: 'fio' | 'blkbench', dir: string, lines: string[]): Outcome {
  fs.writeFileSync(path.join(dir, 'job.fio'), ['[j]', ...JOB, ...lines].join('\n') + '\n');
  const [cmd, args] = tool === 'fio' ? ['fio', []] : [process.execPath, [BLKBENCH_CLI]];
  const r = spawnSync(cmd, [...args, '--output-format=json', 'job.fio'], { cwd: dir, encoding: 'utf8', timeout: 30000 });
  const out = r.stdout.indexOf('{') >= 0 ? JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { jobs: Array<{ error: number; verified_blocks?: number }> } : undefined;
  return { status: r.status, error: out?.jobs[0].error ?? -1, stderr: r.stderr, verified: out?.jobs[0].verified_blocks };
}

describe('verify=pattern: blkbench and fio check each other\'s blocks', function () {
  this.timeout(60000);
  let dir: string;

  before(() => {
    requireFio();
  });
  beforeEach(() => {
    dir = tempDir('blkbench-verify-layout-');
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('blkbench checks clean what fio wrote, and fio what blkbench wrote', () => {
    const fioWrote = run('fio', dir, ['rw=write', 'do_verify=0']);
    assert.equal(fioWrote.status, 0, fioWrote.stderr);
    const fioBytes = fs.readFileSync(path.join(dir, 'pattern.dat'));
    const bbRead = run('blkbench', dir, ['rw=read']);
    assert.equal(bbRead.error, 0, bbRead.stderr);
    assert.equal(bbRead.verified, 8);
    fs.rmSync(path.join(dir, 'pattern.dat'));
    const bbWrote = run('blkbench', dir, ['rw=write', 'do_verify=0']);
    assert.equal(bbWrote.error, 0, bbWrote.stderr);
    assert.ok(fs.readFileSync(path.join(dir, 'pattern.dat')).equals(fioBytes), 'blkbench wrote the bytes fio wrote');
    const fioRead = run('fio', dir, ['rw=read']);
    assert.deepEqual([fioRead.status, fioRead.error], [0, 0], fioRead.stderr);
  });

  it('both fail on one byte off the pattern (EILSEQ)', () => {
    assert.equal(run('blkbench', dir, ['rw=write', 'do_verify=0']).error, 0);
    const fd = fs.openSync(path.join(dir, 'pattern.dat'), 'r+');
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 5 * 65536 + 777);
    fs.closeSync(fd);
    const bb = run('blkbench', dir, ['rw=read']);
    assert.equal(bb.error, 84);
    assert.match(bb.stderr, /bad block at offset 327680 \(length 65536\): pattern mismatch at byte 777: 0xee/);
    const fio = run('fio', dir, ['rw=read']);
    assert.equal(fio.error, 84, `fio: ${fio.stderr}`);
  });
});
