// What every benchmark needs: a real control plane with `courier manager`
// watching one namespace, and a place to write results with machine and commit.
import { execSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { MANAGER_EPHEMERAL, RunningComponent } from '../test/support/component.ts';
import { ControlPlane } from '../test/support/control-plane.ts';

export const BENCH_NAMESPACE = 'bench';

/** A generic ToolConnection and the source Secret it ingests. */
export async function createGenericConnection(
  cluster: Pick<BenchCluster, 'core' | 'objects'>,
  name: string,
  password: string,
): Promise<void> {
  await cluster.core.createNamespacedSecret({
    namespace: BENCH_NAMESPACE,
    body: { metadata: { name: `${name}-src` }, stringData: { username: 'scanner', password } },
  });
  await cluster.objects.createNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    namespace: BENCH_NAMESPACE,
    plural: 'toolconnections',
    body: {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name },
      spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: `${name}-src` } },
    },
  });
}

export interface BenchCluster {
  plane: ControlPlane;
  core: CoreV1Api;
  objects: CustomObjectsApi;
  manager: RunningComponent;
}

/** Runs `body` against a fresh control plane and manager, and tears both down. */
export async function withBenchCluster(body: (cluster: BenchCluster) => Promise<void>): Promise<void> {
  const plane = await ControlPlane.start();
  try {
    const kc = plane.kubeConfig();
    const core = kc.makeApiClient(CoreV1Api);
    const objects = kc.makeApiClient(CustomObjectsApi);
    for (const name of ['courier-system', BENCH_NAMESPACE])
      await core.createNamespace({ body: { metadata: { name } } });
    const manager = new RunningComponent([
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      plane.kubeconfigPath,
      '--watch-namespace',
      BENCH_NAMESPACE,
    ]);
    await manager.waitForLog('manager started');
    try {
      await body({ plane, core, objects, manager });
    } finally {
      manager.child.kill('SIGTERM');
      await manager.exitCode();
    }
  } finally {
    await plane.stop();
  }
}

/** Writes bench/results/<file>.json with the date, commit and machine, and prints it. */
export async function writeResult(file: string, figures: Record<string, unknown>): Promise<void> {
  const result = {
    date: new Date().toISOString(),
    commit: execSync('git rev-parse --short HEAD', { cwd: REPO_ROOT }).toString().trim(),
    machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    ...figures,
  };
  await mkdir(path.join(REPO_ROOT, 'bench/results'), { recursive: true });
  await writeFile(path.join(REPO_ROOT, `bench/results/${file}.json`), JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
