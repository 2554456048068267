// The main job on its embedded defaults, for a person to watch: a local
// control plane (etcd, kube-apiserver, kube-controller-manager), Courier's
// CRDs and samples, moto standing in for AWS STS (so no cloud account is
// needed and nothing leaves the machine), `courier manager` with the
// `kubernetes` store and a generated local KEK, and `courier webhook`. Then a
// scan runs: the Job's pod is mutated by the webhook, and the agent — run here
// as a process, since this control plane has no kubelet — fetches the pod's
// credentials from the broker into an in-memory directory.
// Ctrl-C stops everything (or pass --once to stop by itself).
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { AGENT_CONTAINER } from '../src/api/v1alpha1/delivery.ts';
import { SCHEDULE_LABEL } from '../src/api/v1alpha1/index.ts';
import { REPO_ROOT } from '../test/support/binaries.ts';
import { KUBECTL_PLUGIN, MANAGER_EPHEMERAL, RunningComponent, runToEnd } from '../test/support/component.ts';
import { ControlPlane } from '../test/support/control-plane.ts';
import { motoIdentityEnv, writeMotoStsConfig } from '../test/support/courier-setup.ts';
import { localWebhookArgs, registerLocalWebhook, runAgentForPod } from '../test/support/local-delivery.ts';
import { startMoto } from '../test/support/peers.ts';
import { freePort } from '../test/support/ports.ts';
import { eventually } from '../test/support/wait.ts';

const once = process.argv.includes('--once');
const COURIER_NAMESPACE = 'courier-system';
const NAMESPACE = 'demo';
const SCHEDULE = 'nightly-compliance';
const say = (text: string) => process.stdout.write(`\n== ${text}\n`);
const show = (text: string) => process.stdout.write(text.replace(/\n?$/, '\n'));

say('starting a local control plane (etcd, kube-apiserver, kube-controller-manager) and moto as AWS STS');
const [plane, moto] = await Promise.all([ControlPlane.start({ controllerManager: true }), startMoto()]);
const workDir = await mkdtemp(path.join(os.tmpdir(), 'courier-demo-'));
// Credentials land in memory, as in the pod's emptyDir with medium Memory.
const credentialsDir = await mkdtemp('/dev/shm/courier-demo-');
const components: RunningComponent[] = [];
say(`kube-apiserver ${(await plane.version()).gitVersion} at ${plane.server}; KUBECONFIG=${plane.kubeconfigPath}`);
const kubectl = async (args: string[]) => show((await plane.kubectl(args)).stdout);

await plane.kubectl(['create', 'namespace', COURIER_NAMESPACE]);
await plane.kubectl(['create', 'namespace', NAMESPACE]);
await plane.kubectl(['label', 'namespace', NAMESPACE, 'courier.dev/demo=enabled']);
await plane.kubectl(['create', 'serviceaccount', '-n', NAMESPACE, 'compliance-scanner']);
const webhookPort = await freePort();
// What the chart installs; the manager fills in its caBundle.
await registerLocalWebhook(plane.kubeConfig(), {
  name: 'courier',
  port: webhookPort,
  namespaceLabels: { 'courier.dev/demo': 'enabled' },
});
say(`applying config/samples to namespace ${NAMESPACE}`);
await kubectl(['apply', '-n', NAMESPACE, '-f', path.join(REPO_ROOT, 'config/samples')]);

say(`running courier manager and courier webhook (full JSON logs in ${workDir})`);
const manager = new RunningComponent(
  [
    'manager',
    ...MANAGER_EPHEMERAL,
    `--kubeconfig=${plane.kubeconfigPath}`,
    `--namespace=${COURIER_NAMESPACE}`,
    `--config=${await writeMotoStsConfig(workDir, moto)}`,
  ],
  // The manager's own AWS identity, for AssumeRole: moto's test credentials.
  motoIdentityEnv(moto),
);
components.push(manager);
const { brokerAddress } = await manager.waitForLog('serving the credential broker');
const core = plane.kubeConfig().makeApiClient(CoreV1Api);
const webhook = new RunningComponent(
  await localWebhookArgs(core, {
    courierNamespace: COURIER_NAMESPACE,
    port: webhookPort,
    kubeconfig: plane.kubeconfigPath,
    dir: workDir,
    brokerUrl: `https://${brokerAddress as string}`,
  }),
);
components.push(webhook);
await webhook.waitForLog('serving admission requests');
show(`manager readiness:\n${await fetch(`${await manager.healthProbeUrl()}/readyz?verbose`).then((r) => r.text())}`);

await plane.kubectl(['wait', '-n', NAMESPACE, 'tc', '--all', '--for=condition=Ready', '--timeout=60s'], {
  reject: false,
});
say(`kubectl get tc,ss -n ${NAMESPACE} -o wide: each credential stored, fingerprinted and validated`);
await kubectl(['get', 'tc,ss', '-n', NAMESPACE, '-o', 'wide']);
say(`the source Secrets are gone (ingested); what is left in namespace ${NAMESPACE}:`);
show((await plane.kubectl(['get', 'secrets', '-n', NAMESPACE], { reject: false })).stdout || '(none)');
say("Courier's own namespace holds only ciphertext, wrapped keys and its certificates:");
await kubectl(['get', 'secrets,configmaps', '-n', COURIER_NAMESPACE]);

say(`kubectl courier run ${SCHEDULE}: one scan now`);
const run = await runToEnd(KUBECTL_PLUGIN, ['run', SCHEDULE, '-n', NAMESPACE, `--kubeconfig=${plane.kubeconfigPath}`]);
show(run.stdout + run.stderr);
const pod = await eventually(
  async () =>
    (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: `${SCHEDULE_LABEL}=${SCHEDULE}` })).items[0],
  (found) => found !== undefined,
  60_000,
  'the scan pod',
).then((found) => found!);
say(`the Job's pod ${pod.metadata!.name} as admitted: what the webhook added`);
show(stringify(courierAdditions(pod)));

say('no kubelet here: the agent runs as a process with a token bound to that pod, as the kubelet would project it');
const agent = await runAgentForPod(core, pod, { workDir, outputDir: credentialsDir });
show(`agent exited with ${agent.code}${agent.stderr ? `: ${agent.stderr}` : ''}`);
say(`the files it wrote in memory (${credentialsDir}):`);
show(await listFiles(credentialsDir));
const issued = JSON.parse(await readFile(path.join(credentialsDir, 'prod-account', 'credentials.json'), 'utf8')) as {
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
};
show(
  `prod-account/credentials.json: AccessKeyId ${issued.AccessKeyId}, SecretAccessKey and SessionToken hidden, expires ${issued.Expiration}`,
);
const sts = new STSClient({
  region: moto.region,
  endpoint: moto.endpoint,
  credentials: {
    accessKeyId: issued.AccessKeyId,
    secretAccessKey: issued.SecretAccessKey,
    sessionToken: issued.SessionToken,
  },
});
const identity = await sts.send(new GetCallerIdentityCommand({}));
sts.destroy();
show(`STS GetCallerIdentity with them (moto): ${identity.Arn}`);

say("the broker's audit records (one per decision; no secret in them)");
for (const record of manager.records.filter((r) => r.audit === true)) show(JSON.stringify(record));
// The broker records issuance in the ToolConnection's status every few seconds.
await eventually(
  () => plane.kubectl(['get', 'tc/prod-account', '-n', NAMESPACE, '-o', 'jsonpath={.status.issuedCount}']),
  (result) => Number(result.stdout) > 0,
  10_000,
  'issuedCount recorded',
);
say(`kubectl courier status -n ${NAMESPACE}`);
const status = await runToEnd(KUBECTL_PLUGIN, ['status', '-n', NAMESPACE, `--kubeconfig=${plane.kubeconfigPath}`]);
show(status.stdout + status.stderr);

const stop = async () => {
  say('stopping');
  for (const component of components) component.child.kill('SIGTERM');
  const codes = await Promise.all(components.map((c) => c.exitCode()));
  await Promise.all([plane.stop(), moto.stop(), rm(credentialsDir, { recursive: true, force: true })]);
  show(`manager and webhook exited with ${codes.join(', ')}`);
  process.exit(codes.every((code) => code === 0) ? 0 : 1);
};
if (once) await stop();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
say(`running; KUBECONFIG=${plane.kubeconfigPath} kubectl get courier -A, Ctrl-C to stop`);

/** The parts of a pod Courier adds: the agent, its volumes, and the scan containers' mounts and path variables. */
function courierAdditions(admitted: V1Pod): Record<string, unknown> {
  const spec = admitted.spec!;
  const ours = (name?: string) => name?.startsWith('courier-');
  return {
    metadata: { labels: admitted.metadata!.labels, annotations: admitted.metadata!.annotations },
    initContainers: spec.initContainers?.filter((c) => c.name === AGENT_CONTAINER),
    volumes: spec.volumes?.filter((v) => ours(v.name)),
    containers: spec.containers.map((c) => ({
      name: c.name,
      volumeMounts: c.volumeMounts?.filter((m) => ours(m.name)),
      env: c.env,
    })),
  };
}

/** `ls -lR`-like: mode, size and path of each file under `dir`, without contents. */
async function listFiles(dir: string, prefix = ''): Promise<string> {
  const lines: string[] = [];
  for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    const info = await stat(full);
    const mode = (info.mode & 0o7777).toString(8).padStart(4, '0');
    lines.push(`${mode} ${String(info.size).padStart(6)}  ${prefix}${entry.name}${entry.isDirectory() ? '/' : ''}`);
    if (entry.isDirectory()) lines.push(await listFiles(full, `${prefix}${entry.name}/`));
  }
  return lines.join('\n');
}
