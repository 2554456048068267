// Wires the ToolConnection reconciler to an informer over every namespace.
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { GROUP, TOOL_CONNECTIONS, VERSION, type ToolConnection } from '../../api/v1alpha1/index.ts';
import type { KeyHierarchy } from '../../crypto/key-hierarchy.ts';
import type { Logger } from '../../log/logger.ts';
import type { StoreRegistry } from '../../stores/registry.ts';
import { Controller, ControllerMetrics } from '../runtime/controller.ts';
import { KubernetesEventRecorder } from '../runtime/events.ts';
import { ResilientInformer } from '../runtime/informer.ts';
import type { StsSettings } from './aws-validation.ts';
import { ToolConnectionReconciler, validationCounter } from './reconciler.ts';

export interface ToolConnectionControllerOptions {
  kubeConfig: KubeConfig;
  keys: KeyHierarchy;
  stores: Pick<StoreRegistry, 'get'>;
  sts: StsSettings;
  logger: Logger;
  registry: Registry;
  /** Reconcile metrics shared by the manager's controllers (registered once per registry). */
  controllerMetrics?: ControllerMetrics;
  /** This replica's name, in Events. */
  identity: string;
  /** Watch one namespace only (tests); every namespace by default. */
  namespace?: string;
  workers?: number;
  resyncMs?: number;
  now?: () => Date;
  /** A ToolConnection informer shared with the broker; one of its own otherwise. */
  informer?: ResilientInformer<ToolConnection>;
}

/** An informer over the ToolConnections of one namespace, or of all. */
export function toolConnectionInformer(
  kubeConfig: KubeConfig,
  logger: Logger,
  namespace?: string,
): ResilientInformer<ToolConnection> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const resource = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural };
  return new ResilientInformer<ToolConnection>(
    kubeConfig,
    {
      path: namespace
        ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${TOOL_CONNECTIONS.plural}`
        : `/apis/${GROUP}/${VERSION}/${TOOL_CONNECTIONS.plural}`,
      list: () =>
        (namespace
          ? api.listNamespacedCustomObject({ ...resource, namespace })
          : api.listClusterCustomObject(resource)) as Promise<KubernetesListObject<ToolConnection>>,
      staleAfterMs: 10 * 60_000,
    },
    logger,
  );
}

export function createToolConnectionController(options: ToolConnectionControllerOptions): Controller<ToolConnection> {
  const { kubeConfig, namespace, logger } = options;
  const informer = options.informer ?? toolConnectionInformer(kubeConfig, logger, namespace);
  const reconciler = new ToolConnectionReconciler({
    kubeConfig,
    keys: options.keys,
    stores: options.stores,
    events: new KubernetesEventRecorder(
      kubeConfig,
      { controller: 'courier.dev/manager', instance: options.identity },
      logger,
    ),
    logger,
    sts: options.sts,
    get: (ns, name) => informer.get(name, ns),
    validations: validationCounter(options.registry),
    ...(options.now ? { now: options.now } : {}),
  });
  return new Controller<ToolConnection>({
    name: 'toolconnection',
    informer,
    reconciler,
    // Reconciles mostly wait on the apiserver and the store: more in flight, not more CPU.
    workers: options.workers ?? 16,
    resyncMs: options.resyncMs ?? 10 * 60_000,
    logger,
    metrics: options.controllerMetrics ?? new ControllerMetrics(options.registry),
  });
}
