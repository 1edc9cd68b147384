// The addon's internal functions are reachable by anyone who loads the .node
// file: its fd-watch handles must refuse foreign and stale values.
import { addon, FdWatch } from '../../../src/lib/native/addon';
import { expectCode } from '../../shared/behaviour';
import { startedFileEachTest } from '../../support/started-file';

describe('addon fd-watch handles', () => {
  const started = startedFileEachTest(1 << 16);

  it('watchFdRef and unwatchFd refuse anything but a handle from watchFd (EINVAL)', () => {
    for (const bogus of [{}, null, 42, 'x', new Uint8Array(8)])
      expectCode(() => addon.watchFdRef(bogus as unknown as FdWatch, true), 'EINVAL');
    expectCode(() => addon.unwatchFd({} as FdWatch), 'EINVAL');
  });

  it('a handle used after unwatchFd is EINVAL, not a dangling watcher', () => {
    const handle = addon.watchFd(started.q.completionFd, () => {});
    addon.unwatchFd(handle);
    expectCode(() => addon.unwatchFd(handle), 'EINVAL');
    expectCode(() => addon.watchFdRef(handle, true), 'EINVAL');
  });

  it('watchFd refuses arguments of the wrong types (EINVAL)', () => {
    expectCode(() => addon.watchFd('3' as unknown as number, () => {}), 'EINVAL');
    expectCode(() => addon.watchFd(started.q.completionFd, null as unknown as () => void), 'EINVAL');
  });
});
