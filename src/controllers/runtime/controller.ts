// Runs a reconciler the way controller-runtime does: informer events become
// keys in one work queue, N workers take keys (never one key twice at once),
// and the reconciler's answer decides what happens next: done, requeue after
// a delay, or (it threw) retry with per-key backoff. Every key is requeued
// periodically too, so a lost event cannot leave an object unreconciled.
import type { KubernetesObject } from '@kubernetes/client-node';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from '../../log/logger.ts';
import type { ResilientInformer } from './informer.ts';
import { DefaultRateLimiter } from './rate-limiter.ts';
import { WorkQueue } from './workqueue.ts';

/** namespace/name, or name for cluster-scoped objects. */
export type ObjectKey = string;

export interface ReconcileResult {
  /** Reconcile this key again after this long, even if nothing changes. */
  requeueAfterMs?: number;
}

export interface Reconciler {
  reconcile(key: ObjectKey, signal: AbortSignal): Promise<ReconcileResult>;
}

export interface ControllerOptions<T extends KubernetesObject> {
  name: string;
  informer: ResilientInformer<T>;
  reconciler: Reconciler;
  /** Other objects whose changes concern a primary one (controller-runtime's Owns). */
  watches?: readonly SecondaryWatch[];
  workers: number;
  resyncMs: number;
  logger: Logger;
  metrics: ControllerMetrics;
}

export interface SecondaryWatch {
  readonly informer: Pick<ResilientInformer<KubernetesObject>, 'start' | 'stop'>;
  subscribe(enqueue: (key: ObjectKey) => void): void;
}

/** Watches `informer` and enqueues the primary object `keyFor` names (e.g. a Job's owner). */
export function secondaryWatch<S extends KubernetesObject>(
  informer: ResilientInformer<S>,
  keyFor: (object: S) => ObjectKey | undefined,
): SecondaryWatch {
  return {
    informer,
    subscribe: (enqueue) =>
      informer.onChange((object) => {
        const key = keyFor(object);
        if (key) enqueue(key);
      }),
  };
}

export class ControllerMetrics {
  readonly duration: Histogram<'controller' | 'outcome'>;
  readonly errors: Counter<'controller'>;
  readonly depth: Gauge<'controller'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'courier_reconcile_duration_seconds',
      help: 'Time one reconcile took, by controller and outcome (success, requeue, error).',
      labelNames: ['controller', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'courier_reconcile_errors_total',
      help: 'Reconciles that threw, by controller.',
      labelNames: ['controller'],
      registers: [registry],
    });
    this.depth = new Gauge({
      name: 'courier_workqueue_depth',
      help: 'Keys waiting in the work queue, by controller.',
      labelNames: ['controller'],
      registers: [registry],
    });
  }
}

export function keyOf(object: KubernetesObject): ObjectKey {
  const { namespace, name = '' } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : name;
}

export function splitKey(key: ObjectKey): { namespace?: string; name: string } {
  const slash = key.indexOf('/');
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export class Controller<T extends KubernetesObject> {
  readonly queue = new WorkQueue<ObjectKey>(new DefaultRateLimiter());
  private readonly options: ControllerOptions<T>;
  private readonly logger: Logger;

  constructor(options: ControllerOptions<T>) {
    this.options = options;
    this.logger = options.logger.child({ controller: options.name });
    options.informer.onChange((object) => this.enqueue(keyOf(object)));
    for (const watch of options.watches ?? []) watch.subscribe((key) => this.enqueue(key));
  }

  enqueue(key: ObjectKey): void {
    this.queue.add(key);
    this.options.metrics.depth.set({ controller: this.options.name }, this.queue.length);
  }

  /** Runs until `signal` aborts; in-flight reconciles finish (they see the signal). */
  async run(signal: AbortSignal): Promise<void> {
    const { informer, workers, resyncMs } = this.options;
    const informers = [informer, ...(this.options.watches ?? []).map((w) => w.informer)];
    const stopInformers = () => Promise.all(informers.map((i) => i.stop()));
    // The first list may take long (a CRD not installed yet): stopping must not wait for it.
    // Every cache is filled before the first reconcile, which trusts what they hold.
    const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([Promise.all(informers.map((i) => i.start())), stopped]);
    if (signal.aborted) {
      await stopInformers();
      return;
    }
    for (const object of informer.list()) this.enqueue(keyOf(object));
    const resync = setInterval(() => {
      for (const object of informer.list()) this.enqueue(keyOf(object));
    }, resyncMs);
    signal.addEventListener('abort', () => this.queue.shutdown(), { once: true });
    this.logger.info({ workers }, 'controller started');
    await Promise.all(Array.from({ length: workers }, () => this.work(signal)));
    clearInterval(resync);
    await stopInformers();
    this.logger.info('controller stopped');
  }

  private async work(signal: AbortSignal): Promise<void> {
    const { name, reconciler, metrics } = this.options;
    for (let key = await this.queue.get(); key !== undefined; key = await this.queue.get()) {
      metrics.depth.set({ controller: name }, this.queue.length);
      const stopTimer = metrics.duration.startTimer({ controller: name });
      try {
        const result = await reconciler.reconcile(key, signal);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
        stopTimer({ outcome: result.requeueAfterMs !== undefined ? 'requeue' : 'success' });
      } catch (err) {
        stopTimer({ outcome: 'error' });
        metrics.errors.inc({ controller: name });
        this.logger.warn(
          { err, key, failures: this.queue.failures(key) + 1 },
          'reconcile failed; retrying with backoff',
        );
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}
