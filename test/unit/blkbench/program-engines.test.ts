import * as assert from 'node:assert/strict';
import { RawOptions, resolveJob, setRawOption } from '../../../src/blkbench/options';
import { execArgv, parsePmemblkName } from '../../../src/blkbench/program-engines';

function job(options: Record<string, string | undefined>) {
  const raw: RawOptions = new Map();
  for (const [k, v] of Object.entries(options)) setRawOption(raw, k, v);
  return resolveJob('mon', raw);
}

describe('blkbench ioengine=exec and ioengine=pmemblk options', () => {
  it('exec: argv is program and arguments split at spaces, %r the runtime in whole seconds, %n the job name', () => {
    const s = job({ ioengine: 'exec', program: '/bin/sleep', arguments: ' %r  --tag=%n ', runtime: '2500ms' });
    assert.deepEqual(execArgv(s), ['/bin/sleep', '2', '--tag=mon']);
    assert.deepEqual([s.graceTime, s.stdRedirect, s.iodepth, s.thinktimeNs], [1, true, 1, 100e6]);
  });

  it('exec: needs a program and a runtime; its options need ioengine=exec', () => {
    assert.throws(() => job({ ioengine: 'exec', runtime: '1' }), /ioengine=exec: needs 'program'/);
    assert.throws(() => job({ ioengine: 'exec', program: 'true' }), /ioengine=exec: needs 'runtime'/);
    assert.throws(() => job({ ioengine: 'exec', program: 'true', runtime: '1', verify: 'md5' }), /ioengine=exec: 'verify' cannot be used/);
    assert.throws(() => job({ ioengine: 'null', size: '1m', grace_time: '2' }), { message: "option 'grace_time' needs ioengine=exec" });
    assert.throws(() => job({ ioengine: 'exec', program: 'true', runtime: '1', grace_time: '-1' }), /grace_time/);
  });

  it('pmemblk: filename is path or path,bsize,fsize_mib', () => {
    assert.deepEqual(parsePmemblkName('/pmem0/fio-test,4096,1024'), { path: '/pmem0/fio-test', bsize: 4096, poolSize: 1024 * 2 ** 20 });
    assert.deepEqual(parsePmemblkName('a,b,512,32'), { path: 'a,b', bsize: 512, poolSize: 32 * 2 ** 20 });
    assert.deepEqual(parsePmemblkName('pool'), { path: 'pool', bsize: 0, poolSize: 0 });
    for (const bad of ['pool,4096', 'pool,4k,64', 'pool,4096,0', ',4096,64', 'pool,4096,x']) {
      assert.throws(() => parsePmemblkName(bad), /ioengine=pmemblk: bad filename .* expected path or path,bsize,fsize_mib/, bad);
    }
  });

  it('pmemblk: needs a filename, takes verify, notes that it is always direct', () => {
    assert.throws(() => job({ ioengine: 'pmemblk' }), /ioengine=pmemblk: needs 'filename'/);
    assert.throws(() => job({ ioengine: 'pmemblk', filename: 'p,4k,64' }), /bad filename 'p,4k,64'/);
    const s = job({ ioengine: 'pmemblk', filename: 'p,4096,64', rw: 'write', verify: 'crc32c' });
    assert.equal(s.verify, 'crc32c');
    assert.ok(s.notes.includes('ioengine=pmemblk: direct=0, but pmemblk is always direct'));
    assert.throws(() => job({ ioengine: 'pmemblk', filename: 'p,4096,64', blkbench_loop: 'js' }), /ioengine=pmemblk: blkbench_loop=js is not supported/);
  });
});
