// The layers stay visible: blkbench is a consumer of the library's public
// entry, and the library never reaches into blkbench or the tests.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../support/paths';

function importsOf(dir: string): Array<{ file: string; spec: string }> {
  const out: Array<{ file: string; spec: string }> = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) walk(full);
      else if (e.name.endsWith('.ts')) {
        for (const m of fs.readFileSync(full, 'utf8').matchAll(/(?:from|import|require\()\s*['"]([^'"]+)['"]/g))
          out.push({ file: path.relative(REPO_ROOT, full), spec: m[1] });
      }
    }
  };
  walk(dir);
  return out;
}

describe('layering', () => {
  it('blkbench imports the library only through its public entries (blkio, blkio/bench)', () => {
    const blkbench = path.join(REPO_ROOT, 'src', 'blkbench');
    const entries = [path.join(REPO_ROOT, 'src', 'lib'), path.join(REPO_ROOT, 'src', 'lib', 'bench')];
    const reaching = importsOf(blkbench).filter(({ file, spec }) => {
      if (!spec.startsWith('.')) return false; // node: modules and packages
      const target = path.resolve(REPO_ROOT, path.dirname(file), spec);
      return !target.startsWith(blkbench + path.sep) && !entries.includes(target);
    });
    assert.deepEqual(reaching, []);
  });

  it('the block I/O entry exports no provisioning and no job loop', () => {
    const entry = fs.readFileSync(path.join(REPO_ROOT, 'src', 'lib', 'index.ts'), 'utf8');
    for (const name of ['vdpa', 'bindPciDriver', 'getPciDriver', 'startJobLoop', 'runJobLoop', 'job-loop', './pci'])
      assert.ok(!entry.includes(name), `src/lib/index.ts mentions ${name}`);
  });

  it('every entry the package exports has a source file', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
    for (const [subpath, target] of Object.entries<{ default?: string } | string>(pkg.exports)) {
      if (typeof target === 'string') continue;
      const source = target.default!.replace('./dist/', 'src/').replace(/\.js$/, '.ts');
      assert.ok(fs.existsSync(path.join(REPO_ROOT, source)), `${subpath} → ${source} is missing`);
    }
  });

  it('the library imports nothing from blkbench, the tests or the benchmarks', () => {
    const reaching = importsOf(path.join(REPO_ROOT, 'src', 'lib')).filter(({ spec }) => /blkbench|\/test\/|\/bench\//.test(spec));
    assert.deepEqual(reaching, []);
  });
});
