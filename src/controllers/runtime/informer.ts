// An informer (client-node's ListWatch) that does not go silent. ListWatch
// stops for good on an error other than 410 Gone (an apiserver restart, a
// refused connection), and a watch whose connection died without a FIN waits
// forever (client-node issues #596, #958, #1933). So this wrapper restarts it
// with backoff after errors, and a watchdog relists from scratch when nothing
// at all has arrived for `staleAfterMs` — emitting deletes for objects that
// vanished meanwhile, so handlers see the world as it is.
import {
  ListWatch,
  Watch,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  /** The watch path, e.g. /apis/courier.dev/v1alpha1/toolconnections. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  /** Relist when no event, bookmark-driven reconnect or list has arrived for this long. */
  staleAfterMs: number;
  /** Only objects with these labels; `list` must apply the same selector. */
  labelSelector?: string;
  /** Only objects with these fields (e.g. metadata.name=x); `list` must apply the same selector. */
  fieldSelector?: string;
  restartBaseMs?: number;
  restartMaxMs?: number;
}

type Handler<T> = (object: T, event: InformerEvent) => void;

export class ResilientInformer<T extends KubernetesObject> {
  private readonly kubeConfig: KubeConfig;
  private readonly options: Required<Omit<InformerOptions<T>, 'labelSelector' | 'fieldSelector'>> &
    Pick<InformerOptions<T>, 'labelSelector' | 'fieldSelector'>;
  private readonly logger: Logger;
  private readonly handlers: Handler<T>[] = [];
  private current: ListWatch<T> | undefined;
  private lastActivity = Date.now();
  private restartDelayMs = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  private markSynced: () => void = () => {};
  private synced: Promise<void> | undefined;
  /** Components sharing this informer: it runs while one of them needs it. */
  private users = 0;
  /** How often the informer was restarted after an error or silence. */
  restarts = 0;

  constructor(kubeConfig: KubeConfig, options: InformerOptions<T>, logger: Logger) {
    this.kubeConfig = kubeConfig;
    this.options = { restartBaseMs: 500, restartMaxMs: 30_000, ...options };
    this.logger = logger.child({ informer: options.path });
  }

  onChange(handler: Handler<T>): void {
    this.handlers.push(handler);
  }

  /**
   * Starts watching; resolves once a list has filled the cache — the first
   * one that succeeds, since the first attempt may fail (an apiserver still
   * initialising a CRD's storage answers 429) and be retried.
   */
  start(): Promise<void> {
    if (this.users++ > 0) return this.synced!;
    this.stopped = false;
    this.synced = new Promise<void>((resolve) => (this.markSynced = resolve));
    this.connect();
    this.watchdog = setInterval(() => this.checkStaleness(), Math.max(100, this.options.staleAfterMs / 4));
    this.watchdog.unref();
    return this.synced;
  }

  /** Stops once every component that started it has stopped it. */
  async stop(): Promise<void> {
    if (this.users === 0 || --this.users > 0) return;
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.restartTimer);
    await this.current?.stop();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.current?.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.current?.list(namespace) ?? [];
  }

  /** A fresh ListWatch: lists everything, then watches from there. */
  private connect(): void {
    const previous = this.current;
    const informer = new ListWatch<T>(
      this.options.path,
      new Watch(this.kubeConfig),
      async () => {
        const result = await this.options.list();
        this.touch();
        // ListWatch fills its cache right after this returns.
        setImmediate(() => {
          if (informer !== this.current) return;
          if (previous) this.emitVanished(previous, informer);
          this.markSynced();
        });
        return result;
      },
      false,
      this.options.labelSelector,
      this.options.fieldSelector,
    );
    for (const event of ['add', 'update', 'delete'] as const) {
      informer.on(event, (object: T) => {
        if (informer !== this.current) return;
        this.touch();
        this.restartDelayMs = 0;
        for (const handler of this.handlers) handler(object, event);
      });
    }
    informer.on('connect', () => this.touch());
    informer.on('error', (err: unknown) => {
      if (informer !== this.current || this.stopped) return;
      this.scheduleRestart('watch failed', err);
    });
    this.current = informer;
    void previous?.stop();
    void informer.start().catch((err: unknown) => this.scheduleRestart('list failed', err));
  }

  private touch(): void {
    this.lastActivity = Date.now();
  }

  private checkStaleness(): void {
    if (this.stopped || this.restartTimer) return;
    const silentMs = Date.now() - this.lastActivity;
    if (silentMs < this.options.staleAfterMs) return;
    this.logger.info({ silentMs }, 'no watch activity; relisting');
    this.restarts++;
    this.touch();
    this.connect();
  }

  private scheduleRestart(why: string, err: unknown): void {
    if (this.restartTimer) return;
    this.restartDelayMs = Math.min(
      this.options.restartMaxMs,
      this.restartDelayMs ? this.restartDelayMs * 2 : this.options.restartBaseMs,
    );
    this.logger.warn({ err, retryInMs: this.restartDelayMs }, `${why}; restarting`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.restarts++;
      this.touch();
      this.connect();
    }, this.restartDelayMs);
    this.restartTimer.unref();
  }

  /** Objects the old cache held that the new list lacks were deleted meanwhile. */
  private emitVanished(previous: ListWatch<T>, next: ListWatch<T>): void {
    for (const object of previous.list()) {
      const { name = '', namespace } = object.metadata ?? {};
      if (!next.get(name, namespace)) for (const handler of this.handlers) handler(object, 'delete');
    }
  }
}
