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

// One 'abort' listener per signal, whatever the number of requests using
// it (many listeners on one AbortSignal make Node warn of a leak); removed
// when the last of them settles.
interface Watch {
  readonly callbacks: Set<() => void>;
  readonly listener: () => void;
}
const watched = new Map<AbortSignal, Watch>();

/**
 * Calls onAbort once if the signal aborts; returns the function that stops
 * watching (call it when the request settles).
 */
export function onAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (!signal) return noop;
  let watch = watched.get(signal);
  if (!watch) {
    const callbacks = new Set<() => void>();
    const listener = (): void => {
      watched.delete(signal);
      for (const callback of callbacks) callback();
    };
    watch = { callbacks, listener };
    watched.set(signal, watch);
    signal.addEventListener('abort', listener, { once: true });
  }
  const current = watch;
  current.callbacks.add(onAbort);
  return () => {
    current.callbacks.delete(onAbort);
    if (current.callbacks.size > 0 || watched.get(signal) !== current) return;
    watched.delete(signal);
    signal.removeEventListener('abort', current.listener);
  };
}

function noop(): void {}
