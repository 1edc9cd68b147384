// blkio_set_str on int and bool properties parses as libblkio does: ints are plain decimal, bools exactly "true" or "false"; and a
// directory as io_uring's path is EINVAL (libblkio), not EISDIR. Through
// libblkio.so.1 (koffi calls its blkio_set_str) and through the addon.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { create } from '../../../src/lib';
import { expectCode } from '../../shared/behaviour';
import { randomFile, tempDir } from '../../support/files';
import { ADDON_AND_LIBRARY } from './support';


const NOT_PLAIN_DECIMAL = [' 2', '+2', '0x2', '2 ', '', '2\n', '\t2', '2.0', '1e1', '--2', '-', '٢'];
const NOT_BOOL = ['1', '0', 'TRUE', 'True', ' true', 'false ', 'yes', ''];

for (const { name, options } of ADDON_AND_LIBRARY) {
  describe(`setStr parsing and path checks (${name})`, () => {
    let dir: string;
    let file: string;
    before(() => {
      dir = tempDir();
      file = randomFile(1 << 16, dir);
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    function connected() {
      const b = create('io_uring', options);
      b.setStr('path', file);
      b.connect();
      return b;
    }

    for (const text of NOT_PLAIN_DECIMAL) {
      it(`an int property refuses ${JSON.stringify(text)} with EINVAL and keeps its value`, () => {
        const b = connected();
        expectCode(() => b.setStr('num-queues', text), 'EINVAL', /num-queues/);
        assert.equal(b.getInt('num-queues'), 1);
        b.destroy();
      });
    }

    it('an int property takes plain decimal, with a leading minus for negatives', () => {
      const b = connected();
      b.setStr('num-queues', '2');
      assert.equal(b.getInt('num-queues'), 2);
      b.setStr('num-entries', '0016');
      assert.equal(b.getInt('num-entries'), 16);
      expectCode(() => b.setStr('num-queues', '-1'), 'EINVAL', /negative/);
      b.destroy();
    });

    it('an int property refuses values outside 32 bits', () => {
      const b = connected();
      expectCode(() => b.setStr('num-entries', '2147483648'), 'EINVAL');
      expectCode(() => b.setStr('num-entries', '99999999999999999999999'), 'EINVAL');
      assert.equal(b.getInt('num-entries'), 128);
      b.destroy();
    });

    for (const text of NOT_BOOL) {
      it(`a bool property refuses ${JSON.stringify(text)} with EINVAL`, () => {
        const b = create('io_uring', options);
        expectCode(() => b.setStr('read-only', text), 'EINVAL', /"true" or "false"/);
        assert.equal(b.getBool('read-only'), false);
        b.destroy();
      });
    }

    it('a bool property takes exactly "true" and "false"', () => {
      const b = create('io_uring', options);
      b.setStr('read-only', 'true');
      assert.equal(b.getBool('read-only'), true);
      b.setStr('read-only', 'false');
      assert.equal(b.getBool('read-only'), false);
      b.destroy();
    });

    it('a directory as path fails connect with EINVAL and a message naming it', () => {
      const b = create('io_uring', options);
      b.setStr('path', dir);
      expectCode(() => b.connect(), 'EINVAL', /directory/);
      b.destroy();
    });

    it('a directory as path with read-only fails connect with EINVAL too', () => {
      const b = create('io_uring', options);
      b.setStr('path', dir);
      b.setBool('read-only', true);
      expectCode(() => b.connect(), 'EINVAL', /directory/);
      b.destroy();
    });

    it('a character device as path fails connect with EINVAL', () => {
      const b = create('io_uring', options);
      b.setStr('path', '/dev/null');
      expectCode(() => b.connect(), 'EINVAL', /character device|regular file/);
      b.destroy();
    });
  });
}
