// The admission endpoint: HTTPS, POST /mutate-v1-pod, one AdmissionReview per
// request. It counts and logs every decision (never the pod spec) and swaps
// in a rotated serving certificate without a restart.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { BindAddress } from '../config/bind-address.ts';
import type { Logger } from '../log/logger.ts';
import { METRICS_PREFIX } from '../server/metrics.ts';
import { review, type Outcome, type ReviewDependencies, type ReviewResult } from './admission.ts';
import { TlsFiles } from './tls-files.ts';

export const MUTATE_PATH = '/mutate-v1-pod';
/** Far above any real pod (etcd stores at most 1.5 MiB per object), well below what could hurt the process. */
const BODY_LIMIT = '2mb';
/**
 * Longer than the apiserver keeps an idle connection to a webhook (90 s), so
 * the client closes first: a server closing a connection just as the client
 * reuses it would fail that admission.
 */
const KEEP_ALIVE_TIMEOUT_MS = 120_000;
/** The apiserver never waits longer than 30 s for a webhook. */
const REQUEST_TIMEOUT_MS = 30_000;
const TLS_POLL_INTERVAL_MS = 2_000;

export interface AdmissionServerOptions {
  address: BindAddress;
  certFile: string;
  keyFile: string;
  review: ReviewDependencies;
  registry: Registry;
  logger: Logger;
}

export class AdmissionServer {
  readonly #options: AdmissionServerOptions;
  readonly #tls: TlsFiles;
  readonly #requests: Counter<'outcome' | 'dry_run'>;
  readonly #duration: Histogram;
  /**
   * body-parser's JSON reader (Express's own), for its handling of limits,
   * charsets and encodings. Not the Express app around it: routing one path
   * cost a tenth of a review's CPU (bench/README.md, Profiles).
   */
  readonly #readJson = express.json({ limit: BODY_LIMIT, type: 'application/json' });
  #server: Server | undefined;

  constructor(options: AdmissionServerOptions) {
    this.#options = options;
    this.#tls = new TlsFiles({
      certFile: options.certFile,
      keyFile: options.keyFile,
      logger: options.logger,
      pollIntervalMs: TLS_POLL_INTERVAL_MS,
    });
    this.#requests = new Counter({
      name: `${METRICS_PREFIX}admission_requests_total`,
      help: 'Admission requests answered, by outcome (mutated, unchanged, skipped, denied, invalid) and dry run',
      labelNames: ['outcome', 'dry_run'],
      registers: [options.registry],
    });
    this.#duration = new Histogram({
      name: `${METRICS_PREFIX}admission_duration_seconds`,
      help: 'Time from receiving an admission request to answering it',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [options.registry],
    });
  }

  /** Starts serving; resolves with the bound address (a real port when port 0 was asked for). */
  async start(): Promise<BindAddress> {
    const { address } = this.#options;
    const server = createServer({ ...(await this.#tls.load()), minVersion: 'TLSv1.2' }, (req, res) =>
      this.#handle(req, res),
    );
    server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: address.port, host: address.host || undefined }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    this.#tls.watch((pair) => server.setSecureContext({ ...pair, minVersion: 'TLSv1.2' }));
    const bound = server.address() as AddressInfo;
    return { host: bound.address, port: bound.port };
  }

  /** Stops accepting connections and waits for requests in flight. */
  async stop(): Promise<void> {
    this.#tls.stop();
    const server = this.#server;
    if (!server) return;
    await new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeIdleConnections();
    });
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    // The apiserver adds ?timeout=… to the configured URL.
    const path = req.url?.split('?', 1)[0];
    if (req.method !== 'POST' || path !== MUTATE_PATH) {
      // Not an admission request: answered, not counted.
      send(res, 404, { message: `only POST ${MUTATE_PATH} is served here` });
      return;
    }
    const stopTimer = this.#duration.startTimer();
    res.once('finish', () => stopTimer());
    const mediaType = req.headers['content-type']?.split(';', 1)[0]!.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      this.#reject(
        res,
        415,
        `expected Content-Type application/json, got ${JSON.stringify(req.headers['content-type'] ?? '')}`,
      );
      return;
    }
    this.#readJson(req, res, (error?: unknown) => {
      if (error !== undefined) return this.#failed(res, error);
      review((req as IncomingMessage & { body?: unknown }).body, this.#options.review)
        .then((result) => {
          this.#record(result);
          send(res, result.httpStatus, result.body);
        })
        .catch((failure: unknown) => this.#failed(res, failure));
    });
  }

  /** body-parser's errors carry the status to answer: 413 too large, 400 not JSON, 415 unknown charset. */
  #failed(res: ServerResponse, error: unknown): void {
    const status = (error as { status?: unknown }).status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      this.#reject(res, status, (error as Error).message);
      return;
    }
    this.#options.logger.error({ err: error }, 'admission request failed');
    this.#reject(res, 500, 'internal error');
  }

  /** Answers a request that carried no AdmissionReview to answer. */
  #reject(res: ServerResponse, status: number, message: string): void {
    this.#record({ outcome: 'invalid', reason: message, dryRun: false });
    send(res, status, { message });
  }

  #record(result: Omit<ReviewResult, 'httpStatus' | 'body'>): void {
    const { outcome, reason, dryRun, uid, namespace, pod, err } = result;
    this.#requests.inc({ outcome, dry_run: String(dryRun) });
    const fields = { outcome, reason, dryRun, uid, namespace, pod };
    if (err !== undefined) this.#options.logger.error({ ...fields, err }, 'admission failed');
    else this.#options.logger.info(fields, admissionMessage[outcome]);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

const admissionMessage: Readonly<Record<Outcome, string>> = {
  mutated: 'pod mutated',
  unchanged: 'pod unchanged',
  skipped: 'request skipped',
  denied: 'pod denied',
  invalid: 'request invalid',
};
