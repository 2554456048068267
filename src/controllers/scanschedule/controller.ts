// Wires the ScanSchedule reconciler to informers over every namespace: the
// schedules, and their Jobs (a Job's change enqueues its schedule).
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { GROUP, SCAN_SCHEDULES, VERSION, type ScanSchedule, type ToolConnection } from '../../api/v1alpha1/index.ts';
import type { Logger } from '../../log/logger.ts';
import { Controller, secondaryWatch, type ControllerMetrics } from '../runtime/controller.ts';
import { KubernetesEventRecorder } from '../runtime/events.ts';
import { ResilientInformer } from '../runtime/informer.ts';
import type { ToolConnectionLookup } from '../toolconnection/lookup.ts';
import { jobInformer, ownerKey, ScheduleJobs } from './jobs.ts';
import { ScanMetrics, ScanScheduleReconciler } from './reconciler.ts';

export interface ScanScheduleControllerOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  registry: Registry;
  /** Shared with the other controllers: metric names are registered once. */
  controllerMetrics: ControllerMetrics;
  identity: string;
  /** The manager's ToolConnections (shared cache, then GET). */
  connections: Pick<ToolConnectionLookup, 'get'>;
  namespace?: string;
  now?: () => Date;
}

export function createScanScheduleController(options: ScanScheduleControllerOptions): Controller<ScanSchedule> {
  const { kubeConfig, namespace, logger } = options;
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const resource = { group: GROUP, version: VERSION, plural: SCAN_SCHEDULES.plural };
  const informer = new ResilientInformer<ScanSchedule>(
    kubeConfig,
    {
      path: namespace
        ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${SCAN_SCHEDULES.plural}`
        : `/apis/${GROUP}/${VERSION}/${SCAN_SCHEDULES.plural}`,
      list: () =>
        (namespace
          ? api.listNamespacedCustomObject({ ...resource, namespace })
          : api.listClusterCustomObject(resource)) as Promise<KubernetesListObject<ScanSchedule>>,
      staleAfterMs: 10 * 60_000,
    },
    logger,
  );
  const jobs = jobInformer(kubeConfig, logger, namespace);
  const reconciler = new ScanScheduleReconciler({
    kubeConfig,
    events: new KubernetesEventRecorder(
      kubeConfig,
      { controller: 'courier.dev/manager', instance: options.identity },
      logger,
    ),
    logger,
    get: (ns, name) => informer.get(name, ns),
    connection: (ns, name): Promise<ToolConnection | undefined> => options.connections.get(ns, name),
    jobs: new ScheduleJobs(jobs),
    metrics: new ScanMetrics(options.registry),
    ...(options.now ? { now: options.now } : {}),
  });
  return new Controller<ScanSchedule>({
    name: 'scanschedule',
    informer,
    reconciler,
    watches: [secondaryWatch(jobs, ownerKey)],
    // Runs are mostly waiting on the apiserver: many schedules fire in one minute.
    workers: 64,
    resyncMs: 5 * 60_000,
    logger,
    metrics: options.controllerMetrics,
  });
}
