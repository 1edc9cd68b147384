// AbortSignal support for the Promise layer. A request aborted before it
// reaches the device is never issued; one already submitted cannot be taken
// back from the device by any of the drivers (a block request, once in a
// virtqueue or an io_uring, runs to completion), so its Promise rejects
// when the device is done with the buffer: the caller may then reuse it.
import { BlkioError, invalidArgument } from '../errors';

const ECANCELED = 125;

/**
 * What a request rejects with when its `signal` aborts: `name` is
 * 'AbortError' and `code` 'ABORT_ERR', as in Node's own APIs, and `cause`
 * is the signal's reason. A BlkioError with errno -ECANCELED.
 */
export class AbortError extends BlkioError {
  constructor(cause: unknown) {
    super('the operation was aborted', ECANCELED);
    this.name = 'AbortError';
    Object.defineProperty(this, 'code', { value: 'ABORT_ERR', enumerable: true });
    Object.defineProperty(this, 'cause', { value: cause, writable: true, configurable: true });
  }
}

/** Checks an options object's `signal` (absent, or an AbortSignal). */
export function checkSignal(signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) invalidArgument('options.signal must be an AbortSignal');
  return signal;
}

/** Throws AbortError if the signal has aborted already. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(signal.reason);
}

/**
 * Calls onAbort once if the signal aborts; returns the function that stops
 * listening (call it when the request settles).
 */
export function onAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return noop;
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

function noop(): void {}
