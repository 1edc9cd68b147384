/**
 * Which job loop runs a job is decided by the option table: every option declares which loops do
 * what it asks, a job that sets a JS-only option away from its default runs on the JS loop, and one
 * that sets a native-only option cannot run on the JS loop.
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
      assert.ok(def.loop === 'both' || def.loop === 'js' || def.loop === 'native', `option ${def.names[0]} (${key}) declares loop: ${String(def.loop)}`);
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

  it('an option only the native loop does is refused on the JS loop, named', () => {
    assert.throws(() => job({ ioengine: 'cpuio', cpuload: '10', runtime: '1', blkbench_loop: 'js' }), {
      message: "option 'cpuload' is done only by the native job loop, not by blkbench_loop=js",
    });
    assert.equal(job({ ioengine: 'cpuio', cpuload: '10', runtime: '1' }).cpuload, 10);
  });

  it('a driver of another libblkio library runs on the JS loop (the native loop drives this addon\'s queues only)', () => {
    assert.match(nativeLoopUnsupported(job({ filename: '/f', size: '1m', ioengine: 'libblkio', libblkio_driver: 'null-blk' })) ?? '', /another libblkio library/);
  });
});
