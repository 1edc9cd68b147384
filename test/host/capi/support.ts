// Where this project's libblkio C ABI build lives, and how a C program
// written for libblkio is built against it: gcc plus `pkg-config blkio`,
// exactly as an outside consumer would.
import { execFileSync, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Target } from '../../support/target';
import { BUILD_DIR as GYP_BUILD_DIR, REPO_ROOT } from '../../support/paths';
import type { CreateOptions } from '../../../src/lib';

export const ROOT = REPO_ROOT;
/**
 * The directory whose libblkio.so.1 the tests run: $BLKIO_TEST_LIBBLKIO_DIR
 * when set (the sanitizer build, test/host/sanitizer), else node-gyp's build.
 */
export const BUILD_DIR = process.env.BLKIO_TEST_LIBBLKIO_DIR || GYP_BUILD_DIR;
/** The shared library the koffi tests load. */
export const LIBRARY = path.join(BUILD_DIR, 'libblkio.so.1');

/** The two ways into the same core: the N-API addon, and libblkio.so.1 through koffi. */
export const ADDON_AND_LIBRARY: { name: string; options: CreateOptions }[] = [
  { name: 'the addon', options: {} },
  { name: 'libblkio.so.1 through koffi', options: { library: LIBRARY } },
];
/** Holds blkio.pc (next to blkio.h). */
export const PKG_CONFIG_DIR = path.join(ROOT, 'addon', 'capi');

/** `pkg-config --cflags --libs blkio` with the repo's blkio.pc. */
export function pkgConfigFlags(): string[] {
  const out = execFileSync('pkg-config', ['--cflags', '--libs', 'blkio'], {
    env: { ...process.env, PKG_CONFIG_PATH: PKG_CONFIG_DIR },
    encoding: 'utf8',
  });
  return out.trim().split(/\s+/);
}

/** Compiles test/c/<name>.c into dir and returns the executable's path. */
export function compileC(name: string, dir: string): string {
  const source = path.join(ROOT, 'test', 'c', `${name}.c`);
  const exe = path.join(dir, name);
  execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', source, ...pkgConfigFlags(), '-o', exe], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return exe;
}

export interface RunResult {
  status: number | null;
  output: string;
}

/** Runs a compiled program with the library on its search path. */
export function runC(exe: string, args: string[], timeoutMs = 120000): RunResult {
  const r = spawnSync(exe, args, {
    env: { ...process.env, LD_LIBRARY_PATH: BUILD_DIR },
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The same target, reached through the libblkio driver (koffi). */
export function throughLibrary(target: Target): Target {
  return { ...target, driver: `libblkio:${target.driver}`, description: `${target.description}, through koffi` };
}

/** Runs fn's tests with $BLKIO_LIBRARY naming this project's library. */
export function withProjectLibrary(fn: () => void): void {
  let saved: string | undefined;
  before(() => {
    saved = process.env.BLKIO_LIBRARY;
    process.env.BLKIO_LIBRARY = LIBRARY;
  });
  after(() => {
    if (saved === undefined) delete process.env.BLKIO_LIBRARY;
    else process.env.BLKIO_LIBRARY = saved;
  });
  fn();
}
