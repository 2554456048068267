// The webhook's decision for one pod, without I/O: the JSON patch that adds
// Courier's volumes, agent, mounts and env (only what is missing, so a pod
// that already has them gets an empty patch), or the reason it is refused.
import type { V1Container, V1Pod, V1VolumeMount } from '@kubernetes/client-node';
import { CONNECTION_PATHS_ANNOTATION, type ToolConnection } from '../api/v1alpha1/index.ts';
import { AGENT_CONTAINER, CREDENTIALS_VOLUME, TOKEN_VOLUME } from '../api/v1alpha1/delivery.ts';
import { additionsFor, type Additions } from './additions.ts';
import { connectionNames, connectionPaths, forbidden, isDenial, isOptedIn, type Denial } from './annotations.ts';
import { contains } from './contains.ts';
import type { WebhookSettings } from './settings.ts';

/** The only operation the webhook emits: it never removes or replaces what the pod's author wrote. */
export interface JsonPatchAddOp {
  op: 'add';
  path: string;
  value: unknown;
}

export interface Mutation {
  patch: JsonPatchAddOp[];
  /** Shown to whoever created the pod (kubectl prints them). */
  warnings: string[];
}

export interface MutateInput {
  pod: V1Pod;
  /** The request's namespace: a pod named by generateName may not carry one yet. */
  namespace: string;
  /** The ToolConnections the pod names that exist in `namespace`, by name. */
  connections: ReadonlyMap<string, ToolConnection>;
  settings: WebhookSettings;
}

export function mutate({ pod, namespace, connections, settings }: MutateInput): Mutation | Denial {
  if (!isOptedIn(pod)) return { patch: [], warnings: [] };
  const names = connectionNames(pod);
  if (isDenial(names)) return names;
  const paths = connectionPaths(pod, names);
  if (isDenial(paths)) return paths;
  const found: ToolConnection[] = [];
  for (const name of names) {
    const connection = connections.get(name);
    if (!connection) {
      return forbidden(
        `ToolConnection ${JSON.stringify(name)} not found in namespace ${JSON.stringify(namespace)}; ` +
          `create it or fix the courier.dev/connections annotation`,
      );
    }
    found.push(connection);
  }
  const additions = additionsFor({ pod, connections: found, paths, settings });
  const refusal = reservedNameRefusal(pod, additions);
  if (refusal) return refusal;
  const patch = patchFor(pod, additions);
  // Only with a patch: on reinvocation the same warning would be shown twice.
  const warnings = patch.length === 0 ? [] : found.filter((c) => !isReady(c)).map(notReadyWarning);
  return { patch, warnings };
}

interface Target {
  /** "container" or "init container", for messages. */
  kind: string;
  container: V1Container;
  /** JSON pointer to the container. */
  path: string;
}

/** Every container but the agent: they get the credentials, read-only. */
function targets(pod: V1Pod): Target[] {
  const containers = pod.spec?.containers ?? [];
  const initContainers = pod.spec?.initContainers ?? [];
  return [
    ...containers.map((container, i) => ({ kind: 'container', container, path: `/spec/containers/${i}` })),
    ...initContainers
      .map((container, i) => ({ kind: 'init container', container, path: `/spec/initContainers/${i}` }))
      .filter((target) => target.container.name !== AGENT_CONTAINER),
  ];
}

/**
 * Courier's names may appear in a pod only as Courier adds them: anything
 * else would be a user's volume or container that the agent's files end up
 * in, or a mount that hands the app the broker token.
 */
function reservedNameRefusal(pod: V1Pod, additions: Additions): Denial | undefined {
  const reserved = (what: string) =>
    forbidden(`${what} is reserved for Courier, which adds it itself; remove it from the pod`);
  for (const volume of pod.spec?.volumes ?? []) {
    const ours = additions.volumes.find((candidate) => candidate.name === volume.name);
    if (ours && !contains(volume, ours)) return reserved(`volume ${JSON.stringify(volume.name)}`);
  }
  if (pod.spec?.containers?.some((container) => container.name === AGENT_CONTAINER)) {
    return reserved(`container name ${JSON.stringify(AGENT_CONTAINER)}`);
  }
  const agent = pod.spec?.initContainers?.find((container) => container.name === AGENT_CONTAINER);
  if (agent && !contains(agent, additions.agent)) {
    return reserved(`init container name ${JSON.stringify(AGENT_CONTAINER)}`);
  }
  for (const { kind, container } of targets(pod)) {
    for (const mount of container.volumeMounts ?? []) {
      const ours = additions.mounts.find((candidate) => candidate.mountPath === mount.mountPath);
      if (ours && sameMount(mount, ours)) continue;
      const where = `${kind} ${JSON.stringify(container.name)} mounts volume ${JSON.stringify(mount.name)} at ${JSON.stringify(mount.mountPath)}`;
      if (mount.name === TOKEN_VOLUME || mount.name === CREDENTIALS_VOLUME) {
        return forbidden(`${where}: the volume is reserved for Courier, which mounts it itself; remove the mount`);
      }
      if (ours) {
        return forbidden(
          `${where}, where Courier mounts credentials; mount it elsewhere` +
            (ours.subPath ? ` or choose another path in annotation ${CONNECTION_PATHS_ANNOTATION}` : ''),
        );
      }
    }
  }
  return undefined;
}

function patchFor(pod: V1Pod, additions: Additions): JsonPatchAddOp[] {
  const patch: JsonPatchAddOp[] = [];
  const spec = pod.spec;
  /** Appends `items` to the list at `path`, creating the list when the pod has none. */
  const append = (path: string, existing: readonly unknown[] | undefined, items: readonly unknown[]) => {
    if (items.length === 0) return;
    if (!existing) patch.push({ op: 'add', path, value: items });
    else for (const value of items) patch.push({ op: 'add', path: `${path}/-`, value });
  };
  const volumes = spec?.volumes;
  append(
    '/spec/volumes',
    volumes,
    additions.volumes.filter((volume) => !volumes?.some((existing) => existing.name === volume.name)),
  );
  for (const { container, path } of targets(pod)) {
    const { volumeMounts, env } = container;
    append(
      `${path}/volumeMounts`,
      volumeMounts,
      additions.mounts.filter((mount) => !volumeMounts?.some((existing) => sameMount(existing, mount))),
    );
    // A variable the container already defines is its author's choice and stays.
    append(
      `${path}/env`,
      env,
      additions.env.filter((variable) => !env?.some((existing) => existing.name === variable.name)),
    );
  }
  // Last, so the init container indexes above are those of the pod as it came.
  // First among init containers, so the others can use the credentials too.
  const initContainers = spec?.initContainers;
  if (!initContainers?.some((container) => container.name === AGENT_CONTAINER)) {
    if (!initContainers) patch.push({ op: 'add', path: '/spec/initContainers', value: [additions.agent] });
    else patch.push({ op: 'add', path: '/spec/initContainers/0', value: additions.agent });
  }
  return patch;
}

function sameMount(a: V1VolumeMount, b: V1VolumeMount): boolean {
  return (
    a.name === b.name &&
    a.mountPath === b.mountPath &&
    (a.subPath ?? '') === (b.subPath ?? '') &&
    (a.subPathExpr ?? '') === (b.subPathExpr ?? '') &&
    Boolean(a.readOnly) === Boolean(b.readOnly)
  );
}

function isReady(connection: ToolConnection): boolean {
  return connection.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

function notReadyWarning(connection: ToolConnection): string {
  return `ToolConnection ${JSON.stringify(connection.metadata.name)} is not Ready yet; the agent waits for it`;
}
