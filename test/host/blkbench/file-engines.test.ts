/**
 * fio's falloc and ftruncate engines as the native job loop's system-call sink
 * (startFileEngineJobLoop): each request is one fallocate or ftruncate on a real file, with what fio's
 * engines make of each direction. blkbench's request counts and file sizes against fio's are in
 * jobs/file-engines.fio.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError } from '../../../src/lib';
import { startFileEngineJobLoop } from '../../../src/lib/bench';
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
