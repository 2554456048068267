// Finding Courier's manager from a workstation: its leader from the Lease the
// replicas elect with (the holder identity is "<pod name>_<random>", see
// src/cli/commands/manager.ts), its pods by label, and their health port
// from the readiness probe. docs/adr/0005-people-commands-find-the-manager.md says why.
import https from 'node:https';
import http from 'node:http';
import { CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Lease, type V1Pod } from '@kubernetes/client-node';
import { isApiError } from './cluster.ts';

/** The manager's --health-probe-bind-address port when its pod declares no readiness probe. */
export const DEFAULT_HEALTH_PORT = 8081;

export interface Leader {
  /** The Lease's holderIdentity; empty when released. */
  holder: string;
  /** The pod the holder runs in, if the identity names one. */
  podName?: string;
  acquireTime?: Date;
  renewTime?: Date;
  leaseDurationSeconds: number;
  /** Released, or not renewed within its duration: no replica leads. */
  expired: boolean;
}

/** The pod name in a holder identity "<pod>_<8 hex digits>". */
export function podOfHolder(holder: string): string | undefined {
  const match = /^(.+)_[0-9a-f]{8}$/.exec(holder);
  return match?.[1];
}

export function leaderOf(lease: V1Lease, now: Date): Leader {
  const spec = lease.spec ?? {};
  const holder = spec.holderIdentity ?? '';
  const leaseDurationSeconds = spec.leaseDurationSeconds ?? 0;
  const renewTime = spec.renewTime ? new Date(spec.renewTime) : undefined;
  const expired = holder === '' || !renewTime || renewTime.getTime() + leaseDurationSeconds * 1000 < now.getTime();
  const podName = podOfHolder(holder);
  return {
    holder,
    leaseDurationSeconds,
    expired,
    ...(podName ? { podName } : {}),
    ...(renewTime ? { renewTime } : {}),
    ...(spec.acquireTime ? { acquireTime: new Date(spec.acquireTime) } : {}),
  };
}

/** The leader, or undefined when there is no Lease (leader election off, or no manager ever ran). */
export async function readLeader(
  kubeConfig: KubeConfig,
  namespace: string,
  leaseName: string,
  now = new Date(),
): Promise<Leader | undefined> {
  try {
    const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: leaseName, namespace });
    return leaderOf(lease, now);
  } catch (error) {
    if (isApiError(error, 404)) return undefined;
    throw error;
  }
}

export async function listManagerPods(kubeConfig: KubeConfig, namespace: string, selector: string): Promise<V1Pod[]> {
  const list = await kubeConfig.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: selector });
  return list.items;
}

export function isReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True')
  );
}

export interface ChosenPod {
  pod: V1Pod;
  /** Why this pod: the leader's, or a ready replica because no leader was found. */
  why: string;
}

/** The leader's pod when there is a live leader; else a ready manager pod; else undefined. */
export function chooseManagerPod(leader: Leader | undefined, pods: readonly V1Pod[]): ChosenPod | undefined {
  if (leader && !leader.expired && leader.podName) {
    const pod = pods.find((p) => p.metadata?.name === leader.podName);
    if (pod && pod.status?.phase === 'Running') return { pod, why: 'the leader' };
  }
  const ready = [...pods]
    .filter(isReady)
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  if (ready[0])
    return {
      pod: ready[0],
      why:
        leader && !leader.expired
          ? "a ready replica (the leader's pod was not found)"
          : 'a ready replica (no current leader)',
    };
  return undefined;
}

/** The container to exec into: the one asked for, else the pod's default-container annotation, else its first. */
export function managerContainer(pod: V1Pod, asked?: string): string {
  if (asked) return asked;
  return pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'] ?? pod.spec?.containers[0]?.name ?? '';
}

/** The port the pod's readiness probe uses (a number or a named container port), else the default. */
export function healthPort(pod: V1Pod): number {
  for (const container of pod.spec?.containers ?? []) {
    const port = container.readinessProbe?.httpGet?.port;
    if (typeof port === 'number') return port;
    if (typeof port === 'string') {
      const named = container.ports?.find((p) => p.name === port)?.containerPort;
      if (named !== undefined) return named;
      if (/^\d+$/.test(port)) return Number(port);
    }
  }
  return DEFAULT_HEALTH_PORT;
}

/**
 * GETs `path` (with query) from the apiserver as the kubeconfig's user, and
 * returns status and body whatever the status: a 503 from /readyz is an
 * answer, not an error. Used for the pod proxy, which client-node's typed
 * call cannot give a query string.
 */
export async function getRaw(
  kubeConfig: KubeConfig,
  path: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string }> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig names no server');
  const url = new URL(path, server);
  const options: https.RequestOptions = { method: 'GET', headers: {}, timeout: timeoutMs };
  await kubeConfig.applyToHTTPSOptions(options);
  const client = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const request = client.request(url, options, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${timeoutMs / 1000}s`)));
    request.on('error', reject);
    request.end();
  });
}
