// The key hierarchy on a real apiserver: sealing, tamper detection, tenant
// binding, fingerprints, and rotation that keeps old data readable and
// resumes when interrupted.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api } from '@kubernetes/client-node';
import { createKeyHierarchy, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { keyIdOf } from '../../src/crypto/envelope.ts';
import { rotateKek, rotateTenantKey, type SealedCredentialLocation } from '../../src/crypto/rotation.ts';
import { KubernetesStore } from '../../src/stores/kubernetes.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { withFailingWrites } from '../support/failing-store.ts';

const credential = () => ({
  accessKeyId: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`,
  secretAccessKey: randomBytes(30).toString('base64'),
});

/** Flips one bit of byte `index` of the decoded JWE segment `segment`. */
function flip(jwe: string, segment: number, index: number): string {
  const parts = jwe.split('.');
  const bytes = Buffer.from(parts[segment]!, 'base64url');
  bytes[index] = bytes[index]! ^ 0x01;
  parts[segment] = bytes.toString('base64url');
  return parts.join('.');
}

describe('key hierarchy', () => {
  let namespace: string;
  let keys: KeyHierarchy;

  beforeAll(async () => {
    namespace = await createTestNamespace('crypto');
    keys = createKeyHierarchy(testKubeConfig(), { namespace });
  });

  it('seals and opens a credential, creating the KEK and tenant key on first use', async () => {
    const secret = credential();
    const ref = { tenant: 'team-a', name: 'prod' };
    const jwe = await keys.sealer.seal(secret, ref);
    expect(jwe.split('.')).toHaveLength(5);
    expect(jwe).not.toContain(secret.secretAccessKey);
    expect(await keys.sealer.open(jwe, ref)).toEqual(secret);
    expect(await keys.tenants()).toContain('team-a');
    expect(await keys.kek.currentId()).toBe('local:v1');
  });

  it('detects any flipped byte in header, IV, ciphertext or tag', async () => {
    const ref = { tenant: 'team-a', name: 'tamper' };
    const jwe = await keys.sealer.seal(credential(), ref);
    let tried = 0;
    for (const segment of [0, 2, 3, 4]) {
      const length = Buffer.from(jwe.split('.')[segment]!, 'base64url').length;
      for (let index = 0; index < length; index++) {
        await expect(keys.sealer.open(flip(jwe, segment, index), ref)).rejects.toThrow();
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(100);
  });

  it('refuses to open a ciphertext under another tenant or name', async () => {
    const jwe = await keys.sealer.seal(credential(), { tenant: 'team-a', name: 'prod' });
    await keys.sealer.seal(credential(), { tenant: 'team-b', name: 'prod' });
    await expect(keys.sealer.open(jwe, { tenant: 'team-a', name: 'staging' })).rejects.toThrow(
      'not bound to team-a/staging',
    );
    await expect(keys.sealer.open(jwe, { tenant: 'team-b', name: 'prod' })).rejects.toThrow();
  });

  it('keeps no plaintext key material outside the wrapped form', async () => {
    const secrets = await testKubeConfig().makeApiClient(CoreV1Api).listNamespacedSecret({ namespace });
    const names = secrets.items.map((s) => s.metadata?.name).sort();
    expect(names).toEqual(expect.arrayContaining(['courier-dek-team-a', 'courier-dek-team-b', 'courier-kek']));
    const ring = secrets.items.find((s) => s.metadata?.name === 'courier-dek-team-a')!;
    const doc = JSON.parse(Buffer.from(ring.data!['document.json']!, 'base64').toString());
    expect(doc.keys[0].kekId).toBe('local:v1');
    expect(doc.keys[0].wrapped.split('.')).toHaveLength(5);
  });

  it('gives stable fingerprints that depend on every field, the kind and the key', async () => {
    const a = { username: 'scanner', password: 'pw-1' };
    const fp = await keys.fingerprinter.fingerprint('generic', a);
    expect(fp).toMatch(/^hs256:[A-Za-z0-9_-]{22}$/);
    expect(await keys.fingerprinter.fingerprint('generic', { password: 'pw-1', username: 'scanner' })).toBe(fp);
    // A new process reading the same key gives the same fingerprint.
    const again = createKeyHierarchy(testKubeConfig(), { namespace });
    expect(await again.fingerprinter.fingerprint('generic', a)).toBe(fp);
    expect(await keys.fingerprinter.fingerprint('generic', { ...a, password: 'pw-2' })).not.toBe(fp);
    expect(await keys.fingerprinter.fingerprint('aws/accessKey', a)).not.toBe(fp);
    // Another installation (another key) cannot reproduce it.
    const other = createKeyHierarchy(testKubeConfig(), { namespace: await createTestNamespace('crypto-other') });
    expect(await other.fingerprinter.fingerprint('generic', a)).not.toBe(fp);
  });

  it('rotates the KEK: old data stays readable and every key is re-wrapped', async () => {
    const ref = { tenant: 'team-a', name: 'before-kek-rotation' };
    const secret = credential();
    const jwe = await keys.sealer.seal(secret, ref);
    const fp = await keys.fingerprinter.fingerprint('aws/accessKey', secret);
    const result = await rotateKek(keys);
    expect(result).toMatchObject({ kekId: 'local:v2', rotated: true });
    expect(result.rewrappedKeys).toBeGreaterThanOrEqual(2);
    for (const tenant of await keys.tenants()) expect(await keys.tenantKeys.needsRewrap(tenant)).toBe(false);
    // A fresh process (no caches) opens the old ciphertext and agrees on the fingerprint.
    const fresh = createKeyHierarchy(testKubeConfig(), { namespace });
    expect(await fresh.sealer.open(jwe, ref)).toEqual(secret);
    expect(await fresh.fingerprinter.fingerprint('aws/accessKey', secret)).toBe(fp);
  });

  it('rotates a tenant key, re-sealing its credentials; an interrupted run resumes', async () => {
    const store = new KubernetesStore('in-cluster', testKubeConfig(), { namespace });
    const tenant = 'team-c';
    const secrets = new Map<string, Record<string, string>>();
    const locations: SealedCredentialLocation[] = [];
    for (let i = 0; i < 5; i++) {
      const ref = { tenant, name: `conn-${i}` };
      const secret = credential();
      secrets.set(ref.name, secret);
      await store.putVersion(ref, await keys.sealer.seal(secret, ref));
      locations.push({ ref, store });
    }
    const oldKey = (await keys.tenantKeys.current(tenant)).id;

    // The store fails after two re-seals: the run stops half-way.
    let writes = 0;
    const failing = withFailingWrites(store, () => ++writes > 2);
    const interrupted = locations.map((l) => ({ ...l, store: failing }));
    await expect(rotateTenantKey({ ...keys, credentials: async () => interrupted }, tenant)).rejects.toThrow(
      'injected outage',
    );
    const newKey = (await keys.tenantKeys.current(tenant)).id;
    expect(newKey).not.toBe(oldKey);

    // Meanwhile everything still opens: some under the old key, some under the new.
    const kids = new Set<string>();
    for (const { ref } of locations) {
      const latest = await store.get(ref);
      kids.add(keyIdOf(latest.payload));
      expect(await keys.sealer.open(latest.payload, ref)).toEqual(secrets.get(ref.name));
    }
    expect(kids).toEqual(new Set([oldKey, newKey]));

    // Running again finishes the job without rotating once more.
    const resumed = await rotateTenantKey({ ...keys, credentials: async () => locations }, tenant);
    expect(resumed).toEqual({ keyId: newKey, rotated: false, resealed: 3 });
    for (const { ref } of locations) {
      const latest = await store.get(ref);
      expect(keyIdOf(latest.payload)).toBe(newKey);
      expect(await keys.sealer.open(latest.payload, ref)).toEqual(secrets.get(ref.name));
      // The version written before rotation is still there and still opens.
      const [first] = await store.listVersions(ref);
      const original = await store.get(ref, first!.version);
      expect(keyIdOf(original.payload)).toBe(oldKey);
      expect(await keys.sealer.open(original.payload, ref)).toEqual(secrets.get(ref.name));
    }

    // A third run has nothing to finish, so it is a new rotation.
    const next = await rotateTenantKey({ ...keys, credentials: async () => locations }, tenant);
    expect(next.rotated).toBe(true);
    expect(next.resealed).toBe(5);
  });

  it('finishes an interrupted KEK rotation instead of starting another', async () => {
    // Simulate an interruption: rotate the KEK without re-wrapping.
    await keys.kek.rotate();
    const current = await keys.kek.currentId();
    expect((await Promise.all((await keys.tenants()).map((t) => keys.tenantKeys.needsRewrap(t)))).some(Boolean)).toBe(
      true,
    );
    const result = await rotateKek(keys);
    expect(result.rotated).toBe(false);
    expect(result.kekId).toBe(current);
    for (const tenant of await keys.tenants()) expect(await keys.tenantKeys.needsRewrap(tenant)).toBe(false);
  });
});
