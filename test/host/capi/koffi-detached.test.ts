// Through the koffi driver: a buffer detached after enqueue
// and before doIo fails its request instead of reaching the library.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { create, createCompletions } from '../../../src/lib';
import { randomFile, tempDir } from '../../support/files';
import { LIBRARY } from './support';

describe('libblkio driver (koffi): buffers detached before doIo', () => {
  it('a transferred buffer fails its read and the moved memory stays untouched', () => {
    const dir = tempDir();
    const b = create('io_uring', { library: LIBRARY });
    try {
      b.setStr('path', randomFile(1 << 16, dir));
      b.connect();
      b.start();
      const q = b.getQueue(0)!;
      const ab = new ArrayBuffer(4096);
      q.read(0, new Uint8Array(ab), 'moved');
      q.read(4096, new Uint8Array(512), 'kept');
      const moved: ArrayBuffer = structuredClone(ab, { transfer: [ab] });
      const c = createCompletions(2);
      assert.equal(q.doIo(c, 2, 2), 2);
      const byTag = new Map(c.map((x) => [x.userData, x.ret]));
      assert.ok((byTag.get('moved') ?? 0) < 0, 'the detached request failed');
      assert.equal(byTag.get('kept'), 0);
      assert.ok(new Uint8Array(moved).every((x) => x === 0));
    } finally {
      b.destroy();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
