// `kubectl courier doctor` against the shared apiserver with a real manager
// (leader election on) and a real webhook, registered by URL. The manager's
// pod is an API object standing in for the one a kubelet would run: its name
// is the manager's POD_NAME and its IP the host's, where the manager's health
// port listens, so the apiserver's pod proxy reaches the real /readyz. Then
// the webhook and the manager are stopped, and doctor says FAIL.
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AdmissionregistrationV1Api, CoreV1Api, DiscoveryV1Api, type V1Pod } from '@kubernetes/client-node';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { runPlugin } from '../support/cli.ts';
import { LOCAL_EPHEMERAL, MANAGER_EPHEMERAL, RunningComponent } from '../support/component.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/wait.ts';

const MANAGER_POD = 'courier-manager-7c9d-doctor';
const LEASE_SECONDS = 15;

let courierNamespace: string;
let tenant: string;
let configuration: string;
let manager: RunningComponent;
let webhook: RunningComponent;
let base: string[];

const core = () => testKubeConfig().makeApiClient(CoreV1Api);

/** An address of this host other than loopback: the apiserver's pod proxy refuses loopback pod IPs. */
function hostAddress(): string {
  const address = Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  if (!address) throw new Error('this host has no non-loopback IPv4 address for the pod proxy to reach');
  return address;
}

/** What the chart's Deployment would make, as the kubelet would report it running at `ip`. */
async function createManagerPod(ip: string, healthPort: number): Promise<void> {
  const pod: V1Pod = {
    metadata: {
      name: MANAGER_POD,
      labels: { 'app.kubernetes.io/name': 'courier', 'app.kubernetes.io/component': 'manager' },
    },
    spec: {
      automountServiceAccountToken: false,
      containers: [
        {
          name: 'manager',
          image: 'courier',
          ports: [{ name: 'health', containerPort: healthPort }],
          readinessProbe: { httpGet: { path: '/readyz', port: 'health' } },
        },
      ],
    },
  };
  const created = await core().createNamespacedPod({ namespace: courierNamespace, body: pod });
  await core().replaceNamespacedPodStatus({
    name: MANAGER_POD,
    namespace: courierNamespace,
    body: {
      ...created,
      status: {
        phase: 'Running',
        podIP: ip,
        podIPs: [{ ip }],
        conditions: [{ type: 'Ready', status: 'True' }],
      },
    },
  });
}

async function doctor(extra: string[] = []) {
  return runPlugin(['doctor', ...base, ...extra]);
}

beforeAll(async () => {
  courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('team');
  configuration = `courier-doctor-${tenant}`;
  const kubeconfig = process.env.COURIER_TEST_KUBECONFIG!;
  base = [
    '--kubeconfig',
    kubeconfig,
    '-n',
    tenant,
    '--courier-namespace',
    courierNamespace,
    '--webhook-configuration-name',
    configuration,
  ];
  for (const namespace of [courierNamespace, tenant]) {
    // No service-account controller runs here; the ServiceAccount admission plugin needs the account.
    await core().createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  }
  const webhookPort = await freePort();
  await testKubeConfig()
    .makeApiClient(AdmissionregistrationV1Api)
    .createMutatingWebhookConfiguration({
      body: {
        metadata: { name: configuration },
        webhooks: [
          {
            name: 'pods.courier.dev',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            timeoutSeconds: 5,
            clientConfig: { url: `https://127.0.0.1:${webhookPort}/mutate-v1-pod` },
            // Only this suite's tenant: the apiserver is shared.
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': tenant } },
            objectSelector: { matchLabels: { 'courier.dev/inject': 'true' } },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          },
        ],
      },
    });

  const ip = hostAddress();
  manager = new RunningComponent(
    [
      'manager',
      ...MANAGER_EPHEMERAL,
      '--health-probe-bind-address',
      `${ip}:0`,
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      courierNamespace,
      '--watch-namespace',
      tenant,
      '--leader-elect',
      '--webhook-configuration-name',
      configuration,
    ],
    { POD_NAME: MANAGER_POD },
  );
  const { healthProbeAddress } = await manager.waitForLog('serving metrics and health probes');
  await createManagerPod(ip, Number(String(healthProbeAddress).split(':').at(-1)));
  await manager.waitForLog('became the leader');

  // The webhook serves the certificate the manager issued, as the chart mounts it.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'courier-cli-doctor-'));
  const tls = await eventually(
    () =>
      core()
        .readNamespacedSecret({ name: 'courier-webhook-tls', namespace: courierNamespace })
        .catch(() => undefined),
    (secret) => secret !== undefined,
    30_000,
    'the webhook certificate',
  );
  for (const file of ['tls.crt', 'tls.key']) {
    await writeFile(path.join(dir, file), Buffer.from(tls!.data![file]!, 'base64'), { mode: 0o600 });
  }
  webhook = new RunningComponent([
    'webhook',
    ...LOCAL_EPHEMERAL,
    '--webhook-bind-address',
    `127.0.0.1:${webhookPort}`,
    '--kubeconfig',
    kubeconfig,
    '--tls-cert-file',
    path.join(dir, 'tls.crt'),
    '--tls-key-file',
    path.join(dir, 'tls.key'),
    '--agent-image',
    'courier.local/courier:dev',
    '--broker-url',
    'https://courier-broker.courier-system.svc',
  ]);
  await webhook.waitForLog('serving admission requests');
}, 90_000);

afterAll(async () => {
  webhook?.child.kill('SIGKILL');
  manager?.child.kill('SIGKILL');
  await testKubeConfig()
    .makeApiClient(AdmissionregistrationV1Api)
    .deleteMutatingWebhookConfiguration({ name: configuration })
    .catch(() => undefined);
});

describe('kubectl courier doctor', () => {
  it('says OK for each check of a healthy installation and exits 0', async () => {
    // The manager is ready once its broker serves and its default store answers.
    const { code, stdout } = await eventually(
      () => doctor(),
      (run) => run.code === 0,
      30_000,
      'a healthy doctor run',
      1_000,
    );
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    const expected = [
      /^OK +apiserver +https:\/\/127\.0\.0\.1:\d+ answers: Kubernetes v1\.\d+\.\d+$/,
      /^OK +crds +toolconnections\.courier\.dev: established, v1alpha1 served$/,
      /^OK +crds +scanschedules\.courier\.dev: established, v1alpha1 served$/,
      /^OK +webhook +pods\.courier\.dev: caBundle set, CA valid until \S+; failurePolicy Fail$/,
      /^OK +webhook +pods\.courier\.dev: called at https:\/\/127\.0\.0\.1:\d+\/mutate-v1-pod \(no Service to check\)$/,
      new RegExp(
        `^OK +webhook-call +the webhook answered a dry-run pod in ${tenant} \\(and refused it, as it should\\)$`,
      ),
      /^OK +certificates +courier-webhook-tls: expires \S+ \(in \d+d\)$/,
      /^OK +certificates +courier-broker-tls: expires \S+ \(in \d+d\)$/,
      new RegExp(`^OK +leader +${MANAGER_POD}_[0-9a-f]{8} leads for \\d+s, renewed \\d+s ago$`),
      new RegExp(`^OK +stores +pod ${MANAGER_POD}: ready; stores: kubernetes ok$`),
      new RegExp(
        `^OK +upload-keys +1 key\\(s\\) published in ConfigMap ${courierNamespace}/courier-upload-keys; connect encrypts to upload-\\S+$`,
      ),
      new RegExp(`^OK +connections +0 ToolConnection\\(s\\) in ${tenant}, all Ready$`),
    ];
    expect(lines).toHaveLength(expected.length);
    lines.forEach((line, i) => expect(line).toMatch(expected[i]!));
  });

  it('prints the findings as data with -o json', async () => {
    const { code, stdout } = await doctor(['-o', 'json']);
    expect(code).toBe(0);
    const { checks } = JSON.parse(stdout) as { checks: Array<{ check: string; status: string; message: string }> };
    expect(checks.map((c) => c.status)).toEqual(Array(checks.length).fill('OK'));
    expect(checks.map((c) => c.check)).toContain('webhook-call');
  });

  it('checks the endpoints of a Service-backed webhook and a missing caBundle', async () => {
    const other = `${configuration}-svc`;
    const admission = testKubeConfig().makeApiClient(AdmissionregistrationV1Api);
    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: other },
        webhooks: [
          {
            name: 'pods.courier.dev',
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            clientConfig: { service: { name: 'courier-webhook', namespace: courierNamespace, path: '/mutate-v1-pod' } },
            // Never called: it selects no namespace.
            namespaceSelector: { matchLabels: { 'courier.dev/doctor-test': 'none' } },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
          },
        ],
      },
    });
    try {
      const noEndpoints = await doctor(['--webhook-configuration-name', other]);
      expect(noEndpoints.code).toBe(1);
      expect(noEndpoints.stdout).toMatch(/^FAIL +webhook +pods\.courier\.dev: no caBundle; the manager fills it in/m);
      expect(noEndpoints.stdout).toMatch(
        new RegExp(
          `^FAIL +webhook +service ${courierNamespace}/courier-webhook has no ready endpoints \\(0 not ready\\)`,
          'm',
        ),
      );
      // What the endpoint controllers would write for one ready webhook pod.
      await testKubeConfig()
        .makeApiClient(DiscoveryV1Api)
        .createNamespacedEndpointSlice({
          namespace: courierNamespace,
          body: {
            metadata: { name: 'courier-webhook-x1', labels: { 'kubernetes.io/service-name': 'courier-webhook' } },
            addressType: 'IPv4',
            endpoints: [{ addresses: ['10.0.0.7'], conditions: { ready: true } }],
            ports: [{ port: 9443 }],
          },
        });
      const ready = await doctor(['--webhook-configuration-name', other]);
      expect(ready.stdout).toMatch(
        new RegExp(`^OK +webhook +service ${courierNamespace}/courier-webhook has 1 ready endpoint\\(s\\)$`, 'm'),
      );
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name: other });
    }
  });

  it('says FAIL when the webhook does not answer, and when no manager leads or answers', async () => {
    webhook.child.kill('SIGKILL');
    await webhook.exitCode();
    const noWebhook = await doctor();
    expect(noWebhook.code).toBe(1);
    expect(noWebhook.stdout).toMatch(/^FAIL +webhook-call +.*failed calling webhook "pods\.courier\.dev"/m);

    manager.child.kill('SIGKILL');
    await manager.exitCode();
    // A killed leader keeps its Lease until the Lease expires.
    const { stdout } = await eventually(
      () => doctor(),
      (run) => /^FAIL +leader /m.test(run.stdout),
      (LEASE_SECONDS + 10) * 1000,
      'the Lease to expire',
      1_000,
    );
    expect(stdout).toMatch(
      new RegExp(
        `^FAIL +leader +no current leader in Lease ${courierNamespace}/courier-manager \\(was ${MANAGER_POD}_[0-9a-f]{8}, last renewed \\d+s ago\\): nothing is reconciled$`,
        'm',
      ),
    );
    expect(stdout).toMatch(
      new RegExp(
        `^FAIL +stores +pod ${MANAGER_POD}: /readyz through the apiserver: HTTP 503: error trying to reach service: .*connection refused$`,
        'm',
      ),
    );
  }, 60_000);
});
