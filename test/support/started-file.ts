// A started io_uring device on a fresh random file for each test (mocha
// hooks), for suites that exercise one queue.
import * as fs from 'node:fs';
import { Blkio, create, Queue } from '../../src/lib';
import { randomFile, tempDir } from './files';

export interface StartedFile {
  readonly dir: string;
  readonly file: string;
  readonly b: Blkio;
  readonly q: Queue;
}

/** Registers beforeEach/afterEach; read the fields inside tests. */
export function startedFileEachTest(size = 1 << 20): StartedFile {
  const ctx = {} as { dir: string; file: string; b: Blkio; q: Queue };
  beforeEach(() => {
    ctx.dir = tempDir();
    ctx.file = randomFile(size, ctx.dir);
    ctx.b = create('io_uring');
    ctx.b.setStr('path', ctx.file);
    ctx.b.connect();
    ctx.b.start();
    ctx.q = ctx.b.getQueue(0)!;
  });
  afterEach(() => {
    ctx.b.destroy();
    fs.rmSync(ctx.dir, { recursive: true, force: true });
  });
  return ctx;
}
