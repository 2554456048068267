// The HTTP endpoints every Courier process exposes to the platform: liveness
// (/healthz), readiness (/readyz) and Prometheus metrics (/metrics).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Registry } from 'prom-client';
import { formatBindAddress, type BindAddress } from '../config/bind-address.ts';
import type { Logger } from '../log/logger.ts';
import { withTimeout } from '../runtime/with-timeout.ts';

/** Resolves when ready; throws (or rejects) with the reason when not. */
export type ReadinessCheck = (signal: AbortSignal) => Promise<void> | void;

export interface ProbeServerOptions {
  metricsAddress: BindAddress;
  healthProbeAddress: BindAddress;
  registry: Registry;
  logger: Logger;
  /** Once aborted (shutdown began), readiness fails whatever the checks say. */
  shutdownSignal?: AbortSignal;
  /** How long one readiness check may take before it counts as failed. */
  checkTimeoutMs?: number;
}

/** The addresses actually bound, with real ports when port 0 was asked for. */
export interface ListeningAddresses {
  metrics: BindAddress;
  healthProbe: BindAddress;
}

interface CheckResult {
  name: string;
  failure?: unknown;
}

const DEFAULT_CHECK_TIMEOUT_MS = 5_000;
/** The built-in check that fails once shutdown begins, named as kube-apiserver names it. */
const SHUTDOWN_CHECK = 'shutdown';

/**
 * Serves /healthz and /readyz on the health probe address and /metrics on the
 * metrics address, on one listener when the two addresses are the same.
 */
export class ProbeServer {
  readonly #options: ProbeServerOptions;
  readonly #checks = new Map<string, ReadinessCheck>();
  /** Last outcome per check, so only changes are logged, not every probe. */
  readonly #lastPassed = new Map<string, boolean>();
  #servers: Server[] = [];

  constructor(options: ProbeServerOptions) {
    this.#options = options;
  }

  /**
   * Adds a named readiness check, run on every /readyz request.
   * @throws Error when the name is taken.
   */
  addReadinessCheck(name: string, check: ReadinessCheck): void {
    if (this.#checks.has(name) || name === SHUTDOWN_CHECK) {
      throw new Error(`readiness check "${name}" is already registered`);
    }
    this.#checks.set(name, check);
  }

  /** Starts listening; resolves with the bound addresses. */
  async start(): Promise<ListeningAddresses> {
    const { metricsAddress, healthProbeAddress } = this.#options;
    if (sameAddress(metricsAddress, healthProbeAddress)) {
      const server = await this.#listen(healthProbeAddress, 'metrics and health probes', (app) => {
        this.#addProbeRoutes(app);
        this.#addMetricsRoute(app);
      });
      const bound = boundAddress(server);
      return { metrics: bound, healthProbe: bound };
    }
    const metrics = await this.#listen(metricsAddress, 'metrics', (app) => this.#addMetricsRoute(app));
    const probes = await this.#listen(healthProbeAddress, 'health probes', (app) => this.#addProbeRoutes(app));
    return { metrics: boundAddress(metrics), healthProbe: boundAddress(probes) };
  }

  /** Stops accepting connections and waits for in-flight requests to finish. */
  async stop(): Promise<void> {
    const servers = this.#servers;
    this.#servers = [];
    await Promise.all(servers.map(close));
  }

  async #listen(address: BindAddress, purpose: string, addRoutes: (app: Express) => void): Promise<Server> {
    const app = express();
    app.disable('x-powered-by');
    app.disable('etag');
    addRoutes(app);
    app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
      this.#options.logger.error({ err: error }, `${purpose} request failed`);
      res.status(500).type('text/plain').send('internal error\n');
    });
    const server = createServer(app);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port: address.port, host: address.host || undefined }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      // Do not leave the first listener running when the second one fails.
      await this.stop();
      throw new Error(`cannot serve ${purpose} on ${formatBindAddress(address)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.#servers.push(server);
    return server;
  }

  #addProbeRoutes(app: Express): void {
    // Liveness only says the process can still serve HTTP. It stays healthy
    // during shutdown: restarting a pod that is already stopping helps nobody.
    app.get('/healthz', (_req, res) => {
      res.type('text/plain').send('ok');
    });
    app.get('/readyz', async (req, res) => {
      const results = await this.#runReadinessChecks();
      const passed = results.every((result) => result.failure === undefined);
      res
        .status(passed ? 200 : 503)
        .type('text/plain')
        .send(readinessReport(results, 'verbose' in req.query));
    });
  }

  #addMetricsRoute(app: Express): void {
    const { registry } = this.#options;
    app.get('/metrics', async (_req, res) => {
      res.type(registry.contentType).send(await registry.metrics());
    });
  }

  async #runReadinessChecks(): Promise<CheckResult[]> {
    const timeoutMs = this.#options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
    const results = await Promise.all(
      [...this.#checks].map(async ([name, check]): Promise<CheckResult> => {
        try {
          await withTimeout(`readiness check "${name}"`, timeoutMs, check);
          return { name };
        } catch (failure) {
          return { name, failure: failure ?? new Error('failed') };
        }
      }),
    );
    for (const result of results) this.#logTransition(result);
    const shuttingDown = this.#options.shutdownSignal?.aborted === true;
    return [...results, shuttingDown ? { name: SHUTDOWN_CHECK, failure: 'shutting down' } : { name: SHUTDOWN_CHECK }];
  }

  #logTransition({ name, failure }: CheckResult): void {
    const passed = failure === undefined;
    const previously = this.#lastPassed.get(name);
    this.#lastPassed.set(name, passed);
    if (passed === previously) return;
    if (!passed) this.#options.logger.warn({ check: name, err: failure }, 'readiness check failing');
    else if (previously === false) this.#options.logger.info({ check: name }, 'readiness check passing again');
  }
}

/**
 * kube-apiserver's format: "ok" when ready, else (or when verbose) a line per
 * check and a verdict. Failure reasons stay out of it because the endpoint is
 * unauthenticated; they are logged instead.
 */
function readinessReport(results: readonly CheckResult[], verbose: boolean): string {
  const passed = results.every((result) => result.failure === undefined);
  if (passed && !verbose) return 'ok';
  const lines = results
    .filter((result) => verbose || result.failure !== undefined)
    .map(({ name, failure }) => (failure === undefined ? `[+]${name} ok` : `[-]${name} failed: reason withheld`));
  return [...lines, `readyz check ${passed ? 'passed' : 'failed'}`, ''].join('\n');
}

function sameAddress(a: BindAddress, b: BindAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

function boundAddress(server: Server): BindAddress {
  const { address, port } = server.address() as AddressInfo;
  return { host: address, port };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()));
    // Keep-alive connections with no request in flight would otherwise hold
    // close() open until they time out.
    server.closeIdleConnections();
  });
}
