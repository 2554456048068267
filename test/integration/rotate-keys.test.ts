// `courier rotate-keys` as an operator runs it, against the real apiserver:
// it rotates the KEK and a tenant's data key, re-sealing the credentials the
// tenant's ToolConnections point at, and finishes an interrupted run.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { createKeyHierarchy, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { keyIdOf } from '../../src/crypto/envelope.ts';
import { KubernetesStore } from '../../src/stores/kubernetes.ts';
import { createTestNamespace, kubectl, testKubeConfig } from '../support/cluster.ts';
import { MAIN, runToEnd } from '../support/component.ts';

let courierNamespace: string;
let tenant: string;
let keys: KeyHierarchy;
let store: KubernetesStore;
const secrets = new Map<string, Record<string, string>>();

const rotateKeys = (...args: string[]) =>
  runToEnd(MAIN, [
    'rotate-keys',
    '--kubeconfig',
    process.env.COURIER_TEST_KUBECONFIG!,
    '--namespace',
    courierNamespace,
    ...args,
  ]);

beforeAll(async () => {
  courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('team');
  keys = createKeyHierarchy(testKubeConfig(), { namespace: courierNamespace, keyCacheMs: 0 });
  store = new KubernetesStore('kubernetes', testKubeConfig(), { namespace: courierNamespace });
  for (const name of ['ssh-a', 'ssh-b', 'ssh-c']) {
    const fields = { username: 'scanner', password: randomBytes(12).toString('hex') };
    secrets.set(name, fields);
    const ref = { tenant, name };
    const { version } = await store.putVersion(ref, await keys.sealer.seal(fields, ref));
    const tc = {
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name, namespace: tenant },
      spec: { provider: 'generic', generic: { purpose: 'ssh' }, credentialsSecretRef: { name: `${name}-src` } },
    };
    await kubectl(['apply', '-f', '-'], { input: stringify(tc) });
    await kubectl([
      'patch',
      'tc',
      name,
      '-n',
      tenant,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { store: 'kubernetes', storeVersion: version } }),
    ]);
  }
});

describe('courier rotate-keys', () => {
  it('says what to rotate when told nothing, and exits 2', async () => {
    const { code, stderr } = await rotateKeys();
    expect(code).toBe(2);
    expect(stderr).toBe('courier: say what to rotate: --kek, --tenants <namespaces> or --all-tenants\n');
  });

  it('rotates the KEK and a tenant key, re-sealing every credential', async () => {
    const before = (await keys.tenantKeys.current(tenant)).id;
    const { code, stdout } = await rotateKeys('--kek', '--tenants', tenant);
    expect(code).toBe(0);
    expect(stdout).toContain('key-encryption key: rotated to local:v2;');
    expect(stdout).toContain(`tenant ${tenant}: new data key k2; 3 credentials re-sealed`);
    const after = (await keys.tenantKeys.current(tenant)).id;
    expect([before, after]).toEqual(['k1', 'k2']);
    for (const [name, fields] of secrets) {
      const latest = await store.get({ tenant, name });
      expect(keyIdOf(latest.payload)).toBe('k2');
      expect(await keys.sealer.open(latest.payload, { tenant, name })).toEqual(fields);
    }
  });

  it('finishes a tenant rotation that stopped half-way', async () => {
    // As if a run stopped right after making k3 current.
    await keys.tenantKeys.rotate(tenant);
    const { code, stdout } = await rotateKeys('--all-tenants');
    expect(code).toBe(0);
    expect(stdout).toContain(`tenant ${tenant}: finished moving to data key k3; 3 credentials re-sealed`);
  });
});
