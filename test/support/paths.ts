// Where things are, from compiled test code (dist-test/test/...): the
// checkout's root and the builds in it.
import * as path from 'node:path';
import { packageRoot } from '../../src/lib/native/loader';

/** The checkout's root directory. */
export const REPO_ROOT = packageRoot(__dirname);
/** The compiled tests and benchmarks, with the library sources they import. */
export const DIST_TEST = path.join(REPO_ROOT, 'dist-test');
/** The library as tests load it (dist-test/src/lib), for child processes. */
export const LIB_DIR = path.join(DIST_TEST, 'src', 'lib');
/** The published build of blkbench's command line (the package's bin). */
export const BLKBENCH_CLI = path.join(REPO_ROOT, 'dist', 'blkbench', 'cli.js');
/** node-gyp's output: the addon, libblkio.so.1. */
export const BUILD_DIR = path.join(REPO_ROOT, 'build', 'Release');
