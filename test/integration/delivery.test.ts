// The whole delivery chain on a real control plane with kube-controller-
// manager's job controller, short of a kubelet: the sample ToolConnection and
// ScanSchedule are applied with kubectl; `run-now` makes the manager create a
// Job; the job controller creates its pod; the apiserver sends the pod to
// `courier webhook` (registered by URL, its caBundle filled in by the
// manager, its certificate the one the manager issued); and the agent, run
// as a process with a token bound to that very pod, gets working AWS
// credentials from the broker. No kubelet runs here, so the agent stands in
// for the container the kubelet would start (hack/cluster-up covers that).
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CoreV1Api } from '@kubernetes/client-node';
import { AGENT_CONTAINER } from '../../src/api/v1alpha1/delivery.ts';
import { RUN_NOW_ANNOTATION, SCHEDULE_LABEL } from '../../src/api/v1alpha1/index.ts';
import { REPO_ROOT } from '../support/binaries.ts';
import { MANAGER_EPHEMERAL, RunningComponent } from '../support/component.ts';
import { ControlPlane } from '../support/control-plane.ts';
import { motoIdentityEnv, writeMotoStsConfig } from '../support/courier-setup.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';
import { localWebhookArgs, registerLocalWebhook, runAgentForPod } from '../support/local-delivery.ts';
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
  await registerLocalWebhook(kc, {
    name: CONFIGURATION,
    port: webhookPort,
    namespaceLabels: { 'courier.dev/delivery-test': 'yes' },
  });

  const configFile = await writeMotoStsConfig(workDir, moto);
  manager = new RunningComponent(
    ['manager', ...MANAGER_EPHEMERAL, '--kubeconfig', plane.kubeconfigPath, '--config', configFile],
    motoIdentityEnv(moto),
  );
  const { brokerAddress } = await manager.waitForLog('serving the credential broker');
  brokerUrl = `https://${brokerAddress as string}`;

  // What the chart mounts into the webhook pods: the Secret the manager issued.
  webhook = new RunningComponent(
    await localWebhookArgs(core, {
      courierNamespace: COURIER_NAMESPACE,
      port: webhookPort,
      kubeconfig: plane.kubeconfigPath,
      dir: workDir,
      brokerUrl,
    }),
  );
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

    const output = await mkdtemp('/dev/shm/courier-delivery-');
    const run = await runAgentForPod(core, pod, { workDir, outputDir: output });
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
