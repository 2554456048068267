// A keyed work queue with client-go's guarantees: a key waiting in the queue
// is there once however often it is added; a key is never handed to two
// workers at once (added while being processed, it comes back once the
// worker is done); delayed adds wait in a timer, the earliest one wins.
import type { RateLimiter } from './rate-limiter.ts';

/** The longest delay Node's timers take. */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export class WorkQueue<K> {
  private readonly queue: K[] = [];
  private readonly queued = new Set<K>();
  private readonly processing = new Set<K>();
  /** Added while processing: requeued when done. */
  private readonly dirty = new Set<K>();
  private readonly delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: K | undefined) => void> = [];
  private readonly limiter: RateLimiter<K>;
  private shuttingDown = false;

  constructor(limiter: RateLimiter<K>) {
    this.limiter = limiter;
  }

  add(key: K): void {
    if (this.shuttingDown) return;
    this.cancelDelayed(key);
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Adds the key after `delayMs`, unless an earlier add is already due. */
  addAfter(key: K, requestedMs: number): void {
    if (this.shuttingDown) return;
    if (requestedMs <= 0) return this.add(key);
    // setTimeout fires at once for more than 2^31-1 ms (24.8 days): a yearly
    // schedule would then be reconciled in a loop. Waking early is harmless:
    // the reconciler asks again for the time still left.
    const delayMs = Math.min(requestedMs, MAX_TIMER_MS);
    const at = Date.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** Adds the key after its rate-limited backoff (it failed). */
  addRateLimited(key: K): void {
    this.addAfter(key, this.limiter.when(key));
  }

  /** Resets the key's backoff (it succeeded). */
  forget(key: K): void {
    this.limiter.forget(key);
  }

  failures(key: K): number {
    return this.limiter.failures(key);
  }

  /** The next key, waiting for one; undefined once the queue shuts down. */
  get(): Promise<K | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The worker finished with the key. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  /** Stops handing out keys; waiting workers get undefined. */
  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }

  /** Keys waiting to be processed (not counting delayed ones). */
  get length(): number {
    return this.queue.length;
  }

  private cancelDelayed(key: K): void {
    const pending = this.delayed.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.delayed.delete(key);
    }
  }
}
