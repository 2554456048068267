// The ScanSchedule reconciler's Job cache for tests that drive the reconciler
// by hand: a real informer on one namespace, and a way to wait until it has
// caught up with the apiserver, as it would have by the time a controller
// reconciles after a change.
import { BatchV1Api, type KubeConfig } from '@kubernetes/client-node';
import { SCHEDULE_LABEL } from '../../src/api/v1alpha1/index.ts';
import { jobInformer, ScheduleJobs } from '../../src/controllers/scanschedule/jobs.ts';
import type { Logger } from '../../src/log/logger.ts';
import { until } from './wait.ts';

export interface TestScheduleJobs {
  /** A reconciler's own view: expectations are per reconciler, as per manager. */
  newView(): ScheduleJobs;
  /** Resolves once the cache holds every Job the apiserver has, at the same resourceVersion. */
  caughtUp(): Promise<void>;
  stop(): Promise<void>;
}

export async function startScheduleJobs(kc: KubeConfig, namespace: string, logger: Logger): Promise<TestScheduleJobs> {
  const informer = jobInformer(kc, logger, namespace);
  await informer.start();
  const batch = kc.makeApiClient(BatchV1Api);
  return {
    newView: () => new ScheduleJobs(informer),
    caughtUp: async () => {
      const { items } = await batch.listNamespacedJob({ namespace, labelSelector: SCHEDULE_LABEL });
      const versions = new Map(items.map((j) => [j.metadata!.name!, j.metadata!.resourceVersion]));
      await until(
        () => {
          const cached = informer.list(namespace);
          return (
            cached.length === versions.size &&
            cached.every((j) => versions.get(j.metadata!.name!) === j.metadata!.resourceVersion)
          );
        },
        10_000,
        `the Job cache of ${namespace} catching up`,
      );
    },
    stop: () => informer.stop(),
  };
}
