import { setTimeout as wait } from 'node:timers/promises';

/** Node's timers overflow (and fire after 1 ms) beyond this many milliseconds, about 24.8 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Waits `ms`, or rejects with `signal.reason` as soon as `signal` aborts, so
 * that a SIGTERM never waits for a backoff or a refresh timer.
 */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  const until = Date.now() + ms;
  for (let left = ms; left > 0; left = until - Date.now()) {
    signal.throwIfAborted();
    try {
      await wait(Math.min(left, MAX_TIMER_MS), undefined, { signal });
    } catch (error) {
      throw signal.aborted ? signal.reason : error;
    }
  }
  signal.throwIfAborted();
}
