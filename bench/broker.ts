// Benchmark: credential issuance through the broker inside a real `courier
// manager` (pinned to one CPU): HTTPS with keep-alive, real projected
// service-account tokens (the TokenRequest API, bound to real pods created in
// the apiserver; no kubelet needed for that), the broker's own verification,
// live-pod and access checks, and AWS STS AssumeRole through the real SDK
// against bench/instant-sts.ts, which answers at once. The load generator
// and the STS run on the other CPU.
//
// The broker allows each pod a burst of 40 requests, then 2/s
// (src/broker/rate-limit.ts, not configurable). As in a cluster, the load
// comes from many pods: requests go round-robin over enough pods that none
// is limited, and a single 429 fails the run like any other wrong answer.
//
// "Own time" is the broker's time for a request (its audit record's
// durationMs, from its handler getting the parsed request to the answer) minus
// the time the STS stand-in held the AssumeRole call it made (matched by the
// AccessKeyId STS issued): what is left is Courier's work, the SDK's signing
// and parsing, and the loopback legs. The results also hold the end-to-end
// own time: the client's latency less STS's, which adds TLS, HTTP and waiting.
//
// Besides as fast as answered on 1, 16 and 64 connections, the broker gets an
// open load at the target's rate (1,000/s on a steady clock, up to 64
// connections): at a saturating closed load, latency is mostly requests
// waiting for each other, while the target asks what a request costs when
// 1,000 a second arrive.
//
//   node bench/broker.ts [--seconds 15] [--connections 1,16,64] [--rates 1000] [--pods 1000] [--quick] [--profile <dir>]
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { CREDENTIALS_PATH, TOKEN_AUDIENCE } from '../src/api/v1alpha1/delivery.ts';
import { CONNECTIONS_ANNOTATION, INJECT_LABEL } from '../src/api/v1alpha1/index.ts';
import { profileClockNow, profileSummary, type Window } from './cpu-profile.ts';
import { drive, driveOpen, failures, type LoadFigures } from './load.ts';
import {
  BENCH_NAMESPACE as NAMESPACE,
  createConnection,
  inParallel,
  percentile,
  pinThisProcess,
  round2,
  startInstantSts,
  startManager,
  waitReady,
  withBenchPlane,
  writeResult,
} from './support.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string' },
    connections: { type: 'string', default: '1,16,64' },
    rates: { type: 'string' },
    pods: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const SECONDS = Number(flags.seconds ?? (flags.quick ? 3 : 15));
const WARM_UP_SECONDS = flags.quick ? 1 : 3;
const CONNECTIONS = flags.connections.split(',').map(Number);
const RATES = (flags.rates ?? (flags.quick ? '200' : flags.profile ? '' : '1000'))
  .split(',')
  .filter(Boolean)
  .map(Number);
/** Enough that an open load never waits for a free connection. */
const RATE_CONNECTIONS = 64;
/** At 1,000 pods each gets 2/s at 2,000 issuances/s: the refill alone keeps up, the burst is spare. */
const PODS = Number(flags.pods ?? (flags.quick ? 200 : 1000));
const BROKER_CPU = 0;
const LOAD_CPU = 1;
const CONNECTION = 'aws-role';
const SERVICE_ACCOUNT = 'scanner';

function scanPod(index: number): V1Pod {
  return {
    metadata: {
      name: `scan-${String(index).padStart(5, '0')}`,
      labels: { [INJECT_LABEL]: 'true', 'courier.dev/scan-schedule': 'nightly' },
      annotations: { [CONNECTIONS_ANNOTATION]: CONNECTION },
    },
    spec: {
      serviceAccountName: SERVICE_ACCOUNT,
      restartPolicy: 'Never',
      containers: [{ name: 'scan', image: 'scanner:1' }],
    },
  };
}

/** An issuance is right when it is AssumeRole session credentials from STS. */
function check(body: string): string | undefined {
  let answer: { kind?: string; reason?: string; aws?: { accessKeyId?: string; sessionToken?: string } };
  try {
    answer = JSON.parse(body) as typeof answer;
  } catch {
    return 'not JSON';
  }
  if (answer.reason) return answer.reason;
  if (answer.kind !== 'aws/assumeRole' || !answer.aws?.accessKeyId?.startsWith('ASIA') || !answer.aws.sessionToken)
    return 'not AssumeRole credentials';
  return undefined;
}

function accessKeyIdOf(body: string): string | undefined {
  return /"accessKeyId":"(ASIA[0-9A-Z]+)"/.exec(body)?.[1];
}

interface AuditRecord {
  time: string;
  audit?: boolean;
  action?: string;
  outcome?: string;
  accessKeyId?: string;
  durationMs?: number;
}

type Percentiles = { p50: number; p90: number; p99: number; max: number };

interface Run extends Omit<LoadFigures, 'latencyByKey'> {
  managerCpuCores: number;
  managerCpuMicrosPerIssuance: number;
  /** The broker's own measure (audit durationMs): from the parsed request to the answer, STS call included. */
  brokerMs: Percentiles;
  /** How long STS held each call. */
  stsMs: Percentiles;
  /** brokerMs less stsMs, per issuance. */
  ownMs: Percentiles;
  /** End-to-end latency less stsMs, per issuance: also TLS, HTTP, queueing before the broker's handler. */
  endToEndOwnMs: Percentiles;
}

function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: round2(percentile(sorted, 50)),
    p90: round2(percentile(sorted, 90)),
    p99: round2(percentile(sorted, 99)),
    max: round2(sorted.at(-1) ?? 0),
  };
}

await withBenchPlane(async ({ plane, core, objects }) => {
  await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: SERVICE_ACCOUNT } } });
  const sts = await startInstantSts(LOAD_CPU);
  const manager = await startManager(plane, sts.endpoint, {
    cpu: BROKER_CPU,
    ...(flags.profile ? { cpuProfileDir: path.resolve(flags.profile) } : {}),
  });
  const runs: Run[] = [];
  const measured: Window[] = [];
  let peak = NaN;
  let rssBeforeLoad: number | undefined;
  try {
    await createConnection({ objects }, CONNECTION, {
      provider: 'aws',
      aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/ScanRole', externalId: 'bench' },
      access: { serviceAccounts: [SERVICE_ACCOUNT] },
    });
    await waitReady(plane, [CONNECTION]);

    const tokens: string[] = [];
    await inParallel(
      Array.from({ length: PODS }, (_, i) => i),
      16,
      async (i) => {
        const pod = await core.createNamespacedPod({ namespace: NAMESPACE, body: scanPod(i) });
        const request = await core.createNamespacedServiceAccountToken({
          namespace: NAMESPACE,
          name: SERVICE_ACCOUNT,
          body: {
            spec: {
              audiences: [TOKEN_AUDIENCE],
              expirationSeconds: 3600,
              boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
            },
          },
        });
        tokens[i] = request.status!.token!;
      },
    );

    const { brokerAddress } = await manager.waitForLog('serving the credential broker');
    const { healthProbeAddress } = await manager.waitForLog('serving metrics and health probes');
    for (;;) {
      const ready = await fetch(`http://${healthProbeAddress as string}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      await sleep(200);
    }
    rssBeforeLoad = await manager.rssMiB();
    pinThisProcess(LOAD_CPU);

    let next = 0;
    const load = {
      url: `https://${brokerAddress as string}${CREDENTIALS_PATH}`,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ connection: CONNECTION }),
          // Each request from the next pod in turn.
          setupRequest: (request: { headers?: Record<string, string> }) => ({
            ...request,
            headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` },
          }),
        },
      ],
      check,
      keyOf: accessKeyIdOf,
    };
    const spans: Array<{ from: number; to: number }> = [];
    const cpu: number[] = [];
    const figures: LoadFigures[] = [];
    const open = (rate: number, seconds: number) =>
      driveOpen({
        url: load.url,
        rate,
        seconds,
        connections: RATE_CONNECTIONS,
        next: () => ({
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[next++ % tokens.length]}` },
          body: JSON.stringify({ connection: CONNECTION }),
        }),
        check,
        keyOf: accessKeyIdOf,
      });
    const loads = [
      ...CONNECTIONS.map((connections) => (seconds: number) => drive({ ...load, connections, seconds })),
      ...RATES.map((rate) => (seconds: number) => open(rate, seconds)),
    ];
    for (const run of loads) {
      await run(WARM_UP_SECONDS);
      const cpuBefore = await manager.cpuSeconds();
      const from = Date.now();
      const profileFrom = profileClockNow();
      figures.push(await run(SECONDS));
      measured.push({ from: profileFrom, to: profileClockNow() });
      spans.push({ from, to: Date.now() });
      cpu.push((await manager.cpuSeconds()) - cpuBefore);
      const { latencyByKey: _, ...shown } = figures.at(-1)!;
      process.stderr.write(`broker: ${JSON.stringify(shown)}\n`);
    }
    peak = await manager.peakRssMiB();

    // Courier's share of each issuance: the broker's time less STS's.
    const stsMicros = await sts.timings();
    const issued = ((await manager.records()) as unknown as AuditRecord[]).filter(
      (r) => r.audit && r.action === 'credential.issue' && r.outcome === 'issued',
    );
    for (const [i, run] of figures.entries()) {
      const { from, to } = spans[i]!;
      const inRun = issued.filter((r) => {
        const at = Date.parse(r.time);
        return at >= from && at <= to;
      });
      const sts = (r: AuditRecord) => (stsMicros[r.accessKeyId!] ?? NaN) / 1000;
      if (inRun.some((r) => Number.isNaN(sts(r))))
        throw new Error('an issuance has no STS timing: its AccessKeyId did not come from the STS stand-in');
      const { latencyByKey, ...measuredRun } = run;
      const endToEndOwn = [...latencyByKey].map(([key, ms]) => ms - (stsMicros[key] ?? NaN) / 1000);
      if (endToEndOwn.some(Number.isNaN))
        throw new Error('an answer carried an AccessKeyId the STS stand-in never issued');
      runs.push({
        ...measuredRun,
        managerCpuCores: round2(cpu[i]! / run.seconds),
        managerCpuMicrosPerIssuance: Math.round((cpu[i]! / run.answered) * 1e6),
        brokerMs: percentiles(inRun.map((r) => r.durationMs!)),
        stsMs: percentiles(inRun.map(sts)),
        ownMs: percentiles(inRun.map((r) => r.durationMs! - sts(r))),
        endToEndOwnMs: percentiles(endToEndOwn),
      });
    }
  } finally {
    const exit = await manager.stop();
    await sts.stop();
    if (runs.length > 0) {
      await writeResult(flags.quick ? 'broker-quick' : flags.profile ? 'broker-profile' : 'broker', {
        benchmark: 'broker',
        pods: PODS,
        brokerCpu: BROKER_CPU,
        warmUpSeconds: WARM_UP_SECONDS,
        profiled: Boolean(flags.profile),
        runs,
        managerRssBeforeLoadMiB: rssBeforeLoad,
        managerPeakRssMiB: Math.round(peak),
        managerExitCode: exit,
        ...(flags.profile ? { profile: await profileSummary(path.resolve(flags.profile), manager.pid, measured) } : {}),
      });
      const wrong = runs.reduce((sum, run) => sum + failures(run), 0);
      if (wrong > 0) {
        process.stderr.write(`broker: ${wrong} answers were not issued credentials\n`);
        process.exitCode = 1;
      }
    }
  }
});
