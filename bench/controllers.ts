// Benchmark: the controllers at scale after a manager start. N generic
// ToolConnections (each with its source Secret) and M ScanSchedules that use
// them exist before `courier manager` starts; how long from its start until
// every one of them is Ready, and the manager's peak RSS (VmHWM). The
// schedules fire once a day, twelve hours from the start, so the time is
// reconciling, not running Jobs. (Not once a year: a next run more than
// 24.8 days away overflows Node's setTimeout, and the work queue then
// requeues the schedule every millisecond.)
// Readiness is followed by a watch here, not by listing: listing 10,000
// objects every second would load the apiserver the manager needs.
//
//   node bench/controllers.ts [--connections 10000] [--schedules 1000] [--heap-mib <n>] [--quick] [--profile <dir>]
//
// --heap-mib caps the manager's V8 old space (--max-old-space-size), as a
// chart could: most of the default peak is garbage V8 has not collected yet.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { ResilientInformer } from '../src/controllers/runtime/informer.ts';
import { createLogger } from '../src/log/logger.ts';
import { profileClockNow, profileSummary } from './cpu-profile.ts';
import {
  BENCH_NAMESPACE as NAMESPACE,
  createGenericConnection,
  inParallel,
  memoryBreakdown,
  peakRssMiB,
  startInstantSts,
  startManager,
  withBenchPlane,
  writeResult,
  type BenchPlane,
} from './support.ts';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string' },
    schedules: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
    'timeout-minutes': { type: 'string', default: '30' },
    'heap-mib': { type: 'string' },
  },
});
const CONNECTIONS = Number(flags.connections ?? (flags.quick ? 500 : 10_000));
const SCHEDULES = Number(flags.schedules ?? (flags.quick ? 50 : 1_000));
const TIMEOUT_MS = Number(flags['timeout-minutes']) * 60_000;
const CREATE_IN_FLIGHT = 32;
const HEAP_MIB = flags['heap-mib'] === undefined ? undefined : Number(flags['heap-mib']);

type Conditioned = KubernetesObject & { status?: { conditions?: Array<{ type: string; status: string }> } };

const connectionName = (i: number) => `conn-${String(i).padStart(5, '0')}`;
/** Daily, twelve hours from now (UTC): never during the run. */
const SCHEDULE = `${new Date().getUTCMinutes()} ${(new Date().getUTCHours() + 12) % 24} * * *`;

async function createSchedule({ objects }: Pick<BenchPlane, 'objects'>, i: number): Promise<void> {
  // Each uses two connections, spread over all of them.
  const uses = [connectionName(i % CONNECTIONS), connectionName((i * 7 + 1) % CONNECTIONS)];
  await objects.createNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    namespace: NAMESPACE,
    plural: 'scanschedules',
    body: {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ScanSchedule',
      metadata: { name: `scan-${String(i).padStart(5, '0')}` },
      spec: {
        schedule: SCHEDULE,
        connections: [...new Set(uses)].map((name) => ({ name })),
        jobTemplate: {
          spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'scan', image: 'scanner:1' }] } } },
        },
      },
    },
  });
}

/** Follows which objects of a kind are Ready. */
class ReadyCount {
  readonly #ready = new Set<string>();
  readonly informer: ResilientInformer<Conditioned>;

  constructor(plane: BenchPlane, plural: string, list: () => Promise<KubernetesListObject<Conditioned>>) {
    this.informer = new ResilientInformer<Conditioned>(
      plane.plane.kubeConfig(),
      { path: `/apis/courier.dev/v1alpha1/namespaces/${NAMESPACE}/${plural}`, list, staleAfterMs: 60_000 },
      createLogger({ level: 'warn', component: `bench-${plural}` }),
    );
    this.informer.onChange((object, event) => {
      const name = object.metadata!.name!;
      const ready = object.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
      if (event !== 'delete' && ready) this.#ready.add(name);
      else this.#ready.delete(name);
    });
  }

  get count(): number {
    return this.#ready.size;
  }
}

await withBenchPlane(async (plane) => {
  const createStarted = Date.now();
  await inParallel(
    Array.from({ length: CONNECTIONS }, (_, i) => i),
    CREATE_IN_FLIGHT,
    (i) => createGenericConnection(plane, connectionName(i), `pw-${i}-${Math.random()}`),
  );
  await inParallel(
    Array.from({ length: SCHEDULES }, (_, i) => i),
    CREATE_IN_FLIGHT,
    (i) => createSchedule(plane, i),
  );
  const createSeconds = (Date.now() - createStarted) / 1000;

  const list = (plural: string) => () =>
    plane.objects.listNamespacedCustomObject({
      group: 'courier.dev',
      version: 'v1alpha1',
      namespace: NAMESPACE,
      plural,
    }) as Promise<KubernetesListObject<Conditioned>>;
  const connections = new ReadyCount(plane, 'toolconnections', list('toolconnections'));
  const schedules = new ReadyCount(plane, 'scanschedules', list('scanschedules'));
  await Promise.all([connections.informer.start(), schedules.informer.start()]);

  // The STS stand-in is there because the manager's configuration names one; generic connections never call it.
  const sts = await startInstantSts();
  const started = Date.now();
  const profileFrom = profileClockNow();
  const manager = await startManager(plane.plane, sts.endpoint, {
    ...(flags.profile ? { cpuProfileDir: path.resolve(flags.profile) } : {}),
    ...(HEAP_MIB ? { env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` } } : {}),
  });
  const managerStartedSeconds = (Date.now() - started) / 1000;
  const { metricsAddress } = await manager.waitForLog('serving metrics and health probes');
  const progress: Array<Record<string, number>> = [];
  let connectionsReadySeconds: number | undefined;
  let schedulesReadySeconds: number | undefined;
  let lastProgress = 0;
  let profileTo: number | undefined;
  let peak: number | undefined;
  let exit: number | null | undefined;
  try {
    for (;;) {
      const seconds = (Date.now() - started) / 1000;
      if (connectionsReadySeconds === undefined && connections.count === CONNECTIONS) connectionsReadySeconds = seconds;
      if (schedulesReadySeconds === undefined && schedules.count === SCHEDULES) schedulesReadySeconds = seconds;
      if (seconds - lastProgress >= 10) {
        lastProgress = seconds;
        const rssMiB = await manager.rssMiB().catch(() => NaN);
        // The heap as V8 sees it, beside the RSS: live objects, what V8 holds, buffers outside the heap.
        const memory = await memoryBreakdown(metricsAddress as string).catch(() => ({}));
        progress.push({
          seconds: Math.round(seconds),
          connectionsReady: connections.count,
          schedulesReady: schedules.count,
          rssMiB,
          ...memory,
        });
        process.stderr.write(`controllers: ${JSON.stringify(progress.at(-1))}\n`);
      }
      if (connectionsReadySeconds !== undefined && schedulesReadySeconds !== undefined) break;
      if (manager.exited) {
        process.stderr.write(`controllers: the manager exited; its log is ${manager.logPath}\n`);
        break;
      }
      if (Date.now() - started > TIMEOUT_MS) break;
      await sleep(250);
    }
    profileTo = profileClockNow();
    peak = await peakRssMiB(manager.pid).catch(() => undefined);
  } finally {
    exit = await manager.stop();
    await sts.stop();
    await Promise.all([connections.informer.stop(), schedules.informer.stop()]);
  }
  const allReady = connectionsReadySeconds !== undefined && schedulesReadySeconds !== undefined;
  await writeResult(
    flags.quick
      ? 'controllers-quick'
      : flags.profile
        ? 'controllers-profile'
        : `controllers-${CONNECTIONS}-${SCHEDULES}${HEAP_MIB ? `-heap-${HEAP_MIB}` : ''}`,
    {
      benchmark: 'controllers',
      connections: CONNECTIONS,
      schedules: SCHEDULES,
      managerMaxOldSpaceMiB: HEAP_MIB,
      createSeconds,
      managerStartedSeconds,
      connectionsReady: connections.count,
      schedulesReady: schedules.count,
      connectionsReadySeconds,
      schedulesReadySeconds,
      allReadySeconds: allReady ? Math.max(connectionsReadySeconds!, schedulesReadySeconds!) : undefined,
      managerPeakRssMiB: peak === undefined ? undefined : Math.round(peak),
      managerExitCode: exit,
      profiled: Boolean(flags.profile),
      progress,
      ...(flags.profile
        ? {
            profile: await profileSummary(path.resolve(flags.profile), manager.pid, [
              { from: profileFrom, to: profileTo ?? profileClockNow() },
            ]),
          }
        : {}),
    },
  );
  if (!allReady) process.exitCode = 1;
});
