// What the shared behavioural suite needs to know about a driver's target.
import { Blkio, create, createCompletions, MemRegion, Queue, Completion } from '../../src/lib';

export interface TargetInstance {
  /** The 'path' property. */
  path: string;
  /** Device size in bytes. */
  capacity: number;
  /** Properties to set before connect besides path (e.g. direct). */
  properties?: Record<string, string | boolean | number>;
  /** Reads bytes without the library (the backing file), or undefined if impossible. */
  readOutside?(offset: number, length: number): Promise<Buffer>;
  /** Releases the target (stops daemons, deletes files). */
  teardown(): Promise<void>;
}

export interface Target {
  driver: string;
  /** e.g. 'a regular file' */
  description: string;
  /** A fresh target whose first capacity bytes hold random data. */
  setup(opts?: { readOnly?: boolean }): Promise<TargetInstance>;
}

/** A started instance with one mapped region, as most tests want. */
export interface Started {
  b: Blkio;
  q: Queue;
  region: MemRegion;
  /** A view of the region: the buffer for requests. */
  view(offset: number, length: number): Uint8Array;
  completions: Completion[];
  /** doIo until n completions arrived (with a 10 s bound); returns them. */
  complete(n: number): Completion[];
}

export function createConnected(target: Target, t: TargetInstance, props: Record<string, string | boolean | number> = {}): Blkio {
  const b = create(target.driver);
  b.setStr('path', t.path);
  for (const [k, v] of Object.entries({ ...t.properties, ...props })) {
    if (typeof v === 'boolean') b.setBool(k, v);
    else b.setStr(k, String(v));
  }
  b.connect();
  return b;
}

export function startWithRegion(b: Blkio, regionSize = 1 << 20): Started {
  b.start();
  const q = b.getQueue(0)!;
  const align = Number(b.getUint64('mem-region-alignment'));
  const size = Math.ceil(regionSize / Math.max(align, 4096)) * Math.max(align, 4096);
  const region = b.allocMemRegion(size);
  b.mapMemRegion(region);
  const completions = createCompletions(1024);
  return {
    b,
    q,
    region,
    completions,
    view: (offset, length) => new Uint8Array(region.buffer, offset, length),
    complete(n: number): Completion[] {
      const got: Completion[] = [];
      while (got.length < n) {
        const k = q.doIo(completions, 1, Math.min(completions.length, n - got.length), 10e9);
        for (let i = 0; i < k; i++) got.push(Object.assign(new Completion(), completions[i]));
      }
      return got;
    },
  };
}

/**
 * Reaps until `total` requests (userData 0 … total-1) have completed and
 * asserts that each completed exactly once, successfully, and nothing more.
 */
export function expectEachCompletesOnce(q: Queue, total: number, completions: Completion[] = createCompletions(64)): void {
  const counts = new Array<number>(total).fill(0);
  let done = 0;
  while (done < total) {
    const n = q.doIo(completions, 1, completions.length, 10e9);
    for (let i = 0; i < n; i++) {
      if (completions[i].ret !== 0) throw new Error(`request ${String(completions[i].userData)} failed: ${completions[i].errorMsg}`);
      counts[completions[i].userData as number]++;
    }
    done += n;
  }
  if (!counts.every((c) => c === 1)) throw new Error('a request completed more than once or not at all');
  if (q.doIo(completions, 0, completions.length) !== 0) throw new Error('completions beyond the requests enqueued');
}
