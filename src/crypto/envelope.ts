// Credentials sealed as compact JWE (dir, A256GCM) under the tenant's data
// key. The protected header names the key (kid) and binds the ciphertext to
// its namespace and ToolConnection; AES-GCM authenticates the header, so a
// ciphertext copied to another name or tenant does not open.
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose';
import type { SecretRef } from '../stores/store.ts';
import type { Credential } from './fingerprint.ts';
import type { TenantKeys } from './tenant-keys.ts';

const BINDING_HEADER = 'courier.dev/binding';

export class BindingMismatchError extends Error {
  constructor(ref: SecretRef) {
    super(`ciphertext is not bound to ${ref.tenant}/${ref.name}`);
    this.name = 'BindingMismatchError';
  }
}

export class CredentialSealer {
  private readonly keys: TenantKeys;

  constructor(keys: TenantKeys) {
    this.keys = keys;
  }

  async seal(credential: Credential, ref: SecretRef): Promise<string> {
    const { id, key } = await this.keys.current(ref.tenant);
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(credential)))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: id, [BINDING_HEADER]: binding(ref) })
      .encrypt(key);
  }

  async open(jwe: string, ref: SecretRef): Promise<Credential> {
    const kid = keyIdOf(jwe);
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, await this.keys.get(ref.tenant, kid));
    if (protectedHeader[BINDING_HEADER] !== binding(ref)) throw new BindingMismatchError(ref);
    return JSON.parse(new TextDecoder().decode(plaintext)) as Credential;
  }

  /** Whether the tenant's current key sealed this ciphertext. */
  async isCurrent(jwe: string, tenant: string): Promise<boolean> {
    return keyIdOf(jwe) === (await this.keys.current(tenant)).id;
  }
}

/** The data key id a ciphertext names (unauthenticated until it opens). */
export function keyIdOf(jwe: string): string {
  const { kid } = decodeProtectedHeader(jwe);
  if (typeof kid !== 'string') throw new Error('ciphertext names no key');
  return kid;
}

const binding = (ref: SecretRef) => `${ref.tenant}/${ref.name}`;
