// The contract every SecretStore passes, run against each real server.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { isStoreError } from '../../src/stores/errors.ts';
import { withResilience } from '../../src/stores/resilient.ts';
import type { SecretRef, SecretStore } from '../../src/stores/store.ts';

export interface StoreUnderTest {
  store: SecretStore;
  /** The same store configured against an endpoint where nothing answers. */
  unreachable: SecretStore;
}

const ciphertext = () =>
  `eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..${randomBytes(12).toString('base64url')}.${randomBytes(48).toString('base64url')}.${randomBytes(16).toString('base64url')}`;

export function describeStoreContract(title: string, setup: () => StoreUnderTest): void {
  describe(`${title} store contract`, () => {
    const fresh = (): SecretRef => ({
      tenant: `team-${randomBytes(3).toString('hex')}`,
      name: `conn-${randomBytes(3).toString('hex')}`,
    });

    it('round-trips a payload', async () => {
      const { store } = setup();
      const ref = fresh();
      const payload = ciphertext();
      const written = await store.putVersion(ref, payload);
      const read = await store.get(ref);
      expect(read.payload).toBe(payload);
      expect(read.version).toBe(written.version);
    });

    it('keeps versions in order and reads any of them', async () => {
      const { store } = setup();
      const ref = fresh();
      const payloads = [ciphertext(), ciphertext(), ciphertext()];
      const written = [];
      for (const p of payloads) written.push(await store.putVersion(ref, p));
      const listed = await store.listVersions(ref);
      expect(listed.map((v) => v.version)).toEqual(written.map((v) => v.version));
      expect(new Set(written.map((v) => v.version)).size).toBe(3);
      for (const [i, v] of written.entries()) expect((await store.get(ref, v.version)).payload).toBe(payloads[i]);
      expect((await store.get(ref)).payload).toBe(payloads[2]);
    });

    it('keeps tenants apart', async () => {
      const { store } = setup();
      const a = fresh();
      const b = { tenant: `${a.tenant}x`, name: a.name };
      await store.putVersion(a, 'payload-a');
      await store.putVersion(b, 'payload-b');
      expect((await store.get(a)).payload).toBe('payload-a');
      expect((await store.get(b)).payload).toBe('payload-b');
    });

    it('deletes every version, and deleting again succeeds', async () => {
      const { store } = setup();
      const ref = fresh();
      await store.putVersion(ref, ciphertext());
      await store.putVersion(ref, ciphertext());
      await store.delete(ref);
      await expect(store.get(ref)).rejects.toMatchObject({ kind: 'NotFound', retryable: false });
      await store.delete(ref);
    });

    it('reports NotFound for what does not exist', async () => {
      const { store } = setup();
      const ref = fresh();
      await expect(store.get(ref)).rejects.toMatchObject({ kind: 'NotFound' });
      await expect(store.listVersions(ref)).rejects.toMatchObject({ kind: 'NotFound' });
      await store.putVersion(ref, ciphertext());
      await expect(store.get(ref, '999999')).rejects.toMatchObject({ kind: 'NotFound' });
    });

    it('detects concurrent writers with expectedCurrent', async () => {
      const { store } = setup();
      const ref = fresh();
      const first = await store.putVersion(ref, ciphertext(), { expectedCurrent: null });
      await expect(store.putVersion(ref, ciphertext(), { expectedCurrent: null })).rejects.toMatchObject({
        kind: 'Conflict',
      });
      const second = await store.putVersion(ref, ciphertext(), { expectedCurrent: first.version });
      await expect(store.putVersion(ref, ciphertext(), { expectedCurrent: first.version })).rejects.toMatchObject({
        kind: 'Conflict',
      });
      expect((await store.listVersions(ref)).map((v) => v.version)).toEqual([first.version, second.version]);
    });

    it('answers health checks', async () => {
      await setup().store.health();
    });

    it('turns an unreachable server into a retryable error and loses nothing', async () => {
      const { store, unreachable } = setup();
      const ref = fresh();
      const payload = ciphertext();
      const written = await store.putVersion(ref, payload);
      const resilient = withResilience(unreachable, { attempts: 3, baseDelayMs: 10, maxDelayMs: 50, timeoutMs: 2_000 });
      for (const attempt of [
        resilient.get(ref),
        resilient.putVersion(ref, ciphertext(), { expectedCurrent: written.version }),
        resilient.health(),
      ]) {
        const error = await attempt.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isStoreError(error, 'Unavailable')).toBe(true);
        expect(isStoreError(error) && error.retryable).toBe(true);
      }
      expect((await store.listVersions(ref)).map((v) => v.version)).toEqual([written.version]);
      expect((await store.get(ref)).payload).toBe(payload);
    });
  });
}
