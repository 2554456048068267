import { describe, expect, it } from '@jest/globals';
import { runNowJobName, runNowToken } from './run.ts';

describe('run-now', () => {
  it('makes a new token each time, starting with when it was asked for', () => {
    const now = new Date('2025-06-01T12:00:00Z');
    const first = runNowToken(now);
    expect(first).toMatch(/^2025-06-01T12:00:00\.000Z-[0-9a-f]{8}$/);
    expect(runNowToken(now)).not.toBe(first);
  });

  it('names the Job as the controller does: the schedule (up to 40 characters), -now-, a hash of the token', () => {
    expect(runNowJobName('nightly', 'first')).toMatch(/^nightly-now-[0-9a-f]{10}$/);
    expect(runNowJobName('nightly', 'first')).toBe(runNowJobName('nightly', 'first'));
    expect(runNowJobName('nightly', 'second')).not.toBe(runNowJobName('nightly', 'first'));
    expect(runNowJobName('a'.repeat(60), 't')).toMatch(new RegExp(`^${'a'.repeat(40)}-now-`));
  });
});
