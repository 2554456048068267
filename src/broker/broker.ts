// The credential broker's decision for one request, independent of HTTP:
//   rate limit → token (who) → live pod (still there, opted in) →
//   ToolConnection (exists, allows the service account, Ready) → issue.
// Every decision, either way, is one audit record and one metric sample;
// refusals for a disallowed service account become access requests.
import { Counter, Histogram, type Registry } from 'prom-client';
import type { CredentialRequest, CredentialResponse } from '../api/v1alpha1/delivery.ts';
import type { ToolConnection } from '../api/v1alpha1/index.ts';
import type { ToolConnectionLookup } from '../controllers/toolconnection/lookup.ts';
import type { KeyHierarchy } from '../crypto/key-hierarchy.ts';
import type { Credential } from '../crypto/fingerprint.ts';
import type { Logger } from '../log/logger.ts';
import type { StoreRegistry } from '../stores/registry.ts';
import { authorize } from './authorize.ts';
import { BrokerDenial } from './denial.ts';
import type { CredentialIssuer } from './issue.ts';
import type { PodLookup } from './pod-lookup.ts';
import type { PerKeyRateLimiter } from './rate-limit.ts';
import type { StatusRecorder } from './status-recorder.ts';
import type { PodIdentity, ServiceAccountTokenVerifier } from './token-verifier.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_DURATION_SECONDS = 43_200;
const SEALED_CACHE_ENTRIES = 10_000;

export interface BrokerDeps {
  verifier: Pick<ServiceAccountTokenVerifier, 'verify'>;
  pods: PodLookup;
  connections: Pick<ToolConnectionLookup, 'get'>;
  keys: Pick<KeyHierarchy, 'sealer'>;
  stores: Pick<StoreRegistry, 'get'>;
  issuer: Pick<CredentialIssuer, 'issue'>;
  limiter: PerKeyRateLimiter;
  status: Pick<StatusRecorder, 'issued' | 'refused'>;
  logger: Logger;
  metrics: BrokerMetrics;
  /** Upper bound on the work for one request (store, STS). */
  requestTimeoutMs?: number;
}

export interface BrokerAnswer {
  status: number;
  body: object;
  retryAfterSeconds?: number;
}

export class BrokerMetrics {
  readonly requests: Counter<'outcome' | 'reason'>;
  readonly duration: Histogram<'outcome'>;

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: 'courier_broker_requests_total',
      help: 'Credential requests by outcome (issued, denied, failed) and reason.',
      labelNames: ['outcome', 'reason'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'courier_broker_request_duration_seconds',
      help: 'Time to decide and answer a credential request, by outcome.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }
}

interface Decision {
  identity?: PodIdentity;
  connection?: string;
}

export class Broker {
  private readonly deps: BrokerDeps;
  private readonly audit: Logger;
  /** Sealed payloads by store, tenant, name and version: versions never change, so they never go stale. */
  private readonly sealed = new Map<string, string>();

  constructor(deps: BrokerDeps) {
    this.deps = deps;
    this.audit = deps.logger.child({ audit: true });
  }

  async handle(authorization: string | undefined, body: unknown, remoteAddress?: string): Promise<BrokerAnswer> {
    const started = performance.now();
    const decision: Decision = {};
    try {
      const response = await this.decide(authorization, body, decision);
      this.record('issued', 'Issued', decision, started, response);
      return { status: 200, body: response };
    } catch (error) {
      const denial = error instanceof BrokerDenial ? error : undefined;
      if (!denial) this.deps.logger.error({ err: error, remoteAddress }, 'credential request failed');
      const answer = denial ?? new BrokerDenial(500, 'InternalError', 'the broker failed; see its log');
      this.record(answer.code >= 500 ? 'failed' : 'denied', answer.reason, decision, started, undefined, answer);
      return {
        status: answer.code,
        body: answer.toBody(),
        ...(answer.retryAfterSeconds !== undefined ? { retryAfterSeconds: answer.retryAfterSeconds } : {}),
      };
    }
  }

  private async decide(
    authorization: string | undefined,
    body: unknown,
    decision: Decision,
  ): Promise<CredentialResponse> {
    const token = bearerToken(authorization);
    const identity = await this.deps.verifier.verify(token);
    decision.identity = identity;
    const request = parseRequest(body);
    decision.connection = request.connection;

    const waitSeconds = this.deps.limiter.take(identity.podUid);
    if (waitSeconds > 0)
      throw new BrokerDenial(429, 'RateLimited', 'too many credential requests from this pod', waitSeconds);

    const signal = AbortSignal.timeout(this.deps.requestTimeoutMs ?? 10_000);
    const [pod, tc] = await Promise.all([
      this.deps.pods.find(identity.namespace, identity.podName, identity.podUid),
      this.deps.connections.get(identity.namespace, request.connection),
    ]);
    try {
      authorize(identity, pod, request.connection, tc);
    } catch (error) {
      if (error instanceof BrokerDenial && error.reason === 'ServiceAccountNotAllowed') {
        this.deps.status.refused(
          identity.namespace,
          request.connection,
          identity.serviceAccount,
          identity.podName,
          error.reason,
          new Date(),
        );
      }
      throw error;
    }
    const response = await this.deps.issuer.issue({
      tc: tc!,
      pod,
      durationSeconds: request.durationSeconds,
      openStored: () => this.openStored(tc!, signal),
      signal,
    });
    this.deps.status.issued(identity.namespace, request.connection, new Date());
    return response;
  }

  private async openStored(tc: ToolConnection, signal: AbortSignal): Promise<Credential> {
    const version = tc.status?.storeVersion;
    if (!version)
      throw new BrokerDenial(
        503,
        'ConnectionNotStored',
        `ToolConnection "${tc.metadata.name}" has nothing stored yet`,
        10,
      );
    const store = this.deps.stores.get(tc.status?.store ?? tc.spec.store);
    const ref = { tenant: tc.metadata.namespace!, name: tc.metadata.name! };
    const key = `${store.name}\0${ref.tenant}\0${ref.name}\0${version}`;
    let payload = this.sealed.get(key);
    if (!payload) {
      payload = (await store.get(ref, version, { signal })).payload;
      if (this.sealed.size >= SEALED_CACHE_ENTRIES) this.sealed.delete(this.sealed.keys().next().value!);
      this.sealed.set(key, payload);
    }
    return this.deps.keys.sealer.open(payload, ref);
  }

  private record(
    outcome: 'issued' | 'denied' | 'failed',
    reason: string,
    decision: Decision,
    started: number,
    response?: CredentialResponse,
    denial?: BrokerDenial,
  ): void {
    const seconds = (performance.now() - started) / 1000;
    this.deps.metrics.requests.inc({ outcome, reason });
    this.deps.metrics.duration.observe({ outcome }, seconds);
    const { identity } = decision;
    this.audit.info(
      {
        action: 'credential.issue',
        outcome,
        reason,
        connection: decision.connection,
        namespace: identity?.namespace,
        pod: identity?.podName,
        serviceAccount: identity?.serviceAccount,
        ...(response ? { kind: response.kind, expiration: response.expiration } : {}),
        ...(response?.aws ? { accessKeyId: response.aws.accessKeyId } : {}),
        ...(denial ? { code: denial.code, message: denial.message } : {}),
        durationMs: Math.round(seconds * 10_000) / 10,
      },
      outcome === 'issued' ? 'credentials issued' : 'credential request refused',
    );
  }
}

function bearerToken(authorization: string | undefined): string {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '');
  if (!match)
    throw new BrokerDenial(
      401,
      'TokenMissing',
      'present the pod\'s projected service-account token as "Authorization: Bearer <token>"',
    );
  return match[1]!;
}

function parseRequest(body: unknown): CredentialRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BrokerDenial(400, 'BadRequest', 'the body must be a JSON object such as {"connection":"prod-account"}');
  const { connection, durationSeconds, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new BrokerDenial(400, 'BadRequest', `unknown field(s): ${unknown.join(', ')}`);
  if (typeof connection !== 'string' || connection.length > 253 || !DNS_SUBDOMAIN.test(connection))
    throw new BrokerDenial(
      400,
      'BadRequest',
      "connection must be the name of a ToolConnection in the pod's namespace (a lower-case DNS subdomain)",
    );
  if (
    durationSeconds !== undefined &&
    (typeof durationSeconds !== 'number' ||
      !Number.isInteger(durationSeconds) ||
      durationSeconds < 900 ||
      durationSeconds > MAX_DURATION_SECONDS)
  )
    throw new BrokerDenial(
      400,
      'BadRequest',
      `durationSeconds must be a whole number from 900 to ${MAX_DURATION_SECONDS}`,
    );
  return { connection, ...(durationSeconds !== undefined ? { durationSeconds } : {}) };
}
