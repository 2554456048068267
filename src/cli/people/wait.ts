// --wait: polls the apiserver until an outcome is known or time runs out.
// Polling (not a watch) keeps a workstation command simple and survives
// proxies that cut long-lived connections; twice a second is plenty for a
// person watching.
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_INTERVAL_MS = 500;

/** Calls `probe` until it returns a value other than undefined; undefined if `timeoutMs` passes first. */
export async function pollFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outcome = await probe();
    if (outcome !== undefined) return outcome;
    if (Date.now() + POLL_INTERVAL_MS > deadline) return undefined;
    await sleep(POLL_INTERVAL_MS);
  }
}
