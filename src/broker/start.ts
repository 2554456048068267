// Assembles the broker inside the manager: token verification, the pod and
// ToolConnection caches, issuance, status recording, its TLS, and the server.
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import type { ToolConnection } from '../api/v1alpha1/index.ts';
import { formatBindAddress, type BindAddress } from '../config/bind-address.ts';
import type { ResilientInformer } from '../controllers/runtime/informer.ts';
import type { StsSettings } from '../controllers/toolconnection/aws-validation.ts';
import { ToolConnectionLookup } from '../controllers/toolconnection/lookup.ts';
import type { KeyHierarchy } from '../crypto/key-hierarchy.ts';
import type { Logger } from '../log/logger.ts';
import type { StoreRegistry } from '../stores/registry.ts';
import { Broker, BrokerMetrics } from './broker.ts';
import { CredentialIssuer } from './issue.ts';
import { CachedPodLookup } from './pod-lookup.ts';
import { PerKeyRateLimiter } from './rate-limit.ts';
import { BrokerServer, type ServingCertificate } from './server.ts';
import { StatusRecorder } from './status-recorder.ts';
import { ServiceAccountTokenVerifier } from './token-verifier.ts';

export interface BrokerOptions {
  kubeConfig: KubeConfig;
  keys: KeyHierarchy;
  stores: StoreRegistry;
  sts: StsSettings;
  toolConnections: ResilientInformer<ToolConnection>;
  registry: Registry;
  logger: Logger;
  bindAddress: BindAddress;
  certificate: ServingCertificate;
}

export interface RunningBroker {
  address: BindAddress;
  server: BrokerServer;
  /** Resolves once the pod and ToolConnection caches are filled and the cluster's signing keys are known. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** Per pod: one request per connection at start (up to 16) with room for retries. */
const RATE_LIMIT = { burst: 40, perSecond: 2 };

export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const logger = options.logger.child({ component: 'broker' });
  const verifier = new ServiceAccountTokenVerifier(options.kubeConfig);
  const pods = new CachedPodLookup(options.kubeConfig, logger);
  const status = new StatusRecorder(options.kubeConfig, logger);
  const issuer = new CredentialIssuer(options.sts);
  const connections = new ToolConnectionLookup(options.kubeConfig, options.toolConnections);
  const broker = new Broker({
    verifier,
    pods,
    connections,
    keys: options.keys,
    stores: options.stores,
    issuer,
    limiter: new PerKeyRateLimiter(RATE_LIMIT),
    status,
    logger,
    metrics: new BrokerMetrics(options.registry),
  });
  const server = new BrokerServer(broker, logger);
  const ready = Promise.all([pods.informer.start(), connections.start(), verifier.prepare()]).then(() => undefined);
  const address = await server.listen(options.bindAddress, options.certificate);
  logger.info({ brokerAddress: formatBindAddress(address) }, 'serving the credential broker');
  return {
    address,
    server,
    ready,
    async stop() {
      await server.close();
      await status.flush();
      issuer.close();
      await Promise.all([pods.informer.stop(), connections.stop()]);
    },
  };
}
