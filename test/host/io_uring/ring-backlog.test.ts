// do_io(min) when more requests are queued than the ring holds: the rest wait in the queue's backlog, so do_io must feed the ring
// while it waits and never ask the kernel for more completions than it has.
// Every wait is bounded (20 s) so a regression fails with ETIME, not a hang.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { Blkio, create, createCompletions } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';

const BLOCK = 4096;
const WAIT_NS = 20e9;

describe('io_uring do_io with more requests than num-entries', () => {
  let dir: string;
  let file: string;
  let contents: Buffer;
  let b: Blkio;
  beforeEach(() => {
    dir = tempDir();
    file = randomFile(4 << 20, dir);
    contents = fs.readFileSync(file);
  });
  afterEach(() => {
    b?.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function startedWithEntries(entries: number, direct: boolean) {
    b = create('io_uring');
    b.setStr('path', file);
    b.setBool('direct', direct);
    b.connect();
    b.setInt('num-entries', entries);
    b.start();
    const region = b.allocMemRegion(4 << 20);
    b.mapMemRegion(region);
    return { q: b.getQueue(0)!, region };
  }

  /** Queues `total` block reads (userData = index) and reaps them with one doIo(min = max = total). */
  function readAllInOneDoIo(entries: number, total: number, direct: boolean) {
    const { q, region } = startedWithEntries(entries, direct);
    const blocks = region.len / BLOCK;
    for (let i = 0; i < total; i++) {
      const slot = i % blocks;
      q.read(slot * BLOCK, new Uint8Array(region.buffer, slot * BLOCK, BLOCK), i);
    }
    const c = createCompletions(total);
    const n = q.doIo(c, total, total, WAIT_NS);
    return { q, region, c, n, blocks };
  }

  function assertEachOnce(c: ReturnType<typeof createCompletions>, n: number, total: number) {
    assert.equal(n, total);
    const counts = new Array<number>(total).fill(0);
    for (let i = 0; i < n; i++) {
      assert.equal(c[i].ret, 0, c[i].errorMsg ?? '');
      counts[c[i].userData as number]++;
    }
    assert.deepEqual(counts, new Array<number>(total).fill(1));
  }

  it('num-entries 8 with 32 O_DIRECT reads queued: doIo(min = 32) returns all 32, each once', () => {
    const { c, n } = readAllInOneDoIo(8, 32, true);
    assertEachOnce(c, n, 32);
  });

  it('num-entries 8 with 1024 O_DIRECT reads queued: doIo(min = 1024) returns all, each once, with the data', () => {
    const { q, region, c, n } = readAllInOneDoIo(8, 1024, true);
    assertEachOnce(c, n, 1024);
    assert.ok(Buffer.from(region.buffer).equals(contents), 'the region holds the file');
    assert.equal(q.doIo(c, 0, c.length), 0, 'no completion beyond the requests');
  });

  it('num-entries 8 with 1024 mixed writes and flushes: doIo(min = 1024) completes all and the file has the data', () => {
    const { q, region } = startedWithEntries(8, true);
    const bytes = new Uint8Array(region.buffer);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    const total = 1024;
    for (let i = 0; i < total; i++) {
      if (i % 4 === 3) q.flush(i);
      else q.write(i * BLOCK, new Uint8Array(region.buffer, i * BLOCK, BLOCK), i);
    }
    const c = createCompletions(total);
    assertEachOnce(c, q.doIo(c, total, total, WAIT_NS), total);
    const onDisk = fs.readFileSync(file);
    for (let i = 0; i < total; i++) {
      if (i % 4 === 3) continue;
      assert.ok(onDisk.subarray(i * BLOCK, (i + 1) * BLOCK).equals(bytes.subarray(i * BLOCK, (i + 1) * BLOCK)), `block ${i}`);
    }
  });

  it('num-entries 1 with 64 O_DIRECT reads queued: doIo(min = 64) still completes them all', () => {
    const { c, n } = readAllInOneDoIo(1, 64, true);
    assertEachOnce(c, n, 64);
  });

  it('a doIo(min) below the backlog leaves the rest queued, and a later doIo gets them', () => {
    const { q, region } = startedWithEntries(8, true);
    const c = createCompletions(10);
    for (let i = 0; i < 100; i++) q.read(i * BLOCK, new Uint8Array(region.buffer, i * BLOCK, BLOCK), i);
    const first = q.doIo(c, 10, 10, WAIT_NS);
    assert.equal(first, 10);
    const seen = new Set<number>();
    for (let i = 0; i < first; i++) seen.add(c[i].userData as number);
    const big = createCompletions(90);
    assert.equal(q.doIo(big, 90, 90, WAIT_NS), 90);
    for (let i = 0; i < 90; i++) seen.add(big[i].userData as number);
    assert.equal(seen.size, 100);
  });
});
