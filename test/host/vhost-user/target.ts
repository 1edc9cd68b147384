// vhost-user targets for the shared behavioural suite: a qemu-storage-daemon
// export per test, on a raw image (readable from outside) or a qcow2 one.
import { readFileRange } from '../../support/files';
import { ImageFormat, Qsd, QsdOptions } from '../../support/qsd';
import { Target, TargetInstance } from '../../support/target';

export const DRIVER = 'virtio-blk-vhost-user';

export function qsdTarget(format: ImageFormat, extra: QsdOptions = {}): Target {
  return {
    driver: DRIVER,
    description: `qemu-storage-daemon (${format} image${extra.numQueues ? `, ${extra.numQueues} queues` : ''})`,
    async setup(opts?: { readOnly?: boolean }): Promise<TargetInstance> {
      const qsd = await Qsd.start({ format, writable: !opts?.readOnly, ...extra });
      return {
        path: qsd.socket,
        capacity: qsd.size,
        // A raw image is the device's content (qsd writes through the page
        // cache); qcow2 metadata may still sit in qsd's memory.
        readOutside: format === 'raw' ? async (offset, length) => readFileRange(qsd.image, offset, length) : undefined,
        teardown: () => qsd.dispose(),
      };
    },
  };
}
