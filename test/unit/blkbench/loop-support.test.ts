/**
 * Which job loop runs a job is decided by the option table: every option declares which loops do
 * what it asks, and a job that sets a JS-only option away from its default runs on the JS loop.
 */
import * as assert from 'node:assert/strict';
import { OPTIONS, OptionDef } from '../../../src/blkbench/option-table';
import { RawOptions, resolveJob, setRawOption } from '../../../src/blkbench/options';
import { nativeLoopUnsupported } from '../../../src/blkbench/native-runner';

function job(options: Record<string, string>) {
  const raw: RawOptions = new Map();
  for (const [k, v] of Object.entries(options)) setRawOption(raw, k, v);
  return resolveJob('j', raw);
}

describe('blkbench: loop support per option', () => {
  it('every option in the table declares which job loops run it', () => {
    for (const [key, def] of Object.entries(OPTIONS) as Array<[string, OptionDef<unknown>]>) {
      assert.ok(def.loop === 'both' || def.loop === 'js', `option ${def.names[0]} (${key}) declares loop: ${String(def.loop)}`);
    }
  });

  it('a job with only options both loops run goes to the native loop', () => {
    assert.equal(nativeLoopUnsupported(job({ filename: '/f', rw: 'randrw', bs: '8k', iodepth: '16', size: '1m' })), null);
  });

  it('no option is JS-only: every job blkbench accepts runs on the native loop', () => {
    const jsOnly = Object.values(OPTIONS).filter((d) => d.loop === 'js').map((d) => d.names[0]);
    assert.deepEqual(jsOnly, []);
  });

  it('an option declared JS-only sends a job that sets it to the JS loop, named as the reason', () => {
    const def = OPTIONS.thinktimeNs as OptionDef<unknown>;
    const declared = def.loop;
    def.loop = 'js';
    try {
      assert.equal(nativeLoopUnsupported(job({ filename: '/f', size: '1m', thinktime: '10' })), 'thinktime');
      assert.equal(nativeLoopUnsupported(job({ filename: '/f', size: '1m' })), null, 'left at its default, it does not count');
    } finally {
      def.loop = declared;
    }
  });

  it('a driver of another libblkio library runs on the JS loop (the native loop drives this addon\'s queues only)', () => {
    assert.match(nativeLoopUnsupported(job({ filename: '/f', size: '1m', ioengine: 'libblkio', libblkio_driver: 'null-blk' })) ?? '', /another libblkio library/);
  });
});
