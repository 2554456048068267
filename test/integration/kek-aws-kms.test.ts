// The aws-kms KEK against moto's KMS, through the real AWS SDK: the whole
// hierarchy works under it, the binding context is enforced by KMS, and
// moving to another KMS key re-wraps everything while old data stays readable.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createKeyHierarchy, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { AwsKmsKek } from '../../src/crypto/kek/aws-kms.ts';
import { rotateKek } from '../../src/crypto/rotation.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';

let moto: MotoPeer;
let keyArns: string[];
let namespace: string;

const kekFor = (keyId: string) =>
  new AwsKmsKek({ keyId, region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });

beforeAll(async () => {
  moto = await startMoto();
  const kms = new KMSClient({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials });
  keyArns = [];
  for (const description of ['courier KEK A', 'courier KEK B']) {
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: description }));
    keyArns.push(KeyMetadata!.Arn!);
  }
  namespace = await createTestNamespace('kek-kms');
});

afterAll(() => moto?.stop());

describe('aws-kms KEK', () => {
  let keys: KeyHierarchy;
  const ref = { tenant: 'team-kms', name: 'prod' };
  const secret = { accessKeyId: 'AKIAEXAMPLEKMS00001', secretAccessKey: randomBytes(30).toString('base64') };
  let sealed: string;
  let fingerprint: string;

  beforeAll(() => {
    keys = createKeyHierarchy(testKubeConfig(), { namespace, kek: kekFor(keyArns[0]!) });
  });

  it('wraps tenant, fingerprint and upload keys under the KMS key', async () => {
    sealed = await keys.sealer.seal(secret, ref);
    expect(await keys.sealer.open(sealed, ref)).toEqual(secret);
    fingerprint = await keys.fingerprinter.fingerprint('aws/accessKey', secret);
    await keys.uploadKeys.ensureCurrent(24 * 60 * 60 * 1000);
    expect(await keys.kek.currentId()).toBe(`aws-kms:${keyArns[0]}`);
    expect(await keys.tenantKeys.needsRewrap(ref.tenant)).toBe(false);
  });

  it('lets KMS refuse a wrapped key presented under another context', async () => {
    const wrapped = await keys.kek.wrap(randomBytes(32), 'tenant:team-kms/k1');
    await expect(keys.kek.unwrap(wrapped, 'tenant:someone-else/k1')).rejects.toThrow();
    expect(await keys.kek.unwrap(wrapped, 'tenant:team-kms/k1')).toHaveLength(32);
  });

  it('moves to another KMS key: finishes the re-wrap, old data opens, fingerprints hold', async () => {
    const moved = createKeyHierarchy(testKubeConfig(), { namespace, kek: kekFor(keyArns[1]!) });
    expect(await moved.tenantKeys.needsRewrap(ref.tenant)).toBe(true);
    const result = await rotateKek(moved);
    expect(result).toMatchObject({ kekId: `aws-kms:${keyArns[1]}`, rotated: false });
    expect(result.rewrappedKeys).toBe(3); // the tenant key, the fingerprint key, the upload key
    expect(await moved.tenantKeys.needsRewrap(ref.tenant)).toBe(false);
    expect(await moved.sealer.open(sealed, ref)).toEqual(secret);
    expect(await moved.fingerprinter.fingerprint('aws/accessKey', secret)).toBe(fingerprint);
  });
});
