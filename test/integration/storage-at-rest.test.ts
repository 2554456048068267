// What the stores keep is ciphertext only: after sealing credentials into all
// four stores, neither etcd (read raw) nor the peers' stored state holds any
// of their plaintext values.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { createKeyHierarchy, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { AwsSecretsManagerStore } from '../../src/stores/aws-secrets-manager.ts';
import { GcpSecretManagerStore } from '../../src/stores/gcp-secret-manager.ts';
import { KubernetesStore } from '../../src/stores/kubernetes.ts';
import type { SecretRef, SecretStore } from '../../src/stores/store.ts';
import { VaultStore } from '../../src/stores/vault.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { etcdSource, findLeaks, valuesSource, type LeakSource } from '../support/leak-scanner.ts';
import {
  startGcpSecretManagerEmulator,
  startMoto,
  startOpenBao,
  type GcpSecretManagerEmulatorPeer,
  type MotoPeer,
  type OpenBaoPeer,
} from '../support/peers.ts';

const distinctive = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;

const CREDENTIALS: Array<{ name: string; fields: Record<string, string> }> = [
  { name: 'aws-key', fields: { accessKeyId: distinctive('AKIA'), secretAccessKey: distinctive('secret') } },
  { name: 'ssh.bastion', fields: { username: distinctive('user'), password: distinctive('password') } },
  {
    name: 'winrm',
    fields: { username: distinctive('admin'), password: distinctive('pw'), domain: distinctive('CORP') },
  },
];
const SECRET_VALUES = CREDENTIALS.flatMap((c) => Object.values(c.fields));

let moto: MotoPeer;
let bao: OpenBaoPeer;
let emulator: GcpSecretManagerEmulatorPeer;
let gcp: GcpSecretManagerStore;
let stores: SecretStore[];
let keys: KeyHierarchy;
let courierNamespace: string;
let tenant: string;
const gcpProject = `courier-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  [moto, bao, emulator] = await Promise.all([startMoto(), startOpenBao(), startGcpSecretManagerEmulator()]);
  courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('tenant');
  const tokenFile = path.join(await mkdtemp(path.join(os.tmpdir(), 'courier-at-rest-')), 'token');
  await writeFile(tokenFile, bao.rootToken, { mode: 0o600 });
  gcp = new GcpSecretManagerStore('gcp', {
    project: gcpProject,
    prefix: 'courier_',
    endpoint: emulator.endpoint,
    insecure: true,
  });
  stores = [
    new KubernetesStore('in-cluster', testKubeConfig(), { namespace: courierNamespace }),
    new AwsSecretsManagerStore('aws', {
      region: moto.region,
      endpoint: moto.endpoint,
      credentials: moto.credentials,
      prefix: 'courier/',
      recoveryWindowDays: 0,
    }),
    gcp,
    new VaultStore('vault', {
      address: bao.endpoint,
      mount: 'secret',
      pathPrefix: 'courier',
      auth: { method: 'token', tokenFile },
    }),
  ];
  keys = createKeyHierarchy(testKubeConfig(), { namespace: courierNamespace });
  for (const store of stores) {
    for (const credential of CREDENTIALS) {
      const ref: SecretRef = { tenant, name: credential.name };
      await store.putVersion(ref, await keys.sealer.seal(credential.fields, ref));
    }
  }
});

afterAll(async () => {
  await gcp?.close();
  await Promise.all([moto?.stop(), bao?.stop(), emulator?.stop()]);
});

/** Everything moto holds, as its own state dump. */
const motoState: LeakSource = async () => [
  { where: 'moto state', text: await (await fetch(`${moto.endpoint}/moto-api/data.json`)).text() },
];

/** Every version of every secret the stores wrote, as the stores hand them back. */
const storedPayloads: LeakSource = async () => {
  const payloads: unknown[] = [];
  for (const store of stores) {
    for (const { name } of CREDENTIALS) {
      const ref = { tenant, name };
      for (const { version } of await store.listVersions(ref)) payloads.push((await store.get(ref, version)).payload);
    }
  }
  return valuesSource('stored payload', payloads)();
};

describe('credentials at rest', () => {
  it('are stored in every store and open again', async () => {
    for (const store of stores) {
      for (const credential of CREDENTIALS) {
        const ref = { tenant, name: credential.name };
        expect(await keys.sealer.open((await store.get(ref)).payload, ref)).toEqual(credential.fields);
      }
    }
  });

  it('leave no plaintext in etcd, in moto, or in what any store keeps', async () => {
    const leaks = await findLeaks(SECRET_VALUES, [
      etcdSource(process.env.COURIER_TEST_ETCD_URL!),
      motoState,
      storedPayloads,
    ]);
    expect(leaks).toEqual([]);
  });

  it('would notice a plaintext value in etcd (the scan can fail)', async () => {
    const canary = distinctive('canary');
    const core = testKubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({
      namespace: tenant,
      body: { metadata: { name: 'plain-canary' }, stringData: { password: canary } },
    });
    try {
      const leaks = await findLeaks([canary], [etcdSource(process.env.COURIER_TEST_ETCD_URL!)]);
      expect(leaks).toContainEqual({
        where: `etcd /registry/secrets/${tenant}/plain-canary`,
        secretIndex: 0,
        encoding: 'raw',
      });
    } finally {
      await core.deleteNamespacedSecret({ name: 'plain-canary', namespace: tenant });
    }
  });
});
