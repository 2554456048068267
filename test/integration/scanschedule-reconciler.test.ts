// The ScanSchedule reconciler on a real apiserver, driven with an injected
// clock (the apiserver's clock is real): Jobs at the right minute with the
// opt-in label and connections, concurrency policies, run-now once per
// token, missed runs per startingDeadlineSeconds, suspend, skipped runs when
// a connection is not Ready, and two reconcilers never creating one run twice.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchV1Api, CustomObjectsApi, EventsV1Api } from '@kubernetes/client-node';
import type { ScanSchedule, ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { KubernetesEventRecorder } from '../../src/controllers/runtime/events.ts';
import type { ReconcileResult } from '../../src/controllers/runtime/controller.ts';
import { SCHEDULE_LABEL } from '../../src/api/v1alpha1/index.ts';
import { ScanScheduleReconciler } from '../../src/controllers/scanschedule/reconciler.ts';
import { jobName } from '../../src/controllers/scanschedule/schedule.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { startScheduleJobs, type TestScheduleJobs } from '../support/schedule-jobs.ts';

let namespace: string;
let clock: Date;
let jobCache: TestScheduleJobs;
const readyConnections = new Set<string>(['prod']);
const logger = createLogger({ level: 'error', component: 'manager' });

const objects = () => testKubeConfig().makeApiClient(CustomObjectsApi);
const batch = () => testKubeConfig().makeApiClient(BatchV1Api);
const resource = { group: 'courier.dev', version: 'v1alpha1', plural: 'scanschedules' };

async function fetchSchedule(name: string): Promise<ScanSchedule> {
  return (await objects().getNamespacedCustomObject({ ...resource, namespace, name })) as ScanSchedule;
}

function reconciler(): { reconcileNamed(name: string): Promise<ReconcileResult> } {
  let current: ScanSchedule | undefined;
  const r = new ScanScheduleReconciler({
    kubeConfig: testKubeConfig(),
    events: new KubernetesEventRecorder(
      testKubeConfig(),
      { controller: 'courier.dev/manager', instance: 'test' },
      logger,
    ),
    logger,
    get: () => current,
    connection: async (_ns, name): Promise<ToolConnection | undefined> =>
      readyConnections.has(name)
        ? ({
            status: {
              conditions: [
                { type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: new Date() },
              ],
            },
          } as unknown as ToolConnection)
        : undefined,
    jobs: jobCache.newView(),
    now: () => clock,
  });
  // Each reconcile reads the object fresh, as a synced informer would.
  return {
    reconcileNamed: async (name: string) => {
      current = await fetchSchedule(name);
      await jobCache.caughtUp();
      return r.reconcile(`${namespace}/${name}`);
    },
  };
}

async function createSchedule(name: string, spec: Record<string, unknown>): Promise<void> {
  await objects().createNamespacedCustomObject({
    ...resource,
    namespace,
    body: {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ScanSchedule',
      metadata: { name },
      spec: {
        connections: [{ name: 'prod' }],
        jobTemplate: {
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } } },
        },
        ...spec,
      },
    },
  });
}

async function jobsOf(name: string): Promise<string[]> {
  const list = await batch().listNamespacedJob({ namespace, labelSelector: `${SCHEDULE_LABEL}=${name}` });
  return list.items.map((j) => j.metadata!.name!).sort();
}

async function eventReasons(name: string): Promise<string[]> {
  const list = await testKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.regarding?.name === name).map((e) => e.reason ?? '');
}

/** The schedule's creation time, from the apiserver: scheduling counts from it. */
async function createdAt(name: string): Promise<Date> {
  return new Date((await fetchSchedule(name)).metadata.creationTimestamp!);
}

const minutesAfter = (t: Date, minutes: number, seconds = 0) =>
  new Date(Math.floor(t.getTime() / 60_000) * 60_000 + minutes * 60_000 + seconds * 1000);

beforeAll(async () => {
  namespace = await createTestNamespace('scans');
  jobCache = await startScheduleJobs(testKubeConfig(), namespace, logger);
});

afterAll(() => jobCache?.stop());

describe('ScanSchedule reconciler', () => {
  it('creates the due run at its minute, with the opt-in label, connections and owner', async () => {
    await createSchedule('every-5', { schedule: '*/5 * * * *' });
    const created = await createdAt('every-5');
    const r = reconciler();
    clock = minutesAfter(created, 0, 30);
    const before = await r.reconcileNamed('every-5');
    const firstDue = new Date(Math.ceil((created.getTime() + 1) / 300_000) * 300_000);
    expect(await jobsOf('every-5')).toEqual([]);
    expect(before.requeueAfterMs).toBeGreaterThan(0);

    clock = new Date(firstDue.getTime() + 2_000);
    await r.reconcileNamed('every-5');
    const name = jobName('every-5', firstDue);
    expect(await jobsOf('every-5')).toEqual([name]);
    const job = await batch().readNamespacedJob({ name, namespace });
    expect(job.metadata!.annotations!['courier.dev/scheduled-time']).toBe(firstDue.toISOString());
    expect(job.metadata!.ownerReferences![0]).toMatchObject({
      kind: 'ScanSchedule',
      name: 'every-5',
      controller: true,
    });
    expect(job.spec!.template.metadata!.labels).toMatchObject({ 'courier.dev/inject': 'true' });
    expect(job.spec!.template.metadata!.annotations).toMatchObject({ 'courier.dev/connections': 'prod' });
    const status = (await fetchSchedule('every-5')).status!;
    expect(status.lastScheduleTime).toBe(firstDue.toISOString());
    expect(status.active!.map((a) => a.name)).toEqual([name]);
    expect(status.nextScheduleTime).toBe(new Date(firstDue.getTime() + 300_000).toISOString());
  });

  it('two reconcilers at once create the run once', async () => {
    await createSchedule('racing', { schedule: '* * * * *' });
    clock = minutesAfter(await createdAt('racing'), 1, 5);
    const results = await Promise.allSettled([
      reconciler().reconcileNamed('racing'),
      reconciler().reconcileNamed('racing'),
    ]);
    expect(await jobsOf('racing')).toHaveLength(1);
    // The loser may fail writing status on a stale resourceVersion; its controller retries.
    for (const result of results) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 409 });
  });

  it('Forbid skips while a run is active, Allow overlaps, Replace replaces', async () => {
    for (const policy of ['Forbid', 'Allow', 'Replace']) {
      const name = `policy-${policy.toLowerCase()}`;
      await createSchedule(name, { schedule: '* * * * *', concurrencyPolicy: policy });
      const r = reconciler();
      const created = await createdAt(name);
      clock = minutesAfter(created, 1, 5);
      await r.reconcileNamed(name);
      const first = await jobsOf(name);
      expect(first).toHaveLength(1);
      clock = minutesAfter(created, 2, 5);
      await r.reconcileNamed(name);
      const second = await jobsOf(name);
      if (policy === 'Forbid') {
        expect(second).toEqual(first);
        expect(await eventReasons(name)).toContain('ConcurrencyForbid');
      } else if (policy === 'Allow') {
        expect(second).toHaveLength(2);
      } else {
        // The replaced Job is being deleted; the new one exists.
        expect(second).toContain(jobName(name, minutesAfter(created, 2)));
        expect(await eventReasons(name)).toContain('Replaced');
      }
    }
  });

  it('runs once per new run-now token', async () => {
    await createSchedule('on-demand', { schedule: '0 0 1 1 *' });
    const r = reconciler();
    clock = minutesAfter(await createdAt('on-demand'), 0, 10);
    const annotate = (token: string) =>
      objects().patchNamespacedCustomObject({
        ...resource,
        namespace,
        name: 'on-demand',
        body: [{ op: 'add', path: '/metadata/annotations', value: { 'courier.dev/run-now': token } }],
      });
    await annotate('first');
    await r.reconcileNamed('on-demand');
    await r.reconcileNamed('on-demand');
    expect(await jobsOf('on-demand')).toHaveLength(1);
    await annotate('second');
    await r.reconcileNamed('on-demand');
    expect(await jobsOf('on-demand')).toHaveLength(2);
    expect((await fetchSchedule('on-demand')).status!.lastRunNowToken).toBe('second');
  });

  it('after a 10-minute outage runs the newest missed run within the deadline and reports the rest', async () => {
    await createSchedule('outage', { schedule: '* * * * *', startingDeadlineSeconds: 120 });
    const r = reconciler();
    const created = await createdAt('outage');
    clock = minutesAfter(created, 1, 5);
    await r.reconcileNamed('outage');
    clock = minutesAfter(created, 11, 20);
    await r.reconcileNamed('outage');
    expect(await jobsOf('outage')).toEqual(
      [jobName('outage', minutesAfter(created, 1)), jobName('outage', minutesAfter(created, 11))].sort(),
    );
    expect((await fetchSchedule('outage')).status!.missedRuns).toBe(9);
    expect(await eventReasons('outage')).toContain('MissedSchedule');
  });

  it('reports a run older than the deadline as missed and does not start it', async () => {
    await createSchedule('late', { schedule: '0 * * * *', startingDeadlineSeconds: 30 });
    const created = await createdAt('late');
    const due = new Date(Math.ceil((created.getTime() + 1) / 3_600_000) * 3_600_000);
    clock = new Date(due.getTime() + 45_000);
    await reconciler().reconcileNamed('late');
    expect(await jobsOf('late')).toEqual([]);
    expect((await fetchSchedule('late')).status!.missedRuns).toBe(1);
  });

  it('starts nothing while suspended', async () => {
    await createSchedule('paused', { schedule: '* * * * *', suspend: true });
    clock = minutesAfter(await createdAt('paused'), 3, 5);
    await reconciler().reconcileNamed('paused');
    expect(await jobsOf('paused')).toEqual([]);
    const status = (await fetchSchedule('paused')).status!;
    expect(status.nextScheduleTime).toBeUndefined();
    expect(status.conditions!.find((c) => c.type === 'Ready')).toMatchObject({ status: 'True', reason: 'Suspended' });
  });

  it('skips a run whose jobTemplate the Job API refuses, saying why, instead of retrying forever', async () => {
    await createSchedule('bad-template', {
      schedule: '* * * * *',
      jobTemplate: {
        spec: {
          template: { spec: { restartPolicy: 'Never', containers: [{ name: 'Scan_Tool', image: 'scanner:1' }] } },
        },
      },
    });
    clock = minutesAfter(await createdAt('bad-template'), 1, 5);
    const r = reconciler();
    await r.reconcileNamed('bad-template');
    await r.reconcileNamed('bad-template');
    expect(await jobsOf('bad-template')).toEqual([]);
    const status = (await fetchSchedule('bad-template')).status!;
    const skipped = status.conditions!.find((c) => c.type === 'RunSkipped');
    expect(skipped).toMatchObject({ status: 'True', reason: 'InvalidJobTemplate' });
    expect(skipped!.message).toContain('Scan_Tool');
    expect(status.lastScheduleTime).toBe(minutesAfter(await createdAt('bad-template'), 1).toISOString());
    expect(await eventReasons('bad-template')).toContain('InvalidJobTemplate');
  });

  it('skips a run whose ToolConnection is not Ready, saying why', async () => {
    await createSchedule('unready', { schedule: '* * * * *', connections: [{ name: 'prod' }, { name: 'staging' }] });
    clock = minutesAfter(await createdAt('unready'), 1, 5);
    await reconciler().reconcileNamed('unready');
    expect(await jobsOf('unready')).toEqual([]);
    const skipped = (await fetchSchedule('unready')).status!.conditions!.find((c) => c.type === 'RunSkipped');
    expect(skipped).toMatchObject({ status: 'True', reason: 'ConnectionNotReady' });
    expect(skipped!.message).toContain('ToolConnection staging missing or not Ready');
  });
});
