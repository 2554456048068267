import { describe, expect, it } from '@jest/globals';
import { clampDuration } from './issue.ts';

describe('clampDuration', () => {
  it("gives the connection's session duration when nothing is asked", () => {
    expect(clampDuration(undefined, 1800)).toBe(1800);
    expect(clampDuration(undefined, undefined)).toBe(3600);
  });

  it('keeps a request within 900 s and the connection limit', () => {
    expect(clampDuration(1200, 1800)).toBe(1200);
    expect(clampDuration(7200, 1800)).toBe(1800);
    expect(clampDuration(60, 1800)).toBe(900);
  });
});
