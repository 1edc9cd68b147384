// Small helpers shared by the vhost-user tests.
import * as assert from 'node:assert/strict';
import { Blkio, create, MemRegion, Queue } from '../../../src/lib';
import { Qsd } from '../../support/qsd';
import { DRIVER } from './target';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export { complete, completeOk } from '../../support/completions';

export type Props = Record<string, string | number | boolean>;

function setAll(b: Blkio, props: Props): void {
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === 'boolean') b.setBool(k, v);
    else b.setStr(k, String(v));
  }
}

/** create + path + created-state props + connect + connected-state props. */
export function connectTo(qsd: Qsd, created: Props = {}, connected: Props = {}): Blkio {
  const b = create(DRIVER);
  try {
    b.setStr('path', qsd.socket);
    setAll(b, created);
    b.connect();
    setAll(b, connected);
    return b;
  } catch (e) {
    b.destroy();
    throw e;
  }
}

export interface Device {
  b: Blkio;
  region: MemRegion;
  /** A view of the mapped region. */
  view(offset: number, length: number): Uint8Array;
  queue(i: number): Queue;
}

/** Starts b and maps one region of regionSize bytes. */
export function startDevice(b: Blkio, regionSize = 4 * MiB): Device {
  b.start();
  const region = b.allocMemRegion(regionSize);
  b.mapMemRegion(region);
  return {
    b,
    region,
    view: (offset, length) => new Uint8Array(region.buffer, offset, length),
    queue: (i) => {
      const q = b.getQueue(i);
      assert.ok(q, `queue ${i} exists`);
      return q;
    },
  };
}
