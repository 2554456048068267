// End to end on a real cluster with a kubelet: Courier installed with its Helm
// chart and its real image; moto on this machine as AWS STS, reached by the
// manager (AssumeRole) and by the scan containers (GetCallerIdentity with the
// credentials they were given). Pods really run: the agent, as a native
// sidecar, writes the credentials into the pod's in-memory volume, the scan
// reads them, and the Job completes.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { ToolConnection } from '../src/api/v1alpha1/index.ts';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { etcdSource, findLeaks, valuesSource, type LeakSource } from '../test/support/leak-scanner.ts';
import { startMoto, type MotoPeer } from '../test/support/peers.ts';
import { eventually } from '../test/support/wait.ts';
import {
  apply,
  COURIER_NAMESPACE,
  helm,
  HOST_ADDRESS,
  IMAGE,
  IMAGE_ID,
  kubectl,
  kubectlJson,
  PULL_POLICY,
} from './support.ts';

const TENANT = 'e2e-scans';
const SCANNER_SA = 'compliance-scanner';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/CourierE2EScan';
// Stored credentials, random so that finding one anywhere afterwards is a leak; issued ones join them.
const secrets = [`pw-${randomBytes(18).toString('base64url')}`, randomBytes(30).toString('base64')];
const [HOST_PASSWORD, STATIC_SECRET_KEY] = secrets as [string, string];
const [repository, tag] = [IMAGE.slice(0, IMAGE.lastIndexOf(':')), IMAGE.slice(IMAGE.lastIndexOf(':') + 1)];

let moto: MotoPeer;

// Pods really start here: a run takes tens of seconds, more while images and caches are cold.
jest.setTimeout(300_000);

/** A scan container that calls STS GetCallerIdentity with the credentials Courier gave its pod. */
function stsScanContainer(): Record<string, unknown> {
  const script = [
    "const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');",
    'const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));',
    "console.log('scanning as', identity.Arn);",
  ].join('\n');
  return {
    name: 'scan',
    image: IMAGE,
    imagePullPolicy: PULL_POLICY,
    workingDir: '/app',
    command: ['node', '--input-type=module', '-e', script],
    env: [
      { name: 'AWS_REGION', value: 'us-east-1' },
      { name: 'AWS_ENDPOINT_URL_STS', value: moto.endpoint },
    ],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

function toolConnection(name: string, spec: Record<string, unknown>): object {
  return { apiVersion: 'courier.dev/v1alpha1', kind: 'ToolConnection', metadata: { name, namespace: TENANT }, spec };
}

/** A bare pod that opts in to `connections` and sleeps, so a test can look inside it. */
function sleepingPod(name: string, serviceAccount: string, connections: string[]): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: TENANT,
      labels: { 'courier.dev/inject': 'true' },
      annotations: { 'courier.dev/connections': connections.join(',') },
    },
    spec: {
      serviceAccountName: serviceAccount,
      terminationGracePeriodSeconds: 1,
      containers: [{ ...stsScanContainer(), command: ['sleep', '3600'] }],
    },
  };
}

/** Runs a command in a pod's scan container and returns its output (kept out of every log). */
async function execIn(pod: string, command: string[]): Promise<string> {
  return String((await kubectl(['exec', '-n', TENANT, pod, '-c', 'scan', '--', ...command])).stdout);
}

async function waitForJob(name: string, timeoutMs = 240_000): Promise<V1Job> {
  return eventually(
    () => kubectlJson<V1Job>(['get', 'job', name, '-n', TENANT]),
    (job) =>
      !!job.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'),
    timeoutMs,
    `Job ${name} finished`,
    1_000,
  );
}

async function podsOf(job: string): Promise<V1Pod[]> {
  return (await kubectlJson<{ items: V1Pod[] }>(['get', 'pods', '-n', TENANT, '-l', `job-name=${job}`])).items;
}

async function logsOf(pod: string, container: string): Promise<string> {
  return String((await kubectl(['logs', '-n', TENANT, pod, '-c', container], { reject: false })).stdout);
}

beforeAll(async () => {
  moto = await startMoto({ host: HOST_ADDRESS });
  const values = {
    image: { repository, tag, pullPolicy: PULL_POLICY },
    config: {
      stores: [{ name: 'kubernetes', type: 'kubernetes' }],
      defaultStore: 'kubernetes',
      kek: { provider: 'local' },
      aws: { stsEndpoint: moto.endpoint },
    },
    // The manager's own AWS identity, for AssumeRole: moto's test credentials.
    // A rebuilt image under the same tag must replace running pods.
    ...(IMAGE_ID ? { webhook: { podAnnotations: { 'courier.dev/image-id': IMAGE_ID } } } : {}),
    manager: {
      ...(IMAGE_ID ? { podAnnotations: { 'courier.dev/image-id': IMAGE_ID } } : {}),
      extraEnv: [
        { name: 'AWS_ACCESS_KEY_ID', value: moto.credentials.accessKeyId },
        { name: 'AWS_SECRET_ACCESS_KEY', value: moto.credentials.secretAccessKey },
      ],
    },
  };
  await helm(
    [
      'upgrade',
      '--install',
      'courier',
      path.join(REPO_ROOT, 'charts/courier'),
      '--namespace',
      COURIER_NAMESPACE,
      '--create-namespace',
      '--values',
      '-',
      '--wait',
      '--timeout',
      '5m',
    ],
    JSON.stringify(values),
  ).catch(async (error: unknown) => {
    throw new Error(`helm install failed: ${String(error)}\n${await describeCourier()}`);
  });
  // A fresh tenant namespace on every run, so a run that stopped half-way leaves nothing in the way.
  await kubectl(['delete', 'namespace', TENANT, '--ignore-not-found', '--wait=true', '--timeout=120s']);
  await apply(
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: TENANT } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SCANNER_SA, namespace: TENANT } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'intruder', namespace: TENANT } },
  );
}, 600_000);

afterAll(async () => {
  await moto?.stop();
});

/** What a person would look at when the install does not become ready. */
async function describeCourier(): Promise<string> {
  const pods = await kubectl(['get', 'pods', '-n', COURIER_NAMESPACE, '-o', 'wide'], { reject: false });
  const events = await kubectl(['get', 'events', '-n', COURIER_NAMESPACE], { reject: false });
  return `${String(pods.stdout)}\n${String(events.stdout)}`;
}

describe('Courier on a real cluster', () => {
  it('gives a scheduled scan working AssumeRole credentials in memory, and the Job completes', async () => {
    await apply(
      toolConnection('prod-account', {
        provider: 'aws',
        aws: { authMethod: 'assumeRole', roleArn: ROLE_ARN, externalId: 'e2e-external-id', accountId: '123456789012' },
        access: { serviceAccounts: [SCANNER_SA] },
      }),
      {
        apiVersion: 'courier.dev/v1alpha1',
        kind: 'ScanSchedule',
        metadata: { name: 'nightly', namespace: TENANT },
        spec: {
          schedule: '30 2 * * *',
          connections: [{ name: 'prod-account' }],
          jobTemplate: {
            spec: {
              backoffLimit: 0,
              template: {
                spec: { serviceAccountName: SCANNER_SA, restartPolicy: 'Never', containers: [stsScanContainer()] },
              },
            },
          },
        },
      },
    );
    await kubectl(['wait', '-n', TENANT, 'tc/prod-account', '--for=condition=Ready', '--timeout=120s']);
    await kubectl(['annotate', '-n', TENANT, 'ss/nightly', `courier.dev/run-now=e2e-${Date.now()}`]);
    const jobName = await eventually(
      async () =>
        (
          await kubectlJson<{ items: V1Job[] }>([
            'get',
            'jobs',
            '-n',
            TENANT,
            '-l',
            'courier.dev/scan-schedule=nightly',
          ])
        ).items[0]?.metadata?.name,
      (name) => name !== undefined,
      60_000,
      'the run-now Job',
    );
    const job = await waitForJob(jobName!);
    const [pod] = await podsOf(jobName!);
    const scanLog = await logsOf(pod!.metadata!.name!, 'scan');
    const agentLog = await logsOf(pod!.metadata!.name!, 'courier-agent');
    expect({ complete: job.status?.conditions?.find((c) => c.type === 'Complete')?.status, scanLog, agentLog }).toEqual(
      {
        complete: 'True',
        scanLog: expect.stringContaining(`assumed-role/CourierE2EScan/courier-${pod!.metadata!.name}`),
        agentLog: expect.any(String),
      },
    );
  });

  it('delivers a generic host credential and AWS credentials as files in memory, readable only by the pod', async () => {
    await apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'bastion-src', namespace: TENANT },
        stringData: { username: 'scanner', password: HOST_PASSWORD },
      },
      toolConnection('bastion', {
        provider: 'generic',
        generic: {
          purpose: 'ssh',
          host: 'bastion.example.internal',
          port: 22,
          requiredFields: ['username', 'password'],
        },
        credentialsSecretRef: { name: 'bastion-src' },
        access: { serviceAccounts: [SCANNER_SA] },
      }),
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'legacy-src', namespace: TENANT },
        stringData: { accessKeyId: 'AKIAE2ESTATICKEY0001', secretAccessKey: STATIC_SECRET_KEY },
      },
      toolConnection('legacy', {
        provider: 'aws',
        aws: { authMethod: 'accessKey' },
        credentialsSecretRef: { name: 'legacy-src' },
        access: { serviceAccounts: [SCANNER_SA] },
      }),
    );
    await kubectl(['wait', '-n', TENANT, 'tc/bastion', 'tc/legacy', '--for=condition=Ready', '--timeout=120s']);
    await apply(sleepingPod('host-scan', SCANNER_SA, ['bastion', 'prod-account']));
    await kubectl(['wait', '-n', TENANT, 'pod/host-scan', '--for=condition=Ready', '--timeout=180s']);

    expect(await execIn('host-scan', ['cat', '/var/run/courier/bastion/password'])).toBe(HOST_PASSWORD);
    expect(await execIn('host-scan', ['cat', '/var/run/courier/bastion/username'])).toBe('scanner');
    expect((await execIn('host-scan', ['stat', '-c', '%a %u', '/var/run/courier/bastion/password'])).trim()).toBe(
      '400 65532',
    );
    const mounts = await execIn('host-scan', ['cat', '/proc/mounts']);
    // /var/run is a link to /run in the image; the volume is read-only in this container and capped at 1Mi.
    expect(mounts).toMatch(/^tmpfs \/run\/courier tmpfs ro,.*size=1024k/m);
    const issued = JSON.parse(await execIn('host-scan', ['cat', '/var/run/courier/prod-account/credentials.json'])) as {
      SecretAccessKey: string;
      SessionToken: string;
    };
    secrets.push(issued.SecretAccessKey, issued.SessionToken);
    await kubectl(['delete', 'pod', '-n', TENANT, 'host-scan', '--wait=false']);
  });

  it('refuses a pod under a service account the connection does not allow, and records the request', async () => {
    await apply(sleepingPod('intruder-scan', 'intruder', ['bastion']));
    const tc = await eventually(
      () => kubectlJson<ToolConnection>(['get', 'tc', 'bastion', '-n', TENANT]),
      (found) => !!found.status?.accessRequests?.some((r) => r.serviceAccount === 'intruder'),
      120_000,
      'the refused service account in status.accessRequests',
      1_000,
    );
    expect(tc.status!.accessRequests!.find((r) => r.serviceAccount === 'intruder')).toMatchObject({
      lastPod: 'intruder-scan',
    });
    const pod = await kubectlJson<V1Pod>(['get', 'pod', 'intruder-scan', '-n', TENANT]);
    expect(pod.status?.containerStatuses?.find((c) => c.name === 'scan')?.started).not.toBe(true);
    await kubectl(['delete', 'pod', '-n', TENANT, 'intruder-scan', '--wait=false']);
  });

  it('still delivers when every manager pod is deleted as the scan starts', async () => {
    const managersBefore = await managerPods();
    await kubectl(['delete', 'pods', '-n', COURIER_NAMESPACE, ...managersBefore, '--wait=false']);
    await apply({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'during-restart', namespace: TENANT },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: {
            labels: { 'courier.dev/inject': 'true' },
            annotations: { 'courier.dev/connections': 'prod-account' },
          },
          spec: { serviceAccountName: SCANNER_SA, restartPolicy: 'Never', containers: [stsScanContainer()] },
        },
      },
    });
    const job = await waitForJob('during-restart');
    expect(job.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');
    const [pod] = await podsOf('during-restart');
    expect(await logsOf(pod!.metadata!.name!, 'scan')).toContain('assumed-role/CourierE2EScan/');
    const managersAfter = await managerPods();
    expect(managersAfter.filter((name) => managersBefore.includes(name))).toEqual([]);
  });

  it('leaves no secret in etcd, pod logs, Events, statuses or pod specs', async () => {
    const sources: LeakSource[] = [podLogsSource(), apiObjectsSource(['events', 'toolconnections', 'pods'])];
    if (process.env.COURIER_E2E_ETCD_URL) sources.push(etcdSource(process.env.COURIER_E2E_ETCD_URL));
    expect(secrets).toHaveLength(4);
    expect(await findLeaks(secrets, sources)).toEqual([]);
  });
});

async function managerPods(): Promise<string[]> {
  const list = await kubectlJson<{ items: V1Pod[] }>([
    'get',
    'pods',
    '-n',
    COURIER_NAMESPACE,
    '-l',
    'app.kubernetes.io/component=manager',
  ]);
  return list.items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata!.name!);
}

/** Every container's log (init and sidecar containers included) of every pod in the cluster. */
function podLogsSource(): LeakSource {
  return async () => {
    const pods = (await kubectlJson<{ items: V1Pod[] }>(['get', 'pods', '-A'])).items;
    const findings = [];
    for (const pod of pods) {
      const { name, namespace } = pod.metadata!;
      const logs = await kubectl(['logs', '-n', namespace!, name!, '--all-containers', '--prefix'], { reject: false });
      findings.push({ where: `logs of ${namespace}/${name}`, text: String(logs.stdout) });
    }
    return findings;
  };
}

function apiObjectsSource(kinds: string[]): LeakSource {
  return async () => {
    const lists = await Promise.all(kinds.map((kind) => kubectlJson<{ items: unknown[] }>(['get', kind, '-A'])));
    const findings = await Promise.all(lists.map((list, i) => valuesSource(kinds[i]!, list.items)()));
    return findings.flat();
  };
}
