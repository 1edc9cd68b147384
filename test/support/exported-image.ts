// A raw image in a temp dir, exported by a real qemu-storage-daemon over
// vhost-user, fresh for each test of the describe block that calls this;
// the device a test opens on it is closed after the test.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Device } from '../../src/lib';
import { tempDir } from './files';
import { createRawImage, Qsd } from './qsd';

export interface ExportedImage {
  dir: string;
  image: string;
  qsd: Qsd;
  /** Set by the test; closed after it. */
  dev: Device | undefined;
}

export function useExportedImage(size: number): ExportedImage {
  const t = { dev: undefined } as ExportedImage;
  beforeEach(async () => {
    t.dir = tempDir('blkio-switch-');
    t.image = createRawImage(path.join(t.dir, 'disk.raw'), size);
    t.qsd = await Qsd.start({ image: t.image, dir: t.dir });
  });
  afterEach(async () => {
    await t.dev?.close();
    t.dev = undefined;
    await t.qsd.dispose();
    fs.rmSync(t.dir, { recursive: true, force: true });
  });
  return t;
}
