// Key rotation with no downtime: new versions become current at once while
// old ones stay readable, and the re-wrapping / re-sealing that follows is
// idempotent. An interrupted run leaves work behind that the next run sees
// and finishes, instead of starting yet another rotation.
import { isStoreError } from '../stores/errors.ts';
import type { SecretRef, SecretStore } from '../stores/store.ts';
import type { CredentialSealer } from './envelope.ts';
import type { Fingerprinter } from './fingerprint.ts';
import type { KeyEncryptionKey } from './kek/provider.ts';
import type { TenantKeys } from './tenant-keys.ts';
import type { UploadKeys } from './upload-keys.ts';

export interface RotationProgress {
  (event: { step: string; done: number; total: number }): void;
}

export interface KekRotationResult {
  kekId: string;
  /** False when the run only finished an earlier, interrupted rotation. */
  rotated: boolean;
  rewrappedKeys: number;
}

/** Rotates the KEK and re-wraps every key under it: tenant keys, the fingerprint key, the upload keys. */
export async function rotateKek(
  deps: {
    kek: KeyEncryptionKey;
    tenantKeys: TenantKeys;
    fingerprinter: Fingerprinter;
    uploadKeys: UploadKeys;
    tenants: () => Promise<string[]>;
  },
  progress: RotationProgress = () => {},
): Promise<KekRotationResult> {
  const tenants = await deps.tenants();
  const unfinished = (await Promise.all(tenants.map((t) => deps.tenantKeys.needsRewrap(t)))).some(Boolean);
  const rotated = !unfinished;
  if (rotated) await deps.kek.rotate();
  let rewrappedKeys = 0;
  for (const [i, tenant] of tenants.entries()) {
    rewrappedKeys += await deps.tenantKeys.rewrap(tenant);
    progress({ step: 'rewrap tenant keys', done: i + 1, total: tenants.length });
  }
  if (await deps.fingerprinter.rewrap()) rewrappedKeys++;
  rewrappedKeys += await deps.uploadKeys.rewrap();
  return { kekId: await deps.kek.currentId(), rotated, rewrappedKeys };
}

/** A credential to re-seal, and the store that holds it. */
export interface SealedCredentialLocation {
  ref: SecretRef;
  store: SecretStore;
}

export interface TenantRotationResult {
  keyId: string;
  rotated: boolean;
  resealed: number;
}

/** Gives a tenant a new data key and re-seals its credentials with it. */
export async function rotateTenantKey(
  deps: { tenantKeys: TenantKeys; sealer: CredentialSealer; credentials: () => Promise<SealedCredentialLocation[]> },
  tenant: string,
  progress: RotationProgress = () => {},
): Promise<TenantRotationResult> {
  const credentials = await deps.credentials();
  const stale = await staleOnes(deps.sealer, tenant, credentials);
  const rotated = stale.length === 0;
  if (rotated) await deps.tenantKeys.rotate(tenant);
  const todo = rotated ? credentials : stale;
  let resealed = 0;
  for (const [i, location] of todo.entries()) {
    if (await reseal(deps.sealer, location)) resealed++;
    progress({ step: `reseal ${tenant}`, done: i + 1, total: todo.length });
  }
  return { keyId: (await deps.tenantKeys.current(tenant)).id, rotated, resealed };
}

async function staleOnes(sealer: CredentialSealer, tenant: string, credentials: SealedCredentialLocation[]) {
  const stale = [];
  for (const location of credentials) {
    const latest = await location.store.get(location.ref).catch((error: unknown) => {
      if (isStoreError(error, 'NotFound')) return undefined;
      throw error;
    });
    if (latest && !(await sealer.isCurrent(latest.payload, tenant))) stale.push(location);
  }
  return stale;
}

/** Writes the latest version again under the current key, unless it already is. */
async function reseal(sealer: CredentialSealer, { ref, store }: SealedCredentialLocation): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const latest = await store.get(ref);
    if (await sealer.isCurrent(latest.payload, ref.tenant)) return false;
    const payload = await sealer.seal(await sealer.open(latest.payload, ref), ref);
    try {
      await store.putVersion(ref, payload, { expectedCurrent: latest.version });
      return true;
    } catch (error) {
      // Someone wrote meanwhile (the controller, or a parallel run): look again.
      if (!isStoreError(error, 'Conflict') || attempt >= 5) throw error;
    }
  }
}
