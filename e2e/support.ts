// What the end-to-end suite needs to know about the cluster it runs against.
// It is cluster-agnostic: hack/e2e.sh points it at the local single-node
// cluster (hack/cluster-up.sh) and the image hack/image-build.sh loaded; on
// kind or a cloud cluster, set the same variables.
//
//   COURIER_E2E_KUBECONFIG    kubeconfig of the cluster (required)
//   COURIER_E2E_IMAGE         Courier's image, repository:tag (default courier.local/courier:dev)
//   COURIER_E2E_PULL_POLICY   its imagePullPolicy (default IfNotPresent; Never for a loaded image)
//   COURIER_E2E_IMAGE_ID      the image's ID, when a rebuilt image keeps its tag: a new ID rolls the pods
//   COURIER_E2E_HOST_ADDRESS  an address of this machine that pods can reach: moto listens there
//   COURIER_E2E_ETCD_URL      the cluster's etcd, if reachable: the leak search then reads every key
//   KUBECTL, HELM             the binaries (default: from PATH)
import { execa, type Result } from 'execa';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite with hack/e2e.sh, or see e2e/support.ts`);
  return value;
}

export const KUBECONFIG = required('COURIER_E2E_KUBECONFIG');
export const HOST_ADDRESS = required('COURIER_E2E_HOST_ADDRESS');
export const IMAGE = process.env.COURIER_E2E_IMAGE ?? 'courier.local/courier:dev';
export const PULL_POLICY = process.env.COURIER_E2E_PULL_POLICY ?? 'IfNotPresent';
export const IMAGE_ID = process.env.COURIER_E2E_IMAGE_ID;
const KUBECTL = process.env.KUBECTL ?? 'kubectl';
const HELM = process.env.HELM ?? 'helm';

export const COURIER_NAMESPACE = 'courier-system';

/** kubectl against the cluster; rejects on a non-zero exit with kubectl's own message. */
export function kubectl(args: string[], options: { input?: string; reject?: boolean } = {}): Promise<Result> {
  return execa(KUBECTL, ['--kubeconfig', KUBECONFIG, ...args], {
    ...(options.input !== undefined ? { input: options.input } : {}),
    reject: options.reject ?? true,
  });
}

export async function kubectlJson<T>(args: string[]): Promise<T> {
  return JSON.parse(String((await kubectl([...args, '-o', 'json'])).stdout)) as T;
}

/** Applies objects given as JavaScript values. */
export async function apply(...objects: object[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }) });
}

export function helm(args: string[], input?: string): Promise<Result> {
  return execa(HELM, ['--kubeconfig', KUBECONFIG, ...args], input !== undefined ? { input } : {});
}
