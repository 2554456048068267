// Delivery on a control plane without a kubelet, as the delivery suite and
// the demo run it: `courier webhook` on loopback, registered with the
// apiserver by URL; and the agent run as a process for a pod that the
// apiserver admitted, with a token bound to that pod — standing in for the
// container the kubelet would start.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AdmissionregistrationV1Api, type CoreV1Api, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { AGENT_CONTAINER, BROKER_CA_CONFIGMAP, TOKEN_AUDIENCE } from '../../src/api/v1alpha1/delivery.ts';
import { INJECT_LABEL } from '../../src/api/v1alpha1/index.ts';
import { LOCAL_EPHEMERAL, MAIN, runToEnd, type Finished } from './component.ts';

/**
 * Registers the webhook at https://127.0.0.1:PORT for opted-in pods in namespaces with `namespaceLabels`,
 * without a caBundle: filling it in is the manager's job.
 */
export async function registerLocalWebhook(
  kc: KubeConfig,
  options: { name: string; port: number; namespaceLabels: Record<string, string> },
): Promise<void> {
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name: options.name },
      webhooks: [
        {
          name: 'pods.courier.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Fail',
          reinvocationPolicy: 'IfNeeded',
          timeoutSeconds: 5,
          clientConfig: { url: `https://127.0.0.1:${options.port}/mutate-v1-pod` },
          namespaceSelector: { matchLabels: options.namespaceLabels },
          objectSelector: { matchLabels: { [INJECT_LABEL]: 'true' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        },
      ],
    },
  });
}

/**
 * Writes the serving pair the manager issued for the webhook into `dir` (as the chart mounts the
 * Secret) and returns the `courier webhook` arguments that serve it on `port`.
 */
export async function localWebhookArgs(
  core: CoreV1Api,
  options: { courierNamespace: string; port: number; kubeconfig: string; dir: string; brokerUrl: string },
): Promise<string[]> {
  const tls = await core.readNamespacedSecret({ name: 'courier-webhook-tls', namespace: options.courierNamespace });
  for (const file of ['tls.crt', 'tls.key'])
    await writeFile(path.join(options.dir, file), Buffer.from(tls.data![file]!, 'base64'), { mode: 0o600 });
  return [
    'webhook',
    ...LOCAL_EPHEMERAL,
    '--webhook-bind-address',
    `127.0.0.1:${options.port}`,
    '--kubeconfig',
    options.kubeconfig,
    '--tls-cert-file',
    path.join(options.dir, 'tls.crt'),
    '--tls-key-file',
    path.join(options.dir, 'tls.key'),
    '--agent-image',
    'courier.local/courier:dev',
    '--broker-url',
    options.brokerUrl,
  ];
}

/**
 * Runs the agent once, with the command line the webhook wrote into `pod`, a token bound to `pod`
 * and the broker CA published in its namespace (what the kubelet would project), writing into
 * `outputDir` instead of the pod's volume.
 */
export async function runAgentForPod(
  core: CoreV1Api,
  pod: V1Pod,
  options: { workDir: string; outputDir: string },
): Promise<Finished> {
  const namespace = pod.metadata!.namespace!;
  const agent = pod.spec!.initContainers!.find((c) => c.name === AGENT_CONTAINER)!;
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name: pod.spec!.serviceAccountName ?? 'default',
    body: {
      spec: {
        audiences: [TOKEN_AUDIENCE],
        expirationSeconds: 600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
      },
    },
  });
  const caMap = await core.readNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace });
  await writeFile(path.join(options.workDir, 'token'), token.status!.token!);
  await writeFile(path.join(options.workDir, 'ca.crt'), caMap.data!['ca.crt']!);
  return runToEnd(
    MAIN,
    withFlags(agent.args!, {
      '--mode': 'init',
      '--token-file': path.join(options.workDir, 'token'),
      '--ca-file': path.join(options.workDir, 'ca.crt'),
      '--output-dir': options.outputDir,
    }),
  );
}

/** `courier agent --flag value …` with some flags' values replaced. */
function withFlags(args: string[], overrides: Record<string, string>): string[] {
  const [command, ...pairs] = args;
  const flags = new Map<string, string>();
  for (let i = 0; i < pairs.length; i += 2) flags.set(pairs[i]!, pairs[i + 1]!);
  for (const [flag, value] of Object.entries(overrides)) flags.set(flag, value);
  return [command!, ...[...flags].flat()];
}
