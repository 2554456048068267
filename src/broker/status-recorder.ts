// Records what the broker did on each ToolConnection's status: issuedCount,
// lastIssuedTime, and accessRequests (pods refused, so an admin can grant
// them). Issuances come in bursts from many replicas, so changes are gathered
// in memory and written every few seconds as one JSON patch guarded by the
// resourceVersion: a replica that lost the race rereads and adds its share.
import { ApiException, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  GROUP,
  TOOL_CONNECTIONS,
  VERSION,
  type ToolConnection,
  type ToolConnectionStatus,
} from '../api/v1alpha1/index.ts';
import type { Logger } from '../log/logger.ts';

type AccessRequest = NonNullable<ToolConnectionStatus['accessRequests']>[number];

const MAX_ACCESS_REQUESTS = 50;
const MAX_ATTEMPTS = 5;

interface Pending {
  issued: number;
  lastIssued?: Date;
  refused: Map<string, { pod: string; reason: string; first: Date; last: Date; count: number }>;
}

export class StatusRecorder {
  private readonly api: CustomObjectsApi;
  private readonly logger: Logger;
  private readonly flushEveryMs: number;
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(kubeConfig: KubeConfig, logger: Logger, flushEveryMs = 2_000) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.logger = logger;
    this.flushEveryMs = flushEveryMs;
  }

  issued(namespace: string, connection: string, at: Date): void {
    const entry = this.entry(namespace, connection);
    entry.issued++;
    entry.lastIssued = at;
    this.schedule();
  }

  refused(namespace: string, connection: string, serviceAccount: string, pod: string, reason: string, at: Date): void {
    const entry = this.entry(namespace, connection);
    const seen = entry.refused.get(serviceAccount);
    if (seen) Object.assign(seen, { pod, reason, last: at, count: seen.count + 1 });
    else entry.refused.set(serviceAccount, { pod, reason, first: at, last: at, count: 1 });
    this.schedule();
  }

  /** Writes everything gathered so far; resolves when written (or given up on). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.flushing.then(() =>
      Promise.all([...batch].map(([key, pending]) => this.write(key, pending))).then(() => undefined),
    );
    return this.flushing;
  }

  private entry(namespace: string, connection: string): Pending {
    const key = `${namespace}/${connection}`;
    let entry = this.pending.get(key);
    if (!entry) {
      entry = { issued: 0, refused: new Map() };
      this.pending.set(key, entry);
    }
    return entry;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.flushEveryMs);
    this.timer.unref();
  }

  private async write(key: string, pending: Pending): Promise<void> {
    const [namespace, name] = key.split('/') as [string, string];
    const resource = { group: GROUP, version: VERSION, plural: TOOL_CONNECTIONS.plural, namespace, name };
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        const tc = (await this.api.getNamespacedCustomObjectStatus(resource)) as ToolConnection;
        await this.api.patchNamespacedCustomObjectStatus({
          ...resource,
          body: [
            { op: 'test', path: '/metadata/resourceVersion', value: tc.metadata.resourceVersion },
            { op: 'add', path: '/status', value: merged(tc.status ?? {}, pending) },
          ],
        });
        return;
      } catch (error) {
        // 404: the connection is gone, and its counts with it.
        if (error instanceof ApiException && error.code === 404) return;
        const conflict = error instanceof ApiException && (error.code === 409 || error.code === 422);
        if (!conflict || attempt === MAX_ATTEMPTS) {
          this.logger.warn({ err: error, toolConnection: key }, 'could not record issuance on the status');
          return;
        }
      }
    }
  }
}

function merged(status: ToolConnectionStatus, pending: Pending): ToolConnectionStatus {
  const next: ToolConnectionStatus = { ...status };
  if (pending.issued > 0) {
    next.issuedCount = (status.issuedCount ?? 0) + pending.issued;
    next.lastIssuedTime = pending.lastIssued!.toISOString();
  }
  if (pending.refused.size > 0) {
    const requests = new Map<string, AccessRequest>((status.accessRequests ?? []).map((r) => [r.serviceAccount, r]));
    for (const [serviceAccount, refusal] of pending.refused) {
      const known = requests.get(serviceAccount);
      requests.set(serviceAccount, {
        serviceAccount,
        lastPod: refusal.pod,
        reason: refusal.reason,
        firstTime: known?.firstTime ?? refusal.first.toISOString(),
        lastTime: refusal.last.toISOString(),
        count: (known?.count ?? 0) + refusal.count,
      });
    }
    next.accessRequests = [...requests.values()]
      .sort((a, b) => b.lastTime.localeCompare(a.lastTime))
      .slice(0, MAX_ACCESS_REQUESTS);
  }
  return next;
}
