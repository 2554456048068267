// Benchmark: N ScanSchedules firing in the same minute under one
// `courier manager`; the lag from each scheduled time to its Job's creation
// (from the manager's "run started" records). Writes bench/results/.
//
//   node bench/scanschedules.ts [count]      (default 500)
import { setTimeout as sleep } from 'node:timers/promises';
import { BENCH_NAMESPACE as NAMESPACE, createGenericConnection, withBenchCluster, writeResult } from './support.ts';

const COUNT = Number(process.argv[2] ?? 500);

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

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
  // The first minute that starts after every schedule exists.
  const minute = Math.floor(Date.now() / 60_000) * 60_000 + 60_000;
  const scheduled = new Date(minute).toISOString();
  const lags = () =>
    manager.records
      .filter((r) => r.msg === 'run started' && String(r.job).endsWith(`-${minute / 60_000}`))
      .map((r) => Number(r.lagMs));
  while (Date.now() < minute + 90_000 && lags().length < COUNT) await sleep(500);
  const sorted = lags().sort((a, b) => a - b);
  await writeResult(`scanschedules-${COUNT}`, {
    benchmark: 'scanschedules',
    count: COUNT,
    scheduledTime: scheduled,
    jobsCreated: sorted.length,
    lagMs: sorted.length ? { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) } : undefined,
  });
  if (sorted.length !== COUNT) process.exitCode = 1;
});
