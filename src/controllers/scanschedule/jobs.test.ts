import { describe, expect, it } from '@jest/globals';
import type { V1Job } from '@kubernetes/client-node';
import { SCHEDULE_LABEL, type ScanSchedule } from '../../api/v1alpha1/index.ts';
import { ownerKey, ScheduleJobs, type JobCache } from './jobs.ts';

const schedule = { metadata: { name: 'nightly', namespace: 'team', uid: 'ss-uid' } } as ScanSchedule;

function job(name: string, options: { schedule?: string; uid?: string; namespace?: string } = {}): V1Job {
  const owner = options.schedule ?? 'nightly';
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'team',
      labels: { [SCHEDULE_LABEL]: owner },
      ownerReferences: [
        {
          apiVersion: 'courier.dev/v1alpha1',
          kind: 'ScanSchedule',
          name: owner,
          uid: options.uid ?? 'ss-uid',
          controller: true,
        },
      ],
    },
  };
}

/** The two reads ScheduleJobs makes of an informer, over a plain array standing for its cache. */
function cacheOf(jobs: V1Job[]): JobCache {
  return {
    get: (name, namespace) => jobs.find((j) => j.metadata!.name === name && j.metadata!.namespace === namespace),
    list: (namespace) => jobs.filter((j) => !namespace || j.metadata!.namespace === namespace),
  };
}

const names = (jobs: V1Job[]) => jobs.map((j) => j.metadata!.name).sort();

describe('ScheduleJobs', () => {
  it("returns only the schedule's own Jobs: its label, its uid, its namespace", () => {
    const cache = cacheOf([
      job('mine'),
      job('other-schedule', { schedule: 'weekly' }),
      job('previous-incarnation', { uid: 'old-uid' }),
      job('elsewhere', { namespace: 'other-team' }),
    ]);
    expect(names(new ScheduleJobs(cache).owned(schedule))).toEqual(['mine']);
  });

  it('counts a Job it created before the cache shows it, exactly once after', () => {
    const cached: V1Job[] = [];
    const jobs = new ScheduleJobs(cacheOf(cached));
    jobs.observeCreated(job('run-1'));
    expect(names(jobs.owned(schedule))).toEqual(['run-1']);
    cached.push(job('run-1'));
    expect(names(jobs.owned(schedule))).toEqual(['run-1']);
  });

  it('hides a Job it deleted while the cache still holds it', () => {
    const cached = [job('run-1'), job('run-2')];
    const jobs = new ScheduleJobs(cacheOf(cached));
    jobs.observeDeleted(cached[0]!);
    expect(names(jobs.owned(schedule))).toEqual(['run-2']);
    cached.shift();
    expect(names(jobs.owned(schedule))).toEqual(['run-2']);
  });

  it('forgets what it expected after a while, trusting the cache again', () => {
    let now = 0;
    const cached = [job('run-1')];
    const jobs = new ScheduleJobs(cacheOf(cached), () => now);
    jobs.observeCreated(job('never-seen'));
    jobs.observeDeleted(cached[0]!);
    now = 31_000;
    expect(names(jobs.owned(schedule))).toEqual(['run-1']);
  });

  it("names a Job's owning schedule, and nothing for other Jobs", () => {
    expect(ownerKey(job('run-1'))).toBe('team/nightly');
    expect(ownerKey({ metadata: { name: 'plain', namespace: 'team' } })).toBeUndefined();
  });
});
