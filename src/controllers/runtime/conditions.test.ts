import { describe, expect, it } from '@jest/globals';
import { isTrue, setCondition } from './conditions.ts';

const t0 = new Date('2026-11-23T10:00:00Z');
const t1 = new Date('2026-11-23T11:00:00Z');

describe('setCondition', () => {
  it('adds a condition with the generation it describes', () => {
    const conditions = setCondition(
      undefined,
      { type: 'Ready', status: 'False', reason: 'Pending', message: 'm' },
      3,
      t0,
    );
    expect(conditions).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'Pending',
        message: 'm',
        observedGeneration: 3,
        lastTransitionTime: t0,
      },
    ]);
  });

  it('keeps lastTransitionTime while the status holds, and moves it when the status changes', () => {
    const first = setCondition(undefined, { type: 'Ready', status: 'False', reason: 'A', message: 'a' }, 1, t0);
    const same = setCondition(first, { type: 'Ready', status: 'False', reason: 'B', message: 'b' }, 2, t1);
    expect(same[0]).toMatchObject({ reason: 'B', observedGeneration: 2, lastTransitionTime: t0 });
    const flipped = setCondition(same, { type: 'Ready', status: 'True', reason: 'Done', message: '' }, 2, t1);
    expect(flipped[0]!.lastTransitionTime).toEqual(t1);
    expect(isTrue(flipped, 'Ready')).toBe(true);
    expect(first[0]!.reason).toBe('A');
  });

  it('keeps one condition per type, in a stable order', () => {
    let conditions = setCondition(undefined, { type: 'Validated', status: 'True', reason: 'R', message: '' }, 1, t0);
    conditions = setCondition(conditions, { type: 'Ready', status: 'True', reason: 'R', message: '' }, 1, t0);
    conditions = setCondition(conditions, { type: 'Validated', status: 'False', reason: 'R', message: '' }, 1, t0);
    expect(conditions.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'True'],
      ['Validated', 'False'],
    ]);
  });
});
