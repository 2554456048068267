// A small world for the broker's property tests: one tenant namespace with a
// few pods and ToolConnections held in memory, the cluster's signing keys
// served as a real service-account issuer discovery document and JWKS over
// HTTP (what ServiceAccountTokenVerifier reads from the apiserver), and a
// Broker built from the real verifier, rate limiter, issuer and sealer. Each
// pod and connection is there to cause one of the broker's answers.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import { TOKEN_AUDIENCE } from '../../src/api/v1alpha1/delivery.ts';
import { CONNECTIONS_ANNOTATION, INJECT_LABEL, type ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { Broker, BrokerMetrics } from '../../src/broker/broker.ts';
import { CredentialIssuer } from '../../src/broker/issue.ts';
import type { PodLookup } from '../../src/broker/pod-lookup.ts';
import { PerKeyRateLimiter } from '../../src/broker/rate-limit.ts';
import { ServiceAccountTokenVerifier } from '../../src/broker/token-verifier.ts';
import { CredentialSealer } from '../../src/crypto/envelope.ts';
import type { TenantKeys } from '../../src/crypto/tenant-keys.ts';
import { createLogger } from '../../src/log/logger.ts';
import type { SecretStore } from '../../src/stores/store.ts';
import { randomKid, signingKey, type TokenKeys } from './arbitraries/tokens.ts';

export const TENANT = 'tenant';
export const SERVICE_ACCOUNT = 'scanner';
export const OTHER_SERVICE_ACCOUNT = 'intruder';

/** The pods tokens may name, each with the answer it causes for an otherwise good request. */
export const PODS = {
  /** Alive, opted in to the connections below (the annotation spaced, as people write it). */
  live: { uid: 'aaaaaaaa-0000-4000-8000-000000000001' },
  terminating: { uid: 'aaaaaaaa-0000-4000-8000-000000000002', reason: 'PodTerminating' },
  finished: { uid: 'aaaaaaaa-0000-4000-8000-000000000003', reason: 'PodFinished' },
  'not-opted-in': { uid: 'aaaaaaaa-0000-4000-8000-000000000004', reason: 'NotOptedIn' },
  /** Named by tokens but not in the cluster (any more). */
  gone: { uid: 'aaaaaaaa-0000-4000-8000-000000000005', reason: 'PodNotFound' },
} as const;
export type PodName = keyof typeof PODS;

/** Connection names a request may ask for, each with the answer it causes for the live pod. */
export const CONNECTIONS = {
  github: { status: 200 },
  ssh: { status: 200 },
  'not-ready': { status: 503, reason: 'ConnectionNotReady' },
  locked: { status: 403, reason: 'ServiceAccountNotAllowed' },
  'no-such-connection': { status: 404, reason: 'ConnectionNotFound' },
  /** Exists, but the pod did not ask for it. */
  elsewhere: { status: 403, reason: 'NotOptedIn' },
} as const;
export type ConnectionName = keyof typeof CONNECTIONS;

/** The connections the opted-in pods ask for (their annotation is spaced, as people write it). */
export const OPTED_IN_CONNECTIONS: readonly string[] = ['github', 'ssh', 'not-ready', 'locked', 'no-such-connection'];
const OPTED_IN = 'github, ssh,not-ready , locked,no-such-connection';
export const STORED_FIELDS = { username: 'scanner', password: 'stored-password' };

function pod(name: PodName): V1Pod | undefined {
  if (name === 'gone') return undefined;
  const optedIn = name !== 'not-opted-in';
  return {
    metadata: {
      name,
      namespace: TENANT,
      uid: PODS[name].uid,
      labels: optedIn ? { [INJECT_LABEL]: 'true' } : {},
      annotations: { [CONNECTIONS_ANNOTATION]: OPTED_IN },
      ...(name === 'terminating' ? { deletionTimestamp: new Date() } : {}),
    },
    spec: { serviceAccountName: SERVICE_ACCOUNT, containers: [{ name: 'scan', image: 'scanner:1' }] },
    status: { phase: name === 'finished' ? 'Succeeded' : 'Running' },
  };
}

function toolConnection(name: ConnectionName): ToolConnection | undefined {
  if (name === 'no-such-connection') return undefined;
  return {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: { name, namespace: TENANT },
    spec: {
      provider: 'generic',
      generic: { purpose: 'ssh', host: 'bastion.example' },
      credentialsSecretRef: { name: `${name}-source` },
      access: { serviceAccounts: name === 'locked' ? [] : [SERVICE_ACCOUNT] },
    },
    status: {
      store: 'memory',
      storeVersion: '1',
      conditions: [
        {
          type: 'Ready',
          status: name === 'not-ready' ? 'False' : 'True',
          reason: name === 'not-ready' ? 'SourceSecretMissing' : 'Ready',
          message: '',
          lastTransitionTime: new Date(),
        },
      ],
    },
  };
}

/** Pods by name and uid, as the live-pod check sees them. */
class InMemoryPods implements PodLookup {
  async find(namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    if (namespace !== TENANT || !Object.hasOwn(PODS, name)) return undefined;
    const found = pod(name as PodName);
    return found?.metadata?.uid === uid ? found : undefined;
  }
}

/** One data key in memory, in place of the tenant key ring kept in Secrets. */
function inMemoryTenantKeys(): TenantKeys {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const ring = { current: async () => ({ id: 'k1', key }), get: async () => key };
  // CredentialSealer uses only these two methods; the class's private state is not needed here.
  return ring as unknown as TenantKeys;
}

/** A store of one sealed credential per connection, version "1". */
function inMemoryStore(sealed: ReadonlyMap<string, string>): SecretStore {
  const unsupported = () => Promise.reject(new Error('the broker only reads'));
  return {
    name: 'memory',
    type: 'memory',
    async get(ref, version) {
      const payload = sealed.get(`${ref.tenant}/${ref.name}`);
      if (!payload || version !== '1') throw new Error(`no version ${version} of ${ref.tenant}/${ref.name}`);
      return { version: '1', payload };
    },
    putVersion: unsupported,
    listVersions: unsupported,
    delete: unsupported,
    health: async () => undefined,
  };
}

export interface BrokerWorld {
  broker: Broker;
  keys: TokenKeys;
  issuer: string;
  audience: string;
  /** Log lines at error level: failures the broker did not expect. */
  errors: string[];
  /** Refusals the broker recorded for status.accessRequests. */
  refusals: string[];
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

export async function startBrokerWorld(): Promise<BrokerWorld> {
  const keys: TokenKeys = {
    cluster: { RS256: await signingKey('RS256', randomKid('rsa')), ES256: await signingKey('ES256', randomKid('ec')) },
    foreign: { RS256: await signingKey('RS256', randomKid('rsa')), ES256: await signingKey('ES256', randomKid('ec')) },
  };
  const issuer = 'https://kubernetes.default.svc.cluster.local';
  // The two documents the apiserver serves for service-account issuer discovery.
  const discovery = createServer((req, res) => {
    const documents: Record<string, unknown> = {
      '/.well-known/openid-configuration': { issuer, jwks_uri: `${issuer}/openid/v1/jwks` },
      '/openid/v1/jwks': { keys: [keys.cluster.RS256.jwk, keys.cluster.ES256.jwk] },
    };
    const document = documents[req.url ?? ''];
    res.writeHead(document ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(document ?? { kind: 'Status', code: 404 }));
  });
  const port = await listen(discovery);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: 'broker' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'broker' }],
    currentContext: 'test',
  });

  const sealer = new CredentialSealer(inMemoryTenantKeys());
  const sealed = new Map<string, string>();
  for (const name of Object.keys(CONNECTIONS)) {
    sealed.set(`${TENANT}/${name}`, await sealer.seal(STORED_FIELDS, { tenant: TENANT, name }));
  }
  const store = inMemoryStore(sealed);
  const errors: string[] = [];
  const refusals: string[] = [];
  const verifier = new ServiceAccountTokenVerifier(kubeConfig);
  await verifier.prepare();
  const credentialIssuer = new CredentialIssuer({});
  const broker = new Broker({
    verifier,
    pods: new InMemoryPods(),
    connections: {
      get: async (namespace, name) =>
        namespace === TENANT && Object.hasOwn(CONNECTIONS, name) ? toolConnection(name as ConnectionName) : undefined,
    },
    keys: { sealer },
    stores: { get: () => store },
    issuer: credentialIssuer,
    // Properties send thousands of requests for one pod: rate limiting has tests of its own.
    limiter: new PerKeyRateLimiter({ burst: Number.MAX_SAFE_INTEGER, perSecond: 1 }),
    status: {
      issued: () => undefined,
      refused: (_namespace, connection, serviceAccount, _pod, reason) =>
        void refusals.push(`${connection}/${serviceAccount}/${reason}`),
    },
    logger: createLogger({
      level: 'error',
      component: 'broker',
      destination: { write: (line: string) => void errors.push(line) },
    }),
    metrics: new BrokerMetrics(new Registry()),
  });
  return {
    broker,
    keys,
    issuer,
    audience: TOKEN_AUDIENCE,
    errors,
    refusals,
    async close() {
      credentialIssuer.close();
      await new Promise<void>((resolve) => discovery.close(() => resolve()));
    },
  };
}
