// After a vhost-user backend dies, Promise requests fail at once with the
// device's error, and nothing is allocated per request and left behind.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { BlkioError, open } from '../../../src/lib';
import { Qsd } from '../../support/qsd';

const openFds = () => fs.readdirSync('/proc/self/fd').length;
// Regions are memfds named blkio-buf: count their mappings and open fds.
const regionMappings = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.includes('blkio-buf')).length;
const regionFds = () =>
  fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).includes('blkio-buf');
    } catch {
      return false; // closed meanwhile (the readdir fd itself)
    }
  }).length;

describe('Promise requests after the vhost-user backend died', function () {
  this.timeout(60_000);
  let qsd: Qsd;
  beforeEach(async () => (qsd = await Qsd.start()));
  afterEach(async () => qsd.dispose());

  it('fail with the device error and leak no region or fd, over many requests', async () => {
    const dev = await open({ driver: 'virtio-blk-vhost-user', path: qsd.socket });
    await qsd.kill('SIGKILL');
    const fds = openFds();
    const mappings = regionMappings();
    const regions = regionFds();
    const errors = new Set<string>();
    for (let i = 0; i < 64; i++) {
      await assert.rejects(dev.read({ buffer: Buffer.alloc(4096), position: 0 }), (e: unknown) => {
        assert.ok(e instanceof BlkioError, String(e));
        errors.add(e.code);
        return true;
      });
    }
    assert.deepEqual([...errors].filter((c) => !['EIO', 'ENODEV', 'ENOTCONN', 'EPIPE', 'ECONNRESET'].includes(c)), []);
    assert.equal(errors.size, 1, `one error for every request: ${[...errors]}`);
    assert.equal(regionMappings(), mappings, 'no region mapping is left per request');
    assert.equal(regionFds(), regions, 'no region fd is left per request');
    assert.ok(openFds() <= fds, `open fds went from ${fds} to ${openFds()}`);
    await dev.close({ timeoutMs: 1000 });
  });

  it('open() fails with the connection error and leaks nothing, over many attempts', async () => {
    await qsd.kill('SIGKILL'); // the socket file stays, nobody listens
    const fds = openFds();
    const mappings = regionMappings();
    for (let i = 0; i < 32; i++) {
      await assert.rejects(open({ driver: 'virtio-blk-vhost-user', path: qsd.socket }), (e: unknown) => {
        assert.ok(e instanceof BlkioError, String(e));
        assert.equal(e.code, 'ECONNREFUSED', e.message);
        return true;
      });
    }
    assert.equal(regionMappings(), mappings, 'no region mapping is left');
    assert.ok(openFds() <= fds, `open fds went from ${fds} to ${openFds()}`);
  });
});
