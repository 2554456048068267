// Benchmark: N generic ToolConnections (with their source Secrets) created at
// once on a real apiserver; how long until every one is Ready under one
// `courier manager`, and the manager's peak RSS. Writes bench/results/.
//
//   node bench/toolconnections.ts [count]      (default 2000)
import { execSync } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { ControlPlane } from '../test/support/control-plane.ts';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { LOCAL_EPHEMERAL, RunningComponent } from '../test/support/component.ts';

const COUNT = Number(process.argv[2] ?? 2000);
const CONCURRENCY = 32;
const NAMESPACE = 'bench';

async function inParallel<T>(items: T[], limit: number, run: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

async function peakRssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

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

  const names = Array.from({ length: COUNT }, (_, i) => `conn-${String(i).padStart(5, '0')}`);
  const started = Date.now();
  await inParallel(names, CONCURRENCY, async (name) => {
    await core.createNamespacedSecret({
      namespace: NAMESPACE,
      body: {
        metadata: { name: `${name}-src` },
        stringData: { username: 'scanner', password: `pw-${name}-${Math.random()}` },
      },
    });
    await objects.createNamespacedCustomObject({
      group: 'courier.dev',
      version: 'v1alpha1',
      namespace: NAMESPACE,
      plural: 'toolconnections',
      body: {
        apiVersion: 'courier.dev/v1alpha1',
        kind: 'ToolConnection',
        metadata: { name },
        spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: `${name}-src` } },
      },
    });
  });
  const createdMs = Date.now() - started;
  let ready = 0;
  for (;;) {
    const list = (await objects.listNamespacedCustomObject({
      group: 'courier.dev',
      version: 'v1alpha1',
      namespace: NAMESPACE,
      plural: 'toolconnections',
    })) as { items: Array<{ status?: { conditions?: Array<{ type: string; status: string }> } }> };
    ready = list.items.filter((tc) =>
      tc.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    if (ready === COUNT || Date.now() - started > 15 * 60_000) break;
    await sleep(1_000);
  }
  const allReadyMs = Date.now() - started;
  const rssMiB = await peakRssMiB(manager.child.pid!);
  manager.child.kill('SIGTERM');
  await manager.exitCode();

  const result = {
    benchmark: 'toolconnections',
    date: new Date().toISOString(),
    commit: execSync('git rev-parse --short HEAD', { cwd: REPO_ROOT }).toString().trim(),
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    count: COUNT,
    ready,
    createSeconds: createdMs / 1000,
    allReadySeconds: allReadyMs / 1000,
    managerPeakRssMiB: Math.round(rssMiB),
  };
  await mkdir(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
  await writeFile(
    path.join(REPO_ROOT, `bench/results/toolconnections-${COUNT}.json`),
    JSON.stringify(result, null, 2) + '\n',
  );
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (ready !== COUNT) process.exitCode = 1;
} finally {
  await plane.stop();
}
