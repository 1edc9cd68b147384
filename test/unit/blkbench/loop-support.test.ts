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

  it('a job that sets a JS-only option away from its default names that option as the reason', () => {
    const jsOnly = Object.values(OPTIONS).filter((d) => d.loop === 'js');
    for (const def of jsOnly as Array<OptionDef<unknown>>) {
      const value = def.kind === 'bool' ? '1' : def.kind === 'time' ? '10' : def.kind === 'size' ? '4k' : def.kind === 'int' ? '3' : undefined;
      if (value === undefined) continue; // strings and choices: covered by their own option tests
      assert.equal(nativeLoopUnsupported(job({ filename: '/f', size: '1m', [def.names[0]]: value })), def.names[0]);
    }
  });
});
