// One driver list: the addon's registry (addon/drivers/registry.cc). The
// public type, blkbench's engines and the docs must name exactly those.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { builtinDrivers } from '../../src/lib';
import { DRIVERS } from '../../src/blkbench/options';
import { REPO_ROOT } from '../support/paths';

const registry = builtinDrivers().sort();

// The first backticked cell of each row of the first table whose header starts with "| driver".
function driverTable(file: string): string[] {
  const lines = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^\| driver \|/.test(l));
  assert.ok(start >= 0, `${file} has no driver table`);
  const names: string[] = [];
  for (const line of lines.slice(start + 2)) {
    const m = /^\| `([^`]+)` \|/.exec(line);
    if (!m) break;
    names.push(m[1]);
  }
  return names.sort();
}

describe('the driver list', () => {
  it('the registry has the five libblkio drivers', () => {
    assert.deepEqual(registry, ['io_uring', 'nvme-io_uring', 'virtio-blk-vfio-pci', 'virtio-blk-vhost-user', 'virtio-blk-vhost-vdpa']);
  });

  it('the DriverName type lists the registry', () => {
    const source = fs.readFileSync(path.join(REPO_ROOT, 'src/lib/names.ts'), 'utf8');
    const union = /export type DriverName =([^;]+);/.exec(source)![1];
    const literals = [...union.matchAll(/\| '([^']+)'/g)].map((m) => m[1]).sort();
    assert.deepEqual(literals, registry);
  });

  it('blkbench takes the registry as its engines', () => {
    assert.deepEqual([...DRIVERS].sort(), registry);
  });

  it("the README's driver table lists the registry", () => {
    assert.deepEqual(driverTable('README.md'), registry);
  });

  it("docs/drivers.md's driver table lists the registry", () => {
    assert.deepEqual(driverTable('docs/drivers.md'), registry);
  });
});
