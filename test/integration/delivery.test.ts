// The whole delivery chain on a real control plane with kube-controller-
// manager's job controller, short of a kubelet: the sample ToolConnection and
// ScanSchedule are applied with kubectl; `run-now` makes the manager create a
// Job; the job controller creates its pod; the apiserver sends the pod to
// `courier webhook` (registered by URL, its caBundle filled in by the
// manager, its certificate the one the manager issued); and the agent, run
// as a process with a token bound to that very pod, gets working AWS
// credentials from the broker. No kubelet runs here, so the agent stands in
// for the container the kubelet would start (hack/cluster-up covers that).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { AdmissionregistrationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { AGENT_CONTAINER, TOKEN_AUDIENCE } from '../../src/api/v1alpha1/delivery.ts';
import { RUN_NOW_ANNOTATION, SCHEDULE_LABEL } from '../../src/api/v1alpha1/index.ts';
import { REPO_ROOT } from '../support/binaries.ts';
import { LOCAL_EPHEMERAL, MAIN, MANAGER_EPHEMERAL, RunningComponent, runToEnd } from '../support/component.ts';
import { ControlPlane } from '../support/control-plane.ts';
import { motoIdentityEnv, writeMotoStsConfig } from '../support/courier-setup.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/wait.ts';

const COURIER_NAMESPACE = 'courier-system';
const TENANT = 'compliance';
const CONFIGURATION = 'courier';

let plane: ControlPlane;
let moto: MotoPeer;
let manager: RunningComponent;
let webhook: RunningComponent;
let brokerUrl: string;
let workDir: string;

beforeAll(async () => {
  [plane, moto] = await Promise.all([ControlPlane.start({ controllerManager: true }), startMoto()]);
  const kc = plane.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  workDir = await mkdtemp(path.join(os.tmpdir(), 'courier-delivery-'));
  await core.createNamespace({ body: { metadata: { name: COURIER_NAMESPACE } } });
  await core.createNamespace({ body: { metadata: { name: TENANT, labels: { 'courier.dev/delivery-test': 'yes' } } } });

  // Registered before the manager starts, without a caBundle: filling it in is the manager's job.
  const webhookPort = await freePort();
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name: CONFIGURATION },
      webhooks: [
        {
          name: 'pods.courier.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          reinvocationPolicy: 'IfNeeded',
          timeoutSeconds: 5,
          clientConfig: { url: `https://127.0.0.1:${webhookPort}/mutate-v1-pod` },
          namespaceSelector: { matchLabels: { 'courier.dev/delivery-test': 'yes' } },
          objectSelector: { matchLabels: { 'courier.dev/inject': 'true' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        },
      ],
    },
  });

  const configFile = await writeMotoStsConfig(workDir, moto);
  manager = new RunningComponent(
    ['manager', ...MANAGER_EPHEMERAL, '--kubeconfig', plane.kubeconfigPath, '--config', configFile],
    motoIdentityEnv(moto),
  );
  const { brokerAddress } = await manager.waitForLog('serving the credential broker');
  brokerUrl = `https://${brokerAddress as string}`;

  // What the chart mounts into the webhook pods: the Secret the manager issued.
  const tls = await core.readNamespacedSecret({ name: 'courier-webhook-tls', namespace: COURIER_NAMESPACE });
  for (const file of ['tls.crt', 'tls.key'])
    await writeFile(path.join(workDir, file), Buffer.from(tls.data![file]!, 'base64'), { mode: 0o600 });
  webhook = new RunningComponent([
    'webhook',
    ...LOCAL_EPHEMERAL,
    '--webhook-bind-address',
    `127.0.0.1:${webhookPort}`,
    '--kubeconfig',
    plane.kubeconfigPath,
    '--tls-cert-file',
    path.join(workDir, 'tls.crt'),
    '--tls-key-file',
    path.join(workDir, 'tls.key'),
    '--agent-image',
    'courier.local/courier:dev',
    '--broker-url',
    brokerUrl,
  ]);
  await webhook.waitForLog('serving admission requests');
}, 120_000);

afterAll(async () => {
  webhook?.child.kill('SIGKILL');
  manager?.child.kill('SIGKILL');
  await moto?.stop();
  await plane?.stop();
});

describe('a sample ScanSchedule, end to end short of a kubelet', () => {
  it('runs on demand, its pod is mutated by the webhook, and the agent gets working credentials for it', async () => {
    const apply = await plane.kubectl([
      'apply',
      '-n',
      TENANT,
      '-f',
      path.join(REPO_ROOT, 'config/samples/toolconnection-aws-assumerole.yaml'),
      '-f',
      path.join(REPO_ROOT, 'config/samples/scanschedule-nightly.yaml'),
    ]);
    expect(apply.exitCode).toBe(0);
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({
      namespace: TENANT,
      body: { metadata: { name: 'compliance-scanner' } },
    });
    const ready = await plane.kubectl([
      'wait',
      '-n',
      TENANT,
      'toolconnection/prod-account',
      '--for=condition=Ready',
      '--timeout=60s',
    ]);
    expect(ready.exitCode).toBe(0);

    const annotate = await plane.kubectl([
      'annotate',
      '-n',
      TENANT,
      'scanschedule/nightly-compliance',
      `${RUN_NOW_ANNOTATION}=first`,
    ]);
    expect(annotate.exitCode).toBe(0);

    // The Job's pod, as the job controller created it and the webhook changed it.
    const pod = await eventually(
      async () =>
        (await core.listNamespacedPod({ namespace: TENANT, labelSelector: `${SCHEDULE_LABEL}=nightly-compliance` }))
          .items[0],
      (found) => found !== undefined,
      60_000,
      'the scan pod',
    ).then((found) => found!);
    const agent = pod.spec!.initContainers![0]!;
    expect(agent.name).toBe(AGENT_CONTAINER);
    expect(agent.image).toBe('courier.local/courier:dev');
    // The Job sets no deadline on its pods, so hour-long credentials need refreshing: a native sidecar.
    expect(agent.restartPolicy).toBe('Always');
    expect(agent.args).toEqual(expect.arrayContaining(['--connections', 'prod-account', '--broker-url', brokerUrl]));
    const scan = pod.spec!.containers.find((c) => c.name === 'scan')!;
    expect(scan.env).toEqual(
      expect.arrayContaining([
        { name: 'AWS_SHARED_CREDENTIALS_FILE', value: '/var/run/courier/prod-account/credentials' },
      ]),
    );
    expect(scan.volumeMounts).toEqual(
      expect.arrayContaining([{ name: 'courier-credentials', mountPath: '/var/run/courier', readOnly: true }]),
    );

    // The kubelet would project this token and the CA into the agent's container.
    const token = await core.createNamespacedServiceAccountToken({
      namespace: TENANT,
      name: 'compliance-scanner',
      body: {
        spec: {
          audiences: [TOKEN_AUDIENCE],
          expirationSeconds: 600,
          boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
        },
      },
    });
    const caMap = await core.readNamespacedConfigMap({ name: 'courier-broker-ca', namespace: TENANT });
    await writeFile(path.join(workDir, 'token'), token.status!.token!);
    await writeFile(path.join(workDir, 'ca.crt'), caMap.data!['ca.crt']!);
    const output = await mkdtemp('/dev/shm/courier-delivery-');
    // The agent's command line exactly as the webhook wrote it, but for where the files are.
    const run = await runToEnd(
      MAIN,
      withFlags(agent.args!, {
        '--mode': 'init',
        '--token-file': path.join(workDir, 'token'),
        '--ca-file': path.join(workDir, 'ca.crt'),
        '--output-dir': output,
      }),
    );
    expect(run.code).toBe(0);
    const json = JSON.parse(await readFile(path.join(output, 'prod-account', 'credentials.json'), 'utf8')) as {
      AccessKeyId: string;
      SecretAccessKey: string;
      SessionToken: string;
    };
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: {
        accessKeyId: json.AccessKeyId,
        secretAccessKey: json.SecretAccessKey,
        sessionToken: json.SessionToken,
      },
    });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    expect(identity.Arn).toBe(`arn:aws:sts::123456789012:assumed-role/CourierScanRole/courier-${pod.metadata!.name!}`);
  });
});

/** `courier agent --flag value …` with some flags' values replaced. */
function withFlags(args: string[], overrides: Record<string, string>): string[] {
  const [command, ...pairs] = args;
  const flags = new Map<string, string>();
  for (let i = 0; i < pairs.length; i += 2) flags.set(pairs[i]!, pairs[i + 1]!);
  for (const [flag, value] of Object.entries(overrides)) flags.set(flag, value);
  return [command!, ...[...flags].flat()];
}
