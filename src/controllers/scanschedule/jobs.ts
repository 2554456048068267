// A ScanSchedule's Jobs, read from an informer's cache rather than listed per
// run: when hundreds of schedules fire in one minute, a list per run is what
// made the apiserver the bottleneck. A cache lags behind our own writes, so
// Jobs we just created or deleted are remembered until the cache shows them
// (controller-runtime calls these "expectations"); without that, a run created
// a moment ago would look absent to concurrencyPolicy Forbid.
import { BatchV1Api, type KubeConfig, type KubernetesListObject, type V1Job } from '@kubernetes/client-node';
import { SCHEDULE_LABEL, type ScanSchedule } from '../../api/v1alpha1/index.ts';
import type { Logger } from '../../log/logger.ts';
import { ResilientInformer } from '../runtime/informer.ts';

/** Longer than a watch event takes to arrive, shorter than a schedule's minute. */
const EXPECTATION_TTL_MS = 30_000;

/** Jobs that carry the schedule label: the only ones Courier creates. */
export function jobInformer(kubeConfig: KubeConfig, logger: Logger, namespace?: string): ResilientInformer<V1Job> {
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const labelSelector = SCHEDULE_LABEL;
  return new ResilientInformer<V1Job>(
    kubeConfig,
    {
      path: namespace ? `/apis/batch/v1/namespaces/${namespace}/jobs` : '/apis/batch/v1/jobs',
      labelSelector,
      list: () =>
        (namespace
          ? batch.listNamespacedJob({ namespace, labelSelector })
          : batch.listJobForAllNamespaces({ labelSelector })) as Promise<KubernetesListObject<V1Job>>,
      staleAfterMs: 10 * 60_000,
    },
    logger,
  );
}

/** The key of the ScanSchedule that owns a Job, if one does. */
export function ownerKey(job: V1Job): string | undefined {
  const owner = job.metadata?.ownerReferences?.find((o) => o.kind === 'ScanSchedule' && o.controller);
  return owner && job.metadata?.namespace ? `${job.metadata.namespace}/${owner.name}` : undefined;
}

export type JobCache = Pick<ResilientInformer<V1Job>, 'get' | 'list'>;

interface Expectation {
  job: V1Job;
  until: number;
}

export class ScheduleJobs {
  private readonly informer: JobCache;
  private readonly now: () => number;
  private readonly created = new Map<string, Expectation>();
  private readonly deleted = new Map<string, Expectation>();

  constructor(informer: JobCache, now: () => number = Date.now) {
    this.informer = informer;
    this.now = now;
  }

  /** The Jobs `ss` owns, as the cache plus our own recent writes show them. */
  owned(ss: ScanSchedule): V1Job[] {
    const namespace = ss.metadata.namespace!;
    const ownedBySchedule = (job: V1Job) =>
      job.metadata?.labels?.[SCHEDULE_LABEL] === ss.metadata.name &&
      !!job.metadata?.ownerReferences?.some((o) => o.uid === ss.metadata.uid);
    this.expire();
    const inCache = (e: Expectation) => !!this.informer.get(e.job.metadata!.name!, e.job.metadata!.namespace);
    for (const [key, e] of this.created) if (inCache(e)) this.created.delete(key);
    for (const [key, e] of this.deleted) if (!inCache(e)) this.deleted.delete(key);
    const cached = this.informer.list(namespace).filter((job) => ownedBySchedule(job) && !this.deleted.has(keyOf(job)));
    const pending = [...this.created.values()].map((e) => e.job).filter(ownedBySchedule);
    return [...cached, ...pending];
  }

  observeCreated(job: V1Job): void {
    this.created.set(keyOf(job), { job, until: this.now() + EXPECTATION_TTL_MS });
  }

  observeDeleted(job: V1Job): void {
    this.created.delete(keyOf(job));
    this.deleted.set(keyOf(job), { job, until: this.now() + EXPECTATION_TTL_MS });
  }

  private expire(): void {
    const now = this.now();
    for (const map of [this.created, this.deleted]) {
      for (const [key, expectation] of map) if (expectation.until <= now) map.delete(key);
    }
  }
}

const keyOf = (job: V1Job) => `${job.metadata?.namespace}/${job.metadata?.name}`;
