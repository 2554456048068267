// Google Cloud Secret Manager. One secret per credential, id
// <prefix><tenant>_<name> (dots become underscores; neither appears in
// Kubernetes names, so the mapping is one-to-one). Versions are Secret
// Manager's own numbers. Secret Manager has no compare-and-set on versions, so
// expectedCurrent is checked just before the write: a writer that slips in
// between is not detected (the other stores do detect it).
import { createHash } from 'node:crypto';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import * as grpc from '@grpc/grpc-js';
import { conflict, denied, notFound, StoreError, unavailable } from './errors.ts';
import type { PutOptions, SecretRef, SecretStore, StoredSecret, StoredVersion } from './store.ts';

export interface GcpSecretManagerConfig {
  project: string;
  prefix: string;
  /** host:port of another endpoint (a regional one, or an emulator). */
  endpoint?: string;
  /** Plain-text gRPC without credentials: for an emulator only. */
  insecure?: boolean;
}

const MAX_SECRET_ID = 255;
// Calls fail fast; the resilience wrapper owns timeouts and retries.
const CALL_OPTIONS = { maxRetries: 0, timeout: 30_000 };

export class GcpSecretManagerStore implements SecretStore {
  readonly type = 'gcp-secret-manager';
  readonly name: string;
  private readonly client: SecretManagerServiceClient;
  private readonly config: GcpSecretManagerConfig;

  constructor(name: string, config: GcpSecretManagerConfig) {
    this.name = name;
    this.config = config;
    const options: ConstructorParameters<typeof SecretManagerServiceClient>[0] = {};
    if (config.endpoint) {
      const [host, port] = splitHostPort(config.endpoint);
      Object.assign(options, { apiEndpoint: host, port });
    }
    if (config.insecure) {
      // No OAuth token for an emulator; naming the universe keeps the client
      // from probing for Application Default Credentials.
      Object.assign(options, { sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' });
    }
    this.client = new SecretManagerServiceClient(options);
  }

  async putVersion(ref: SecretRef, payload: string, options: PutOptions = {}): Promise<StoredVersion> {
    const { exists, current } = await this.state(ref);
    if (options.expectedCurrent !== undefined && (current ?? null) !== options.expectedCurrent) {
      throw conflict(this.name, describe(ref));
    }
    if (!exists) {
      await this.call(ref, () =>
        this.client.createSecret(
          {
            parent: this.parent(),
            secretId: this.secretId(ref),
            secret: { replication: { automatic: {} }, labels: { 'managed-by': 'courier', tenant: ref.tenant } },
          },
          CALL_OPTIONS,
        ),
      ).catch((error: unknown) => {
        // Created meanwhile by another writer: adding a version is still right.
        if (!(error instanceof StoreError && error.kind === 'Conflict')) throw error;
      });
    }
    const [version] = await this.call(ref, () =>
      this.client.addSecretVersion(
        { parent: this.secretName(ref), payload: { data: Buffer.from(payload) } },
        CALL_OPTIONS,
      ),
    );
    return {
      version: versionNumber(version.name),
      ...(version.createTime ? { createdAt: toDate(version.createTime) } : {}),
    };
  }

  async get(ref: SecretRef, version?: string): Promise<StoredSecret> {
    const [response] = await this.call(ref, () =>
      this.client.accessSecretVersion(
        { name: `${this.secretName(ref)}/versions/${version ?? 'latest'}` },
        CALL_OPTIONS,
      ),
    );
    const data = response.payload?.data;
    if (data === undefined || data === null) throw notFound(this.name, describe(ref));
    return { version: versionNumber(response.name), payload: Buffer.from(data).toString() };
  }

  async listVersions(ref: SecretRef): Promise<StoredVersion[]> {
    const [versions] = await this.call(ref, () =>
      this.client.listSecretVersions({ parent: this.secretName(ref) }, { ...CALL_OPTIONS, autoPaginate: true }),
    );
    return versions
      .filter((v) => v.state === 'ENABLED')
      .map((v) => ({ version: versionNumber(v.name), ...(v.createTime ? { createdAt: toDate(v.createTime) } : {}) }))
      .sort((a, b) => Number(a.version) - Number(b.version));
  }

  async delete(ref: SecretRef): Promise<void> {
    try {
      await this.call(ref, () => this.client.deleteSecret({ name: this.secretName(ref) }, CALL_OPTIONS));
    } catch (error) {
      if (!(error instanceof StoreError && error.kind === 'NotFound')) throw error;
    }
  }

  async health(): Promise<void> {
    await this.call(undefined, () =>
      this.client.listSecrets({ parent: this.parent(), pageSize: 1 }, { ...CALL_OPTIONS, autoPaginate: false }),
    );
  }

  /** Closes the gRPC channel. */
  close(): Promise<void> {
    return this.client.close();
  }

  /** Whether the secret exists, and its newest enabled version. */
  private async state(ref: SecretRef): Promise<{ exists: boolean; current: string | undefined }> {
    try {
      const versions = await this.listVersions(ref);
      return { exists: true, current: versions.at(-1)?.version };
    } catch (error) {
      if (error instanceof StoreError && error.kind === 'NotFound') return { exists: false, current: undefined };
      throw error;
    }
  }

  private parent(): string {
    return `projects/${this.config.project}`;
  }

  private secretName(ref: SecretRef): string {
    return `${this.parent()}/secrets/${this.secretId(ref)}`;
  }

  private secretId(ref: SecretRef): string {
    const id = `${this.config.prefix}${ref.tenant}_${ref.name.replaceAll('.', '_')}`;
    if (id.length <= MAX_SECRET_ID) return id;
    // Rare: a very long name. Hash it, keeping ids unique and within limits.
    return `${this.config.prefix}${ref.tenant}_${createHash('sha256').update(ref.name).digest('hex')}`;
  }

  private async call<T>(ref: SecretRef | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toStoreError(this.name, ref ? describe(ref) : 'health check', error);
    }
  }
}

function splitHostPort(endpoint: string): [string, number | undefined] {
  const match = /^(.*):(\d+)$/.exec(endpoint);
  return match ? [match[1]!, Number(match[2])] : [endpoint, undefined];
}

function versionNumber(name: string | null | undefined): string {
  const version = name?.split('/').at(-1);
  if (!version) throw new Error('Secret Manager answered without a version name');
  return version;
}

function toDate(timestamp: { seconds?: number | string | Long | null; nanos?: number | null }): Date {
  return new Date(Number(timestamp.seconds ?? 0) * 1000 + Math.floor((timestamp.nanos ?? 0) / 1e6));
}

interface Long {
  toString(): string;
}

const describe = (ref: SecretRef) => `credential ${ref.tenant}/${ref.name}`;

function toStoreError(store: string, what: string, error: unknown): StoreError {
  const code = (error as { code?: unknown } | undefined)?.code;
  // gRPC status messages can quote request fields; keep only the code.
  const cause = Object.assign(new Error(`gRPC status ${String(code)}`), { name: 'GrpcError', code });
  switch (code) {
    case grpc.status.NOT_FOUND:
      return notFound(store, what);
    case grpc.status.ALREADY_EXISTS:
    case grpc.status.ABORTED:
      return conflict(store, what);
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.UNAUTHENTICATED:
      return denied(store, what, cause);
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.OUT_OF_RANGE:
      return new StoreError('Invalid', store, `${what}: rejected (gRPC status ${String(code)})`);
    default:
      return unavailable(store, what, cause);
  }
}
