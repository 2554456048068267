// Fingerprints: a keyed HMAC-SHA256 over a canonical form of a credential.
// The same credential gives the same fingerprint whatever the store, so
// people can compare; without the key, a guess cannot be checked offline.
import { createHmac, randomBytes } from 'node:crypto';
import type { SecretDocument } from '../kube/secret-document.ts';
import type { KeyEncryptionKey, WrappedKey } from './kek/provider.ts';

export type Credential = Record<string, string>;

const CONTEXT = 'fingerprint';
const PREFIX = 'hs256:';

export class Fingerprinter {
  private readonly kek: KeyEncryptionKey;
  private readonly document: SecretDocument<WrappedKey>;
  private key: Promise<Uint8Array> | undefined;

  constructor(kek: KeyEncryptionKey, document: SecretDocument<WrappedKey>) {
    this.kek = kek;
    this.document = document;
  }

  /** `kind` separates credential types whose fields could coincide (aws/accessKey vs generic). */
  async fingerprint(kind: string, credential: Credential): Promise<string> {
    const mac = createHmac('sha256', await this.hmacKey())
      .update(canonical(kind, credential))
      .digest('base64url');
    // 128 bits: ample to tell credentials apart, short enough for a column.
    return PREFIX + mac.slice(0, 22);
  }

  /** Re-wraps the HMAC key under the current KEK version; the key itself never changes. */
  async rewrap(): Promise<boolean> {
    const kekId = await this.kek.currentId();
    let changed = false;
    await this.document.update(async (wrapped) => {
      if (!wrapped || wrapped.kekId === kekId) return undefined;
      changed = true;
      return this.kek.wrap(await this.kek.unwrap(wrapped, CONTEXT), CONTEXT);
    });
    return changed;
  }

  private hmacKey(): Promise<Uint8Array> {
    this.key ??= (async () => {
      const wrapped = await this.document.update(async (current) => current ?? this.kek.wrap(randomBytes(32), CONTEXT));
      return this.kek.unwrap(wrapped!, CONTEXT);
    })().catch((error: unknown) => {
      this.key = undefined;
      throw error;
    });
    return this.key;
  }
}

/** Sorted fields, length-prefixed by JSON, so no two credentials share a form. */
export function canonical(kind: string, credential: Credential): string {
  const fields = Object.keys(credential)
    .sort()
    .map((name) => [name, credential[name]]);
  return JSON.stringify([kind, fields]);
}
