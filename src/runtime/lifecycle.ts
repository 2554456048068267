import type { Logger } from '../log/logger.ts';
import { ExitCode } from './exit-codes.ts';
import { TimeoutError, withTimeout } from './with-timeout.ts';

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** Where termination signals come from: `process` in production, a fake in tests. */
export interface SignalSource {
  on(signal: ShutdownSignal, listener: () => void): unknown;
  off(signal: ShutdownSignal, listener: () => void): unknown;
}

/** Releases one resource; `deadline` aborts when its share of the shutdown timeout runs out. */
export type ShutdownHook = (deadline: AbortSignal) => Promise<void> | void;

export interface LifecycleOptions {
  /** Budget for all shutdown hooks together. */
  shutdownTimeoutMs: number;
  logger: Logger;
  signals: SignalSource;
  /** Ends the process at once; used when a second signal arrives mid-shutdown. */
  forceExit: (code: number) => void;
}

/**
 * Graceful shutdown for a long-running process. Once shutdown begins (first
 * SIGTERM/SIGINT, or `shutdown()`), `signal` aborts so readiness fails and
 * loops stop, then the registered hooks run one at a time in reverse
 * registration order (last started, first stopped) within the shutdown
 * timeout. A second signal forces the process out immediately.
 */
export class Lifecycle {
  readonly #options: LifecycleOptions;
  readonly #hooks: { name: string; hook: ShutdownHook }[] = [];
  readonly #stopping = new AbortController();
  readonly #done = Promise.withResolvers<number>();
  readonly #signalListeners: [ShutdownSignal, () => void][];
  #shutdown: Promise<number> | undefined;

  constructor(options: LifecycleOptions) {
    this.#options = options;
    this.#signalListeners = SHUTDOWN_SIGNALS.map((signal) => [signal, () => this.#receiveSignal(signal)]);
    for (const [signal, listener] of this.#signalListeners) options.signals.on(signal, listener);
  }

  /** Aborted as soon as shutdown begins; long-running loops should watch it. */
  get signal(): AbortSignal {
    return this.#stopping.signal;
  }

  /**
   * Registers a hook to run at shutdown.
   * @throws Error once shutdown has begun: the hook would never run.
   */
  onShutdown(name: string, hook: ShutdownHook): void {
    if (this.#shutdown) throw new Error(`cannot register shutdown hook "${name}": shutdown has already begun`);
    this.#hooks.push({ name, hook });
  }

  /**
   * Begins shutdown (once; later calls return the same result) and resolves
   * with the exit code: 0 when every hook finished in time, 1 otherwise.
   */
  shutdown(reason: string): Promise<number> {
    this.#shutdown ??= this.#runShutdown(reason);
    return this.#shutdown;
  }

  /** Resolves with the exit code once shutdown, however it began, has finished. */
  done(): Promise<number> {
    return this.#done.promise;
  }

  #receiveSignal(signal: ShutdownSignal): void {
    if (this.#shutdown) {
      this.#options.logger.warn({ signal }, 'received a second termination signal; exiting without finishing shutdown');
      this.#options.forceExit(ExitCode.failure);
      return;
    }
    void this.shutdown(`received ${signal}`);
  }

  async #runShutdown(reason: string): Promise<number> {
    const { logger, shutdownTimeoutMs } = this.#options;
    const started = performance.now();
    const deadline = started + shutdownTimeoutMs;
    this.#stopping.abort(new Error(`shutting down: ${reason}`));
    logger.info({ reason, timeoutMs: shutdownTimeoutMs, hooks: this.#hooks.length }, 'shutting down');

    let clean = true;
    for (const { name, hook } of this.#hooks.toReversed()) {
      const remainingMs = Math.ceil(deadline - performance.now());
      if (remainingMs <= 0) {
        clean = false;
        logger.error({ hook: name }, 'shutdown hook skipped: shutdown timeout used up');
        continue;
      }
      const hookStarted = performance.now();
      logger.info({ hook: name }, 'running shutdown hook');
      try {
        await withTimeout(`shutdown hook "${name}"`, remainingMs, hook);
        logger.info({ hook: name, durationMs: elapsedMs(hookStarted) }, 'shutdown hook finished');
      } catch (err) {
        clean = false;
        const what = err instanceof TimeoutError ? 'shutdown hook timed out' : 'shutdown hook failed';
        logger.error({ hook: name, durationMs: elapsedMs(hookStarted), err }, what);
      }
    }

    for (const [signal, listener] of this.#signalListeners) this.#options.signals.off(signal, listener);
    const exitCode = clean ? ExitCode.ok : ExitCode.failure;
    logger.info({ exitCode, durationMs: elapsedMs(started) }, 'shutdown complete');
    this.#done.resolve(exitCode);
    return exitCode;
  }
}

function elapsedMs(since: number): number {
  return Math.round(performance.now() - since);
}
