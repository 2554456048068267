// `kubectl courier rotate-keys` on the shared apiserver, short of a kubelet:
// it finds the leading manager's pod from the Lease (or a ready replica when
// nobody leads) and asks the exec API to run `courier rotate-keys` there.
// With no kubelet the apiserver cannot run it, so the run ends in a clear
// error naming the pod; the command running and streaming in a real pod
// needs hack/cluster-up.sh (not part of this suite).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type V1Pod } from '@kubernetes/client-node';
import { findManagerPod } from '../../src/cli/people/remote-rotate-keys.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { runPlugin } from '../support/cli.ts';

const SELECTOR = 'app.kubernetes.io/name=courier,app.kubernetes.io/component=manager';
const core = () => testKubeConfig().makeApiClient(CoreV1Api);
let namespace: string;
let base: string[];

/** A manager pod as the kubelet would report it: Running, and Ready or not. */
async function managerPod(name: string, ready: boolean, labelled = true): Promise<void> {
  const pod: V1Pod = {
    metadata: {
      name,
      ...(labelled
        ? { labels: { 'app.kubernetes.io/name': 'courier', 'app.kubernetes.io/component': 'manager' } }
        : {}),
      annotations: { 'kubectl.kubernetes.io/default-container': 'manager' },
    },
    spec: {
      automountServiceAccountToken: false,
      containers: [
        { name: 'sidecar', image: 'proxy' },
        { name: 'manager', image: 'courier' },
      ],
    },
  };
  const created = await core().createNamespacedPod({ namespace, body: pod });
  await core().replaceNamespacedPodStatus({
    name,
    namespace,
    body: {
      ...created,
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
    },
  });
}

async function lease(holder: string, renewedSecondsAgo: number): Promise<void> {
  const api = testKubeConfig().makeApiClient(CoordinationV1Api);
  const spec = {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    acquireTime: new V1MicroTime(Date.now() - 60_000),
    renewTime: new V1MicroTime(Date.now() - renewedSecondsAgo * 1000),
  };
  await api.deleteNamespacedLease({ name: 'courier-manager', namespace }).catch(() => undefined);
  await api.createNamespacedLease({ namespace, body: { metadata: { name: 'courier-manager' }, spec } });
}

const config = () => ({ courierNamespace: namespace, leaderElectionId: 'courier-manager', managerSelector: SELECTOR });

beforeAll(async () => {
  namespace = await createTestNamespace('courier');
  base = ['--kubeconfig', process.env.COURIER_TEST_KUBECONFIG!, '--courier-namespace', namespace];
  await core().createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'default' } } });
  await managerPod('courier-manager-a', true);
  await managerPod('courier-manager-b', false);
  // The leader's pod is found by name, whatever its labels.
  await managerPod('renamed-manager', true, false);
});

describe('kubectl courier rotate-keys', () => {
  it("picks the leader's pod from the Lease", async () => {
    await lease('renamed-manager_0a1b2c3d', 1);
    await expect(findManagerPod(config(), testKubeConfig())).resolves.toMatchObject({
      pod: { metadata: { name: 'renamed-manager' } },
      why: 'the leader',
    });
  });

  it('picks a ready replica when the Lease has expired', async () => {
    await lease('renamed-manager_0a1b2c3d', 60);
    await expect(findManagerPod(config(), testKubeConfig())).resolves.toMatchObject({
      pod: { metadata: { name: 'courier-manager-a' } },
      why: 'a ready replica (no current leader)',
    });
  });

  it('asks the exec API to run the command in the default container, and says why it could not', async () => {
    await lease('courier-manager-a_0a1b2c3d', 1);
    const { code, stdout, stderr } = await runPlugin(['rotate-keys', '--tenants', 'team-a,team-b', ...base]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    const [running, failure] = stderr.trimEnd().split('\n');
    expect(running).toBe(
      `running "courier rotate-keys --tenants team-a,team-b" in pod ${namespace}/courier-manager-a (the leader), container manager`,
    );
    // No kubelet: the apiserver refuses to connect the exec stream.
    expect(failure).toMatch(
      new RegExp(`^kubectl courier: cannot run the command in pod ${namespace}/courier-manager-a: .*400`),
    );
  });

  it('says so when no manager pod can be found', async () => {
    const empty = await createTestNamespace('courier');
    const { code, stderr } = await runPlugin([
      'rotate-keys',
      '--kek',
      '--kubeconfig',
      process.env.COURIER_TEST_KUBECONFIG!,
      '--courier-namespace',
      empty,
    ]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      `kubectl courier: no running manager pod in ${empty}: no current leader in Lease courier-manager and no ready pod matches ${SELECTOR}\n`,
    );
  });
});
