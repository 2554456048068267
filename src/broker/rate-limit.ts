// Per-pod token buckets: a pod's agent asks once per connection at start and
// again near expiry, so a burst of `burst` then `perSecond` is plenty; more is
// a loop or an attack, and is answered 429 before any work is done.
export interface RateLimitOptions {
  burst: number;
  perSecond: number;
  /** Buckets idle this long are forgotten (they would be full again anyway). */
  idleMs?: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export class PerKeyRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly options: Required<RateLimitOptions>;
  private lastSweep = 0;

  constructor(options: RateLimitOptions) {
    this.options = { idleMs: 5 * 60_000, ...options };
  }

  /** Takes a token for `key`; returns 0 when allowed, else the seconds until one is available. */
  take(key: string, now = Date.now()): number {
    this.sweep(now);
    const { burst, perSecond } = this.options;
    const bucket = this.buckets.get(key) ?? { tokens: burst, updated: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.updated) / 1000) * perSecond);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - bucket.tokens) / perSecond);
  }

  private sweep(now: number): void {
    if (now - this.lastSweep < this.options.idleMs) return;
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (now - bucket.updated > this.options.idleMs) this.buckets.delete(key);
  }
}
