// The QMP client and the storage daemon helper against a real
// qemu-storage-daemon: commands, errors, events, jobs, and clean shutdown.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BlkioError, StorageDaemon } from '../../../src/lib';
import { tempDir } from '../../support/files';
import { createRawImage } from '../../support/qsd';

describe('QMP client and storage daemon helper', function () {
  this.timeout(30000);
  let dir: string;
  let image: string;
  let daemon: StorageDaemon | null;

  beforeEach(async () => {
    dir = tempDir('blkio-qmp-');
    image = createRawImage(path.join(dir, 'disk.raw'), 4 << 20, false);
    daemon = await StorageDaemon.start({ image, dir });
  });
  afterEach(async () => {
    await daemon?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs a command and returns its answer', async () => {
    const nodes = await daemon!.qmp.execute<{ 'node-name': string }[]>('query-named-block-nodes', { flat: true });
    assert.deepEqual(nodes.map((n) => n['node-name']).sort(), ['file0', 'fmt0', 'thr0']);
  });

  it('rejects a failing command with a BlkioError naming it and the daemon message', async () => {
    await assert.rejects(daemon!.qmp.execute('no-such-command'), (e: unknown) => {
      assert.ok(e instanceof BlkioError);
      assert.match(e.message, /no-such-command.*CommandNotFound/);
      return true;
    });
  });

  it('delivers events', async () => {
    const event = daemon!.qmp.waitEvent('BLOCK_EXPORT_DELETED', (e) => e.data.id === 'export0', 10000);
    await daemon!.qmp.execute('block-export-del', { id: 'export0' });
    assert.equal((await event).data.id, 'export0');
  });

  it('waits for a job to conclude', async () => {
    const qmp = daemon!.qmp;
    const target = createRawImage(path.join(dir, 'copy.raw'), 4 << 20, false);
    await qmp.execute('blockdev-add', { driver: 'raw', 'node-name': 't0', file: { driver: 'file', filename: target } });
    await qmp.execute('blockdev-backup', { 'job-id': 'j0', device: 'fmt0', target: 't0', sync: 'full', 'auto-dismiss': false });
    await qmp.waitJob('j0');
    const jobs = await qmp.execute<unknown[]>('query-jobs');
    assert.deepEqual(jobs, [], 'the concluded job was not dismissed');
  });

  it('rejects waiting for a job that does not exist', async () => {
    await assert.rejects(daemon!.qmp.waitJob('nope'), (e: unknown) => e instanceof BlkioError && /no job nope/.test(e.message));
  });

  it('stops cleanly: the process exits and the monitor is closed', async () => {
    const qmp = daemon!.qmp;
    await daemon!.stop();
    await assert.rejects(qmp.execute('query-version'), (e: unknown) => e instanceof BlkioError && e.code === 'ENOTCONN');
    assert.throws(() => daemon!.qmp, (e: unknown) => e instanceof BlkioError);
    daemon = null;
  });

  it('refuses to start for an image that does not exist', async () => {
    await assert.rejects(
      StorageDaemon.start({ image: path.join(dir, 'missing.raw') }),
      (e: unknown) => e instanceof BlkioError && e.code === 'ENOENT',
    );
  });
});
