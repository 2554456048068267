// Benchmark: `courier webhook` as a process, pinned to one CPU, answering
// AdmissionReviews over HTTPS with keep-alive at 1, 16 and 64 connections,
// with autocannon on the other CPU. The reviews carry a realistic pod (a Job's,
// as the apiserver sends it after defaulting and its ServiceAccount plugin:
// two containers, six volumes) opted in to one or two Ready ToolConnections
// that the webhook reads from its cache, as in a cluster. Figures: reviews/s,
// latency, the webhook's CPU over each run and its peak RSS. Any answer that
// is not an allowed, patched AdmissionReview fails the run.
//
//   node bench/webhook.ts [--seconds 15] [--connections 1,16,64] [--quick] [--profile <dir>]
//
// --profile writes a V8 CPU profile of the webhook (node --cpu-prof) into <dir>.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createCertificateAuthority } from '../src/crypto/pki.ts';
import { LOCAL_EPHEMERAL } from '../test/support/component.ts';
import { writeServingPair } from '../test/support/courier-setup.ts';
import { profileClockNow, profileSummary, type Window } from './cpu-profile.ts';
import { drive, failures, type LoadFigures } from './load.ts';
import {
  BENCH_NAMESPACE as NAMESPACE,
  CourierProcess,
  createConnection,
  createGenericConnection,
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
    quick: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
});
const SECONDS = Number(flags.seconds ?? (flags.quick ? 3 : 15));
const WARM_UP_SECONDS = flags.quick ? 1 : 3;
const CONNECTIONS = flags.connections.split(',').map(Number);
/** The webhook's CPU; the benchmark, autocannon and the STS stand-in run on the other. */
const WEBHOOK_CPU = 0;
const LOAD_CPU = 1;

/** A scan Job's pod as the apiserver hands it to a mutating webhook: defaulted, with the ServiceAccount plugin's volume. */
function scanPod(connections: string): object {
  const mounts = (extra: object[]) => [
    ...extra,
    { name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
  ];
  const defaults = {
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    imagePullPolicy: 'IfNotPresent',
  };
  const securityContext = {
    runAsNonRoot: true,
    runAsUser: 10001,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
  };
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      generateName: 'nightly-aws-29010240-',
      namespace: NAMESPACE,
      labels: {
        'batch.kubernetes.io/controller-uid': '0f2d4a6e-1c3b-4f5a-9e8d-7c6b5a4d3e2f',
        'batch.kubernetes.io/job-name': 'nightly-aws-29010240',
        'controller-uid': '0f2d4a6e-1c3b-4f5a-9e8d-7c6b5a4d3e2f',
        'job-name': 'nightly-aws-29010240',
        'courier.dev/inject': 'true',
        'courier.dev/scan-schedule': 'nightly-aws',
        'app.kubernetes.io/name': 'prowler',
      },
      annotations: {
        'courier.dev/connections': connections,
        'courier.dev/scheduled-time': '2030-01-01T02:00:00.000Z',
        'batch.kubernetes.io/job-tracking': '',
      },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: 'nightly-aws-29010240',
          uid: '0f2d4a6e-1c3b-4f5a-9e8d-7c6b5a4d3e2f',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      volumes: [
        { name: 'config', configMap: { name: 'prowler-config', defaultMode: 420 } },
        { name: 'rules', configMap: { name: 'prowler-rules', defaultMode: 420 } },
        { name: 'report-signing', secret: { secretName: 'report-signing-key', defaultMode: 256 } },
        { name: 'results', emptyDir: {} },
        { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              {
                downwardAPI: {
                  items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
                },
              },
            ],
            defaultMode: 420,
          },
        },
      ],
      containers: [
        {
          name: 'scanner',
          image: 'ghcr.io/example/prowler:4.6.1',
          args: [
            'aws',
            '--output-formats',
            'json-ocsf',
            '--output-directory',
            '/results',
            '--config-file',
            '/config/config.yaml',
          ],
          env: [
            { name: 'AWS_REGION', value: 'eu-west-1' },
            { name: 'PROWLER_LOG_LEVEL', value: 'INFO' },
          ],
          resources: { limits: { cpu: '2', memory: '2Gi' }, requests: { cpu: '500m', memory: '1Gi' } },
          volumeMounts: mounts([
            { name: 'config', readOnly: true, mountPath: '/config' },
            { name: 'rules', readOnly: true, mountPath: '/rules' },
            { name: 'results', mountPath: '/results' },
            { name: 'tmp', mountPath: '/tmp' },
          ]),
          ...defaults,
          securityContext,
        },
        {
          name: 'uploader',
          image: 'ghcr.io/example/report-uploader:1.3.0',
          args: [
            '--watch',
            '/results',
            '--sign-with',
            '/signing/key.pem',
            '--to',
            'https://reports.example.com/upload',
          ],
          resources: { limits: { cpu: '200m', memory: '128Mi' }, requests: { cpu: '50m', memory: '64Mi' } },
          volumeMounts: mounts([
            { name: 'results', readOnly: true, mountPath: '/results' },
            { name: 'report-signing', readOnly: true, mountPath: '/signing' },
          ]),
          ...defaults,
          securityContext,
        },
      ],
      restartPolicy: 'Never',
      terminationGracePeriodSeconds: 30,
      activeDeadlineSeconds: 3600,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'scanner',
      serviceAccount: 'scanner',
      securityContext: { fsGroup: 10001, seccompProfile: { type: 'RuntimeDefault' } },
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
}

function admissionReview(uid: string, connections: string): string {
  const gvk = { group: '', version: 'v1', kind: 'Pod' };
  const gvr = { group: '', version: 'v1', resource: 'pods' };
  return JSON.stringify({
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid,
      kind: gvk,
      resource: gvr,
      requestKind: gvk,
      requestResource: gvr,
      namespace: NAMESPACE,
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:job-controller',
        uid: '5d7e6f1a-2b3c-4d5e-8f90-a1b2c3d4e5f6',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: scanPod(connections),
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  });
}

/** An answer is right when it allows the pod with a JSON patch and no warnings (every connection is Ready). */
function check(body: string): string | undefined {
  let response: { allowed?: boolean; patchType?: string; patch?: string; warnings?: string[] } | undefined;
  try {
    response = (JSON.parse(body) as { response?: typeof response }).response;
  } catch {
    return 'not JSON';
  }
  if (!response) return 'no AdmissionReview response';
  if (response.allowed !== true) return 'denied';
  if (response.patchType !== 'JSONPatch' || !response.patch) return 'allowed without a patch';
  if (response.warnings?.length) return 'warnings';
  return undefined;
}

interface Run extends Omit<LoadFigures, 'latencyByKey'> {
  /** The webhook's CPU time over the run divided by the run's wall time (1 = the whole core). */
  webhookCpuCores: number;
  webhookCpuMicrosPerReview: number;
}

await withBenchPlane(async ({ plane, core, objects }) => {
  const sts = await startInstantSts(LOAD_CPU);
  const manager = await startManager(plane, sts.endpoint, { cpu: LOAD_CPU });
  try {
    await createConnection({ objects }, 'aws-prod', {
      provider: 'aws',
      aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/ScanRole' },
      access: { serviceAccounts: ['scanner'] },
    });
    await createGenericConnection({ core, objects }, 'github', 'bench-token', { serviceAccounts: ['scanner'] });
    await waitReady(plane, ['aws-prod', 'github']);
  } finally {
    // Only the webhook is measured; nothing else should use the CPU meanwhile.
    await manager.stop();
    await sts.stop();
  }

  const tlsDir = await mkdtemp(path.join(os.tmpdir(), 'courier-bench-webhook-tls-'));
  await writeServingPair(await createCertificateAuthority('courier-bench-webhook-ca', 1), tlsDir);
  const webhook = await CourierProcess.start(
    [
      'webhook',
      ...LOCAL_EPHEMERAL,
      '--webhook-bind-address',
      '127.0.0.1:0',
      '--kubeconfig',
      plane.kubeconfigPath,
      '--tls-cert-file',
      path.join(tlsDir, 'tls.crt'),
      '--tls-key-file',
      path.join(tlsDir, 'tls.key'),
      '--agent-image',
      'ghcr.io/courier/courier:0.1.0',
      '--broker-url',
      'https://courier-broker.courier-system.svc:8443',
    ],
    { cpu: WEBHOOK_CPU, ...(flags.profile ? { cpuProfileDir: path.resolve(flags.profile) } : {}) },
  );
  const runs: Run[] = [];
  const measured: Window[] = [];
  let rssBeforeLoad: number | undefined;
  try {
    const { webhookAddress } = await webhook.waitForLog('serving admission requests');
    await webhook.waitForLog('ToolConnection cache filled');
    rssBeforeLoad = await webhook.rssMiB();
    pinThisProcess(LOAD_CPU);
    const load = {
      // As the apiserver calls it: the configured path with its timeout.
      url: `https://${webhookAddress as string}/mutate-v1-pod?timeout=10s`,
      requests: [
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: admissionReview('b1', 'aws-prod,github'),
        },
        { method: 'POST', headers: { 'content-type': 'application/json' }, body: admissionReview('b2', 'github') },
      ],
      check,
    };
    for (const connections of CONNECTIONS) {
      // TLS handshakes, JIT and caches first; not measured.
      await drive({ ...load, connections, seconds: WARM_UP_SECONDS });
      const cpuBefore = await webhook.cpuSeconds();
      const from = profileClockNow();
      const { latencyByKey: _, ...figures } = await drive({ ...load, connections, seconds: SECONDS });
      measured.push({ from, to: profileClockNow() });
      const cpu = (await webhook.cpuSeconds()) - cpuBefore;
      runs.push({
        ...figures,
        webhookCpuCores: round2(cpu / figures.seconds),
        webhookCpuMicrosPerReview: Math.round((cpu / figures.answered) * 1e6),
      });
      process.stderr.write(`webhook: ${JSON.stringify(runs.at(-1))}\n`);
    }
  } finally {
    const peak = await webhook.peakRssMiB().catch(() => NaN);
    const exit = await webhook.stop();
    await rm(tlsDir, { recursive: true, force: true });
    if (runs.length > 0) {
      const wrong = runs.reduce((sum, run) => sum + failures(run), 0);
      await writeResult(flags.quick ? 'webhook-quick' : flags.profile ? 'webhook-profile' : 'webhook', {
        benchmark: 'webhook',
        reviewBytes: Buffer.byteLength(admissionReview('b1', 'aws-prod,github')),
        webhookCpu: WEBHOOK_CPU,
        warmUpSeconds: WARM_UP_SECONDS,
        profiled: Boolean(flags.profile),
        runs,
        webhookRssBeforeLoadMiB: rssBeforeLoad,
        webhookPeakRssMiB: Math.round(peak),
        webhookExitCode: exit,
        ...(flags.profile ? { profile: await profileSummary(path.resolve(flags.profile), webhook.pid, measured) } : {}),
      });
      if (wrong > 0) {
        process.stderr.write(`webhook: ${wrong} answers were not allowed, patched AdmissionReviews\n`);
        process.exitCode = 1;
      }
    }
  }
});
