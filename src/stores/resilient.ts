// Wraps a store with what every store call needs: a timeout, bounded retries
// with exponential backoff and jitter for retryable errors, and metrics.
import { setTimeout as sleep } from 'node:timers/promises';
import { Counter, Histogram, type Registry } from 'prom-client';
import { StoreError, unavailable } from './errors.ts';
import type { CallOptions, PutOptions, SecretRef, SecretStore, StoredSecret, StoredVersion } from './store.ts';

export interface ResilienceOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  timeoutMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
  metrics?: StoreMetrics;
}

export const DEFAULT_RESILIENCE: ResilienceOptions = {
  attempts: 4,
  timeoutMs: 10_000,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
};

export class StoreMetrics {
  readonly operations: Counter<'store' | 'operation' | 'outcome'>;
  readonly duration: Histogram<'store' | 'operation'>;

  constructor(registry: Registry) {
    this.operations = new Counter({
      name: 'courier_store_operations_total',
      help: 'Store calls by store, operation and outcome (ok or the error kind).',
      labelNames: ['store', 'operation', 'outcome'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'courier_store_operation_duration_seconds',
      help: 'Duration of store calls, retries included.',
      labelNames: ['store', 'operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }
}

export function withResilience(store: SecretStore, options: Partial<ResilienceOptions> = {}): SecretStore {
  const settings = { ...DEFAULT_RESILIENCE, ...options };

  async function call<T>(
    operation: string,
    retryable: boolean,
    caller: CallOptions | undefined,
    run: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const stopTimer = settings.metrics?.duration.startTimer({ store: store.name, operation });
    let outcome = 'ok';
    try {
      for (let attempt = 1; ; attempt++) {
        const timeout = AbortSignal.timeout(settings.timeoutMs);
        const signal = caller?.signal ? AbortSignal.any([caller.signal, timeout]) : timeout;
        try {
          return await untilAborted(run(signal), signal);
        } catch (error) {
          const failure = asStoreError(error, timeout, store.name, operation);
          if (!retryable || !failure.retryable || attempt >= settings.attempts || caller?.signal?.aborted) {
            outcome = failure.kind;
            throw failure;
          }
          const ceiling = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (attempt - 1));
          await sleep(
            ceiling / 2 + Math.random() * (ceiling / 2),
            undefined,
            caller?.signal ? { signal: caller.signal } : undefined,
          );
        }
      }
    } finally {
      stopTimer?.();
      settings.metrics?.operations.inc({ store: store.name, operation, outcome });
    }
  }

  return {
    name: store.name,
    type: store.type,
    // A put is retried only under optimistic concurrency: if a lost response
    // hid a success, the retry fails with Conflict instead of adding a
    // duplicate version, and the caller re-reads.
    putVersion: (ref: SecretRef, payload: string, opts?: PutOptions & CallOptions): Promise<StoredVersion> =>
      call('put', opts?.expectedCurrent !== undefined, opts, (signal) =>
        store.putVersion(ref, payload, { ...opts, signal }),
      ),
    get: (ref: SecretRef, version?: string, opts?: CallOptions): Promise<StoredSecret> =>
      call('get', true, opts, (signal) => store.get(ref, version, { signal })),
    listVersions: (ref: SecretRef, opts?: CallOptions) =>
      call('list', true, opts, (signal) => store.listVersions(ref, { signal })),
    delete: (ref: SecretRef, opts?: CallOptions) =>
      call('delete', true, opts, (signal) => store.delete(ref, { signal })),
    health: (opts?: CallOptions) => call('health', true, opts, (signal) => store.health({ signal })),
  };
}

// Not every client honours an AbortSignal; stop waiting for those anyway.
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function asStoreError(error: unknown, timeout: AbortSignal, store: string, operation: string): StoreError {
  if (error instanceof StoreError) return error;
  if (timeout.aborted) return unavailable(store, `${operation} timed out`, error);
  return unavailable(store, operation, error);
}
