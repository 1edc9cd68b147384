// A NUL inside a driver name, property name or string value is EINVAL
//: the core and libblkio.so.1 take C strings, which would
// silently end at the NUL ('read-only\0x' would set read-only). Checked
// through the addon and through the libblkio driver (koffi over libblkio.so.1).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { create } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { ADDON_AND_LIBRARY } from '../capi/support';
import { randomFile, tempDir } from '../../support/files';


for (const { name, options } of ADDON_AND_LIBRARY) {
  describe(`NUL inside strings is EINVAL (${name})`, () => {
    let dir: string;
    let file: string;
    before(() => {
      dir = tempDir();
      file = randomFile(1 << 16, dir);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('create() with a NUL in the driver name', () => {
      expectCode(() => create('io_uring\0x', options), 'EINVAL', /NUL/);
    });

    it('setBool() with a NUL in the property name sets nothing', () => {
      const b = create('io_uring', options);
      expectCode(() => b.setBool('read-only\0x', true), 'EINVAL', /NUL/);
      assert.equal(b.getBool('read-only'), false);
      b.destroy();
    });

    it('getStr() and getBool() with a NUL in the property name', () => {
      const b = create('io_uring', options);
      expectCode(() => b.getStr('driver\0'), 'EINVAL', /NUL/);
      expectCode(() => b.getBool('read-only\0x'), 'EINVAL', /NUL/);
      b.destroy();
    });

    it('setInt() and setStr() with a NUL in the property name after connect', () => {
      const b = create('io_uring', options);
      b.setStr('path', file);
      b.connect();
      expectCode(() => b.setInt('num-queues\0x', 2), 'EINVAL', /NUL/);
      expectCode(() => b.setStr('num-queues\0x', '2'), 'EINVAL', /NUL/);
      assert.equal(b.getInt('num-queues'), 1);
      b.destroy();
    });

    it('setStr("path") with a NUL in the value leaves path unset, and connect fails', () => {
      const b = create('io_uring', options);
      expectCode(() => b.setStr('path', `${file}\0.ignored`), 'EINVAL', /NUL/);
      assert.equal(b.getStr('path'), '');
      expectCode(() => b.connect(), 'EINVAL', /path and fd|One of path and fd/);
      b.destroy();
    });

    it('setStr() of a number property with a NUL in the value', () => {
      const b = create('io_uring', options);
      b.setStr('path', file);
      b.connect();
      expectCode(() => b.setStr('num-entries', '8\0 junk'), 'EINVAL');
      assert.equal(b.getInt('num-entries'), 128);
      b.destroy();
    });
  });
}
