// Real files and loop devices for tests.
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Target, TargetInstance } from './target';

export function tempDir(prefix = 'blkio-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A temp file of size random bytes. */
export function randomFile(size: number, dir = tempDir()): string {
  const file = path.join(dir, 'disk.img');
  fs.writeFileSync(file, crypto.randomBytes(size));
  return file;
}

export function readFileRange(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

export function attachLoop(file: string, readOnly = false): string {
  const args = ['--find', '--show', ...(readOnly ? ['--read-only'] : []), file];
  return execFileSync('losetup', args, { encoding: 'utf8' }).trim();
}

export function detachLoop(dev: string): void {
  execFileSync('losetup', ['--detach', dev]);
}

const SIZE = 16 << 20;

export const regularFile: Target = {
  driver: 'io_uring',
  description: 'a regular file',
  async setup(): Promise<TargetInstance> {
    const dir = tempDir();
    const file = randomFile(SIZE, dir);
    return {
      path: file,
      capacity: SIZE,
      readOutside: async (offset, length) => readFileRange(file, offset, length),
      teardown: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  },
};

export const loopDevice: Target = {
  driver: 'io_uring',
  description: 'a loop block device',
  async setup(): Promise<TargetInstance> {
    const dir = tempDir();
    const file = randomFile(SIZE, dir);
    const dev = attachLoop(file);
    return {
      path: dev,
      capacity: SIZE,
      readOutside: async (offset, length) => readFileRange(dev, offset, length),
      teardown: async () => {
        detachLoop(dev);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

/** A loop device opened with O_DIRECT: fixed size and request-alignment > 1 at once. */
export const directLoopDevice: Target = {
  driver: 'io_uring',
  description: 'a loop block device with O_DIRECT',
  async setup(): Promise<TargetInstance> {
    const t = await loopDevice.setup();
    return { ...t, properties: { direct: true } };
  },
};

export const directFile: Target = {
  driver: 'io_uring',
  description: 'a regular file with O_DIRECT',
  async setup(): Promise<TargetInstance> {
    const t = await regularFile.setup();
    return { ...t, properties: { direct: true } };
  },
};
