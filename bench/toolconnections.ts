// Benchmark: N generic ToolConnections (with their source Secrets) created at
// once on a real apiserver; how long until every one is Ready under one
// `courier manager`, and the manager's peak RSS. Writes bench/results/.
//
//   node bench/toolconnections.ts [count]      (default 2000)
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BENCH_NAMESPACE as NAMESPACE,
  createGenericConnection,
  inParallel,
  peakRssMiB,
  withBenchCluster,
  writeResult,
} from './support.ts';

const COUNT = Number(process.argv[2] ?? 2000);
const CONCURRENCY = 32;

await withBenchCluster(async ({ core, objects, manager }) => {
  const names = Array.from({ length: COUNT }, (_, i) => `conn-${String(i).padStart(5, '0')}`);
  const started = Date.now();
  await inParallel(names, CONCURRENCY, (name) =>
    createGenericConnection({ core, objects }, name, `pw-${name}-${Math.random()}`),
  );
  const createdMs = Date.now() - started;
  let ready: number;
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
  await writeResult(`toolconnections-${COUNT}`, {
    benchmark: 'toolconnections',
    count: COUNT,
    ready,
    createSeconds: createdMs / 1000,
    allReadySeconds: (Date.now() - started) / 1000,
    managerPeakRssMiB: Math.round(await peakRssMiB(manager.child.pid!)),
  });
  if (ready !== COUNT) process.exitCode = 1;
});
