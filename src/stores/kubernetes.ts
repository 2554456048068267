// The embedded default store: ciphertext in Secrets in Courier's own
// namespace. Works on any cluster with nothing else to set up. One Secret per
// credential holds its recent versions; updates use the resourceVersion for
// optimistic concurrency.
import { createHash } from 'node:crypto';
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { conflict, denied, notFound, StoreError, unavailable } from './errors.ts';
import type { PutOptions, SecretRef, SecretStore, StoredSecret, StoredVersion } from './store.ts';

export interface KubernetesStoreConfig {
  /** Courier's namespace, where the Secrets live. */
  namespace: string;
  /** Versions kept per credential; older ones are pruned on write. */
  maxVersions?: number;
}

export const CREDENTIAL_SECRET_TYPE = 'courier.dev/credential';
const LABELS = { 'app.kubernetes.io/managed-by': 'courier', 'courier.dev/role': 'credential' };
const TENANT_LABEL = 'courier.dev/tenant';
const NAME_ANNOTATION = 'courier.dev/tool-connection';
const VERSIONS_ANNOTATION = 'courier.dev/versions';

interface VersionEntry {
  v: number;
  t: string;
}

export class KubernetesStore implements SecretStore {
  readonly type = 'kubernetes';
  readonly name: string;
  private readonly api: CoreV1Api;
  private readonly namespace: string;
  private readonly maxVersions: number;

  constructor(name: string, kubeConfig: KubeConfig, config: KubernetesStoreConfig) {
    this.name = name;
    this.api = kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = config.namespace;
    this.maxVersions = config.maxVersions ?? 10;
  }

  async putVersion(ref: SecretRef, payload: string, options: PutOptions = {}): Promise<StoredVersion> {
    const existing = await this.read(ref).catch((error) => {
      if (error instanceof StoreError && error.kind === 'NotFound') return undefined;
      throw error;
    });
    const versions = existing ? versionsOf(existing) : [];
    const current = versions.at(-1);
    if (options.expectedCurrent !== undefined && (current ? String(current.v) : null) !== options.expectedCurrent) {
      throw conflict(this.name, describeRef(ref));
    }
    const entry: VersionEntry = { v: (current?.v ?? 0) + 1, t: new Date().toISOString() };
    const kept = [...versions, entry].slice(-this.maxVersions);
    const data: Record<string, string> = {};
    for (const { v } of kept) {
      data[key(v)] = v === entry.v ? Buffer.from(payload).toString('base64') : (existing?.data?.[key(v)] ?? '');
    }
    const body: V1Secret = {
      metadata: {
        name: secretName(ref),
        namespace: this.namespace,
        labels: { ...LABELS, [TENANT_LABEL]: ref.tenant },
        annotations: { [NAME_ANNOTATION]: ref.name, [VERSIONS_ANNOTATION]: JSON.stringify(kept) },
        ...(existing?.metadata?.resourceVersion ? { resourceVersion: existing.metadata.resourceVersion } : {}),
      },
      type: CREDENTIAL_SECRET_TYPE,
      data,
    };
    await this.call(describeRef(ref), () =>
      existing
        ? this.api.replaceNamespacedSecret({ name: secretName(ref), namespace: this.namespace, body })
        : this.api.createNamespacedSecret({ namespace: this.namespace, body }),
    );
    return { version: String(entry.v), createdAt: new Date(entry.t) };
  }

  async get(ref: SecretRef, version?: string): Promise<StoredSecret> {
    const secret = await this.read(ref);
    const versions = versionsOf(secret);
    const entry = version === undefined ? versions.at(-1) : versions.find((e) => String(e.v) === version);
    const data = entry && secret.data?.[key(entry.v)];
    if (!entry || data === undefined) throw notFound(this.name, `${describeRef(ref)} version ${version ?? 'latest'}`);
    return { version: String(entry.v), createdAt: new Date(entry.t), payload: Buffer.from(data, 'base64').toString() };
  }

  async listVersions(ref: SecretRef): Promise<StoredVersion[]> {
    return versionsOf(await this.read(ref)).map((e) => ({ version: String(e.v), createdAt: new Date(e.t) }));
  }

  async delete(ref: SecretRef): Promise<void> {
    try {
      await this.call(describeRef(ref), () =>
        this.api.deleteNamespacedSecret({ name: secretName(ref), namespace: this.namespace }),
      );
    } catch (error) {
      if (!(error instanceof StoreError && error.kind === 'NotFound')) throw error;
    }
  }

  async health(): Promise<void> {
    await this.call('health check', () =>
      this.api.listNamespacedSecret({
        namespace: this.namespace,
        labelSelector: 'courier.dev/role=credential',
        limit: 1,
      }),
    );
  }

  private read(ref: SecretRef): Promise<V1Secret> {
    return this.call(describeRef(ref), () =>
      this.api.readNamespacedSecret({ name: secretName(ref), namespace: this.namespace }),
    );
  }

  private async call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toStoreError(this.name, what, error);
    }
  }
}

/** The Secret holding a credential: a hash, since tenant + name can exceed a Secret name's length. */
export function secretName(ref: SecretRef): string {
  return `courier-cred-${createHash('sha256').update(`${ref.tenant}/${ref.name}`).digest('hex').slice(0, 32)}`;
}

function versionsOf(secret: V1Secret): VersionEntry[] {
  const raw = secret.metadata?.annotations?.[VERSIONS_ANNOTATION];
  return raw ? (JSON.parse(raw) as VersionEntry[]) : [];
}

const key = (version: number) => `v${version}`;
const describeRef = (ref: SecretRef) => `credential ${ref.tenant}/${ref.name}`;

function toStoreError(store: string, what: string, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  const code = error instanceof ApiException ? error.code : undefined;
  // ApiException messages embed response bodies and headers: never pass them on.
  const cause =
    code !== undefined ? Object.assign(new Error(`HTTP ${code}`), { name: 'ApiException', statusCode: code }) : error;
  switch (code) {
    case 404:
      return notFound(store, what);
    case 409:
      return conflict(store, what);
    case 401:
    case 403:
      return denied(store, what, cause);
    case 400:
    case 422:
      return new StoreError('Invalid', store, `${what}: rejected by the apiserver (HTTP ${code})`);
    default:
      return unavailable(store, what, cause);
  }
}
