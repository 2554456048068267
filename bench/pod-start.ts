// Benchmark: what Courier adds to a pod's start, on a real cluster with
// Courier installed (run after the e2e suite: hack/e2e.sh leaves the cluster
// and the release up). N pods without Courier, then N pods that opt in to a
// generic ToolConnection; for each, the time from just before its creation to
// the moment its main container runs — for Courier's pods, that is after the
// agent has written the credentials (the container checks the file is there).
// Times come from the container's own clock reading (the node is this
// machine), not from the API's one-second timestamps.
//
//   node bench/pod-start.ts [count]     (default 50; the variables e2e/support.ts lists)
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { eventually } from '../test/support/wait.ts';
import { apply, IMAGE, kubectl, kubectlJson, PULL_POLICY } from '../e2e/support.ts';
import { percentile, writeResult } from './support.ts';

const COUNT = Number(process.argv[2] ?? 50);
const NAMESPACE = 'bench-pod-start';
const IN_FLIGHT = 5;
const SA = 'bench-scanner';

/** Prints the clock (ms) once the container runs, after checking the credentials are there if `file` is given. */
function podFor(name: string, file?: string): object {
  const check = file ? `test -s ${file} || exit 3; ` : '';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: NAMESPACE,
      ...(file
        ? { labels: { 'courier.dev/inject': 'true' }, annotations: { 'courier.dev/connections': 'target' } }
        : {}),
    },
    spec: {
      serviceAccountName: SA,
      restartPolicy: 'Never',
      // A deadline makes the agent a plain init container: these pods need no refresh.
      activeDeadlineSeconds: 600,
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'main',
          image: IMAGE,
          imagePullPolicy: PULL_POLICY,
          command: ['sh', '-c', `${check}echo "started $(date +%s%3N)"`],
        },
      ],
    },
  };
}

/** Creates the pods IN_FLIGHT at a time; returns each one's start latency in ms. */
async function measure(prefix: string, file?: string): Promise<number[]> {
  const latencies: number[] = [];
  const names = Array.from({ length: COUNT }, (_, i) => `${prefix}-${i}`);
  for (let i = 0; i < names.length; i += IN_FLIGHT) {
    await Promise.all(
      names.slice(i, i + IN_FLIGHT).map(async (name) => {
        const created = Date.now();
        await apply(podFor(name, file));
        const pod = await eventually(
          () => kubectlJson<V1Pod>(['get', 'pod', name, '-n', NAMESPACE]),
          (p) => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed',
          120_000,
          `pod ${name} finished`,
          250,
        );
        if (pod.status?.phase !== 'Succeeded') throw new Error(`pod ${name} ${pod.status?.phase}`);
        const log = String((await kubectl(['logs', '-n', NAMESPACE, name, '-c', 'main'])).stdout);
        latencies.push(Number(/started (\d+)/.exec(log)![1]) - created);
      }),
    );
  }
  await kubectl(['delete', 'pods', '-n', NAMESPACE, '--all', '--wait=false']);
  return latencies.sort((a, b) => a - b);
}

await kubectl(['delete', 'namespace', NAMESPACE, '--ignore-not-found', '--wait=true']);
await apply(
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NAMESPACE } },
  {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'target-src', namespace: NAMESPACE },
    stringData: { username: 'scanner', password: randomBytes(18).toString('base64url') },
  },
  {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: { name: 'target', namespace: NAMESPACE },
    spec: {
      provider: 'generic',
      generic: { purpose: 'ssh' },
      credentialsSecretRef: { name: 'target-src' },
      access: { serviceAccounts: [SA] },
    },
  },
);
await kubectl(['wait', '-n', NAMESPACE, 'tc/target', '--for=condition=Ready', '--timeout=120s']);

const without = await measure('plain');
const withCourier = await measure('courier', '/var/run/courier/target/password');
const summary = (sorted: number[]) => ({
  p50: percentile(sorted, 50),
  p95: percentile(sorted, 95),
  max: sorted.at(-1),
});
await writeResult(`pod-start-${COUNT}`, {
  benchmark: 'pod-start',
  count: COUNT,
  inFlight: IN_FLIGHT,
  withoutCourierMs: summary(without),
  withCourierMs: summary(withCourier),
  overheadMs: {
    p50: percentile(withCourier, 50) - percentile(without, 50),
    p95: percentile(withCourier, 95) - percentile(without, 95),
  },
});
await kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']);
