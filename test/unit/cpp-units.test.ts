// The plain C++ units (ring arithmetic, region lookup, histogram index, the
// job engine's PRNG, CRC-32C, MD5, verify blocks, the net sink) tested
// on their own: test/cpp/*_test.cc, built here with g++ under ASan and UBSan,
// one mocha test per TEST() in them.
import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { requirePrerequisite } from '../support/prerequisites';
import { REPO_ROOT } from '../support/paths';

const CPP_DIR = path.join(REPO_ROOT, 'test', 'cpp');
// The units each test file exercises, beyond headers.
const UNIT_SOURCES = [
  'addon/drivers/virtio/virtqueue.cc', 'addon/drivers/virtio/vfio_iommu_info.cc',
  'addon/bench/prng.cc', 'addon/bench/crc32c.cc', 'addon/bench/md5.cc', 'addon/bench/verify.cc', 'addon/bench/zbd.cc',
  'addon/bench/net_sink.cc', 'addon/bench/net_sink_open.cc',
];

const testFiles = fs.readdirSync(CPP_DIR).filter((f) => f.endsWith('_test.cc')).sort();

describe('C++ units', function () {
  this.timeout(180_000);
  let dir: string;
  let program: string;

  before(() => {
    requirePrerequisite(spawnSync('g++', ['--version']).status === 0, 'g++', 'apt-get install g++');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blkio-cpp-units-'));
    program = path.join(dir, 'units');
    const sources = ['main.cc', ...testFiles].map((f) => path.join(CPP_DIR, f)).concat(UNIT_SOURCES.map((f) => path.join(REPO_ROOT, f)));
    execFileSync('g++', ['-std=c++17', '-O1', '-g', '-Wall', '-Werror', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-o', program, ...sources], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const file of testFiles) {
    describe(file, () => {
      const source = fs.readFileSync(path.join(CPP_DIR, file), 'utf8');
      for (const [, name] of source.matchAll(/^TEST\((\w+)\)/gm)) {
        it(name.replace(/_/g, ' '), () => {
          const r = spawnSync(program, [name], { encoding: 'utf8' });
          assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
          assert.equal(r.stdout.trim(), `ok ${name}`);
        });
      }
    });
  }

  it('every TEST in the program is one mocha test here (no test lost to the pattern)', () => {
    const listed = execFileSync(program, ['--list'], { encoding: 'utf8' }).trim().split('\n').sort();
    const found = testFiles.flatMap((f) => [...fs.readFileSync(path.join(CPP_DIR, f), 'utf8').matchAll(/^TEST\((\w+)\)/gm)].map((m) => m[1])).sort();
    assert.deepEqual(found, listed);
  });
});
