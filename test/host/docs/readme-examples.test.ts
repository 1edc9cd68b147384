// The README promises only what a test checks: each of its TypeScript
// examples is compiled and run against a fresh file, with `blkio` resolved to
// this checkout's build and `disk.img` to the file.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { randomFile, tempDir } from '../../support/files';
import { REPO_ROOT } from '../../support/paths';

const README = path.join(REPO_ROOT, 'README.md');
const LIBRARY = path.join(REPO_ROOT, 'dist', 'lib', 'index.js');

function examples(): string[] {
  const text = fs.readFileSync(README, 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

describe("the README's examples", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = tempDir('blkio-readme-')));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has examples to check', () => {
    assert.ok(examples().length >= 2);
  });

  examples().forEach((source, i) => {
    const firstLine = source.split('\n').find((l) => l.trim() && !l.startsWith('import')) ?? '';
    it(`example ${i + 1} runs (${firstLine.trim().slice(0, 60)})`, () => {
      const file = randomFile(1 << 20, dir);
      const body = source
        .replace(/from 'blkio'/g, `from ${JSON.stringify(LIBRARY)}`)
        .replace(/'disk\.img'/g, JSON.stringify(file));
      // Top-level await: run the example as the body of an async function.
      const imports = body.split('\n').filter((l) => l.startsWith('import '));
      const rest = body.split('\n').filter((l) => !l.startsWith('import '));
      const program = `${imports.join('\n')}\n(async () => {\n${rest.join('\n')}\n})().catch((e) => { console.error(e); process.exit(1); });\n`;
      const js = ts.transpileModule(program, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText;
      const script = path.join(dir, `example-${i}.js`);
      fs.writeFileSync(script, js);
      // In the temp dir, so files an example names (backup.img) land there.
      const r = spawnSync(process.execPath, [script], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    });
  });
});
