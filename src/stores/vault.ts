// HashiCorp Vault / OpenBao, KV version 2 over HTTP. One secret per
// credential at <mount>/data/<pathPrefix>/<tenant>/<name>; versions are KV's
// own, and expectedCurrent maps to KV's check-and-set. Auth by token (from a
// file, re-read when refused) or by Kubernetes service-account login.
import { readFile } from 'node:fs/promises';
import { Agent, fetch as undiciFetch } from 'undici';
import { conflict, denied, notFound, StoreError, unavailable } from './errors.ts';
import type { CallOptions, PutOptions, SecretRef, SecretStore, StoredSecret, StoredVersion } from './store.ts';

export type VaultAuth =
  { method: 'token'; tokenFile: string } | { method: 'kubernetes'; role: string; mount: string; tokenFile: string };

export interface VaultConfig {
  address: string;
  mount: string;
  pathPrefix: string;
  /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace. */
  namespace?: string;
  /** PEM bundle to verify the server with, instead of the system roots. */
  caFile?: string;
  auth: VaultAuth;
}

/** The parts of KV v2 responses this store reads (write, read and metadata). */
interface KvData {
  version?: number;
  created_time?: string;
  data?: { payload?: unknown } | null;
  metadata?: { version: number; created_time: string };
  versions?: Record<string, { created_time: string; destroyed: boolean; deletion_time: string }>;
}

interface VaultResponse {
  status: number;
  body:
    { data?: KvData | null; errors?: string[]; auth?: { client_token: string; lease_duration: number } } | undefined;
}

const RENEW_FRACTION = 0.8;

export class VaultStore implements SecretStore {
  readonly type = 'vault';
  readonly name: string;
  private readonly config: VaultConfig;
  private dispatcher: Promise<Agent | undefined> | undefined;
  private token: { value: string; renewAt: number } | undefined;

  constructor(name: string, config: VaultConfig) {
    this.name = name;
    this.config = { ...config, address: config.address.replace(/\/+$/, '') };
  }

  async putVersion(ref: SecretRef, payload: string, options: PutOptions & CallOptions = {}): Promise<StoredVersion> {
    const { expectedCurrent } = options;
    const cas = expectedCurrent === undefined ? undefined : expectedCurrent === null ? 0 : Number(expectedCurrent);
    const response = await this.request(ref, 'POST', this.path('data', ref), options.signal, {
      ...(cas !== undefined ? { options: { cas } } : {}),
      data: { payload },
    });
    if (response.status === 400 && response.body?.errors?.some((e) => e.includes('check-and-set'))) {
      throw conflict(this.name, describe(ref));
    }
    const data = this.expectOk(ref, response).data;
    if (data?.version === undefined) throw unavailable(this.name, `${describe(ref)}: write answered without a version`);
    return { version: String(data.version), ...(data.created_time ? { createdAt: new Date(data.created_time) } : {}) };
  }

  async get(ref: SecretRef, version?: string, options: CallOptions = {}): Promise<StoredSecret> {
    const query = version === undefined ? '' : `?version=${encodeURIComponent(version)}`;
    const response = await this.request(ref, 'GET', this.path('data', ref) + query, options.signal);
    const data = this.expectOk(ref, response).data;
    if (!data?.data || typeof data.data.payload !== 'string' || !data.metadata)
      throw notFound(this.name, `${describe(ref)} version ${version ?? 'latest'}`);
    return {
      version: String(data.metadata.version),
      createdAt: new Date(data.metadata.created_time),
      payload: data.data.payload,
    };
  }

  async listVersions(ref: SecretRef, options: CallOptions = {}): Promise<StoredVersion[]> {
    const response = await this.request(ref, 'GET', this.path('metadata', ref), options.signal);
    const versions = this.expectOk(ref, response).data?.versions ?? {};
    return Object.entries(versions)
      .filter(([, v]) => !v.destroyed && !v.deletion_time)
      .map(([version, v]) => ({ version, createdAt: new Date(v.created_time) }))
      .sort((a, b) => Number(a.version) - Number(b.version));
  }

  async delete(ref: SecretRef, options: CallOptions = {}): Promise<void> {
    const response = await this.request(ref, 'DELETE', this.path('metadata', ref), options.signal);
    if (response.status !== 404) this.expectOk(ref, response);
  }

  async health(options: CallOptions = {}): Promise<void> {
    // Reachable, unsealed, and our credentials still log in.
    const response = await this.send(
      'GET',
      '/v1/sys/health?standbyok=true&perfstandbyok=true',
      undefined,
      options.signal,
      false,
    );
    if (response.status !== 200) throw unavailable(this.name, `health check: HTTP ${response.status}`);
    await this.authToken(options.signal);
  }

  private path(kind: 'data' | 'metadata', ref: SecretRef): string {
    const segments = [this.config.pathPrefix, ref.tenant, ref.name].filter(Boolean).map(encodeURIComponent);
    return `/v1/${encodeURIComponent(this.config.mount)}/${kind}/${segments.join('/')}`;
  }

  private expectOk(ref: SecretRef, response: VaultResponse): NonNullable<VaultResponse['body']> {
    const what = describe(ref);
    if (response.status === 200 || response.status === 204) return response.body ?? {};
    if (response.status === 404) throw notFound(this.name, what);
    if (response.status === 401 || response.status === 403) throw denied(this.name, what, httpError(response.status));
    if (response.status === 400) throw new StoreError('Invalid', this.name, `${what}: rejected (HTTP 400)`);
    throw unavailable(this.name, what, httpError(response.status));
  }

  /** An authenticated request; a refused token is renewed once and the call repeated. */
  private async request(
    ref: SecretRef,
    method: string,
    path: string,
    signal?: AbortSignal,
    body?: unknown,
  ): Promise<VaultResponse> {
    const response = await this.send(method, path, body, signal, true).catch((error: unknown) => {
      throw error instanceof StoreError ? error : unavailable(this.name, describe(ref), error);
    });
    if (response.status !== 403) return response;
    this.token = undefined;
    return this.send(method, path, body, signal, true);
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    authenticated: boolean,
  ): Promise<VaultResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (authenticated) headers['x-vault-token'] = await this.authToken(signal);
    if (this.config.namespace) headers['x-vault-namespace'] = this.config.namespace;
    const dispatcher = await this.tlsDispatcher();
    let status: number;
    let text: string;
    try {
      const response = await undiciFetch(this.config.address + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal ? { signal } : {}),
        ...(dispatcher ? { dispatcher } : {}),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      throw unavailable(this.name, `${method} ${path}`, error);
    }
    try {
      return { status, body: text ? (JSON.parse(text) as VaultResponse['body']) : undefined };
    } catch {
      // The parser's message quotes the text, which may hold a secret.
      throw unavailable(this.name, `${method} ${path}: response is not JSON (HTTP ${status})`);
    }
  }

  private async authToken(signal?: AbortSignal): Promise<string> {
    if (this.token && this.token.renewAt > Date.now()) return this.token.value;
    const { auth } = this.config;
    if (auth.method === 'token') {
      this.token = { value: (await readFile(auth.tokenFile, 'utf8')).trim(), renewAt: Number.POSITIVE_INFINITY };
      return this.token.value;
    }
    const jwt = (await readFile(auth.tokenFile, 'utf8')).trim();
    const response = await this.send(
      'POST',
      `/v1/auth/${encodeURIComponent(auth.mount)}/login`,
      { role: auth.role, jwt },
      signal,
      false,
    );
    const login = response.body?.auth;
    if (response.status !== 200 || !login) {
      const error = httpError(response.status);
      throw response.status >= 500
        ? unavailable(this.name, 'kubernetes login', error)
        : denied(this.name, 'kubernetes login', error);
    }
    const lifetimeMs =
      login.lease_duration > 0 ? login.lease_duration * 1000 * RENEW_FRACTION : Number.POSITIVE_INFINITY;
    this.token = { value: login.client_token, renewAt: Date.now() + lifetimeMs };
    return this.token.value;
  }

  private tlsDispatcher(): Promise<Agent | undefined> {
    const { caFile } = this.config;
    this.dispatcher ??= caFile
      ? readFile(caFile, 'utf8').then((ca) => new Agent({ connect: { ca } }))
      : Promise.resolve(undefined);
    return this.dispatcher;
  }
}

const describe = (ref: SecretRef) => `credential ${ref.tenant}/${ref.name}`;
const httpError = (status: number) =>
  Object.assign(new Error(`HTTP ${status}`), { name: 'VaultError', statusCode: status });
