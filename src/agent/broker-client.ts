// One request to the broker for one connection's credentials, and the
// classification of whatever comes back: a usable CredentialResponse, a
// refusal that retrying cannot fix, or a failure worth retrying.
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import {
  CREDENTIALS_PATH,
  type BrokerError,
  type CredentialRequest,
  type CredentialResponse,
} from '../api/v1alpha1/delivery.ts';
import { registerSecret } from '../log/redact.ts';
import { validateCredentialResponse } from './response.ts';

/** More than any credential needs; a bigger answer is a broken or hostile peer. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;
/** How much of a non-JSON error body (a proxy's HTML page) goes into a log line. */
const BODY_EXCERPT_CHARS = 200;
/** Retry-After beyond this is not believed: the retry deadline decides anyway. */
const MAX_RETRY_AFTER_MS = 5 * 60 * 1000;

export interface BrokerClientOptions {
  /** https://host[:port], without the credentials path. */
  brokerUrl: string;
  tokenFile: string;
  caFile: string;
  requestTimeoutMs: number;
  maxResponseBytes?: number;
}

/** Why a request for a connection's credentials did not produce them. */
export class CredentialFetchError extends Error {
  /** False when only a change elsewhere (RBAC, the ToolConnection, the pod) can fix it. */
  readonly retryable: boolean;
  /** The HTTP status, when the broker answered at all. */
  readonly status: number | undefined;
  /** The broker's machine word (BrokerError.reason), when it sent one. */
  readonly reason: string | undefined;
  /** How long the broker asked us to wait (429, 503). */
  readonly retryAfterMs: number | undefined;

  constructor(
    message: string,
    details: { retryable: boolean; status?: number; reason?: string; retryAfterMs?: number; cause?: unknown },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'CredentialFetchError';
    this.retryable = details.retryable;
    this.status = details.status;
    this.reason = details.reason;
    this.retryAfterMs = details.retryAfterMs;
  }
}

/** Statuses that a later attempt may turn into a 200. */
function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class BrokerClient {
  readonly #options: BrokerClientOptions;
  readonly #url: string;

  constructor(options: BrokerClientOptions) {
    this.#options = options;
    // As the contract says: the path is appended to the URL, prefix and all.
    this.#url = options.brokerUrl.replace(/\/+$/, '') + CREDENTIALS_PATH;
  }

  /**
   * Asks the broker for `connection`'s credentials. `signal` aborts the
   * request (shutdown); the request's own time limit is a retryable failure.
   * @throws CredentialFetchError for every failure except an abort through `signal`.
   */
  async fetch(connection: string, signal: AbortSignal): Promise<CredentialResponse> {
    // Both files are mounted from volumes the kubelet updates in place (the
    // token rotates, the CA bundle may be re-issued), so neither is cached.
    const [token, ca] = await Promise.all([
      this.#readInput(this.#options.tokenFile, 'token'),
      this.#readInput(this.#options.caFile, 'CA'),
    ]);
    registerSecret(token);

    const timeout = AbortSignal.timeout(this.#options.requestTimeoutMs);
    // A fresh dispatcher per request: the CA may have changed since the last
    // one, and an agent makes a handful of requests per hour at most.
    const dispatcher = new Agent({
      // `ca` replaces Node's built-in roots: only the broker's CA is trusted.
      connect: { ca, rejectUnauthorized: true, timeout: this.#options.requestTimeoutMs },
      headersTimeout: this.#options.requestTimeoutMs,
      bodyTimeout: this.#options.requestTimeoutMs,
    });
    try {
      const body: CredentialRequest = { connection };
      const response = await request(this.#url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        dispatcher,
        signal: AbortSignal.any([signal, timeout]),
      });
      const status = response.statusCode;
      const limit = this.#options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
      const { text, truncated } = await readBounded(response.body, limit, header(response.headers, 'content-length'));
      if (status === 200) {
        if (truncated) {
          throw new CredentialFetchError(`broker answered with more than ${limit} bytes`, { retryable: false, status });
        }
        return this.#parseCredentials(connection, text);
      }
      throw errorFromAnswer(status, text, header(response.headers, 'retry-after'));
    } catch (error) {
      if (error instanceof CredentialFetchError) throw error;
      if (signal.aborted) throw signal.reason;
      if (timeout.aborted) {
        throw new CredentialFetchError(`no answer from the broker within ${this.#options.requestTimeoutMs}ms`, {
          retryable: true,
        });
      }
      throw new CredentialFetchError(`cannot reach the broker: ${describeNetworkError(error)}`, {
        retryable: true,
        cause: error,
      });
    } finally {
      await dispatcher.destroy().catch(() => undefined);
    }
  }

  async #readInput(path: string, what: string): Promise<string> {
    let text: string;
    try {
      text = (await readFile(path, 'utf8')).trim();
    } catch (error) {
      // Retryable: the kubelet may not have projected the volume yet.
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      throw new CredentialFetchError(`cannot read the ${what} file ${path}: ${code}`, { retryable: true });
    }
    if (text === '') throw new CredentialFetchError(`the ${what} file ${path} is empty`, { retryable: true });
    return text;
  }

  #parseCredentials(connection: string, text: string): CredentialResponse {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // The parser's message quotes the text, which holds secrets.
      throw new CredentialFetchError('broker answered 200 with a body that is not JSON', {
        retryable: false,
        status: 200,
      });
    }
    registerResponseSecrets(parsed);
    const problem = validateCredentialResponse(parsed, connection);
    if (problem !== undefined) {
      throw new CredentialFetchError(`broker answered 200 with an unusable response: ${problem}`, {
        retryable: false,
        status: 200,
      });
    }
    return parsed as CredentialResponse;
  }
}

/**
 * Registers every secret a response could hold before anything else looks at
 * it, so that no later log line, valid response or not, can carry one.
 */
function registerResponseSecrets(parsed: unknown): void {
  const response = parsed as Partial<CredentialResponse> | null;
  const secrets: unknown[] = [
    response?.aws?.secretAccessKey,
    response?.aws?.sessionToken,
    ...Object.values(response?.generic?.fields ?? {}),
  ];
  for (const secret of secrets) if (typeof secret === 'string') registerSecret(secret);
}

function errorFromAnswer(status: number, text: string, retryAfter: string | undefined): CredentialFetchError {
  const brokerError = parseBrokerError(text);
  const retryAfterMs = parseRetryAfter(retryAfter);
  const what = brokerError
    ? `HTTP ${status} ${brokerError.reason}: ${brokerError.message}`
    : `HTTP ${status}${excerpt(text)}`;
  return new CredentialFetchError(what, {
    retryable: isRetryableStatus(status),
    status,
    ...(brokerError ? { reason: brokerError.reason } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

function parseBrokerError(text: string): BrokerError | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<BrokerError> | null;
    if (typeof parsed?.reason === 'string' && typeof parsed.message === 'string') {
      return {
        code: typeof parsed.code === 'number' ? parsed.code : 0,
        reason: parsed.reason,
        message: parsed.message,
      };
    }
  } catch {
    // Not ours: a proxy or load balancer answered.
  }
  return undefined;
}

/** A short, single-line look at a body that is not a BrokerError, for the log. */
function excerpt(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line === '') return '';
  return `: ${line.length > BODY_EXCERPT_CHARS ? `${line.slice(0, BODY_EXCERPT_CHARS)}…` : line}`;
}

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const date = Date.parse(text);
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/**
 * Reads at most `limit` bytes of a body. A longer body is cut off (and the
 * connection dropped) rather than buffered: the agent's memory limit is small.
 */
async function readBounded(
  body: Readable,
  limit: number,
  contentLength: string | undefined,
): Promise<{ text: string; truncated: boolean }> {
  if (contentLength !== undefined && Number(contentLength) > limit) {
    body.destroy();
    return { text: '', truncated: true };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      body.destroy();
      return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
    }
    chunks.push(chunk);
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Network and TLS errors name their cause in `code` (ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE, …). */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? error.cause : undefined;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  const message = cause?.message ?? error.message;
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
