// Benchmark: N ScanSchedules firing in the same minute under one
// `courier manager`; the lag from each scheduled time to its Job's creation
// (from the manager's "run started" records). Writes bench/results/.
//
//   node bench/scanschedules.ts [count]      (default 500)
import { execSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { LOCAL_EPHEMERAL, RunningComponent } from '../test/support/component.ts';
import { ControlPlane } from '../test/support/control-plane.ts';

const COUNT = Number(process.argv[2] ?? 500);
const NAMESPACE = 'bench';

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

const plane = await ControlPlane.start();
try {
  const kc = plane.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const objects = kc.makeApiClient(CustomObjectsApi);
  for (const name of ['courier-system', NAMESPACE]) await core.createNamespace({ body: { metadata: { name } } });
  const manager = new RunningComponent([
    'manager',
    ...LOCAL_EPHEMERAL,
    '--kubeconfig',
    plane.kubeconfigPath,
    '--watch-namespace',
    NAMESPACE,
  ]);
  await manager.waitForLog('manager started');

  // One Ready connection that every schedule uses.
  await core.createNamespacedSecret({
    namespace: NAMESPACE,
    body: { metadata: { name: 'target-src' }, stringData: { username: 'u', password: 'bench-password' } },
  });
  await objects.createNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    namespace: NAMESPACE,
    plural: 'toolconnections',
    body: {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name: 'target' },
      spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: 'target-src' } },
    },
  });
  await plane.kubectl(['wait', '-n', NAMESPACE, 'tc/target', '--for=condition=Ready', '--timeout=60s']);

  const names = Array.from({ length: COUNT }, (_, i) => `scan-${String(i).padStart(4, '0')}`);
  for (let i = 0; i < names.length; i += 25) {
    await Promise.all(
      names.slice(i, i + 25).map((name) =>
        objects.createNamespacedCustomObject({
          group: 'courier.dev',
          version: 'v1alpha1',
          namespace: NAMESPACE,
          plural: 'scanschedules',
          body: {
            apiVersion: 'courier.dev/v1alpha1',
            kind: 'ScanSchedule',
            metadata: { name },
            spec: {
              schedule: '* * * * *',
              concurrencyPolicy: 'Allow',
              connections: [{ name: 'target' }],
              jobTemplate: {
                spec: {
                  template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } },
                },
              },
            },
          },
        }),
      ),
    );
  }
  // The first minute that starts after every schedule exists.
  const minute = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  const scheduled = new Date(minute).toISOString();
  const lags = () =>
    manager.records
      .filter((r) => r.msg === 'run started' && String(r.job).endsWith(`-${minute / 60_000}`))
      .map((r) => Number(r.lagMs));
  while (Date.now() < minute + 90_000 && lags().length < COUNT) await sleep(500);
  const sorted = lags().sort((a, b) => a - b);
  manager.child.kill('SIGTERM');
  await manager.exitCode();

  const result = {
    benchmark: 'scanschedules',
    date: new Date().toISOString(),
    commit: execSync('git rev-parse --short HEAD', { cwd: REPO_ROOT }).toString().trim(),
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    count: COUNT,
    scheduledTime: scheduled,
    jobsCreated: sorted.length,
    lagMs: sorted.length ? { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) } : undefined,
  };
  await mkdir(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(REPO_ROOT, `bench/results/scanschedules-${COUNT}.json`),
    JSON.stringify(result, null, 2) + '\n',
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (sorted.length !== COUNT) process.exitCode = 1;
} finally {
  await plane.stop();
}
