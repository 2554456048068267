import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Command } from 'commander';
import { DEFAULT_LEASE_TIMING, LeaderElector } from '../../controllers/runtime/leader-election.ts';
import { ControllerMetrics } from '../../controllers/runtime/controller.ts';
import { createScanScheduleController } from '../../controllers/scanschedule/controller.ts';
import { ToolConnectionLookup } from '../../controllers/toolconnection/lookup.ts';
import { createToolConnectionController, toolConnectionInformer } from '../../controllers/toolconnection/controller.ts';
import { startBroker } from '../../broker/start.ts';
import { brokerCaInformer, CaDistribution } from '../../certificates/ca-distribution.ts';
import { CertificateKeeper, type CertificateKeeperOptions } from '../../certificates/keeper.ts';
import { ProvidedCertificates } from '../../certificates/provided-certificates.ts';
import { ServingCertificates, type ServingCertificateTarget } from '../../certificates/serving-certificates.ts';
import { managerOptions, type ManagerConfig } from '../../config/commands.ts';
import { loadCourierConfig, type CourierConfig } from '../../config/file.ts';
import { readConfig } from '../../config/options.ts';
import { ApiServerVersionProbe } from '../../kube/apiserver.ts';
import { loadKubeConfig } from '../../kube/kubeconfig.ts';
import { withTimeout } from '../../runtime/with-timeout.ts';
import { createCourierContext } from './courier-context.ts';
import { runComponent, type ComponentContext } from './component-process.ts';

const STARTUP_VERSION_TIMEOUT_MS = 10_000;
const UPLOAD_KEY_MAX_AGE_MS = 30 * 24 * 60 * 60 * 1000;
const UPLOAD_KEY_CHECK_MS = 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;
/** The serving certificates' Secrets in Courier's namespace; the chart mounts and issues these names. */
const BROKER_TLS_SECRET = 'courier-broker-tls';
const WEBHOOK_TLS_SECRET = 'courier-webhook-tls';

/** Runs `courier manager`; its flags are in ./components.ts. */
export async function run(command: Command): Promise<number> {
  const config = readConfig(managerOptions, command);
  // Read before starting anything: a bad file is a usage error, like a bad flag.
  const courierConfig = await loadCourierConfig(config.config);
  return runComponent('manager', config, (context) => startManager(config, courierConfig, context));
}

async function startManager(
  config: ManagerConfig,
  courierConfig: CourierConfig,
  { logger, probes, lifecycle, registry }: ComponentContext,
): Promise<void> {
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const { stores, keys } = createCourierContext(courierConfig, kubeConfig, config.namespace, registry);
  logger.info(
    { stores: stores.names(), defaultStore: stores.defaultStore, kek: courierConfig.kek.provider },
    config.config ? `configuration read from ${config.config}` : 'running on the embedded defaults',
  );
  // Keeps a young upload key published for `kubectl courier connect`. Every
  // replica may do this: the Secret's optimistic concurrency lets one win.
  const ensureUploadKey = () =>
    keys.uploadKeys.ensureCurrent(UPLOAD_KEY_MAX_AGE_MS).then(
      (jwks) => logger.debug({ uploadKeys: jwks.keys.map((k) => k.kid) }, 'upload keys current'),
      (err: unknown) => logger.warn({ err }, 'could not check the upload keys; retrying within the hour'),
    );
  void ensureUploadKey();
  const uploadKeyTimer = setInterval(() => void ensureUploadKey(), UPLOAD_KEY_CHECK_MS);
  lifecycle.onShutdown('upload key rotation', () => clearInterval(uploadKeyTimer));

  // Not ready until the broker serves with warm caches; registered first so
  // the manager does not look ready while it is still starting.
  const brokerState: { ready?: Promise<void> } = {};
  probes.addReadinessCheck('broker', () => {
    if (!brokerState.ready) throw new Error('the broker is starting');
    return brokerState.ready;
  });
  // The default store must answer before the manager takes work.
  probes.addReadinessCheck(`store-${stores.defaultStore}`, (signal) => stores.get().health({ signal }));
  const server = kubeConfig.getCurrentCluster()?.server;
  const apiServer = new ApiServerVersionProbe(kubeConfig);
  probes.addReadinessCheck('apiserver', async (signal) => {
    await apiServer.fetchVersion(signal);
  });

  // Not fatal: the API server may come up after us, and readiness says so
  // until it does.
  try {
    const version = await withTimeout('API server version request', STARTUP_VERSION_TIMEOUT_MS, (signal) =>
      apiServer.fetchVersion(signal),
    );
    logger.info(
      { server, version: version.gitVersion, platform: version.platform },
      'connected to the Kubernetes API server',
    );
  } catch (err) {
    logger.warn({ server, err }, 'Kubernetes API server not reachable yet');
  }

  const identity = `${process.env.POD_NAME ?? os.hostname()}_${randomBytes(4).toString('hex')}`;
  const controllerMetrics = new ControllerMetrics(registry);
  const watch = config.watchNamespace ? { namespace: config.watchNamespace } : {};
  const sts = courierConfig.aws.stsEndpoint ? { endpoint: courierConfig.aws.stsEndpoint } : {};
  // One ToolConnection cache for the broker (every replica) and the controller (the leader).
  const toolConnections = toolConnectionInformer(kubeConfig, logger, config.watchNamespace);
  const brokerCaMaps = brokerCaInformer(kubeConfig, logger, config.watchNamespace);

  const keeper = new CertificateKeeper({
    ...certificateSource(kubeConfig, config),
    distribution: new CaDistribution(kubeConfig, brokerCaMaps),
    broker: servingTarget(config, config.brokerServiceName, BROKER_TLS_SECRET),
    tenantNamespaces: () => toolConnections.list().map((tc) => tc.metadata.namespace!),
    onBrokerCertificate: (certificate) => broker.server.updateCertificate(certificate),
    intervalMs: Math.min(HOUR_MS, config.servingCertificateValidity / 6),
    logger,
  });
  toolConnections.onChange((tc, event) => {
    if (event === 'add') keeper.publishTo(tc.metadata.namespace!);
  });
  brokerCaMaps.onChange((configMap, event) => {
    const namespace = configMap.metadata!.namespace!;
    if (event === 'delete' && toolConnections.list(namespace).length > 0) keeper.publishTo(namespace);
  });
  await brokerCaMaps.start();
  lifecycle.onShutdown('broker CA cache', () => brokerCaMaps.stop());
  const brokerCertificate = await keeper.start();
  lifecycle.onShutdown('certificate keeper', () => keeper.stop());
  const broker = await startBroker({
    kubeConfig,
    keys,
    stores,
    sts,
    toolConnections,
    registry,
    logger,
    bindAddress: config.brokerBindAddress,
    certificate: brokerCertificate,
  });
  lifecycle.onShutdown('broker', () => broker.stop());
  brokerState.ready = broker.ready;

  const controllers = [
    createToolConnectionController({
      kubeConfig,
      informer: toolConnections,
      keys,
      stores,
      sts,
      logger,
      registry,
      controllerMetrics,
      identity,
      ...watch,
    }),
    createScanScheduleController({
      kubeConfig,
      logger,
      registry,
      controllerMetrics,
      identity,
      connections: new ToolConnectionLookup(kubeConfig, toolConnections),
      ...watch,
    }),
  ];
  const runControllers = (signal: AbortSignal) =>
    Promise.all(controllers.map((c) => c.run(signal))).then(() => undefined);
  const stopping = new AbortController();
  lifecycle.onShutdown('controllers', async () => {
    stopping.abort();
    await running;
  });
  // Only the leader reconciles; every replica serves probes (and, later, the broker).
  const running = config.leaderElect
    ? new LeaderElector(
        kubeConfig,
        { namespace: config.namespace, name: config.leaderElectionId, identity, ...DEFAULT_LEASE_TIMING },
        logger,
      ).run(
        {
          onStartedLeading: runControllers,
          onNewLeader: (leader) => logger.info({ leader }, 'following the leader'),
        },
        stopping.signal,
      )
    : runControllers(stopping.signal);
  void running.catch((err: unknown) => {
    logger.error({ err }, 'controllers stopped with an error');
    void lifecycle.shutdown('controllers failed');
  });
}

/**
 * Who keeps the certificates: the manager itself (and then also the webhook's
 * and its configuration's caBundle), or another issuer whose broker Secret it
 * only reads.
 */
function certificateSource(
  kubeConfig: KubeConfig,
  config: ManagerConfig,
): Pick<CertificateKeeperOptions, 'certificates' | 'webhook' | 'webhookConfigurationName'> {
  if (!config.manageCertificates) {
    return {
      certificates: new ProvidedCertificates(kubeConfig, {
        namespace: config.namespace,
        caSecretName: BROKER_TLS_SECRET,
      }),
    };
  }
  return {
    certificates: new ServingCertificates(kubeConfig, {
      namespace: config.namespace,
      validityDays: config.servingCertificateValidity / DAY_MS,
    }),
    webhook: servingTarget(config, config.webhookServiceName, WEBHOOK_TLS_SECRET),
    webhookConfigurationName: config.webhookConfigurationName,
  };
}

/** The Service's in-cluster DNS names, plus any extra names given for local runs. */
function servingTarget(config: ManagerConfig, service: string, secretName: string): ServingCertificateTarget {
  const ns = config.namespace;
  return {
    secretName,
    commonName: `${service}.${ns}.svc`,
    dnsNames: [
      service,
      `${service}.${ns}`,
      `${service}.${ns}.svc`,
      `${service}.${ns}.svc.cluster.local`,
      ...(config.tlsExtraSans?.dnsNames ?? []),
    ],
    ipAddresses: config.tlsExtraSans?.ipAddresses ?? [],
  };
}
