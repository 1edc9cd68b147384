/**
 * Polls until `done()` holds, or throws naming `what` once `timeoutMs` has passed. `alsoCheck` runs
 * each round before waiting again, so a caller can fail early (a peer that exited, say).
 */
export async function until(
  what: string,
  done: () => boolean,
  { timeoutMs = 10000, intervalMs = 20, alsoCheck }: { timeoutMs?: number; intervalMs?: number; alsoCheck?: () => void } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    alsoCheck?.();
    if (Date.now() > deadline) throw new Error(`gave up waiting (${timeoutMs} ms) for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
