// When a ScanSchedule's runs are due, with croner (5-field cron and @macros in
// an IANA time zone). Semantics, as tested in schedule.test.ts:
// - day-of-month and day-of-week both restricted: either matches (Vixie cron,
//   as Kubernetes CronJob);
// - a wall-clock time skipped by a DST change runs once, at the first minute
//   after the change (CronJob silently skips it);
// - a wall-clock time that occurs twice when clocks go back runs once, at its
//   first occurrence; schedules finer than the hour keep firing by the clock.
import { Cron } from 'croner';

export class Schedule {
  private readonly cron: Cron;

  constructor(expression: string, timeZone = 'UTC') {
    // Throws RangeError for a zone the runtime's time zone database lacks.
    new Intl.DateTimeFormat('en-US', { timeZone });
    // Validates as it parses: a bad expression throws here.
    this.cron = new Cron(expression, { timezone: timeZone, paused: true, legacyMode: true });
  }

  /** The first scheduled time strictly after `after`, or undefined if none comes. */
  next(after: Date): Date | undefined {
    return this.cron.nextRun(after) ?? undefined;
  }
}

const parsed = new Map<string, Schedule>();
const PARSED_KEPT = 1_000;

/**
 * The Schedule for an expression and zone, parsed once: every reconcile needs
 * one, and parsing (with the time zone check) was a visible part of a
 * reconcile's CPU time when hundreds of schedules fire together.
 */
export function parseSchedule(expression: string, timeZone = 'UTC'): Schedule {
  const key = `${timeZone} ${expression}`;
  let schedule = parsed.get(key);
  if (!schedule) {
    schedule = new Schedule(expression, timeZone);
    // Bounded: the oldest entry goes first (Maps keep insertion order).
    if (parsed.size >= PARSED_KEPT) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, schedule);
  }
  return schedule;
}

export interface DueRuns {
  /** The latest scheduled time in (since, now], if any. */
  latest?: Date;
  /** How many scheduled times in (since, now] are older than `latest`: runs that will not happen. */
  skipped: number;
}

/**
 * Scheduled times after `since` up to `now`: the newest is the one to run
 * (if it is within the starting deadline), the others are reported as missed
 * rather than replayed in a burst. Counting stops at `limit`, as CronJob does
 * after 100, to bound the work after a long outage.
 */
export function dueRuns(schedule: Schedule, since: Date, now: Date, limit = 100): DueRuns {
  let latest: Date | undefined;
  let count = 0;
  for (let t = schedule.next(since); t && t <= now; t = schedule.next(t)) {
    latest = t;
    if (++count >= limit) {
      // Skip ahead: what matters now is the newest due time, not each one.
      const newest = latestBefore(schedule, now, t);
      if (newest) latest = newest;
      break;
    }
  }
  return latest ? { latest, skipped: count - 1 } : { skipped: 0 };
}

/** The newest scheduled time ≤ now, searching forward from `from`, a day at a time back from now. */
function latestBefore(schedule: Schedule, now: Date, from: Date): Date | undefined {
  const dayMs = 86_400_000;
  for (
    let start = new Date(Math.max(from.getTime(), now.getTime() - dayMs));
    ;
    start = new Date(start.getTime() - dayMs)
  ) {
    let found: Date | undefined;
    for (let t = schedule.next(start); t && t <= now; t = schedule.next(t)) found = t;
    if (found || start <= from) return found;
  }
}

/**
 * A run's Job name: the schedule's name and the scheduled minute since the
 * epoch, as CronJob names its Jobs. The same scheduled time always gives the
 * same name, so two managers can never create one run twice.
 */
export function jobName(scheduleName: string, scheduledTime: Date): string {
  const minute = Math.floor(scheduledTime.getTime() / 60_000);
  // Job names are at most 63 characters (they become a label value).
  return `${scheduleName.slice(0, 63 - 1 - String(minute).length)}-${minute}`;
}
