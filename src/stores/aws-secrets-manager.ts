// AWS Secrets Manager. One secret per credential, named
// <prefix><tenant>/<name>. Version ids are ours ("v0000000003-<uuid>", passed
// as ClientRequestToken) so they sort, and a retried write is idempotent.
// expectedCurrent is enforced by writing the new version under a pending
// stage and moving AWSCURRENT to it with RemoveFromVersionId, which AWS
// refuses if another writer moved AWSCURRENT first.
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretsCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { conflict, denied, notFound, StoreError, unavailable } from './errors.ts';
import type { CallOptions, PutOptions, SecretRef, SecretStore, StoredSecret, StoredVersion } from './store.ts';

export interface AwsSecretsManagerConfig {
  region: string;
  /** A custom endpoint (e.g. a VPC endpoint, or a test server). */
  endpoint?: string;
  prefix: string;
  /** KMS key for the secrets; the account's default key when absent. */
  kmsKeyId?: string;
  /** 0 deletes at once; 7-30 keeps a deleted secret recoverable that long. */
  recoveryWindowDays: number;
  /** Static credentials for tests; otherwise the SDK's default chain (IRSA, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

const PENDING_STAGE = 'COURIER_PENDING';
const CURRENT_STAGE = 'AWSCURRENT';

export class AwsSecretsManagerStore implements SecretStore {
  readonly type = 'aws-secrets-manager';
  readonly name: string;
  private readonly client: SecretsManagerClient;
  private readonly config: AwsSecretsManagerConfig;

  constructor(name: string, config: AwsSecretsManagerConfig) {
    this.name = name;
    this.config = config;
    const clientConfig: SecretsManagerClientConfig = { region: config.region, maxAttempts: 1 };
    if (config.endpoint) clientConfig.endpoint = config.endpoint;
    if (config.credentials) clientConfig.credentials = config.credentials;
    this.client = new SecretsManagerClient(clientConfig);
  }

  async putVersion(ref: SecretRef, payload: string, options: PutOptions & CallOptions = {}): Promise<StoredVersion> {
    const { expectedCurrent, signal } = options;
    const SecretId = this.secretId(ref);
    const current = expectedCurrent === null ? undefined : await this.currentVersion(ref, signal);
    if (expectedCurrent !== undefined && (current ?? null) !== expectedCurrent)
      throw conflict(this.name, describe(ref));
    const version = nextVersion(current);
    if (current === undefined) {
      await this.call(
        ref,
        (options) =>
          this.client.send(
            new CreateSecretCommand({
              Name: SecretId,
              SecretString: payload,
              ClientRequestToken: version,
              ...(this.config.kmsKeyId ? { KmsKeyId: this.config.kmsKeyId } : {}),
              Tags: [
                { Key: 'app.kubernetes.io/managed-by', Value: 'courier' },
                { Key: 'courier.dev/tenant', Value: ref.tenant },
                { Key: 'courier.dev/tool-connection', Value: ref.name },
              ],
            }),
            options,
          ),
        signal,
      );
    } else if (expectedCurrent === undefined) {
      await this.call(
        ref,
        (options) =>
          this.client.send(
            new PutSecretValueCommand({ SecretId, SecretString: payload, ClientRequestToken: version }),
            options,
          ),
        signal,
      );
    } else {
      await this.call(
        ref,
        (options) =>
          this.client.send(
            new PutSecretValueCommand({
              SecretId,
              SecretString: payload,
              ClientRequestToken: version,
              VersionStages: [PENDING_STAGE],
            }),
            options,
          ),
        signal,
      );
      await this.call(
        ref,
        (options) =>
          this.client.send(
            new UpdateSecretVersionStageCommand({
              SecretId,
              VersionStage: CURRENT_STAGE,
              MoveToVersionId: version,
              RemoveFromVersionId: current,
            }),
            options,
          ),
        signal,
      );
    }
    return { version };
  }

  async get(ref: SecretRef, version?: string, options: CallOptions = {}): Promise<StoredSecret> {
    const result = await this.call(
      ref,
      (options) =>
        this.client.send(
          new GetSecretValueCommand({
            SecretId: this.secretId(ref),
            ...(version ? { VersionId: version } : { VersionStage: CURRENT_STAGE }),
          }),
          options,
        ),
      options.signal,
    );
    if (result.SecretString === undefined || !result.VersionId) throw notFound(this.name, describe(ref));
    return {
      version: result.VersionId,
      payload: result.SecretString,
      ...(result.CreatedDate ? { createdAt: result.CreatedDate } : {}),
    };
  }

  async listVersions(ref: SecretRef, options: CallOptions = {}): Promise<StoredVersion[]> {
    try {
      return await this.listVersionIds(ref, options);
    } catch (error) {
      // Some implementations (moto among them) fail this call with a server
      // error for a missing secret; DescribeSecret tells NotFound apart.
      if (!(error instanceof StoreError && error.kind === 'Unavailable')) throw error;
      await this.call(
        ref,
        (o) => this.client.send(new DescribeSecretCommand({ SecretId: this.secretId(ref) }), o),
        options.signal,
      );
      throw error;
    }
  }

  private async listVersionIds(ref: SecretRef, options: CallOptions): Promise<StoredVersion[]> {
    const versions: StoredVersion[] = [];
    let NextToken: string | undefined;
    do {
      const page = await this.call(
        ref,
        (options) =>
          this.client.send(
            new ListSecretVersionIdsCommand({ SecretId: this.secretId(ref), IncludeDeprecated: true, NextToken }),
            options,
          ),
        options.signal,
      );
      for (const v of page.Versions ?? []) {
        if (v.VersionId)
          versions.push({ version: v.VersionId, ...(v.CreatedDate ? { createdAt: v.CreatedDate } : {}) });
      }
      NextToken = page.NextToken;
    } while (NextToken);
    return versions.sort((a, b) => a.version.localeCompare(b.version));
  }

  async delete(ref: SecretRef, options: CallOptions = {}): Promise<void> {
    const window = this.config.recoveryWindowDays;
    try {
      await this.call(
        ref,
        (options) =>
          this.client.send(
            new DeleteSecretCommand({
              SecretId: this.secretId(ref),
              ...(window > 0 ? { RecoveryWindowInDays: window } : { ForceDeleteWithoutRecovery: true }),
            }),
            options,
          ),
        options.signal,
      );
    } catch (error) {
      if (!(error instanceof StoreError && error.kind === 'NotFound')) throw error;
    }
  }

  async health(options: CallOptions = {}): Promise<void> {
    await this.call(
      undefined,
      (options) => this.client.send(new ListSecretsCommand({ MaxResults: 1 }), options),
      options.signal,
    );
  }

  private async currentVersion(ref: SecretRef, signal?: AbortSignal): Promise<string | undefined> {
    try {
      return (await this.get(ref, undefined, signal ? { signal } : {})).version;
    } catch (error) {
      if (error instanceof StoreError && error.kind === 'NotFound') return undefined;
      throw error;
    }
  }

  private secretId(ref: SecretRef): string {
    return `${this.config.prefix}${ref.tenant}/${ref.name}`;
  }

  private async call<T>(
    ref: SecretRef | undefined,
    run: (options: { abortSignal?: AbortSignal }) => Promise<T>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    try {
      return await run(signal ? { abortSignal: signal } : {});
    } catch (error) {
      throw toStoreError(this.name, ref ? describe(ref) : 'health check', error);
    }
  }
}

/** Our version ids: a zero-padded sequence number, then a UUID for uniqueness. */
function nextVersion(current: string | undefined): string {
  const sequence = current ? Number(/^v(\d{10})-/.exec(current)?.[1] ?? 0) : 0;
  return `v${String(sequence + 1).padStart(10, '0')}-${randomUUID()}`;
}

const describe = (ref: SecretRef) => `credential ${ref.tenant}/${ref.name}`;

function toStoreError(store: string, what: string, error: unknown): StoreError {
  const name = error instanceof Error ? error.name : '';
  switch (name) {
    case 'ResourceNotFoundException':
      return notFound(store, what);
    case 'ResourceExistsException':
      return conflict(store, what);
    case 'InvalidParameterException':
      // RemoveFromVersionId no longer holds AWSCURRENT: another writer won.
      return conflict(store, what);
    case 'AccessDeniedException':
    case 'UnrecognizedClientException':
    case 'InvalidSignatureException':
    case 'ExpiredTokenException':
      return denied(store, what, error);
    case 'InvalidRequestException':
    case 'ValidationException':
      return new StoreError('Invalid', store, `${what}: rejected (${name})`);
    default:
      return unavailable(store, what, error);
  }
}
