// `courier manager` as a process against a real apiserver of its own: it
// logs the server version, is ready while the apiserver answers and not
// ready once it is gone, never logs its token, and exits 0 on SIGTERM.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { ApiServerVersionProbe } from '../../src/kube/apiserver.ts';
import { MANAGER_EPHEMERAL, MAIN, runToEnd } from '../support/component.ts';
import { start } from '../support/started-components.ts';
import { ControlPlane, SERVICE_ACCOUNT_ISSUER } from '../support/control-plane.ts';

let plane: ControlPlane;
let token: string;
let kubeconfigPath: string;

beforeAll(async () => {
  plane = await ControlPlane.start({ installCrds: true });
  const core = plane.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: 'default', body: { metadata: { name: 'courier-manager' } } });
  // What the chart grants: the manager reads and writes Secrets in its own namespace.
  await core.createNamespace({ body: { metadata: { name: 'courier-system' } } });
  const rbac = plane.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
  await rbac.createNamespacedRole({
    namespace: 'courier-system',
    body: {
      metadata: { name: 'courier-manager' },
      rules: [
        {
          apiGroups: [''],
          resources: ['secrets', 'configmaps'],
          verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'],
        },
      ],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace: 'courier-system',
    body: {
      metadata: { name: 'courier-manager' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'courier-manager' },
      subjects: [{ kind: 'ServiceAccount', name: 'courier-manager', namespace: 'default' }],
    },
  });
  // The broker's caches: opted-in pods and ToolConnections everywhere, and the broker CA ConfigMaps by name.
  await rbac.createClusterRole({
    body: {
      metadata: { name: 'courier-manager-test' },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['courier.dev'], resources: ['toolconnections'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['configmaps'], resourceNames: ['courier-broker-ca'], verbs: ['list', 'watch'] },
      ],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: 'courier-manager-test' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'courier-manager-test' },
      subjects: [{ kind: 'ServiceAccount', name: 'courier-manager', namespace: 'default' }],
    },
  });
  const request = await core.createNamespacedServiceAccountToken({
    name: 'courier-manager',
    namespace: 'default',
    body: { spec: { audiences: [SERVICE_ACCOUNT_ISSUER], expirationSeconds: 3600 } },
  });
  if (!request.status?.token) throw new Error('TokenRequest returned no token');
  token = request.status.token;
  // The manager authenticates with a service-account token, as in a pod.
  const admin = plane.kubeConfig();
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(admin.getCurrentCluster()!, { name: 'courier-manager', token });
  kubeconfigPath = path.join(await mkdtemp(path.join(os.tmpdir(), 'courier-manager-')), 'kubeconfig');
  await writeFile(kubeconfigPath, kc.exportConfig(), { mode: 0o600 });
});

afterAll(() => plane?.stop());

describe('courier manager process', () => {
  it('refuses a configuration file with a bad field, naming it, and exits 2', async () => {
    const file = path.join(path.dirname(kubeconfigPath), 'courier.yaml');
    await writeFile(
      file,
      'stores:\n  - name: aws\n    type: aws-secrets-manager\n    awsSecretsManager: {}\ndefaultStore: aws\n',
    );
    const { code, stderr } = await runToEnd(MAIN, ['manager', '--kubeconfig', kubeconfigPath, '--config', file]);
    expect(code).toBe(2);
    expect(stderr).toBe(
      `courier: configuration file ${file} is invalid:\ncourier:   - stores.0.awsSecretsManager.region: Invalid input: expected string, received undefined\n`,
    );
  });

  it('asks the apiserver for its version and gives up when told to', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const probe = new ApiServerVersionProbe(kc);
    await expect(probe.fetchVersion(new AbortController().signal)).resolves.toMatchObject({ gitVersion: 'v1.37.2' });
    await expect(probe.fetchVersion(AbortSignal.abort())).rejects.toThrow(/abort/i);
  });

  it('is ready while the apiserver answers, unready without it, hides its token, and stops on SIGTERM', async () => {
    const manager = start([
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      kubeconfigPath,
      '--shutdown-timeout',
      '5s',
    ]);
    const url = await manager.healthProbeUrl();
    expect(await manager.waitForLog('connected to the Kubernetes API server')).toMatchObject({
      level: 'info',
      version: 'v1.37.2',
    });
    expect(await manager.waitForLog('running on the embedded defaults')).toMatchObject({
      stores: ['kubernetes'],
      defaultStore: 'kubernetes',
      kek: 'local',
    });
    // Ready once the broker's caches are warm and its certificate issued.
    let ready = await fetch(`${url}/readyz?verbose`);
    for (let i = 0; i < 100 && ready.status !== 200; i++) {
      await sleep(200);
      ready = await fetch(`${url}/readyz?verbose`);
    }
    const readiness = await ready.text();
    expect(ready.status).toBe(200);
    for (const check of [
      '[+]apiserver ok',
      '[+]store-kubernetes ok',
      '[+]broker ok',
      '[+]shutdown ok',
      'readyz check passed',
    ]) {
      expect(readiness).toContain(check);
    }

    // It publishes an upload key for `kubectl courier connect`.
    const core = plane.kubeConfig().makeApiClient(CoreV1Api);
    let jwks: { keys: Array<{ kid: string; d?: string }> } | undefined;
    for (let i = 0; i < 50 && !jwks; i++) {
      const map = await core
        .readNamespacedConfigMap({ name: 'courier-upload-keys', namespace: 'courier-system' })
        .catch(() => undefined);
      if (map?.data?.['jwks.json']) jwks = JSON.parse(map.data['jwks.json']);
      else await sleep(200);
    }
    expect(jwks?.keys).toHaveLength(1);
    expect(jwks?.keys[0]?.d).toBeUndefined();

    await plane.stop();
    let status = 0;
    for (let i = 0; i < 50 && status !== 503; i++) {
      status = (await fetch(`${url}/readyz`)).status;
      if (status !== 503) await sleep(200);
    }
    expect(status).toBe(503);

    manager.child.kill('SIGTERM');
    expect(await manager.exitCode()).toBe(0);
    expect(JSON.stringify(manager.records)).not.toContain(token);
  });
});
