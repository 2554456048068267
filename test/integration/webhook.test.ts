// `courier webhook` as a process behind a real kube-apiserver: the apiserver
// calls it through a MutatingWebhookConfiguration (over TLS, with the caBundle
// of a CA made here) for pods created in this suite's namespace only, and
// applies its patch — including the second call that reinvocationPolicy
// IfNeeded makes after the apiserver's own ServiceAccount plugin has touched
// the pod. No kubelet runs, so pods stay Pending; what is stored is the point.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  type V1Pod,
} from '@kubernetes/client-node';
import type { ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/crypto/pki.ts';
import { contains } from '../../src/webhook/contains.ts';
import { mutate } from '../../src/webhook/mutate.ts';
import { binaryQuantity } from '../../src/webhook/settings.ts';
import { applyPatch } from '../../src/webhook/testing/fixtures.ts';
import { testKubeConfig } from '../support/cluster.ts';
import { LOCAL_EPHEMERAL, RunningComponent } from '../support/component.ts';
import { writeServingPair } from '../support/courier-setup.ts';
import { eventually, until } from '../support/wait.ts';

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const admission = kc.makeApiClient(AdmissionregistrationV1Api);

const SUITE = randomBytes(3).toString('hex');
const NAMESPACE = `webhook-${SUITE}`;
/** The webhook configuration selects namespaces with this label: ours, no other suite's. */
const NAMESPACE_LABEL = 'courier.dev/webhook-test';
const CONFIGURATION = `courier-webhook-test-${SUITE}`;
const WEBHOOK_NAME = 'pods.courier.dev';
const SETTINGS = {
  agentImage: 'ghcr.io/courier/courier:test',
  agentImagePullPolicy: 'IfNotPresent',
  brokerUrl: 'https://courier-broker.courier-system.svc:8443',
  tokenExpirationSeconds: 600,
  credentialsSizeLimit: '1Mi',
} as const;

let ca: CertificateAuthority;
let tlsDir: string;
let webhook: RunningComponent;
let webhookPort: number;
let metricsUrl: string;

async function createConnection(name: string, spec: ToolConnection['spec']): Promise<ToolConnection> {
  return (await objects.createNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    plural: 'toolconnections',
    namespace: NAMESPACE,
    body: { apiVersion: 'courier.dev/v1alpha1', kind: 'ToolConnection', metadata: { name }, spec },
  })) as ToolConnection;
}

function scanPod(name: string, annotations: Record<string, string>, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'courier.dev/inject': 'true' }, annotations },
    spec: { restartPolicy: 'Never', containers: [{ name: 'scanner', image: 'scanner:1' }], ...extra },
  };
}

async function createPod(pod: V1Pod, dryRun = false): Promise<V1Pod> {
  return core.createNamespacedPod({ namespace: NAMESPACE, body: pod, ...(dryRun ? { dryRun: 'All' } : {}) });
}

/** The apiserver's answer to a refused create: its status code and message. */
async function refusal(pod: V1Pod): Promise<{ code: number; message: string }> {
  try {
    await createPod(pod);
  } catch (err) {
    if (!(err instanceof ApiException)) throw err;
    return { code: err.code, message: (JSON.parse(err.body as string) as { message: string }).message };
  }
  throw new Error(`pod ${pod.metadata!.name} was created`);
}

const connections = new Map<string, ToolConnection>();

beforeAll(async () => {
  ca = await createCertificateAuthority('courier-webhook-test-ca', 1);
  tlsDir = await mkdtemp(path.join(os.tmpdir(), 'courier-webhook-'));
  await writeServingPair(ca, tlsDir);

  await core.createNamespace({ body: { metadata: { name: NAMESPACE, labels: { [NAMESPACE_LABEL]: SUITE } } } });
  // No service-account controller runs here; the ServiceAccount admission plugin needs the account.
  await core.createNamespacedServiceAccount({ namespace: NAMESPACE, body: { metadata: { name: 'default' } } });
  for (const connection of [
    await createConnection('aws-prod', {
      provider: 'aws',
      aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/ScanRole' },
    }),
    await createConnection('github', {
      provider: 'generic',
      generic: { purpose: 'http', host: 'github.com' },
      credentialsSecretRef: { name: 'github-token' },
    }),
  ]) {
    connections.set(connection.metadata.name!, connection);
  }

  webhook = new RunningComponent([
    'webhook',
    ...LOCAL_EPHEMERAL,
    '--webhook-bind-address',
    '127.0.0.1:0',
    '--kubeconfig',
    process.env.COURIER_TEST_KUBECONFIG!,
    '--tls-cert-file',
    path.join(tlsDir, 'tls.crt'),
    '--tls-key-file',
    path.join(tlsDir, 'tls.key'),
    '--agent-image',
    SETTINGS.agentImage,
    '--broker-url',
    SETTINGS.brokerUrl,
  ]);
  const { webhookAddress } = await webhook.waitForLog('serving admission requests');
  webhookPort = Number((webhookAddress as string).split(':').pop());
  const probes = await webhook.healthProbeUrl();
  metricsUrl = `${probes}/metrics`;
  // Ready once the ToolConnection cache is filled.
  const readiness = await eventually(
    () => fetch(`${probes}/readyz?verbose`).then(async (r) => ({ status: r.status, text: await r.text() })),
    (r) => r.status === 200,
    30_000,
    'webhook readiness',
  );
  expect(readiness.text).toContain('[+]toolconnection-cache ok');

  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: CONFIGURATION },
      webhooks: [
        {
          name: WEBHOOK_NAME,
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          reinvocationPolicy: 'IfNeeded',
          timeoutSeconds: 5,
          clientConfig: {
            url: `https://127.0.0.1:${webhookPort}/mutate-v1-pod`,
            caBundle: Buffer.from(ca.certPem).toString('base64'),
          },
          namespaceSelector: { matchLabels: { [NAMESPACE_LABEL]: SUITE } },
          objectSelector: { matchLabels: { 'courier.dev/inject': 'true' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        },
      ],
    },
  });
  // The apiserver picks the configuration up asynchronously.
  await eventually(
    () => createPod(scanPod('probe', { 'courier.dev/connections': 'github' }), true),
    (pod) => pod.spec?.initContainers?.[0]?.name === 'courier-agent',
    30_000,
    'the apiserver calling the webhook',
  );
}, 120_000);

afterAll(async () => {
  await admission.deleteMutatingWebhookConfiguration({ name: CONFIGURATION }).catch(() => undefined);
  webhook?.child.kill('SIGKILL');
  await core.deleteNamespace({ name: NAMESPACE }).catch(() => undefined);
});

describe('courier webhook behind kube-apiserver', () => {
  it('mutates an opted-in pod as mutate() says, and passes the apiserver calling it again', async () => {
    const input = scanPod('scan', { 'courier.dev/connections': 'aws-prod,github' });
    const decision = mutate({ pod: input, namespace: NAMESPACE, connections, settings: SETTINGS });
    if (!('patch' in decision)) throw new Error(decision.denied);
    const expected = applyPatch(input, decision.patch);

    const stored = await createPod(input);
    // Everything Courier adds is there; around it the apiserver added its defaults.
    expect(contains(stored, expected)).toBe(true);
    const [agent] = stored.spec!.initContainers!;
    expect(agent).toMatchObject({
      name: 'courier-agent',
      image: SETTINGS.agentImage,
      restartPolicy: 'Always',
      args: expect.arrayContaining(['--mode', 'sidecar', '--connections', 'aws-prod,github']),
    });
    expect(stored.spec!.volumes!.map((v) => v.name)).toEqual(
      expect.arrayContaining(['courier-token', 'courier-credentials']),
    );
    expect(stored.spec!.volumes!.find((v) => v.name === 'courier-credentials')!.emptyDir).toEqual({
      medium: 'Memory',
      sizeLimit: '1Mi',
    });
    const [scanner] = stored.spec!.containers;
    expect(scanner!.volumeMounts).toContainEqual({
      name: 'courier-credentials',
      mountPath: '/var/run/courier',
      readOnly: true,
    });
    expect(scanner!.env).toEqual([
      { name: 'COURIER_CREDENTIALS_DIR', value: '/var/run/courier' },
      { name: 'AWS_SHARED_CREDENTIALS_FILE', value: '/var/run/courier/aws-prod/credentials' },
      { name: 'AWS_CONFIG_FILE', value: '/var/run/courier/aws-prod/config' },
    ]);
    // The ServiceAccount plugin, run again after the patch, mounted the API
    // token into the agent too; the webhook was called again and found nothing to add.
    expect(agent!.volumeMounts!.map((m) => m.mountPath)).toContain('/var/run/secrets/kubernetes.io/serviceaccount');
    const decisions = webhook.records.filter((r) => r.pod === 'scan' && r.dryRun === false).map((r) => r.outcome);
    expect(decisions).toEqual(['mutated', 'unchanged']);
  });

  it('leaves a pod without the label alone', async () => {
    const plain = scanPod('plain', { 'courier.dev/connections': 'aws-prod' });
    delete plain.metadata!.labels;
    const stored = await createPod(plain);
    expect(stored.spec!.initContainers).toBeUndefined();
    expect(stored.spec!.volumes!.map((v) => v.name)).not.toContain('courier-credentials');
    expect(stored.spec!.containers[0]!.env).toBeUndefined();
    expect(webhook.records.filter((r) => r.pod === 'plain')).toEqual([]);
  });

  it('finds a ToolConnection created just before the pod', async () => {
    await createConnection('fresh', {
      provider: 'generic',
      generic: { purpose: 'ssh' },
      credentialsSecretRef: { name: 'fresh-key' },
    });
    const stored = await createPod(scanPod('fresh-pod', { 'courier.dev/connections': 'fresh' }));
    expect(stored.spec!.initContainers![0]!.args).toEqual(expect.arrayContaining(['--mode', 'init', 'fresh']));
  });

  it('refuses bad pods with a message the creator sees', async () => {
    expect(await refusal(scanPod('bad-annotation', { 'courier.dev/connections': 'aws-prod,GitHub' }))).toEqual({
      code: 400,
      message: `admission webhook "${WEBHOOK_NAME}" denied the request: annotation courier.dev/connections: "GitHub" in "aws-prod,GitHub" is not a ToolConnection name; expected comma-separated lower-case DNS subdomains such as "aws-prod,github"`,
    });
    expect(await refusal(scanPod('missing', { 'courier.dev/connections': 'gitlab' }))).toEqual({
      code: 403,
      message: `admission webhook "${WEBHOOK_NAME}" denied the request: ToolConnection "gitlab" not found in namespace "${NAMESPACE}"; create it or fix the courier.dev/connections annotation`,
    });
    const reserved = scanPod(
      'reserved',
      { 'courier.dev/connections': 'github' },
      { volumes: [{ name: 'courier-credentials', emptyDir: {} }] },
    );
    expect(await refusal(reserved)).toEqual({
      code: 403,
      message: `admission webhook "${WEBHOOK_NAME}" denied the request: volume "courier-credentials" is reserved for Courier, which adds it itself; remove it from the pod`,
    });
  });

  it('mutates a dry-run create the same way, storing nothing', async () => {
    const stored = await createPod(scanPod('dry', { 'courier.dev/connections': 'github' }), true);
    expect(stored.spec!.initContainers![0]!.name).toBe('courier-agent');
    expect(stored.spec!.containers[0]!.env).toEqual([{ name: 'COURIER_CREDENTIALS_DIR', value: '/var/run/courier' }]);
    await expect(core.readNamespacedPod({ name: 'dry', namespace: NAMESPACE })).rejects.toMatchObject({ code: 404 });
    expect(webhook.records.filter((r) => r.pod === 'dry').map((r) => r.dryRun)).toContain(true);
  });

  it('serves a rewritten certificate without failing a request', async () => {
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port: webhookPort, ca: ca.certPem }, () => {
          resolve(socket.getPeerCertificate().serialNumber);
          socket.end();
        });
        socket.on('error', reject);
      });
    const before = await served();
    let stop = false;
    let created = 0;
    const traffic = (async () => {
      while (!stop) {
        await createPod(scanPod(`rotation-${created}`, { 'courier.dev/connections': 'github' }), true);
        created++;
      }
    })();
    await writeServingPair(ca, tlsDir);
    await webhook.waitForLog('TLS certificate reloaded');
    // A few more requests after the switch.
    const after = created;
    await until(() => created >= after + 5, 30_000, 'requests after the reload');
    stop = true;
    await traffic;
    expect(await served()).not.toBe(before);
  });

  it('counts its decisions on /metrics', async () => {
    const metrics = await (await fetch(metricsUrl)).text();
    const count = (labels: string) =>
      Number(new RegExp(`^courier_admission_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(metrics)?.[1] ?? 0);
    expect(count('outcome="mutated",dry_run="false"')).toBeGreaterThanOrEqual(2);
    expect(count('outcome="unchanged",dry_run="false"')).toBeGreaterThanOrEqual(2);
    expect(count('outcome="mutated",dry_run="true"')).toBeGreaterThanOrEqual(2);
    expect(count('outcome="denied",dry_run="false"')).toBe(3);
    expect(metrics).toMatch(/^courier_admission_duration_seconds_count \d+$/m);
  });

  it('writes sizes as the apiserver writes them back, so a second call sees its own volume', async () => {
    const raw = ['1Mi', '1024Ki', '1536Ki', '2048Mi', '1048576Mi'];
    const plain: V1Pod = {
      metadata: { name: 'sizes' },
      spec: {
        containers: [{ name: 'c', image: 'c:1' }],
        volumes: raw.map((sizeLimit, i) => ({ name: `v${i}`, emptyDir: { sizeLimit } })),
      },
    };
    const stored = await createPod(plain, true);
    const byName = new Map(stored.spec!.volumes!.map((v) => [v.name, v.emptyDir?.sizeLimit]));
    expect(raw.map((_, i) => byName.get(`v${i}`))).toEqual(raw.map((size) => binaryQuantity().parse(size)));
  });
});
