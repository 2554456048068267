// Client-side encryption of uploads: the client reads only the published
// JWKS; the manager decrypts; keys rotate with one previous key kept; the
// private halves never reach etcd in plaintext.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { createKeyHierarchy, UPLOAD_KEYS_CONFIGMAP, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { encryptForUpload, JWKS_KEY, type Jwks } from '../../src/crypto/upload-keys.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { etcdSource, findLeaks } from '../support/leak-scanner.ts';

const DAY = 24 * 60 * 60 * 1000;
/** The ToolConnection the uploads in this suite are meant for. */
const TARGET = { namespace: 'team', name: 'db' };

describe('upload keys', () => {
  let namespace: string;
  let keys: KeyHierarchy;
  let core: CoreV1Api;

  /** What `kubectl courier connect` sees: the ConfigMap, nothing secret. */
  async function publishedJwks(): Promise<Jwks> {
    const map = await core.readNamespacedConfigMap({ name: UPLOAD_KEYS_CONFIGMAP, namespace });
    return JSON.parse(map.data![JWKS_KEY]!) as Jwks;
  }

  beforeAll(async () => {
    namespace = await createTestNamespace('upload');
    keys = createKeyHierarchy(testKubeConfig(), { namespace });
    core = testKubeConfig().makeApiClient(CoreV1Api);
  });

  it('publishes a public key that a client encrypts to and the manager opens', async () => {
    const jwks = await keys.uploadKeys.ensureCurrent(30 * DAY);
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', use: 'enc' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(await publishedJwks()).toEqual(jwks);

    const credential = { username: 'scanner', password: randomBytes(16).toString('hex') };
    const jwe = await encryptForUpload(credential, await publishedJwks(), TARGET);
    expect(jwe).not.toContain(credential.password);
    expect(await keys.uploadKeys.decrypt(jwe, TARGET)).toEqual(credential);
  });

  it('opens an upload only for the ToolConnection it names', async () => {
    const jwe = await encryptForUpload({ password: 'meant-for-db-only' }, await publishedJwks(), TARGET);
    await expect(keys.uploadKeys.decrypt(jwe, { ...TARGET, name: 'other' })).rejects.toThrow(
      'the upload was encrypted for ToolConnection team/db, not team/other',
    );
    await expect(keys.uploadKeys.decrypt(jwe, { namespace: 'elsewhere', name: 'db' })).rejects.toThrow(
      'not elsewhere/db',
    );
    // Rewriting the header to name another target breaks its authentication.
    const [header, ...rest] = jwe.split('.');
    const forged = { ...JSON.parse(Buffer.from(header!, 'base64url').toString()), 'courier.dev/for': 'team/other' };
    const forgedJwe = [Buffer.from(JSON.stringify(forged)).toString('base64url'), ...rest].join('.');
    await expect(keys.uploadKeys.decrypt(forgedJwe, { ...TARGET, name: 'other' })).rejects.toThrow();
  });

  it('is idempotent while the key is young', async () => {
    const before = await publishedJwks();
    expect(await keys.uploadKeys.ensureCurrent(30 * DAY)).toEqual(before);
  });

  it('rotates, keeping the previous key for uploads under way, and refuses older ones clearly', async () => {
    const first = await publishedJwks();
    const oldUpload = await encryptForUpload({ password: 'uploaded-before-rotation' }, first, TARGET);
    const second = await keys.uploadKeys.ensureCurrent(30 * DAY, new Date(Date.now() + 31 * DAY));
    expect(second.keys).toHaveLength(2);
    expect(second.keys[1]!.kid).toBe(first.keys[0]!.kid);
    expect(await keys.uploadKeys.decrypt(oldUpload, TARGET)).toEqual({ password: 'uploaded-before-rotation' });

    await keys.uploadKeys.ensureCurrent(30 * DAY, new Date(Date.now() + 62 * DAY));
    const third = await publishedJwks();
    expect(third.keys.map((k) => k.kid)).not.toContain(first.keys[0]!.kid);
    await expect(keys.uploadKeys.decrypt(oldUpload, TARGET)).rejects.toThrow(
      `the credential was encrypted to upload key ${first.keys[0]!.kid}, which Courier no longer holds`,
    );
  });

  it('rejects a tampered upload', async () => {
    const jwe = await encryptForUpload({ password: 'tamper-me-please' }, await publishedJwks(), TARGET);
    const parts = jwe.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0] = ciphertext[0]! ^ 1;
    parts[3] = ciphertext.toString('base64url');
    await expect(keys.uploadKeys.decrypt(parts.join('.'), TARGET)).rejects.toThrow();
  });

  it('keeps the private keys out of etcd in plaintext', async () => {
    const document = await core.readNamespacedSecret({ name: 'courier-upload-keys', namespace });
    const stored = JSON.parse(Buffer.from(document.data!['document.json']!, 'base64').toString());
    // Unwrap through the KEK to learn the private scalars, then look for them raw.
    const privateScalars: string[] = [];
    for (const entry of stored.keys) {
      const { privateJwk } = JSON.parse(
        Buffer.from(await keys.kek.unwrap(entry, `upload-key:${entry.kid}`)).toString(),
      );
      privateScalars.push(privateJwk.d);
    }
    expect(privateScalars.length).toBe(2);
    expect(await findLeaks(privateScalars, [etcdSource(process.env.COURIER_TEST_ETCD_URL!)])).toEqual([]);
  });
});
