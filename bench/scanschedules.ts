// Benchmark: N ScanSchedules firing in the same minute under one
// `courier manager`; the lag from each scheduled time to its Job's creation
// (from the manager's "run started" records). Writes bench/results/.
//
//   node bench/scanschedules.ts [count]      (default 500)
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BENCH_NAMESPACE as NAMESPACE,
  createGenericConnection,
  percentile,
  withBenchCluster,
  writeResult,
} from './support.ts';

const COUNT = Number(process.argv[2] ?? 500);

/** CPU seconds each child of this process (etcd, kube-apiserver, the manager) has used, by command name. */
async function childrenCpu(): Promise<Record<string, number>> {
  const children = (await readFile(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')).trim().split(' ');
  const result: Record<string, number> = {};
  for (const pid of children.filter(Boolean)) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    result[name] = (result[name] ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return result;
}

await withBenchCluster(async ({ plane, core, objects, manager }) => {
  // One Ready connection that every schedule uses.
  await createGenericConnection({ core, objects }, 'target', 'bench-password');
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
  // The first minute that starts after the manager has seen every schedule
  // (each has a nextScheduleTime): the lag measured is the firing's, not the
  // backlog of first reconciles.
  const scheduledCount = async () => {
    const list = (await objects.listNamespacedCustomObject({
      group: 'courier.dev',
      version: 'v1alpha1',
      namespace: NAMESPACE,
      plural: 'scanschedules',
    })) as { items: Array<{ status?: { nextScheduleTime?: string } }> };
    return list.items.filter((ss) => ss.status?.nextScheduleTime).length;
  };
  while ((await scheduledCount()) < COUNT) await sleep(1000);
  const minute = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  const scheduled = new Date(minute).toISOString();
  const lags = () =>
    manager.records
      .filter((r) => r.msg === 'run started' && String(r.job).endsWith(`-${minute / 60_000}`))
      .map((r) => Number(r.lagMs));
  await sleep(minute - Date.now());
  const cpuBefore = await childrenCpu();
  while (Date.now() < minute + 90_000 && lags().length < COUNT) await sleep(200);
  const cpuAfter = await childrenCpu();
  const cpuSecondsWhileFiring = Object.fromEntries(
    Object.entries(cpuAfter).map(([name, seconds]) => [
      name,
      Math.round((seconds - (cpuBefore[name] ?? 0)) * 100) / 100,
    ]),
  );
  const sorted = lags().sort((a, b) => a - b);
  await writeResult(`scanschedules-${COUNT}`, {
    benchmark: 'scanschedules',
    count: COUNT,
    scheduledTime: scheduled,
    jobsCreated: sorted.length,
    cpuSecondsWhileFiring,
    lagMs: sorted.length ? { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) } : undefined,
  });
  if (sorted.length !== COUNT) process.exitCode = 1;
});
