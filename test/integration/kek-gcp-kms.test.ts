// The gcp-kms KEK through the real @google-cloud/kms client, against the
// in-process fake Cloud KMS (test/support/fake-cloud-kms.ts: no real
// implementation can run here). The whole hierarchy works under it, the
// binding context is enforced by KMS, rotation moves to a new primary version
// and re-wraps everything (so the old version can be disabled), an interrupted
// rotation is finished without another version, and moving to another
// CryptoKey re-wraps while old data stays readable.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import { createKeyHierarchy, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { crc32c, GcpKmsKek } from '../../src/crypto/kek/gcp-kms.ts';
import type { WrappedKey } from '../../src/crypto/kek/provider.ts';
import { rotateKek } from '../../src/crypto/rotation.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { startFakeCloudKms, type FakeCloudKms } from '../support/fake-cloud-kms.ts';

let kms: FakeCloudKms;
let admin: KeyManagementServiceClient;
let keyNames: string[];
let namespace: string;
const keks: GcpKmsKek[] = [];

const kekFor = (keyName: string) => {
  const kek = new GcpKmsKek({ keyName, endpoint: kms.endpoint, insecure: true });
  keks.push(kek);
  return kek;
};
const hierarchy = (keyName: string) => createKeyHierarchy(testKubeConfig(), { namespace, kek: kekFor(keyName) });
const primaryOf = async (keyName: string) => (await admin.getCryptoKey({ name: keyName }))[0].primary?.name;
const version = (keyName: string, n: number) => `${keyName}/cryptoKeyVersions/${n}`;

beforeAll(async () => {
  kms = await startFakeCloudKms();
  const [apiEndpoint, port] = kms.endpoint.split(':');
  admin = new KeyManagementServiceClient({
    apiEndpoint,
    port: Number(port),
    sslCreds: grpc.credentials.createInsecure(),
    universeDomain: 'googleapis.com',
  });
  const [keyRing] = await admin.createKeyRing({
    parent: 'projects/courier-test/locations/global',
    keyRingId: 'courier',
    keyRing: {},
  });
  keyNames = [];
  for (const cryptoKeyId of ['kek-a', 'kek-b']) {
    const [key] = await admin.createCryptoKey({
      parent: keyRing.name!,
      cryptoKeyId,
      cryptoKey: { purpose: 'ENCRYPT_DECRYPT', versionTemplate: { algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' } },
    });
    keyNames.push(key.name!);
  }
  namespace = await createTestNamespace('kek-gcp');
});

afterAll(async () => {
  await Promise.all(keks.map((kek) => kek.close()));
  await admin?.close();
  await kms?.stop();
});

describe('gcp-kms KEK', () => {
  let keys: KeyHierarchy;
  const ref = { tenant: 'team-gcp', name: 'prod' };
  const secret = { accessKeyId: 'AKIAEXAMPLEGCP00001', secretAccessKey: randomBytes(30).toString('base64') };
  let sealed: string;
  let fingerprint: string;
  let wrappedUnderVersion1: WrappedKey;

  beforeAll(() => {
    keys = hierarchy(keyNames[0]!);
  });

  it('computes CRC32C as Cloud KMS does', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); // the standard check value
  });

  it('wraps tenant, fingerprint and upload keys under the primary key version', async () => {
    sealed = await keys.sealer.seal(secret, ref);
    expect(await keys.sealer.open(sealed, ref)).toEqual(secret);
    fingerprint = await keys.fingerprinter.fingerprint('aws/accessKey', secret);
    await keys.uploadKeys.ensureCurrent(24 * 60 * 60 * 1000);
    expect(await keys.kek.currentId()).toBe(`gcp-kms:${version(keyNames[0]!, 1)}`);
    expect(await keys.tenantKeys.needsRewrap(ref.tenant)).toBe(false);
  });

  it('lets KMS refuse a wrapped key presented under another context', async () => {
    const wrapped = await keys.kek.wrap(randomBytes(32), 'tenant:team-gcp/k1');
    expect(wrapped.kekId).toBe(`gcp-kms:${version(keyNames[0]!, 1)}`);
    await expect(keys.kek.unwrap(wrapped, 'tenant:someone-else/k1')).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
    });
    expect(await keys.kek.unwrap(wrapped, 'tenant:team-gcp/k1')).toHaveLength(32);
    wrappedUnderVersion1 = wrapped;
    await expect(
      keys.kek.unwrap({ ...wrapped, kekId: `aws-kms:${keyNames[0]}` }, 'tenant:team-gcp/k1'),
    ).rejects.toThrow('not a gcp-kms key id');
  });

  it('rotates to a new primary version and re-wraps, so the old version can be disabled', async () => {
    const result = await rotateKek(keys);
    expect(result).toEqual({ kekId: `gcp-kms:${version(keyNames[0]!, 2)}`, rotated: true, rewrappedKeys: 3 });
    expect(await primaryOf(keyNames[0]!)).toBe(version(keyNames[0]!, 2));
    expect(await keys.tenantKeys.needsRewrap(ref.tenant)).toBe(false);

    // Nothing is wrapped under version 1 any more: with it disabled, a fresh
    // hierarchy (no cached keys) still opens old data and fingerprints alike.
    await admin.updateCryptoKeyVersion({
      cryptoKeyVersion: { name: version(keyNames[0]!, 1), state: 'DISABLED' },
      updateMask: { paths: ['state'] },
    });
    await expect(keys.kek.unwrap(wrappedUnderVersion1, 'tenant:team-gcp/k1')).rejects.toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
    });
    const fresh = hierarchy(keyNames[0]!);
    expect(await fresh.sealer.open(sealed, ref)).toEqual(secret);
    expect(await fresh.fingerprinter.fingerprint('aws/accessKey', secret)).toBe(fingerprint);
    expect(await fresh.uploadKeys.rewrap()).toBe(0);
  });

  it('finishes an interrupted rotation without creating another version', async () => {
    // The KEK rotated, but the run stopped before re-wrapping anything.
    expect(await keys.kek.rotate()).toBe(`gcp-kms:${version(keyNames[0]!, 3)}`);
    expect(await keys.tenantKeys.needsRewrap(ref.tenant)).toBe(true);

    const versionsCreated = kms.calls('CreateCryptoKeyVersion');
    const result = await rotateKek(hierarchy(keyNames[0]!));
    expect(result).toEqual({ kekId: `gcp-kms:${version(keyNames[0]!, 3)}`, rotated: false, rewrappedKeys: 3 });
    expect(kms.calls('CreateCryptoKeyVersion')).toBe(versionsCreated);
    const [versions] = await admin.listCryptoKeyVersions({ parent: keyNames[0]! });
    expect(versions.map((v) => v.name)).toEqual([1, 2, 3].map((n) => version(keyNames[0]!, n)));
    expect(await primaryOf(keyNames[0]!)).toBe(version(keyNames[0]!, 3));

    const fresh = hierarchy(keyNames[0]!);
    expect(await fresh.tenantKeys.needsRewrap(ref.tenant)).toBe(false);
    expect(await fresh.sealer.open(sealed, ref)).toEqual(secret);
    expect(await fresh.fingerprinter.fingerprint('aws/accessKey', secret)).toBe(fingerprint);
  });

  it('moves to another CryptoKey: finishes the re-wrap, old data opens, fingerprints hold', async () => {
    const moved = hierarchy(keyNames[1]!);
    expect(await moved.tenantKeys.needsRewrap(ref.tenant)).toBe(true);
    const result = await rotateKek(moved);
    expect(result).toEqual({ kekId: `gcp-kms:${version(keyNames[1]!, 1)}`, rotated: false, rewrappedKeys: 3 });
    expect(await moved.tenantKeys.needsRewrap(ref.tenant)).toBe(false);
    expect(await moved.sealer.open(sealed, ref)).toEqual(secret);
    expect(await moved.fingerprinter.fingerprint('aws/accessKey', secret)).toBe(fingerprint);
  });
});
