// How long a key waits before it is retried: the larger of a per-key
// exponential backoff and an overall token bucket, as controller-runtime's
// default limiter does. The bucket keeps a burst of failures across many keys
// from hammering the apiserver or a store.

export interface RateLimiter<K> {
  /** The delay before `key` may be processed again after a failure. */
  when(key: K): number;
  /** Forgets the key's failures (after a success). */
  forget(key: K): void;
  failures(key: K): number;
}

export interface RateLimiterOptions {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Overall retries per second, and how many may go at once. */
  ratePerSecond: number;
  burst: number;
  now?: () => number;
}

export const DEFAULT_RATE_LIMITS: RateLimiterOptions = {
  baseDelayMs: 5,
  maxDelayMs: 5 * 60_000,
  ratePerSecond: 10,
  burst: 100,
};

export class DefaultRateLimiter<K> implements RateLimiter<K> {
  private readonly options: RateLimiterOptions;
  private readonly now: () => number;
  private readonly counts = new Map<K, number>();
  private tokens: number;
  private last: number;

  constructor(options: Partial<RateLimiterOptions> = {}) {
    this.options = { ...DEFAULT_RATE_LIMITS, ...options };
    this.now = this.options.now ?? Date.now;
    this.tokens = this.options.burst;
    this.last = this.now();
  }

  when(key: K): number {
    const failures = this.counts.get(key) ?? 0;
    this.counts.set(key, failures + 1);
    const backoff = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** failures);
    return Math.max(backoff, this.bucketDelay());
  }

  forget(key: K): void {
    this.counts.delete(key);
  }

  failures(key: K): number {
    return this.counts.get(key) ?? 0;
  }

  /** Takes a token, possibly one not yet earned: the wait until it is. */
  private bucketDelay(): number {
    const now = this.now();
    const { ratePerSecond, burst } = this.options;
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * ratePerSecond);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / ratePerSecond) * 1000);
  }
}
