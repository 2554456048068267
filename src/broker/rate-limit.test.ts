import { describe, expect, it } from '@jest/globals';
import { PerKeyRateLimiter } from './rate-limit.ts';

describe('PerKeyRateLimiter', () => {
  it('allows a burst, then one per refill interval, per key', () => {
    const limiter = new PerKeyRateLimiter({ burst: 3, perSecond: 2 });
    const t = 1_000_000;
    expect([limiter.take('a', t), limiter.take('a', t), limiter.take('a', t)]).toEqual([0, 0, 0]);
    expect(limiter.take('a', t)).toBe(1);
    // Another pod is not affected.
    expect(limiter.take('b', t)).toBe(0);
    // Half a second refills one token at 2/s.
    expect(limiter.take('a', t + 500)).toBe(0);
    expect(limiter.take('a', t + 500)).toBe(1);
  });

  it('forgets idle keys, which come back with a full burst', () => {
    const limiter = new PerKeyRateLimiter({ burst: 1, perSecond: 0.001, idleMs: 1000 });
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 10)).toBeGreaterThan(0);
    expect(limiter.take('a', 5000)).toBe(0);
  });
});
