// QD32 writers through the Promise layer, shared by the benchmarks that time
// a Device while something happens to its backend: 4 KiB writes at random
// offsets of a 64 MiB image, one async worker per request in flight.
import { Device, open, OpenOptions } from '../src/lib';

export const QD = 32;
export const BS = 4096;
export const SIZE = 64 << 20;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Writers {
  /** Stops issuing and waits for the writes in flight. */
  stop(): Promise<void>;
  /** Writes completed so far. */
  done(): number;
  /** performance.now() of the last completion. */
  lastCompletion(): number;
}

export function startWriters(dev: Device): Writers {
  let stopped = false;
  let done = 0;
  let last = performance.now();
  const one = async (): Promise<void> => {
    const buf = Buffer.alloc(BS, 0xa5);
    while (!stopped) {
      await dev.write(buf, 0, BS, Math.floor(Math.random() * (SIZE / BS)) * BS);
      done++;
      last = performance.now();
    }
  };
  const all = Promise.all([...Array(QD).keys()].map(() => one()));
  return {
    stop: async () => {
      stopped = true;
      await all;
    },
    done: () => done,
    lastCompletion: () => last,
  };
}

/** IOPS of the writers on a device opened with options, after 200 ms of warm-up. */
export async function writeIops(options: OpenOptions, seconds: number): Promise<number> {
  const dev = await open(options);
  const w = startWriters(dev);
  await sleep(200);
  const before = w.done();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const n = w.done() - before;
  const elapsed = (performance.now() - t0) / 1000;
  await w.stop();
  await dev.close();
  return n / elapsed;
}
