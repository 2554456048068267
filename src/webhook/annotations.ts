// Reads what a pod asks of Courier from its label and annotations. Every
// refusal names the bad value and what was expected, because the person who
// reads it is looking at `kubectl apply` output, not at this code.
import type { V1Pod } from '@kubernetes/client-node';
import { CONNECTION_PATHS_ANNOTATION, CONNECTIONS_ANNOTATION, INJECT_LABEL } from '../api/v1alpha1/index.ts';
import { CREDENTIALS_DIR } from '../api/v1alpha1/delivery.ts';

/** A request Courier refuses: 400 when the pod is malformed, 403 when it asks for something it may not have. */
export interface Denial {
  denied: string;
  code: 400 | 403;
}

export function isDenial(value: object): value is Denial {
  return 'denied' in value;
}

export function badRequest(message: string): Denial {
  return { denied: message, code: 400 };
}

export function forbidden(message: string): Denial {
  return { denied: message, code: 403 };
}

export function isOptedIn(pod: V1Pod): boolean {
  return pod.metadata?.labels?.[INJECT_LABEL] === 'true';
}

// RFC 1123 subdomain, as Kubernetes validates object names.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const EXAMPLE_NAMES = '"aws-prod,github"';

/** The ToolConnection names the pod lists, trimmed and de-duplicated, in their first order. */
export function connectionNames(pod: V1Pod): string[] | Denial {
  const raw = pod.metadata?.annotations?.[CONNECTIONS_ANNOTATION];
  if (raw === undefined) {
    return badRequest(
      `the pod has label ${INJECT_LABEL}=true but no annotation ${CONNECTIONS_ANNOTATION}; ` +
        `set it to the ToolConnections the pod needs, comma-separated, such as ${EXAMPLE_NAMES}`,
    );
  }
  const names = raw.split(',').map((name) => name.trim());
  const bad = names.find((name) => name.length > 253 || !DNS_SUBDOMAIN.test(name));
  if (bad !== undefined) {
    return badRequest(
      `annotation ${CONNECTIONS_ANNOTATION}: ${JSON.stringify(bad)} in ${JSON.stringify(raw)} is not a ToolConnection name; ` +
        `expected comma-separated lower-case DNS subdomains such as ${EXAMPLE_NAMES}`,
    );
  }
  return [...new Set(names)];
}

/** The custom mount path of each connection that has one. */
export function connectionPaths(pod: V1Pod, names: readonly string[]): Map<string, string> | Denial {
  const raw = pod.metadata?.annotations?.[CONNECTION_PATHS_ANNOTATION];
  const paths = new Map<string, string>();
  if (raw === undefined) return paths;
  const invalid = (problem: string) =>
    badRequest(
      `annotation ${CONNECTION_PATHS_ANNOTATION}: ${problem}; ` +
        `expected a JSON object of ToolConnection name to absolute path, such as {"aws-prod":"/home/scan/.aws"}`,
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return invalid(`${JSON.stringify(raw)} is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return invalid(`${JSON.stringify(raw)} is not a JSON object`);
  }
  for (const [name, path] of Object.entries(parsed)) {
    if (!names.includes(name)) {
      return invalid(`it names ${JSON.stringify(name)}, which is not in ${CONNECTIONS_ANNOTATION}`);
    }
    if (typeof path !== 'string') return invalid(`the path of ${JSON.stringify(name)} is not a string`);
    const problem = mountPathProblem(path);
    if (problem) return invalid(`the path of ${JSON.stringify(name)}, ${JSON.stringify(path)}, ${problem}`);
    const other = [...paths].find(([, taken]) => taken === path)?.[0];
    if (other !== undefined) {
      return invalid(`${JSON.stringify(name)} and ${JSON.stringify(other)} share the path ${JSON.stringify(path)}`);
    }
    paths.set(name, path);
  }
  return paths;
}

/** The rules ScanSchedule's CRD applies to spec.connections[].mountPath, and one more. */
function mountPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'is not absolute';
  if (path === '/') return 'is the root directory';
  if (path.includes(':')) return 'contains ":"';
  if (path.split('/').includes('..')) return 'contains ".."';
  // The whole credentials volume is mounted there already.
  if (path === CREDENTIALS_DIR) return `is where Courier mounts every connection's credentials`;
  return undefined;
}
