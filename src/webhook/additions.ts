// What Courier adds to an opted-in pod: two volumes, the agent, and in every
// other container a read-only mount of the credentials and env vars holding
// their paths. Built from the pod and its ToolConnections alone, so the same
// pod always gets the same additions — which is what makes the webhook
// idempotent.
import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import type { ToolConnection } from '../api/v1alpha1/index.ts';
import {
  AGENT_CONTAINER,
  AWS_CONFIG_FILE,
  AWS_CREDENTIALS_FILE,
  BROKER_CA_CONFIGMAP,
  BROKER_CA_KEY,
  CA_FILE,
  CREDENTIALS_DIR,
  CREDENTIALS_DIR_ENV,
  CREDENTIALS_VOLUME,
  READY_MARKER,
  TOKEN_AUDIENCE,
  TOKEN_DIR,
  TOKEN_FILE,
  TOKEN_VOLUME,
} from '../api/v1alpha1/delivery.ts';
import type { AGENT_MODES } from '../config/commands.ts';
import type { WebhookSettings } from './settings.ts';

export type AgentMode = (typeof AGENT_MODES)[number];

/** The agent's uid when the pod names none (or root): the "nonroot" user of distroless images. */
export const DEFAULT_AGENT_UID = 65532;
/** What assumeRole and GetSessionToken hand out when the connection does not say. */
export const DEFAULT_SESSION_SECONDS = 3600;
/** How long a sidecar agent may take to write the first credentials before the kubelet restarts it. */
const STARTUP_PROBE_SECONDS = 120;

export interface Additions {
  volumes: V1Volume[];
  agent: V1Container;
  /** For every container but the agent. */
  mounts: V1VolumeMount[];
  env: V1EnvVar[];
}

export interface AdditionsInput {
  pod: V1Pod;
  /** The pod's connections, in the order of its annotation. */
  connections: readonly ToolConnection[];
  /** Custom mount paths by connection name. */
  paths: ReadonlyMap<string, string>;
  settings: WebhookSettings;
}

export function additionsFor({ pod, connections, paths, settings }: AdditionsInput): Additions {
  const names = connections.map((connection) => connection.metadata.name!);
  const mode = agentMode(pod, connections);
  return {
    volumes: [
      {
        name: TOKEN_VOLUME,
        projected: {
          defaultMode: 0o444,
          sources: [
            {
              serviceAccountToken: {
                audience: TOKEN_AUDIENCE,
                expirationSeconds: settings.tokenExpirationSeconds,
                path: 'token',
              },
            },
            { configMap: { name: BROKER_CA_CONFIGMAP, items: [{ key: BROKER_CA_KEY, path: 'ca.crt' }] } },
          ],
        },
      },
      { name: CREDENTIALS_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: settings.credentialsSizeLimit } },
    ],
    agent: {
      name: AGENT_CONTAINER,
      image: settings.agentImage,
      imagePullPolicy: settings.agentImagePullPolicy,
      // The image's ENTRYPOINT is the courier program.
      args: [
        'agent',
        '--mode',
        mode,
        '--broker-url',
        settings.brokerUrl,
        '--connections',
        names.join(','),
        '--token-file',
        TOKEN_FILE,
        '--ca-file',
        CA_FILE,
        '--output-dir',
        CREDENTIALS_DIR,
        '--file-mode',
        pod.spec?.securityContext?.fsGroup === undefined ? '0400' : '0440',
      ],
      ...(mode === 'sidecar'
        ? {
            // A native sidecar: started before the app, kept running to refresh
            // credentials, and stopped by the kubelet once the app is done, so
            // it never holds a Job open. The app starts only once this passes.
            restartPolicy: 'Always',
            startupProbe: {
              exec: { command: ['/usr/bin/test', '-e', `${CREDENTIALS_DIR}/${READY_MARKER}`] },
              periodSeconds: 1,
              failureThreshold: STARTUP_PROBE_SECONDS,
            },
          }
        : {}),
      volumeMounts: [
        { name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR },
        { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
      ],
      resources: { requests: { cpu: '10m', memory: '48Mi' }, limits: { cpu: '500m', memory: '128Mi' } },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: agentUid(pod),
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      },
    },
    mounts: [
      { name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true },
      ...names
        .filter((name) => paths.has(name))
        .map((name) => ({ name: CREDENTIALS_VOLUME, mountPath: paths.get(name)!, subPath: name, readOnly: true })),
    ],
    env: [{ name: CREDENTIALS_DIR_ENV, value: CREDENTIALS_DIR }, ...awsEnv(connections, paths)],
  };
}

/**
 * A sidecar when some credentials would expire while the pod may still run;
 * a plain init container, which fetches once and exits, otherwise.
 */
export function agentMode(pod: V1Pod, connections: readonly ToolConnection[]): AgentMode {
  const lifetimes = connections.map(credentialLifetimeSeconds).filter((seconds) => seconds !== undefined);
  if (lifetimes.length === 0) return 'init';
  const deadline = pod.spec?.activeDeadlineSeconds;
  return deadline === undefined || deadline > Math.min(...lifetimes) ? 'sidecar' : 'init';
}

/** How long a connection's credentials last; undefined when they do not expire. */
function credentialLifetimeSeconds(connection: ToolConnection): number | undefined {
  const { provider, aws } = connection.spec;
  if (provider !== 'aws' || aws?.allowLongLivedKey) return undefined;
  return aws?.sessionDurationSeconds ?? DEFAULT_SESSION_SECONDS;
}

/**
 * The agent writes files only their owner (0400) — or, with an fsGroup, their
 * group too (0440) — may read, so it runs as the app's uid. Root is never
 * taken: the agent must not run as root, and root reads the files anyway.
 */
export function agentUid(pod: V1Pod): number {
  const uid = pod.spec?.containers?.[0]?.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
  return uid === undefined || uid === 0 ? DEFAULT_AGENT_UID : uid;
}

/** The AWS SDKs' and CLI's file variables, when the pod has exactly one AWS connection to point them at. */
function awsEnv(connections: readonly ToolConnection[], paths: ReadonlyMap<string, string>): V1EnvVar[] {
  const aws = connections.filter((connection) => connection.spec.provider === 'aws');
  if (aws.length !== 1) return [];
  const name = aws[0]!.metadata.name!;
  const dir = paths.get(name) ?? `${CREDENTIALS_DIR}/${name}`;
  return [
    { name: 'AWS_SHARED_CREDENTIALS_FILE', value: `${dir}/${AWS_CREDENTIALS_FILE}` },
    { name: 'AWS_CONFIG_FILE', value: `${dir}/${AWS_CONFIG_FILE}` },
  ];
}
