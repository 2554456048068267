// The vault store logging in with a Kubernetes service-account token: OpenBao
// checks the token against the real test apiserver (TokenReview), as Vault's
// Kubernetes auth does in a cluster.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { VaultStore } from '../../src/stores/vault.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { SERVICE_ACCOUNT_ISSUER } from '../support/control-plane.ts';
import { startOpenBao, type OpenBaoPeer } from '../support/peers.ts';

let bao: OpenBaoPeer;
let namespace: string;
let dir: string;

async function bao_(method: string, apiPath: string, body?: unknown): Promise<void> {
  const response = await fetch(`${bao.endpoint}/v1/${apiPath}`, {
    method,
    headers: { 'x-vault-token': bao.rootToken },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!response.ok) throw new Error(`${method} ${apiPath}: HTTP ${response.status} ${await response.text()}`);
}

async function serviceAccountToken(core: CoreV1Api, name: string): Promise<string> {
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  const request = await core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [SERVICE_ACCOUNT_ISSUER], expirationSeconds: 3600 } },
  });
  if (!request.status?.token) throw new Error('no token');
  return request.status.token;
}

beforeAll(async () => {
  bao = await startOpenBao();
  namespace = await createTestNamespace('vault-k8s');
  dir = await mkdtemp(path.join(os.tmpdir(), 'courier-vault-k8s-'));
  const kc = testKubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  // OpenBao's reviewer may call TokenReview, as in a real cluster.
  const reviewerToken = await serviceAccountToken(core, 'openbao-reviewer');
  await kc.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({
    body: {
      metadata: { name: `openbao-reviewer-${namespace}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:auth-delegator' },
      subjects: [{ kind: 'ServiceAccount', name: 'openbao-reviewer', namespace }],
    },
  });
  const cluster = kc.getCurrentCluster()!;
  await bao_('POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
  await bao_('POST', 'auth/kubernetes/config', {
    kubernetes_host: cluster.server,
    kubernetes_ca_cert: Buffer.from(cluster.caData!, 'base64').toString(),
    token_reviewer_jwt: reviewerToken,
  });
  await bao_('PUT', 'sys/policies/acl/courier', {
    policy:
      'path "secret/data/courier/*" { capabilities = ["create", "read", "update"] }\npath "secret/metadata/courier/*" { capabilities = ["read", "delete"] }',
  });
  await bao_('POST', 'auth/kubernetes/role/courier', {
    bound_service_account_names: ['courier-manager'],
    bound_service_account_namespaces: [namespace],
    audience: SERVICE_ACCOUNT_ISSUER,
    token_policies: ['courier'],
    token_ttl: '1h',
  });
  await writeFile(path.join(dir, 'manager-token'), await serviceAccountToken(core, 'courier-manager'));
  await writeFile(path.join(dir, 'other-token'), await serviceAccountToken(core, 'someone-else'));
}, 120_000);

afterAll(() => bao?.stop());

const store = (tokenFile: string) =>
  new VaultStore('vault', {
    address: bao.endpoint,
    mount: 'secret',
    pathPrefix: 'courier',
    auth: { method: 'kubernetes', role: 'courier', mount: 'kubernetes', tokenFile: path.join(dir, tokenFile) },
  });

describe('vault store with Kubernetes auth', () => {
  it('logs in with the bound service account and round-trips a payload', async () => {
    const vault = store('manager-token');
    const ref = { tenant: 'team-a', name: 'db' };
    const { version } = await vault.putVersion(ref, 'sealed-payload-1');
    expect(await vault.get(ref)).toMatchObject({ version, payload: 'sealed-payload-1' });
    await vault.health();
  });

  it('is denied with another service account, as a typed error', async () => {
    await expect(store('other-token').get({ tenant: 'team-a', name: 'db' })).rejects.toMatchObject({
      kind: 'Denied',
      retryable: false,
    });
  });
});
