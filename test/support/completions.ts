// Waiting for completions in tests: bounded, and copying what doIo filled
// (its array is reused between calls).
import * as assert from 'node:assert/strict';
import { Completion, createCompletions, Queue } from '../../src/lib';

/** doIo until n completions arrived (bounded by timeoutMs overall); copies of them. */
export function complete(q: Queue, n: number, timeoutMs = 10000): Completion[] {
  const got: Completion[] = [];
  const buf = createCompletions(Math.max(n, 1));
  const deadline = Date.now() + timeoutMs;
  while (got.length < n) {
    const left = Math.max(deadline - Date.now(), 0);
    const k = q.doIo(buf, 1, n - got.length, left * 1e6);
    for (let i = 0; i < k; i++) got.push(Object.assign(new Completion(), buf[i]));
  }
  return got;
}

/** Completes n requests and checks that all succeeded. */
export function completeOk(q: Queue, n: number): Completion[] {
  const got = complete(q, n);
  for (const c of got) assert.equal(c.ret, 0, `${String(c.userData)}: ${c.errorMsg}`);
  return got;
}
