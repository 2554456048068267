// The chart tools as the chart suite runs them: the pinned helm and
// kubeconform from hack/helm-tools.sh (built once into the cache), and
// renders of charts/courier split into objects.
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './binaries.ts';

export const CHART = path.join(REPO_ROOT, 'charts/courier');

export interface ChartTools {
  helm: string;
  kubeconform: string;
  /** cert-manager's Issuer and Certificate CRDs and the Prometheus operator's ServiceMonitor CRD. */
  thirdPartyCrds: string;
}

/** Provides the pinned tools; the first run on a machine builds them (a few minutes). */
export async function chartTools(): Promise<ChartTools> {
  const { stdout } = await execa('bash', [path.join(REPO_ROOT, 'hack/helm-tools.sh')], { stderr: 'inherit' });
  const [helm, kubeconform, thirdPartyCrds] = stdout.trim().split('\n');
  if (!helm || !kubeconform || !thirdPartyCrds) throw new Error(`hack/helm-tools.sh printed ${stdout}`);
  return { helm, kubeconform, thirdPartyCrds };
}

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with its own empty home (no repositories, no plugins, no cache of the user's). */
export async function helm(tools: ChartTools, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const home = path.join(os.tmpdir(), 'courier-helm-home');
  const result = await execa(tools.helm, args, {
    reject: false,
    env: {
      HELM_CACHE_HOME: path.join(home, 'cache'),
      HELM_CONFIG_HOME: path.join(home, 'config'),
      HELM_DATA_HOME: path.join(home, 'data'),
      ...env,
    },
  });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export type KubeObject = Record<string, any> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string } & Record<string, any>;
};

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function objectsOf(yaml: string): KubeObject[] {
  return parseAllDocuments(yaml)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => !!o);
}

export const RELEASE = 'courier';
export const RELEASE_NAMESPACE = 'courier-system';

/** `helm template` of the chart, failing on any error. */
export async function render(tools: ChartTools, valuesArgs: string[], extra: string[] = []): Promise<string> {
  const result = await helm(tools, [
    'template',
    RELEASE,
    CHART,
    '--namespace',
    RELEASE_NAMESPACE,
    ...extra,
    ...valuesArgs,
  ]);
  if (result.exitCode !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return result.stdout;
}

/** The one object of this kind and name in a render. */
export function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`the render holds no ${kind} ${name}`);
  return found;
}
