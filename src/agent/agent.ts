// The agent's run: get every connection's credentials onto disk, mark them
// ready, and (as a sidecar) keep the expiring ones fresh until SIGTERM.
//
// Two kinds of failure, treated differently:
//   - refusals (401, 403, 404, a response that cannot be written) need an
//     admin; the first one ends a first fetch at once with one clear line;
//   - everything else (429, 5xx, timeouts, connection errors) usually passes:
//     it is retried with capped, fully jittered exponential backoff (AWS's
//     "full jitter", so that a restarted broker is not hit by every pod in
//     lockstep) until --retry-timeout, or, for a refresh, until the files on
//     disk expire.
import type { CredentialResponse } from '../api/v1alpha1/delivery.ts';
import type { Logger } from '../log/logger.ts';
import { ExitCode } from '../runtime/exit-codes.ts';
import { CredentialFetchError } from './broker-client.ts';
import { credentialFiles, writeConnectionFiles, writeReadyMarker, type FileMode } from './files.ts';
import { sleep } from './sleep.ts';

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 30_000;
/** Refresh when this much of a credential's lifetime has passed: early enough to ride out a broker outage. */
export const REFRESH_FRACTION = 0.8;
/** A floor under the refresh delay, for lifetimes so short (or clocks so skewed) that 80% is already past. */
export const MIN_REFRESH_DELAY_MS = 1_000;

export type AgentMode = 'init' | 'sidecar';

export interface AgentSettings {
  mode: AgentMode;
  connections: readonly string[];
  outputDir: string;
  fileMode: FileMode;
  /** How long retryable failures are retried before the first write. */
  retryTimeoutMs: number;
}

/** Where credentials come from: the broker client, or a fake in tests. */
export interface CredentialSource {
  fetch(connection: string, signal: AbortSignal): Promise<CredentialResponse>;
}

export interface AgentDependencies {
  source: CredentialSource;
  logger: Logger;
  /** Aborted at shutdown (SIGTERM, SIGINT): stops timers and in-flight requests. */
  signal: AbortSignal;
  /** Math.random unless a test wants the jitter fixed. */
  random?: () => number;
}

/** One connection's credentials as written: when they arrived and when they stop working. */
interface Delivered {
  connection: string;
  issuedAt: number;
  expiresAt: number | undefined;
}

/** A connection's credentials could not be delivered; `message` is the line the admin reads. */
class DeliveryFailed extends Error {
  readonly connection: string;
  readonly status: number | undefined;
  readonly reason: string | undefined;
  readonly attempts: number;

  constructor(message: string, connection: string, cause: unknown, attempts: number) {
    super(message);
    this.name = 'DeliveryFailed';
    this.connection = connection;
    this.status = cause instanceof CredentialFetchError ? cause.status : undefined;
    this.reason = cause instanceof CredentialFetchError ? cause.reason : undefined;
    this.attempts = attempts;
  }
}

/** Runs the agent and resolves with the process exit code. */
export async function runAgent(settings: AgentSettings, dependencies: AgentDependencies): Promise<number> {
  return new Agent(settings, dependencies).run();
}

class Agent {
  readonly #settings: AgentSettings;
  readonly #source: CredentialSource;
  readonly #logger: Logger;
  readonly #shutdown: AbortSignal;
  readonly #random: () => number;
  /** Aborted by the first failure that ends the run, so the other connections stop too. */
  readonly #failed = new AbortController();
  readonly #signal: AbortSignal;

  constructor(settings: AgentSettings, dependencies: AgentDependencies) {
    this.#settings = settings;
    this.#source = dependencies.source;
    this.#logger = dependencies.logger;
    this.#shutdown = dependencies.signal;
    this.#random = dependencies.random ?? Math.random;
    this.#signal = AbortSignal.any([this.#shutdown, this.#failed.signal]);
  }

  async run(): Promise<number> {
    const { mode, connections, outputDir, fileMode, retryTimeoutMs } = this.#settings;
    const deadline = Date.now() + retryTimeoutMs;
    let delivered: Delivered[];
    try {
      delivered = await Promise.all(
        connections.map((connection) => this.#guarded(this.#deliver(connection, deadline, 'first fetch'))),
      );
      const marker = await writeReadyMarker(outputDir, fileMode);
      this.#logger.info({ connections, marker }, 'credentials ready');
    } catch (error) {
      if (this.#shutdown.aborted) {
        // An init container that exits 0 tells the kubelet the files are in
        // place; a sidecar is just being stopped with its pod.
        this.#logger.info('stopped before the credentials were written');
        return mode === 'init' ? ExitCode.failure : ExitCode.ok;
      }
      return this.#fail(error);
    }
    if (mode === 'init') return ExitCode.ok;
    return this.#keepFresh(delivered);
  }

  /** Sidecar: refreshes what expires until shutdown, or until a refresh gives up. */
  async #keepFresh(delivered: Delivered[]): Promise<number> {
    const expiring = delivered.filter((item) => item.expiresAt !== undefined);
    this.#logger.info(
      { refreshing: expiring.map((item) => item.connection) },
      'keeping the credentials fresh until SIGTERM',
    );
    // Signal handlers do not keep Node's event loop alive; with nothing to
    // refresh there would be no timer left, and the sidecar would exit.
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    try {
      await Promise.all([...expiring.map((item) => this.#guarded(this.#refreshLoop(item))), aborted(this.#signal)]);
    } catch (error) {
      if (!this.#shutdown.aborted) return this.#fail(error);
    } finally {
      clearInterval(keepAlive);
    }
    this.#logger.info('stopped keeping the credentials fresh');
    return ExitCode.ok;
  }

  async #refreshLoop(first: Delivered): Promise<void> {
    let current = first;
    while (current.expiresAt !== undefined) {
      const { connection, issuedAt, expiresAt } = current;
      const refreshAt = issuedAt + REFRESH_FRACTION * (expiresAt - issuedAt);
      const delayMs = Math.max(refreshAt - Date.now(), MIN_REFRESH_DELAY_MS);
      this.#logger.debug({ connection, refreshAt: new Date(Date.now() + delayMs).toISOString() }, 'refresh scheduled');
      try {
        await sleep(delayMs, this.#signal);
      } catch {
        return; // shutdown, or another connection failed
      }
      // Until they expire, the old files still work: keep trying until then.
      current = await this.#deliver(connection, expiresAt, 'refresh');
    }
  }

  /** Lets the first failure stop every other connection's attempts. */
  async #guarded<T>(work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      this.#failed.abort(error);
      throw error;
    }
  }

  /**
   * Fetches a connection's credentials and writes them, retrying until
   * `deadline`. A first fetch gives up at once on a refusal; a refresh
   * retries even those, since the files it would replace still work.
   */
  async #deliver(connection: string, deadline: number, phase: 'first fetch' | 'refresh'): Promise<Delivered> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#deliverOnce(connection, phase);
      } catch (error) {
        if (this.#signal.aborted) throw this.#signal.reason;
        const retryable = phase === 'refresh' || (error instanceof CredentialFetchError && error.retryable);
        if (!retryable) throw new DeliveryFailed(refusalLine(connection, error), connection, error, attempt);
        const remainingMs = deadline - Date.now();
        if (remainingMs <= 0) {
          throw new DeliveryFailed(giveUpLine(connection, phase, error, attempt), connection, error, attempt);
        }
        const retryInMs = Math.min(this.#backoff(attempt, error), remainingMs);
        this.#logger.warn(
          { connection, phase, attempt, ...statusOf(error), retryInMs, error: describe(error) },
          `${phase} of connection ${connection} failed; retrying`,
        );
        await sleep(retryInMs, this.#signal);
      }
    }
  }

  async #deliverOnce(connection: string, phase: string): Promise<Delivered> {
    const response = await this.#source.fetch(connection, this.#signal);
    const issuedAt = Date.now();
    const files = credentialFiles(response);
    const { outputDir, fileMode } = this.#settings;
    const paths = await writeConnectionFiles(outputDir, connection, files, fileMode);
    this.#logger.info(
      {
        connection,
        kind: response.kind,
        expiration: response.expiration,
        files: paths,
        // An identifier, not a secret: it lets CloudTrail entries be matched to this pod.
        ...(response.aws ? { accessKeyId: response.aws.accessKeyId } : {}),
      },
      phase === 'refresh' ? 'refreshed credentials' : 'wrote credentials',
    );
    const expiresAt = response.expiration === undefined ? undefined : Date.parse(response.expiration);
    return { connection, issuedAt, expiresAt };
  }

  /** Full jitter: uniform in [0, min(cap, base·2^(attempt-1))], but never sooner than Retry-After. */
  #backoff(attempt: number, error: unknown): number {
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
    const jittered = Math.round(this.#random() * ceiling);
    const retryAfterMs = error instanceof CredentialFetchError ? error.retryAfterMs : undefined;
    return Math.max(jittered, retryAfterMs ?? 0);
  }

  /** Logs the one line that says why the agent stops, and returns the exit code. */
  #fail(error: unknown): number {
    if (error instanceof DeliveryFailed) {
      const { connection, status, reason, attempts } = error;
      this.#logger.error({ connection, status, reason, attempts }, error.message);
    } else {
      this.#logger.error({ err: error }, 'the agent failed');
    }
    return ExitCode.failure;
  }
}

function statusOf(error: unknown): { status?: number; reason?: string } {
  if (!(error instanceof CredentialFetchError)) return {};
  return {
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.reason === undefined ? {} : { reason: error.reason }),
  };
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function refusalLine(connection: string, error: unknown): string {
  const status = error instanceof CredentialFetchError ? error.status : undefined;
  // 401/403/404 are the broker's access decisions; the admin finds the
  // pod's request in the ToolConnection's status.accessRequests.
  const hint =
    status !== undefined && [401, 403, 404].includes(status)
      ? ` (see status.accessRequests of ToolConnection ${connection})`
      : '';
  return `cannot get credentials for connection ${connection}: ${describe(error)}${hint}`;
}

function giveUpLine(connection: string, phase: string, error: unknown, attempts: number): string {
  const what =
    phase === 'refresh'
      ? `the credentials of connection ${connection} expired before a refresh succeeded`
      : `gave up on connection ${connection}`;
  return `${what}: ${attempts} attempts failed, the last with: ${describe(error)}`;
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
