// charts/courier with the real tools and a real kube-apiserver of its own
// (the chart installs cluster-wide objects: CRDs, ClusterRoles and a
// MutatingWebhookConfiguration that must not reach other suites' pods):
//   - its generated files are current (CRDs copied from crds/, values schema);
//   - helm lint --strict is clean, and kubeconform -strict accepts every
//     render, against JSON schemas made from this apiserver's OpenAPI, which
//     also serves the real cert-manager and ServiceMonitor CRDs;
//   - a server-side dry run with strict field validation accepts them too;
//   - bad values fail with a message that names the value;
//   - helm install creates every object, helm upgrade keeps the caBundle the
//     manager wrote, helm uninstall removes every object;
//   - and the RBAC is enough, and no more: the real manager and webhook run
//     as the chart's ServiceAccounts, with the chart's own arguments, and do
//     their work (leader election, certificates, a ToolConnection stored and
//     its source Secret deleted, a run's Job, CA distribution), while what
//     they must not do is denied.
// There is no kubelet here: the chart's pods are never started.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  AdmissionregistrationV1Api,
  ApiException,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubernetesObjectApi,
  type V1Pod,
} from '@kubernetes/client-node';
import { execa } from 'execa';
import { parse, stringify } from 'yaml';
import { chartFiles, CHART_DIR } from '../../hack/gen-chart.ts';
import { TOKEN_AUDIENCE, type CredentialResponse } from '../../src/api/v1alpha1/delivery.ts';
import type { ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { courierConfigSchema, parseCourierConfig } from '../../src/config/file.ts';
import { FINALIZER } from '../../src/controllers/toolconnection/reconciler.ts';
import { createCertificateAuthority, issueCertificate } from '../../src/crypto/pki.ts';
import { LOCAL_EPHEMERAL, RunningComponent, type LogRecord } from '../support/component.ts';
import { ControlPlane } from '../support/control-plane.ts';
import {
  chartTools,
  CHART,
  find,
  helm,
  objectsOf,
  RELEASE,
  RELEASE_NAMESPACE,
  render,
  type ChartTools,
  type KubeObject,
} from '../support/helm.ts';
import { schemaLocation, writeKubeJsonSchemas } from '../support/kube-json-schemas.ts';
import { eventually } from '../support/wait.ts';

const STORE_NAMESPACE = 'courier-store';
const SECOND_NAMESPACE = 'courier-cm';

/** Values of each checked variant; the default is the chart's own values.yaml. */
const VARIANTS: Record<string, Record<string, unknown>> = {
  default: {},
  'cert-manager': { tls: { mode: 'cert-manager' } },
  'cert-manager with an issuer of the cluster': {
    tls: { mode: 'cert-manager', certManager: { issuerRef: { kind: 'ClusterIssuer', name: 'corporate-ca' } } },
  },
  'network policy and service monitor': {
    networkPolicy: {
      enabled: true,
      metricsFrom: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
    },
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
  },
  'every store, a KMS key and a registry image': {
    image: {
      repository: 'registry.example.com:5000/security/courier',
      digest: `sha256:${'a'.repeat(64)}`,
      pullPolicy: 'Always',
    },
    imagePullSecrets: [{ name: 'registry' }],
    config: {
      stores: [
        { name: 'in-cluster', type: 'kubernetes', kubernetes: { namespace: STORE_NAMESPACE, maxVersions: 5 } },
        { name: 'aws', type: 'aws-secrets-manager', awsSecretsManager: { region: 'eu-west-1', prefix: 'courier/' } },
        { name: 'gcp', type: 'gcp-secret-manager', gcpSecretManager: { project: 'security-prod-123' } },
        {
          name: 'vault',
          type: 'vault',
          vault: {
            address: 'https://vault.example:8200',
            caFile: '/etc/vault-ca/ca.crt',
            auth: { method: 'kubernetes', role: 'courier' },
          },
        },
      ],
      defaultStore: 'in-cluster',
      kek: { provider: 'aws-kms', awsKms: { keyId: 'alias/courier', region: 'eu-west-1' } },
      aws: { stsEndpoint: 'https://sts.eu-west-1.amazonaws.com' },
    },
    manager: {
      serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/courier' } },
      extraEnv: [{ name: 'AWS_REGION', value: 'eu-west-1' }],
      extraVolumes: [{ name: 'vault-ca', configMap: { name: 'vault-ca' } }],
      extraVolumeMounts: [{ name: 'vault-ca', mountPath: '/etc/vault-ca', readOnly: true }],
    },
    webhook: {
      agentImage: { repository: 'registry.example.com:5000/security/courier', tag: '0.1.0-agent' },
      excludedNamespaces: ['monitoring'],
    },
  },
};
const VARIANT_NAMES = Object.keys(VARIANTS);

let plane: ControlPlane;
let tools: ChartTools;
let work: string;
let schemas: string;
// Helm splits --values at commas: file names of letters, digits and dashes.
const valuesFile = (variant: string) => path.join(work, `${variant.replaceAll(/[^a-z0-9]+/g, '-')}.yaml`);
const valuesArgs = (variant: string) => ['--values', valuesFile(variant)];

beforeAll(async () => {
  [tools, plane] = await Promise.all([
    chartTools(),
    // The aggregation controller fills the built-in admin, edit and view roles from the chart's.
    ControlPlane.start({
      installCrds: false,
      controllerManager: ['serviceaccount-controller', 'clusterrole-aggregation-controller'],
    }),
  ]);
  work = await mkdtemp(path.join(os.tmpdir(), 'courier-chart-'));
  for (const [variant, values] of Object.entries(VARIANTS)) await writeFile(valuesFile(variant), stringify(values));
  await plane.kubectl(['apply', '--server-side', '-f', tools.thirdPartyCrds]);
  await plane.kubectl(['wait', '--for=condition=Established', '--timeout=60s', '-f', tools.thirdPartyCrds]);
  for (const name of [RELEASE_NAMESPACE, STORE_NAMESPACE, SECOND_NAMESPACE, 'tenant-a', 'tenant-b'])
    await plane.kubectl(['create', 'namespace', name]);
  // Courier's namespaces enforce the restricted Pod Security Standard, and
  // warn: a pod template that breaks it turns up on helm's and kubectl's
  // stderr, which the tests below expect empty.
  for (const name of [RELEASE_NAMESPACE, SECOND_NAMESPACE])
    await plane.kubectl([
      'label',
      'namespace',
      name,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/warn=restricted',
    ]);
  // The apiserver publishes a CRD's schema in its OpenAPI a moment after the CRD is established.
  const openApi = await eventually(
    async () => JSON.parse((await plane.kubectl(['get', '--raw', '/openapi/v2'])).stdout),
    (doc: { definitions: Record<string, Record<string, unknown>> }) =>
      ['io.cert-manager.v1.Certificate', 'io.cert-manager.v1.Issuer', 'com.coreos.monitoring.v1.ServiceMonitor'].every(
        (name) => name in doc.definitions,
      ),
    30_000,
    'third-party CRD schemas in /openapi/v2',
  );
  schemas = path.join(work, 'schemas');
  await writeKubeJsonSchemas(openApi, schemas);
}, 900_000);

afterAll(async () => {
  await plane?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('generated chart files', () => {
  it('are what hack/gen-chart.ts makes: crds/ copied byte for byte, values.schema.json from the schemas', async () => {
    const expected = await chartFiles();
    for (const [file, content] of expected) {
      expect({ file, content: await readFile(path.join(CHART_DIR, file), 'utf8') }).toEqual({ file, content });
    }
    const chartCrds = (await readdir(path.join(CHART_DIR, 'crds'))).map((name) => path.join('crds', name));
    expect(chartCrds.sort()).toEqual([...expected.keys()].filter((f) => f.startsWith('crds/')).sort());
  });

  it("names Courier's version as its appVersion, the default image tag", async () => {
    const chart = parse(await readFile(path.join(CHART_DIR, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(await readFile(path.join(CHART_DIR, '../../package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
  });
});

describe('static checks', () => {
  it.each(VARIANT_NAMES)('helm lint --strict is clean: %s', async (variant) => {
    const result = await helm(tools, ['lint', '--strict', CHART, ...valuesArgs(variant)]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(result.exitCode).toBe(0);
  });

  it.each(VARIANT_NAMES)("kubeconform -strict accepts every object, the CRDs' own included: %s", async (variant) => {
    const yaml = await render(tools, valuesArgs(variant), ['--include-crds']);
    const result = await execa(
      tools.kubeconform,
      ['-strict', '-summary', '-output', 'json', '-schema-location', schemaLocation(schemas), '-'],
      { input: yaml, reject: false },
    );
    const report = JSON.parse(result.stdout) as { resources: unknown[]; summary: Record<string, number> };
    expect(report.resources).toEqual([]);
    expect(report.summary).toEqual({ valid: objectsOf(yaml).length, invalid: 0, errors: 0, skipped: 0 });
    expect(result.exitCode).toBe(0);
  });

  it('kubeconform -strict would refuse a field the API does not have', async () => {
    const yaml = (await render(tools, [])).replace('      serviceAccountName:', '      serviceAcountName:');
    const result = await execa(tools.kubeconform, ['-strict', '-schema-location', schemaLocation(schemas), '-'], {
      input: yaml,
      reject: false,
    });
    expect(result.stdout).toContain("additional properties 'serviceAcountName' not allowed");
    expect(result.exitCode).toBe(1);
  });

  it.each(VARIANT_NAMES)(
    'a server-side dry run with strict field validation, where the restricted Pod Security Standard is enforced, accepts every object: %s',
    async (variant) => {
      const yaml = await render(tools, valuesArgs(variant), ['--include-crds']);
      const result = await plane.kubectl(
        ['apply', '--server-side', '--dry-run=server', '--validate=strict', '--field-manager=chart-check', '-f', '-'],
        { input: yaml, reject: false },
      );
      expect(result.stderr).toBe('');
      expect(result.stdout.trim().split('\n')).toHaveLength(objectsOf(yaml).length);
      expect(result.exitCode).toBe(0);
    },
  );

  it.each(VARIANT_NAMES)('renders a configuration file the manager accepts, as given: %s', async (variant) => {
    const configMap = find(objectsOf(await render(tools, valuesArgs(variant))), 'ConfigMap', 'courier-manager-config');
    const given = (parse(await readFile(path.join(CHART_DIR, 'values.yaml'), 'utf8')) as Record<string, unknown>)
      .config;
    const expected = courierConfigSchema.parse(VARIANTS[variant]!.config ?? given);
    expect(parseCourierConfig(configMap.data['courier.yaml'], 'courier.yaml')).toEqual(expected);
  });

  it('gives a kubernetes store in a namespace of its own a Role there, and nothing more', async () => {
    const objects = objectsOf(await render(tools, valuesArgs('every store, a KMS key and a registry image')));
    const role = find(objects, 'Role', 'courier-manager-store');
    expect(role.metadata.namespace).toBe(STORE_NAMESPACE);
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update', 'delete'] },
    ]);
    expect(find(objects, 'RoleBinding', 'courier-manager-store').subjects).toEqual([
      { kind: 'ServiceAccount', name: 'courier-manager', namespace: RELEASE_NAMESPACE },
    ]);
  });
});

describe('bad values', () => {
  it.each([
    ['a replica count below 1', ['--set', 'manager.replicas=0'], "at '/manager/replicas': minimum: got 0, want 1"],
    [
      'an unknown pull policy',
      ['--set', 'image.pullPolicy=Sometimes'],
      "at '/image/pullPolicy': value must be one of 'IfNotPresent', 'Always', 'Never'",
    ],
    ['a misspelt key', ['--set', 'manager.replica=3'], "at '/manager': additional properties 'replica' not allowed"],
    ['a tag with a colon', ['--set', 'image.tag=1.0:latest'], "at '/image/tag': '1.0:latest' does not match pattern"],
    [
      'an unknown store type',
      ['--set', 'config.stores[0].type=s3'],
      "at '/config/stores/0/type': value must be one of 'kubernetes', 'aws-secrets-manager', 'gcp-secret-manager', 'vault'",
    ],
    [
      'a KMS KEK without its settings',
      ['--set', 'config.kek.provider=aws-kms'],
      "at '/config/kek': missing property 'awsKms'",
    ],
    [
      'a malformed AWS region',
      ['--set-json', 'config.kek={"provider":"aws-kms","awsKms":{"keyId":"alias/k","region":"Europe"}}'],
      "at '/config/kek/awsKms/region': 'Europe' does not match pattern",
    ],
    [
      'a Vault Kubernetes login without its role',
      [
        '--set-json',
        'config.stores=[{"name":"vault","type":"vault","vault":{"address":"https://vault:8200","auth":{"method":"kubernetes"}}}]',
        '--set',
        'config.defaultStore=vault',
      ],
      "at '/config/stores/0/vault/auth': missing property 'role'",
    ],
    [
      'a default store that is not enabled',
      ['--set', 'config.defaultStore=vault'],
      'config.defaultStore: "vault" is not one of config.stores (kubernetes)',
    ],
    [
      'two stores of one name',
      [
        '--set-json',
        'config.stores=[{"name":"a","type":"kubernetes"},{"name":"a","type":"kubernetes"}]',
        '--set',
        'config.defaultStore=a',
      ],
      'config.stores: the store name "a" is used twice',
    ],
    [
      'an unknown TLS mode',
      ['--set', 'tls.mode=letsencrypt'],
      "at '/tls/mode': value must be one of 'self-managed', 'cert-manager'",
    ],
    [
      'an issuer reference without a name',
      ['--set', 'tls.mode=cert-manager', '--set', 'tls.certManager.issuerRef.kind=ClusterIssuer'],
      "at '/tls/certManager/issuerRef': properties 'name' required, if 'kind' exists",
    ],
    [
      'a token lifetime Kubernetes refuses',
      ['--set', 'webhook.tokenExpiration=5m'],
      'webhook.tokenExpiration: "5m" is shorter than 10m',
    ],
    [
      "a webhook time limit above the apiserver's 30 s",
      ['--set', 'webhook.timeoutSeconds=60'],
      "at '/webhook/timeoutSeconds': maximum: got 60, want 30",
    ],
  ])('refuses %s: helm template and install say so', async (_case, args, message) => {
    const template = await helm(tools, ['template', RELEASE, CHART, ...args]);
    expect(template.stderr).toContain(message);
    expect(template.exitCode).not.toBe(0);
    const install = await helm(tools, [
      'install',
      RELEASE,
      CHART,
      '--namespace',
      'tenant-b',
      '--dry-run=client',
      ...args,
    ]);
    expect(install.stderr).toContain(message);
    expect(install.exitCode).not.toBe(0);
  });

  it('fails helm lint --strict on a value the schema refuses', async () => {
    const result = await helm(tools, ['lint', '--strict', CHART, '--set', 'webhook.drainSeconds=-1']);
    expect(result.stdout).toContain("at '/webhook/drainSeconds': minimum: got -1, want 0");
    expect(result.exitCode).not.toBe(0);
  });
});

/** The rendered container of a Deployment, run here as a process: its args, with local listeners and files. */
function localArgs(deployment: KubeObject, replace: Record<string, string>): string[] {
  const args = deployment.spec.template.spec.containers[0].args as string[];
  const local: Record<string, string> = {
    '--metrics-bind-address': LOCAL_EPHEMERAL[1]!,
    '--health-probe-bind-address': LOCAL_EPHEMERAL[3]!,
    '--broker-bind-address': '127.0.0.1:0',
    ...replace,
  };
  return args.map((arg) => {
    const [flag] = arg.split('=', 1);
    return flag && local[flag] !== undefined ? `${flag}=${local[flag]}` : arg;
  });
}

/** The container's literal environment (NODE_OPTIONS and the like); fieldRefs are the kubelet's to fill. */
function literalEnv(deployment: KubeObject): Record<string, string> {
  const env = deployment.spec.template.spec.containers[0].env as { name: string; value?: string }[];
  return Object.fromEntries(env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
}

/** A kubeconfig that is this ServiceAccount: the admin's cluster, a token the apiserver issued for it. */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const token = (await plane.kubectl(['create', 'token', name, '-n', namespace, '--duration=1h'])).stdout.trim();
  const config = parse(await readFile(plane.kubeconfigPath, 'utf8')) as { users: { user: unknown }[] };
  config.users[0]!.user = { token };
  const file = path.join(work, `${namespace}-${name}.kubeconfig`);
  await writeFile(file, stringify(config), { mode: 0o600 });
  return file;
}

async function canI(serviceAccount: string, namespace: string | undefined, ...request: string[]): Promise<boolean> {
  return allowed([`--as=system:serviceaccount:${namespace ?? RELEASE_NAMESPACE}:${serviceAccount}`], request);
}

/** `kubectl auth can-i REQUEST` as someone (--as, --as-group); all namespaces unless REQUEST names one. */
async function allowed(who: string[], request: readonly string[]): Promise<boolean> {
  const result = await plane.kubectl(
    ['auth', 'can-i', ...request, ...who, ...(request.includes('-n') || request.includes('-A') ? [] : ['-A'])],
    { reject: false },
  );
  return result.stdout.trim() === 'yes';
}

const exists = async (object: KubeObject) =>
  KubernetesObjectApi.makeApiClient(plane.kubeConfig())
    .read({ apiVersion: object.apiVersion, kind: object.kind, metadata: object.metadata })
    .then(
      () => true,
      (error: unknown) => {
        if (error instanceof ApiException && error.code === 404) return false;
        throw error;
      },
    );

const TOOL_CONNECTIONS = { group: 'courier.dev', version: 'v1alpha1', plural: 'toolconnections' };
const SCAN_SCHEDULES = { group: 'courier.dev', version: 'v1alpha1', plural: 'scanschedules' };
/** What the chart renders with its default values. */
const KINDS_OF_DEFAULT = [
  'ClusterRole',
  'ClusterRoleBinding',
  'ConfigMap',
  'Deployment',
  'MutatingWebhookConfiguration',
  'PodDisruptionBudget',
  'Role',
  'RoleBinding',
  'Service',
  'ServiceAccount',
];

/** The AdmissionReview the apiserver sends for an opted-in pod. */
function admissionReview(namespace: string, connection: string) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'chart-check-review',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: 'scan',
          namespace,
          labels: { 'courier.dev/inject': 'true' },
          annotations: { 'courier.dev/connections': connection },
        },
        spec: {
          serviceAccountName: 'default',
          containers: [{ name: 'scan', image: 'registry.example.com/scanner:1.0' }],
        },
      },
    },
  };
}

function postJson(
  url: string,
  body: unknown,
  options: { ca: string; servername: string; authorization?: string },
): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        ca: options.ca,
        servername: options.servername,
        headers: {
          'content-type': 'application/json',
          ...(options.authorization ? { authorization: options.authorization } : {}),
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () =>
          res.statusCode === 200 ? resolve(JSON.parse(data)) : reject(new Error(`${res.statusCode}: ${data}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The SHA-256 fingerprint of the certificate served at host:port, verified against `caPem` for `servername`. */
function servedCertificate(address: string, caPem: string, servername: string): Promise<string> {
  const colon = address.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: address.slice(0, colon), port: Number(address.slice(colon + 1)), ca: caPem, servername },
      () => {
        const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
        socket.end();
        if (fingerprint) resolve(fingerprint);
        else reject(new Error('no certificate served'));
      },
    );
    socket.on('error', reject);
  });
}

const GENERIC_CONNECTION = (namespace: string): ToolConnection => ({
  apiVersion: 'courier.dev/v1alpha1',
  kind: 'ToolConnection',
  metadata: { name: 'bastion-ssh', namespace },
  spec: {
    provider: 'generic',
    generic: { purpose: 'ssh', host: 'bastion.example.internal', port: 22, requiredFields: ['username', 'password'] },
    credentialsSecretRef: { name: 'bastion-ssh-credentials' },
    access: { serviceAccounts: ['scanner'] },
  },
});

/** Log records of API calls the component was refused: permissions the chart does not give. */
function refusals(component: RunningComponent | undefined): LogRecord[] {
  return (component?.records ?? []).filter((record) => /forbidden|\b403\b/i.test(JSON.stringify(record)));
}

async function readyz(component: RunningComponent): Promise<number> {
  return (await fetch(`${await component.healthProbeUrl()}/readyz`)).status;
}

describe('helm install, the components at work under its RBAC, upgrade, uninstall', () => {
  let manifest: KubeObject[];
  let manager: RunningComponent | undefined;
  let webhook: RunningComponent | undefined;
  let scanPod: V1Pod;
  const objects = () => plane.kubeConfig().makeApiClient(CustomObjectsApi);
  const core = () => plane.kubeConfig().makeApiClient(CoreV1Api);
  const admission = () => plane.kubeConfig().makeApiClient(AdmissionregistrationV1Api);

  afterAll(() => {
    manager?.child.kill('SIGKILL');
    webhook?.child.kill('SIGKILL');
  });

  beforeAll(async () => {
    // A scan pod, created before the chart's webhook configuration exists (no
    // Service could reach the webhook here); the broker serves it below.
    await core().createNamespacedServiceAccount({ namespace: 'tenant-a', body: { metadata: { name: 'scanner' } } });
    scanPod = await core().createNamespacedPod({
      namespace: 'tenant-a',
      body: {
        metadata: {
          name: 'scan',
          labels: { 'courier.dev/inject': 'true' },
          annotations: { 'courier.dev/connections': 'bastion-ssh' },
        },
        spec: {
          serviceAccountName: 'scanner',
          restartPolicy: 'Never',
          containers: [{ name: 'scan', image: 'registry.example.com/scanner:1.0' }],
        },
      },
    });
  });

  it('installs: the CRDs are established and every rendered object exists', async () => {
    const install = await helm(tools, ['install', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE], {
      KUBECONFIG: plane.kubeconfigPath,
    });
    expect(install.stderr).toBe('');
    expect(install.exitCode).toBe(0);
    manifest = objectsOf(
      (
        await helm(tools, ['get', 'manifest', RELEASE, '-n', RELEASE_NAMESPACE], {
          KUBECONFIG: plane.kubeconfigPath,
        })
      ).stdout,
    );
    expect(manifest.map((o) => o.kind).sort()).toEqual(
      objectsOf(await render(tools, []))
        .map((o) => o.kind)
        .sort(),
    );
    for (const object of manifest)
      expect({ object: `${object.kind}/${object.metadata.name}`, exists: await exists(object) }).toEqual({
        object: `${object.kind}/${object.metadata.name}`,
        exists: true,
      });
    await plane.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=30s',
      'crd/toolconnections.courier.dev',
      'crd/scanschedules.courier.dev',
    ]);
  }, 120_000);

  it('runs the manager as its ServiceAccount with the chart arguments: ready, leading, certificates and caBundle written', async () => {
    const deployment = find(manifest, 'Deployment', 'courier-manager');
    const configMap = find(manifest, 'ConfigMap', 'courier-manager-config');
    const configFile = path.join(work, 'courier.yaml');
    await writeFile(configFile, configMap.data['courier.yaml']);
    const kubeconfig = await serviceAccountKubeconfig(RELEASE_NAMESPACE, 'courier-manager');
    manager = new RunningComponent(
      [...localArgs(deployment, { '--config': configFile }), `--kubeconfig=${kubeconfig}`],
      { ...literalEnv(deployment), POD_NAME: 'courier-manager-local' },
    );
    await eventually(
      () => readyz(manager!),
      (status) => status === 200,
      60_000,
      'manager ready',
    );
    const lease = await eventually(
      () =>
        plane
          .kubeConfig()
          .makeApiClient(CoordinationV1Api)
          .readNamespacedLease({ name: 'courier-manager', namespace: RELEASE_NAMESPACE })
          .catch(() => undefined),
      (l) => !!l?.spec?.holderIdentity?.startsWith('courier-manager-local'),
      30_000,
      'the manager holds the Lease',
    );
    expect(lease?.spec?.holderIdentity).toMatch(/^courier-manager-local_/);
    for (const name of ['courier-ca', 'courier-broker-tls', 'courier-webhook-tls'])
      await core().readNamespacedSecret({ name, namespace: RELEASE_NAMESPACE });
    const configuration = await eventually(
      () => admission().readMutatingWebhookConfiguration({ name: 'courier' }),
      (c) => !!c.webhooks?.[0]?.clientConfig.caBundle,
      30_000,
      'caBundle written',
    );
    // The CA the webhook's certificate names is the one the apiserver now trusts.
    const serving = await core().readNamespacedSecret({ name: 'courier-webhook-tls', namespace: RELEASE_NAMESPACE });
    expect(configuration.webhooks![0]!.clientConfig.caBundle).toBe(serving.data!['ca.crt']);
  }, 120_000);

  it('stores a ToolConnection: its source Secret read and deleted, status Ready, Events, the broker CA in its namespace', async () => {
    await core().createNamespacedSecret({
      namespace: 'tenant-a',
      body: {
        metadata: { name: 'bastion-ssh-credentials' },
        stringData: { username: 'scanner', password: 'chart-check-password' },
      },
    });
    await objects().createNamespacedCustomObject({
      ...TOOL_CONNECTIONS,
      namespace: 'tenant-a',
      body: GENERIC_CONNECTION('tenant-a'),
    });
    const tc = await eventually(
      () =>
        objects().getNamespacedCustomObject({
          ...TOOL_CONNECTIONS,
          namespace: 'tenant-a',
          name: 'bastion-ssh',
        }) as Promise<ToolConnection>,
      (t) => t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
      30_000,
      'ToolConnection Ready',
    );
    expect(tc.metadata.finalizers).toEqual([FINALIZER]);
    await eventually(
      () =>
        core()
          .readNamespacedSecret({ name: 'bastion-ssh-credentials', namespace: 'tenant-a' })
          .then(
            () => true,
            () => false,
          ),
      (present) => !present,
      10_000,
      'source Secret deleted',
    );
    const stored = await core().listNamespacedSecret({
      namespace: RELEASE_NAMESPACE,
      labelSelector: 'courier.dev/role=credential',
    });
    expect(stored.items).toHaveLength(1);
    const published = await eventually(
      () =>
        core()
          .readNamespacedConfigMap({ name: 'courier-broker-ca', namespace: 'tenant-a' })
          .catch(() => undefined),
      (c) => !!c?.data?.['ca.crt'],
      30_000,
      'broker CA published to tenant-a',
    );
    const broker = await core().readNamespacedSecret({ name: 'courier-broker-tls', namespace: RELEASE_NAMESPACE });
    expect(published!.data!['ca.crt']).toBe(Buffer.from(broker.data!['ca.crt']!, 'base64').toString());
    const events = await plane.kubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: 'tenant-a' });
    expect(events.items.filter((e) => e.regarding?.name === 'bastion-ssh').map((e) => e.reportingController)).toContain(
      'courier.dev/manager',
    );
  }, 60_000);

  it('issues the credential to the opted-in pod through the broker, and records it on the status', async () => {
    const token = await core().createNamespacedServiceAccountToken({
      namespace: 'tenant-a',
      name: 'scanner',
      body: {
        spec: {
          audiences: [TOKEN_AUDIENCE],
          expirationSeconds: 600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'scan', uid: scanPod.metadata!.uid! },
        },
      },
    });
    const { brokerAddress } = await manager!.waitForLog('serving the credential broker');
    // As the agent calls it: by the Service's name, trusting the CA published in its namespace.
    const ca = (await core().readNamespacedConfigMap({ name: 'courier-broker-ca', namespace: 'tenant-a' })).data![
      'ca.crt'
    ]!;
    const answer = (await postJson(
      `https://${brokerAddress as string}/v1/credentials`,
      { connection: 'bastion-ssh' },
      { ca, servername: 'courier-broker.courier-system.svc', authorization: `Bearer ${token.status!.token!}` },
    )) as CredentialResponse;
    expect(answer.generic?.fields).toEqual({ username: 'scanner', password: 'chart-check-password' });
    const tc = await eventually(
      () =>
        objects().getNamespacedCustomObject({
          ...TOOL_CONNECTIONS,
          namespace: 'tenant-a',
          name: 'bastion-ssh',
        }) as Promise<ToolConnection>,
      (t) => (t.status?.issuedCount ?? 0) >= 1,
      30_000,
      'issuance recorded on the status',
    );
    expect(tc.status?.lastIssuedTime).toBeDefined();
  }, 60_000);

  it('starts a ScanSchedule run on demand: a Job owned by its schedule', async () => {
    await objects().createNamespacedCustomObject({
      ...SCAN_SCHEDULES,
      namespace: 'tenant-a',
      body: {
        apiVersion: 'courier.dev/v1alpha1',
        kind: 'ScanSchedule',
        metadata: { name: 'nightly', annotations: { 'courier.dev/run-now': 'chart-check-1' } },
        spec: {
          schedule: '0 3 * * *',
          connections: [{ name: 'bastion-ssh' }],
          jobTemplate: {
            spec: {
              template: {
                spec: {
                  restartPolicy: 'Never',
                  containers: [{ name: 'scan', image: 'registry.example.com/scanner:1.0' }],
                },
              },
            },
          },
        },
      },
    });
    const jobs = await eventually(
      () =>
        plane
          .kubeConfig()
          .makeApiClient(BatchV1Api)
          .listNamespacedJob({ namespace: 'tenant-a', labelSelector: 'courier.dev/scan-schedule=nightly' }),
      (list) => list.items.length === 1,
      30_000,
      'the run-now Job',
    );
    expect(jobs.items[0]!.metadata!.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'ScanSchedule', name: 'nightly', controller: true, blockOwnerDeletion: true }),
    ]);
  }, 60_000);

  it('runs the webhook as its ServiceAccount, on the certificate the manager issued: it mutates an opted-in pod', async () => {
    const deployment = find(manifest, 'Deployment', 'courier-webhook');
    // What the kubelet would mount from Secret courier-webhook-tls.
    const tlsDir = await mkdtemp(path.join(work, 'webhook-tls-'));
    const tls = await core().readNamespacedSecret({ name: 'courier-webhook-tls', namespace: RELEASE_NAMESPACE });
    for (const key of ['tls.crt', 'tls.key'])
      await writeFile(path.join(tlsDir, key), Buffer.from(tls.data![key]!, 'base64'));
    const kubeconfig = await serviceAccountKubeconfig(RELEASE_NAMESPACE, 'courier-webhook');
    webhook = new RunningComponent(
      [
        ...localArgs(deployment, {
          '--webhook-bind-address': '127.0.0.1:0',
          '--tls-cert-file': path.join(tlsDir, 'tls.crt'),
          '--tls-key-file': path.join(tlsDir, 'tls.key'),
        }),
        `--kubeconfig=${kubeconfig}`,
      ],
      literalEnv(deployment),
    );
    await eventually(
      () => readyz(webhook!),
      (status) => status === 200,
      60_000,
      'webhook ready',
    );
    const { webhookAddress } = await webhook.waitForLog('serving admission requests');
    const caBundle = (await admission().readMutatingWebhookConfiguration({ name: 'courier' })).webhooks![0]!
      .clientConfig.caBundle!;
    // As the apiserver calls it: by the Service's name, trusting the caBundle.
    const review = await postJson(
      `https://${webhookAddress as string}/mutate-v1-pod`,
      admissionReview('tenant-a', 'bastion-ssh'),
      {
        ca: Buffer.from(caBundle, 'base64').toString(),
        servername: 'courier-webhook.courier-system.svc',
      },
    );
    expect(review.response).toMatchObject({ uid: 'chart-check-review', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(review.response.patch, 'base64').toString()) as {
      path: string;
      value: unknown;
    }[];
    expect(JSON.stringify(patch)).toContain('https://courier-broker.courier-system.svc:8443');
  }, 90_000);

  it.each([
    // The webhook reads ToolConnections, and nothing else.
    ['courier-webhook', ['get', 'toolconnections.courier.dev', '-n', 'tenant-a'], true],
    ['courier-webhook', ['watch', 'toolconnections.courier.dev'], true],
    ['courier-webhook', ['update', 'toolconnections.courier.dev', '-n', 'tenant-a'], false],
    ['courier-webhook', ['get', 'secrets', '-n', RELEASE_NAMESPACE], false],
    ['courier-webhook', ['get', 'secrets', '-n', 'tenant-a'], false],
    ['courier-webhook', ['get', 'configmaps', '-n', 'tenant-a'], false],
    ['courier-webhook', ['create', 'pods', '-n', 'tenant-a'], false],
    ['courier-webhook', ['patch', 'mutatingwebhookconfigurations/courier'], false],
    // The manager reads a tenant's Secret by name only: never lists or watches them.
    ['courier-manager', ['get', 'secrets', '-n', 'tenant-a'], true],
    ['courier-manager', ['list', 'secrets', '-n', 'tenant-a'], false],
    ['courier-manager', ['watch', 'secrets'], false],
    ['courier-manager', ['update', 'secrets', '-n', 'tenant-a'], false],
    ['courier-manager', ['list', 'secrets', '-n', RELEASE_NAMESPACE], true],
    ['courier-manager', ['patch', 'mutatingwebhookconfigurations/courier'], true],
    ['courier-manager', ['patch', 'mutatingwebhookconfigurations/someone-elses'], false],
    ['courier-manager', ['update', 'configmaps/courier-broker-ca', '-n', 'tenant-a'], true],
    ['courier-manager', ['update', 'configmaps/kube-root-ca.crt', '-n', 'tenant-a'], false],
    ['courier-manager', ['update', 'leases/courier-manager', '-n', RELEASE_NAMESPACE], true],
    ['courier-manager', ['update', 'leases/kube-scheduler', '-n', 'kube-system'], false],
    ['courier-manager', ['create', 'pods', '-n', 'tenant-a'], false],
    ['courier-manager', ['delete', 'pods', '-n', 'tenant-a'], false],
  ] as const)('%s may %j: %s', async (serviceAccount, request, allowed) => {
    expect(await canI(serviceAccount, RELEASE_NAMESPACE, ...request)).toBe(allowed);
  });

  describe('what people may do', () => {
    beforeAll(async () => {
      for (const [user, role] of [
        ['alice', 'edit'],
        ['bob', 'view'],
      ])
        await plane.kubectl([
          'create',
          'rolebinding',
          `${user}-${role}`,
          `--clusterrole=${role}`,
          `--user=${user}`,
          '-n',
          'tenant-a',
        ]);
    });

    it.each([
      ['alice', ['create', 'toolconnections.courier.dev', '-n', 'tenant-a'], true],
      ['alice', ['patch', 'scanschedules.courier.dev', '-n', 'tenant-a'], true],
      ['alice', ['delete', 'toolconnections.courier.dev', '-n', 'tenant-a'], true],
      ['alice', ['update', 'toolconnections.courier.dev', '--subresource=status', '-n', 'tenant-a'], false],
      ['alice', ['create', 'toolconnections.courier.dev', '-n', 'tenant-b'], false],
      ['bob', ['list', 'toolconnections.courier.dev', '-n', 'tenant-a'], true],
      ['bob', ['get', 'scanschedules.courier.dev', '-n', 'tenant-a'], true],
      ['bob', ['create', 'scanschedules.courier.dev', '-n', 'tenant-a'], false],
    ] as const)('%s (edit or view in tenant-a) may %j: %s', async (user, request, expected) => {
      // The aggregation controller adds the chart's rules to edit and view shortly after install.
      await eventually(
        () => allowed([`--as=${user}`], request),
        (answer) => answer === expected,
        30_000,
        `${user} may ${request.join(' ')}: ${expected}`,
      );
    });

    it.each([
      [['get', 'configmaps/courier-upload-keys', '-n', RELEASE_NAMESPACE], true],
      [['get', 'configmaps/courier-manager-config', '-n', RELEASE_NAMESPACE], false],
      [['list', 'configmaps', '-n', RELEASE_NAMESPACE], false],
      [['get', 'secrets', '-n', RELEASE_NAMESPACE], false],
    ] as const)('anyone authenticated may %j: %s', async (request, expected) => {
      expect(await allowed(['--as=carol', '--as-group=system:authenticated'], request)).toBe(expected);
    });
  });

  it('helm upgrade keeps the caBundle the manager wrote, and changes what it should', async () => {
    const before = (await admission().readMutatingWebhookConfiguration({ name: 'courier' })).webhooks![0]!;
    expect(before.clientConfig.caBundle).toBeTruthy();
    const upgrade = await helm(
      tools,
      ['upgrade', RELEASE, CHART, '-n', RELEASE_NAMESPACE, '--set', 'webhook.timeoutSeconds=7'],
      {
        KUBECONFIG: plane.kubeconfigPath,
      },
    );
    expect(upgrade.stderr).toBe('');
    expect(upgrade.exitCode).toBe(0);
    const after = (await admission().readMutatingWebhookConfiguration({ name: 'courier' })).webhooks![0]!;
    expect(after.timeoutSeconds).toBe(7);
    expect(after.clientConfig.caBundle).toBe(before.clientConfig.caBundle);
  }, 60_000);

  it('deleting the ToolConnection: the manager deletes what it stored and lets it go', async () => {
    await objects().deleteNamespacedCustomObject({ ...TOOL_CONNECTIONS, namespace: 'tenant-a', name: 'bastion-ssh' });
    await eventually(
      () =>
        objects()
          .getNamespacedCustomObject({ ...TOOL_CONNECTIONS, namespace: 'tenant-a', name: 'bastion-ssh' })
          .then(
            () => true,
            () => false,
          ),
      (present) => !present,
      30_000,
      'ToolConnection gone',
    );
    const stored = await core().listNamespacedSecret({
      namespace: RELEASE_NAMESPACE,
      labelSelector: 'courier.dev/role=credential',
    });
    expect(stored.items).toEqual([]);
  }, 60_000);

  it('uninstalls: every object the release made is gone; the CRDs stay', async () => {
    expect(refusals(manager)).toEqual([]);
    expect(refusals(webhook)).toEqual([]);
    for (const component of [manager, webhook]) {
      component?.child.kill('SIGTERM');
      expect(await component?.exitCode()).toBe(0);
    }
    const uninstall = await helm(tools, ['uninstall', RELEASE, '-n', RELEASE_NAMESPACE], {
      KUBECONFIG: plane.kubeconfigPath,
    });
    expect(uninstall.exitCode).toBe(0);
    for (const object of manifest) {
      await eventually(
        () => exists(object),
        (present) => !present,
        30_000,
        `${object.kind}/${object.metadata.name} deleted`,
      );
    }
    await plane.kubectl(['get', 'crd/toolconnections.courier.dev', 'crd/scanschedules.courier.dev']);
  }, 120_000);
});

describe('tls.mode cert-manager, with the network policy and the service monitor', () => {
  let manifest: KubeObject[];
  let manager: RunningComponent | undefined;
  const core = () => plane.kubeConfig().makeApiClient(CoreV1Api);

  afterAll(() => {
    manager?.child.kill('SIGKILL');
  });

  it('installs every object: Issuers, Certificates, NetworkPolicies, ServiceMonitor', async () => {
    const values = path.join(work, 'cert-manager-and-more.yaml');
    await writeFile(
      values,
      stringify({ ...VARIANTS['cert-manager'], ...VARIANTS['network policy and service monitor'] }),
    );
    const install = await helm(tools, ['install', RELEASE, CHART, '-n', SECOND_NAMESPACE, '--values', values], {
      KUBECONFIG: plane.kubeconfigPath,
    });
    expect(install.exitCode).toBe(0);
    manifest = objectsOf(
      (await helm(tools, ['get', 'manifest', RELEASE, '-n', SECOND_NAMESPACE], { KUBECONFIG: plane.kubeconfigPath }))
        .stdout,
    );
    expect(new Set(manifest.map((o) => o.kind))).toEqual(
      new Set([...KINDS_OF_DEFAULT, 'Issuer', 'Certificate', 'NetworkPolicy', 'ServiceMonitor']),
    );
    for (const object of manifest)
      expect([`${object.kind}/${object.metadata.name}`, await exists(object)]).toEqual([
        `${object.kind}/${object.metadata.name}`,
        true,
      ]);
    expect(
      find(manifest, 'MutatingWebhookConfiguration', 'courier').metadata.annotations['cert-manager.io/inject-ca-from'],
    ).toBe(`${SECOND_NAMESPACE}/courier-webhook`);
  }, 60_000);

  it('runs the manager as its ServiceAccount: it serves the certificate cert-manager wrote and publishes its CA, and issues nothing', async () => {
    // What cert-manager would write for Certificate courier-broker.
    const ca = await createCertificateAuthority('chart-check-issuer', 1);
    const pair = await issueCertificate(ca, {
      commonName: `courier-broker.${SECOND_NAMESPACE}.svc`,
      dnsNames: [`courier-broker.${SECOND_NAMESPACE}.svc`],
      usage: 'server',
      validityDays: 1,
    });
    await core().createNamespacedSecret({
      namespace: SECOND_NAMESPACE,
      body: {
        metadata: { name: 'courier-broker-tls' },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': pair.certPem, 'tls.key': pair.keyPem, 'ca.crt': ca.certPem },
      },
    });
    await plane
      .kubeConfig()
      .makeApiClient(CustomObjectsApi)
      .createNamespacedCustomObject({
        ...TOOL_CONNECTIONS,
        namespace: 'tenant-b',
        body: GENERIC_CONNECTION('tenant-b'),
      });

    const deployment = find(manifest, 'Deployment', 'courier-manager');
    expect(deployment.spec.template.spec.containers[0].args).toContain('--manage-certificates=false');
    const configFile = path.join(work, 'courier-cm.yaml');
    await writeFile(configFile, find(manifest, 'ConfigMap', 'courier-manager-config').data['courier.yaml']);
    const kubeconfig = await serviceAccountKubeconfig(SECOND_NAMESPACE, 'courier-manager');
    manager = new RunningComponent(
      [...localArgs(deployment, { '--config': configFile }), `--kubeconfig=${kubeconfig}`],
      literalEnv(deployment),
    );
    await eventually(
      () => readyz(manager!),
      (status) => status === 200,
      60_000,
      'manager ready',
    );
    const { brokerAddress } = await manager.waitForLog('serving the credential broker');
    expect(await servedCertificate(brokerAddress as string, ca.certPem, `courier-broker.${SECOND_NAMESPACE}.svc`)).toBe(
      new X509Certificate(pair.certPem).fingerprint256,
    );
    const published = await eventually(
      () =>
        core()
          .readNamespacedConfigMap({ name: 'courier-broker-ca', namespace: 'tenant-b' })
          .catch(() => undefined),
      (c) => c?.data?.['ca.crt'] === ca.certPem,
      30_000,
      "cert-manager's CA published to tenant-b",
    );
    expect(published).toBeDefined();
    // The manager wrote no CA or certificate of its own, and left caBundle to cert-manager's injector.
    const secrets = await core().listNamespacedSecret({ namespace: SECOND_NAMESPACE });
    expect(secrets.items.map((s) => s.metadata!.name)).not.toEqual(expect.arrayContaining(['courier-ca']));
    expect(secrets.items.map((s) => s.metadata!.name)).not.toContain('courier-webhook-tls');
    const configuration = await plane
      .kubeConfig()
      .makeApiClient(AdmissionregistrationV1Api)
      .readMutatingWebhookConfiguration({ name: 'courier' });
    expect(configuration.webhooks![0]!.clientConfig.caBundle).toBeUndefined();
    expect(await canI('courier-manager', SECOND_NAMESPACE, 'patch', 'mutatingwebhookconfigurations/courier')).toBe(
      false,
    );
  }, 90_000);

  it('uninstalls: every object is gone', async () => {
    expect(refusals(manager)).toEqual([]);
    manager?.child.kill('SIGTERM');
    expect(await manager?.exitCode()).toBe(0);
    const uninstall = await helm(tools, ['uninstall', RELEASE, '-n', SECOND_NAMESPACE], {
      KUBECONFIG: plane.kubeconfigPath,
    });
    expect(uninstall.exitCode).toBe(0);
    for (const object of manifest) {
      await eventually(
        () => exists(object),
        (present) => !present,
        30_000,
        `${object.kind}/${object.metadata.name} deleted`,
      );
    }
  }, 120_000);
});
