// Leader election on a coordination.k8s.io Lease, with client-go's rules:
// a candidate takes the Lease only when its holder has not renewed it for a
// whole lease duration *as observed on this candidate's clock* (so skew
// between nodes does not matter); the leader renews every retry period and
// steps down if it cannot renew within the renew deadline; on a clean stop it
// releases the Lease so another replica takes over at once.
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiException, CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../../log/logger.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export interface LeadershipCallbacks {
  /** Runs while this replica leads; `signal` aborts when leadership ends. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  onNewLeader?(identity: string): void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly options: LeaderElectionOptions;
  private readonly logger: Logger;
  private observed: { holder: string; renewTime: string; at: number } | undefined;

  constructor(kubeConfig: KubeConfig, options: LeaderElectionOptions, logger: Logger) {
    this.api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.options = options;
    this.logger = logger;
  }

  /**
   * Campaigns until `stop` aborts: waits to become leader, leads until it
   * loses the Lease, then campaigns again. Releases the Lease when stopped.
   */
  async run(callbacks: LeadershipCallbacks, stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      if (!(await this.acquire(callbacks, stop))) return;
      const leading = new AbortController();
      this.logger.info({ lease: this.options.name, identity: this.options.identity }, 'became the leader');
      const work = Promise.resolve(callbacks.onStartedLeading(leading.signal)).catch((err: unknown) =>
        this.logger.error({ err }, 'leader work failed'),
      );
      await this.renewUntilLost(stop);
      leading.abort();
      await work;
      callbacks.onStoppedLeading?.();
      if (stop.aborted) {
        await this.release();
        return;
      }
      this.logger.warn({ lease: this.options.name }, 'lost the leadership');
    }
  }

  /** Tries until it holds the Lease (true) or is stopped (false). */
  private async acquire(callbacks: LeadershipCallbacks, stop: AbortSignal): Promise<boolean> {
    let lastLeader: string | undefined;
    while (!stop.aborted) {
      const holder = await this.tryAcquireOrRenew().catch((err: unknown) => {
        this.logger.warn({ err, lease: this.options.name }, 'could not read or update the leader Lease');
        return undefined;
      });
      if (holder === this.options.identity) return true;
      if (holder && holder !== lastLeader) {
        lastLeader = holder;
        callbacks.onNewLeader?.(holder);
      }
      await sleep(this.options.retryPeriodMs, undefined, { signal: stop }).catch(() => undefined);
    }
    return false;
  }

  /** Renews every retry period; returns when a renewal deadline passes or on stop. */
  private async renewUntilLost(stop: AbortSignal): Promise<void> {
    let lastRenewal = Date.now();
    while (!stop.aborted) {
      await sleep(this.options.retryPeriodMs, undefined, { signal: stop }).catch(() => undefined);
      if (stop.aborted) return;
      const holder = await this.tryAcquireOrRenew().catch(() => undefined);
      if (holder === this.options.identity) {
        lastRenewal = Date.now();
      } else if (holder !== undefined || Date.now() - lastRenewal > this.options.renewDeadlineMs) {
        return;
      }
    }
  }

  /** One round: returns the holder after it (ourselves if we hold it now). */
  private async tryAcquireOrRenew(): Promise<string> {
    const { namespace, name, identity } = this.options;
    const now = new V1MicroTime(Date.now());
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
      await this.api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: this.spec(identity, now, now, 0) },
      });
      return identity;
    }
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewTime = spec.renewTime ? new Date(spec.renewTime).toISOString() : '';
    if (!this.observed || this.observed.holder !== holder || this.observed.renewTime !== renewTime) {
      this.observed = { holder, renewTime, at: Date.now() };
    }
    const expired = this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000 <= Date.now();
    if (holder && holder !== identity && !expired) return holder;

    const transitions = (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const acquired = holder === identity && spec.acquireTime ? spec.acquireTime : now;
    try {
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: this.spec(identity, new V1MicroTime(acquired), now, transitions) },
      });
    } catch (error) {
      // Another candidate updated it first: it holds the Lease now.
      if (error instanceof ApiException && error.code === 409) return holder || 'unknown';
      throw error;
    }
    return identity;
  }

  /** Gives the Lease up so a follower need not wait for it to expire. */
  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    try {
      const lease = await this.api.readNamespacedLease({ name, namespace });
      if (lease.spec?.holderIdentity !== identity) return;
      await this.api.replaceNamespacedLease({
        name,
        namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
      this.logger.info({ lease: name }, 'released the leadership');
    } catch (err) {
      this.logger.warn({ err, lease: name }, 'could not release the leader Lease; it expires by itself');
    }
  }

  private spec(holder: string, acquireTime: V1MicroTime | Date, renewTime: V1MicroTime, transitions: number) {
    return {
      holderIdentity: holder,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      acquireTime: acquireTime instanceof V1MicroTime ? acquireTime : new V1MicroTime(acquireTime.getTime()),
      renewTime,
      leaseTransitions: transitions,
    };
  }
}
