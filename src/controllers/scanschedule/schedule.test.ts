import { describe, expect, it } from '@jest/globals';
import { dueRuns, jobName, parseSchedule, Schedule } from './schedule.ts';

const iso = (d: Date | undefined) => d?.toISOString();
const nexts = (s: Schedule, from: string, n: number) => {
  const out: string[] = [];
  let t = new Date(from);
  for (let i = 0; i < n; i++) {
    t = s.next(t)!;
    out.push(t.toISOString());
  }
  return out;
};

describe('Schedule', () => {
  it('fires at the right minute in UTC', () => {
    expect(nexts(new Schedule('30 2 * * *'), '2026-11-23T02:29:59Z', 2)).toEqual([
      '2026-11-23T02:30:00.000Z',
      '2026-11-24T02:30:00.000Z',
    ]);
    expect(nexts(new Schedule('*/15 * * * 1-5'), '2026-11-20T23:50:00Z', 2)).toEqual([
      '2026-11-23T00:00:00.000Z',
      '2026-11-23T00:15:00.000Z',
    ]);
    expect(nexts(new Schedule('@hourly'), '2026-11-23T10:00:00Z', 1)).toEqual(['2026-11-23T11:00:00.000Z']);
  });

  it('reads the wall clock of the time zone', () => {
    // 02:30 in Berlin is 01:30 UTC in winter and 00:30 UTC in summer.
    expect(nexts(new Schedule('30 2 * * *', 'Europe/Berlin'), '2026-11-23T00:00:00Z', 1)).toEqual([
      '2026-11-23T01:30:00.000Z',
    ]);
    expect(nexts(new Schedule('30 2 * * *', 'Europe/Berlin'), '2026-07-01T00:00:00Z', 1)).toEqual([
      '2026-07-01T00:30:00.000Z',
    ]);
  });

  it('runs a time skipped by the spring change once, right after the change', () => {
    // 2026-03-29: Berlin jumps from 02:00 to 03:00; 02:30 does not exist.
    expect(nexts(new Schedule('30 2 * * *', 'Europe/Berlin'), '2026-03-28T12:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z', // 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it('runs a time repeated by the autumn change once', () => {
    // 2026-10-25: Berlin goes back from 03:00 to 02:00; 02:30 happens twice.
    expect(nexts(new Schedule('30 2 * * *', 'Europe/Berlin'), '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30:00.000Z', // the first 02:30 (CEST)
      '2026-10-26T01:30:00.000Z',
    ]);
    // An hourly schedule keeps one run per real hour through the change.
    expect(nexts(new Schedule('0 * * * *', 'Europe/Berlin'), '2026-10-24T23:30:00Z', 3)).toEqual([
      '2026-10-25T00:00:00.000Z',
      '2026-10-25T01:00:00.000Z',
      '2026-10-25T02:00:00.000Z',
    ]);
  });

  it('matches either day field when both are restricted, like CronJob', () => {
    expect(nexts(new Schedule('0 0 13 * 5'), '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-02T00:00:00.000Z', // a Friday
      '2026-01-09T00:00:00.000Z', // a Friday
      '2026-01-13T00:00:00.000Z', // the 13th
    ]);
  });

  it('refuses an expression or zone it cannot use', () => {
    expect(() => new Schedule('0 0 31 2 *x')).toThrow();
    expect(() => new Schedule('0 3 * * *', 'Mars/Olympus_Mons')).toThrow();
  });
});

describe('dueRuns', () => {
  const every5 = new Schedule('*/5 * * * *');

  it('finds nothing before the next time', () => {
    expect(dueRuns(every5, new Date('2026-11-23T10:00:00Z'), new Date('2026-11-23T10:04:59Z'))).toEqual({ skipped: 0 });
  });

  it('returns the newest due time and counts the older ones as skipped, not to replay', () => {
    // A 10-minute outage: 10:05 and 10:10 passed unseen.
    const due = dueRuns(every5, new Date('2026-11-23T10:00:00Z'), new Date('2026-11-23T10:11:30Z'));
    expect(iso(due.latest)).toBe('2026-11-23T10:10:00.000Z');
    expect(due.skipped).toBe(1);
  });

  it('stays bounded after a very long outage and still finds the newest time', () => {
    const due = dueRuns(every5, new Date('2026-01-01T00:00:00Z'), new Date('2026-11-23T10:12:00Z'), 100);
    expect(iso(due.latest)).toBe('2026-11-23T10:10:00.000Z');
    expect(due.skipped).toBe(99);
  });
});

describe('jobName', () => {
  it('derives the name from the scheduled minute, the same on every manager', () => {
    const t = new Date('2026-11-23T02:30:00Z');
    expect(jobName('nightly-compliance', t)).toBe(`nightly-compliance-${t.getTime() / 60_000}`);
    expect(jobName('nightly-compliance', new Date(t.getTime() + 59_000))).toBe(jobName('nightly-compliance', t));
  });

  it('stays a valid 63-character name for long schedule names', () => {
    const name = jobName('x'.repeat(253), new Date('2026-11-23T02:30:00Z'));
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(/^x+-\d+$/);
  });
});

describe('parseSchedule', () => {
  it('parses an expression and zone once and reuses it', () => {
    expect(parseSchedule('*/5 * * * *', 'Europe/Berlin')).toBe(parseSchedule('*/5 * * * *', 'Europe/Berlin'));
    expect(parseSchedule('*/5 * * * *', 'UTC')).not.toBe(parseSchedule('*/5 * * * *', 'Europe/Berlin'));
  });

  it('still refuses a bad expression or zone every time', () => {
    for (let i = 0; i < 2; i++) {
      expect(() => parseSchedule('61 * * * *')).toThrow();
      expect(() => parseSchedule('* * * * *', 'Mars/Olympus')).toThrow(RangeError);
    }
  });
});
