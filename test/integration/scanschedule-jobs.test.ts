// ScanSchedule runs with kube-controller-manager's job controller: pods are
// marked Succeeded through the API (no kubelet here), the job controller
// completes the Jobs, and the reconciler records the last success and prunes
// history beyond the limit.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BatchV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { ScanSchedule } from '../../src/api/v1alpha1/index.ts';
import { KubernetesEventRecorder } from '../../src/controllers/runtime/events.ts';
import { SCHEDULE_LABEL } from '../../src/api/v1alpha1/index.ts';
import { ScanScheduleReconciler } from '../../src/controllers/scanschedule/reconciler.ts';
import { jobName } from '../../src/controllers/scanschedule/schedule.ts';
import { createLogger } from '../../src/log/logger.ts';
import { ControlPlane } from '../support/control-plane.ts';
import { startScheduleJobs } from '../support/schedule-jobs.ts';

const NAMESPACE = 'default';
let plane: ControlPlane;

beforeAll(async () => {
  plane = await ControlPlane.start({ controllerManager: true });
});

afterAll(() => plane?.stop());

describe('ScanSchedule runs with the job controller', () => {
  it('records the last success and keeps only successfulJobsHistoryLimit finished Jobs', async () => {
    const kc = plane.kubeConfig();
    const objects = kc.makeApiClient(CustomObjectsApi);
    const batch = kc.makeApiClient(BatchV1Api);
    const core = kc.makeApiClient(CoreV1Api);
    const resource = { group: 'courier.dev', version: 'v1alpha1', plural: 'scanschedules' };
    await objects.createNamespacedCustomObject({
      ...resource,
      namespace: NAMESPACE,
      body: {
        apiVersion: 'courier.dev/v1alpha1',
        kind: 'ScanSchedule',
        metadata: { name: 'history' },
        spec: {
          schedule: '* * * * *',
          successfulJobsHistoryLimit: 1,
          connections: [{ name: 'prod' }],
          jobTemplate: {
            spec: {
              template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } },
            },
          },
        },
      },
    });
    const logger = createLogger({ level: 'error', component: 'manager' });
    let current: ScanSchedule | undefined;
    let clock = new Date();
    const jobCache = await startScheduleJobs(kc, NAMESPACE, logger);
    const reconciler = new ScanScheduleReconciler({
      kubeConfig: kc,
      events: new KubernetesEventRecorder(kc, { controller: 'courier.dev/manager', instance: 'test' }, logger),
      logger,
      get: () => current,
      connection: async () =>
        ({
          status: {
            conditions: [
              { type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: new Date() },
            ],
          },
        }) as never,
      jobs: jobCache.newView(),
      now: () => clock,
    });
    const reconcile = async () => {
      current = (await objects.getNamespacedCustomObject({
        ...resource,
        namespace: NAMESPACE,
        name: 'history',
      })) as ScanSchedule;
      await jobCache.caughtUp();
      await reconciler.reconcile(`${NAMESPACE}/history`);
    };
    const stored = (await objects.getNamespacedCustomObject({
      ...resource,
      namespace: NAMESPACE,
      name: 'history',
    })) as ScanSchedule;
    const created = new Date(stored.metadata.creationTimestamp!);
    const minute = (n: number) => new Date(Math.floor(created.getTime() / 60_000) * 60_000 + n * 60_000);

    /** Marks the Job's pod Succeeded and waits for the job controller to complete the Job. */
    async function succeed(job: string): Promise<void> {
      for (let i = 0; i < 100; i++) {
        const pods = await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `job-name=${job}` });
        const pod = pods.items[0];
        if (pod) {
          await core.replaceNamespacedPodStatus({
            name: pod.metadata!.name!,
            namespace: NAMESPACE,
            body: { ...pod, status: { ...pod.status, phase: 'Succeeded' } },
          });
          break;
        }
        await sleep(100);
      }
      for (let i = 0; i < 200; i++) {
        const j = await batch.readNamespacedJob({ name: job, namespace: NAMESPACE });
        if (j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')) return;
        await sleep(100);
      }
      throw new Error(`job ${job} did not complete`);
    }

    const jobs = async () =>
      (await batch.listNamespacedJob({ namespace: NAMESPACE, labelSelector: `${SCHEDULE_LABEL}=history` })).items
        .filter((j) => !j.metadata?.deletionTimestamp)
        .map((j) => j.metadata!.name!)
        .sort();

    for (const n of [1, 2]) {
      clock = new Date(minute(n).getTime() + 5_000);
      await reconcile();
      await succeed(jobName('history', minute(n)));
    }
    clock = new Date(minute(3).getTime() + 5_000);
    await reconcile();
    // The older success is pruned; the newer one and the active run remain.
    expect(await jobs()).toEqual([jobName('history', minute(2)), jobName('history', minute(3))].sort());
    const status = (
      (await objects.getNamespacedCustomObject({ ...resource, namespace: NAMESPACE, name: 'history' })) as ScanSchedule
    ).status!;
    const second = await batch.readNamespacedJob({ name: jobName('history', minute(2)), namespace: NAMESPACE });
    expect(status.lastSuccessfulTime).toBe(new Date(second.status!.completionTime!).toISOString());
    expect(status.active!.map((a) => a.name)).toEqual([jobName('history', minute(3))]);
    await jobCache.stop();
  });
});
