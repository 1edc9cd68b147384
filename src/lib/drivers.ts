import { addon } from './native/addon';

/**
 * The drivers this package's addon has, in libblkio's spelling
 * (`io_uring`, `nvme-io_uring`, `virtio-blk-vhost-user`, …). Any other name
 * reaches a libblkio library through koffi (see {@link CreateOptions}).
 */
export function builtinDrivers(): string[] {
  return [...addon.driverNames];
}
