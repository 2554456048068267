import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from '@jest/globals';
import { DefaultRateLimiter } from './rate-limiter.ts';
import { WorkQueue } from './workqueue.ts';

const queue = () => new WorkQueue<string>(new DefaultRateLimiter({ baseDelayMs: 10, maxDelayMs: 1000 }));

describe('WorkQueue', () => {
  it('merges duplicate adds of a waiting key', async () => {
    const q = queue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.length).toBe(2);
    expect([await q.get(), await q.get()]).toEqual(['a', 'b']);
  });

  it('never hands one key to two workers; an add while processing comes back after done', async () => {
    const q = queue();
    q.add('a');
    const first = await q.get();
    q.add('a');
    q.add('a');
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await sleep(5);
    expect(second).toBeUndefined();
    q.done(first!);
    await sleep(0);
    expect(second).toBe('a');
  });

  it('hands a key to a waiting worker at once', async () => {
    const q = queue();
    const next = q.get();
    q.add('x');
    expect(await next).toBe('x');
  });

  it('delays addAfter, keeping the earliest pending time', async () => {
    const q = queue();
    q.addAfter('a', 200);
    q.addAfter('a', 20);
    q.addAfter('a', 500);
    const started = Date.now();
    expect(await q.get()).toBe('a');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(15);
    expect(waited).toBeLessThan(190);
  });

  it('waits on a delay longer than a timer can hold instead of firing at once', async () => {
    const q = queue();
    // Next January's run, 300 days away: beyond setTimeout's 2^31-1 ms.
    q.addAfter('yearly', 300 * 86_400_000);
    const first = await Promise.race([q.get(), sleep(100).then(() => 'nothing yet')]);
    expect(first).toBe('nothing yet');
    q.shutdown();
  });

  it('backs off a failing key exponentially and forgets after success', () => {
    const limiter = new DefaultRateLimiter<string>({ baseDelayMs: 10, maxDelayMs: 100, burst: 1000 });
    expect([limiter.when('a'), limiter.when('a'), limiter.when('a'), limiter.when('a')]).toEqual([10, 20, 40, 80]);
    expect(limiter.when('a')).toBe(100);
    expect(limiter.when('b')).toBe(10);
    expect(limiter.failures('a')).toBe(5);
    limiter.forget('a');
    expect(limiter.when('a')).toBe(10);
  });

  it('limits retries overall with a token bucket', () => {
    let now = 0;
    const limiter = new DefaultRateLimiter<string>({ baseDelayMs: 1, ratePerSecond: 10, burst: 2, now: () => now });
    expect(limiter.when('a')).toBe(1);
    expect(limiter.when('b')).toBe(1);
    // The bucket is empty: the third retry waits for a token (100 ms at 10/s).
    expect(limiter.when('c')).toBe(100);
    expect(limiter.when('d')).toBe(200);
    now = 1000;
    expect(limiter.when('e')).toBe(1);
  });

  it('answers waiting workers with undefined on shutdown and ignores later adds', async () => {
    const q = queue();
    const waiting = q.get();
    q.addAfter('late', 10);
    q.shutdown();
    expect(await waiting).toBeUndefined();
    q.add('a');
    expect(await q.get()).toBeUndefined();
  });
});
