// Client-side encryption for credential uploads. The manager keeps ECDH-ES
// key pairs (private halves wrapped by the KEK) and publishes the public
// halves as a JWKS in a ConfigMap; `kubectl courier connect` encrypts a
// credential to the newest key, so its plaintext never reaches etcd. The
// previous key stays usable for one rotation, for uploads already under way.
import { randomBytes } from 'node:crypto';
import { ApiException, type CoreV1Api } from '@kubernetes/client-node';
import {
  CompactEncrypt,
  compactDecrypt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import type { SecretDocument } from '../kube/secret-document.ts';
import type { Credential } from './fingerprint.ts';
import { rewrapAll, type KeyEncryptionKey, type WrappedKey } from './kek/provider.ts';

export const UPLOAD_ALGORITHM = 'ECDH-ES+A256KW';
export const UPLOAD_ENCRYPTION = 'A256GCM';
export const UPLOAD_CONTENT_TYPE = 'courier.dev/credential+json';
export const JWKS_KEY = 'jwks.json';
/**
 * Protected-header parameter naming the ToolConnection an upload is for
 * ("namespace/name"). The header is authenticated with the ciphertext, so an
 * upload copied into another ToolConnection's source Secret is refused rather
 * than stored under a name its author never chose.
 */
export const UPLOAD_TARGET_HEADER = 'courier.dev/for';
const KEYS_KEPT = 2;

export interface UploadKeysDocument {
  keys: Array<WrappedKey & { kid: string; createdAt: string }>;
}

export interface Jwks {
  keys: JWK[];
}

/** The ToolConnection an upload is meant for. */
export interface UploadTarget {
  namespace: string;
  name: string;
}

const targetName = (target: UploadTarget) => `${target.namespace}/${target.name}`;

export class UploadKeyUnknownError extends Error {
  constructor(kid: unknown) {
    super(
      `the credential was encrypted to upload key ${String(kid)}, which Courier no longer holds; encrypt it again (kubectl courier connect)`,
    );
    this.name = 'UploadKeyUnknownError';
  }
}

export class UploadKeys {
  private readonly kek: KeyEncryptionKey;
  private readonly document: SecretDocument<UploadKeysDocument>;
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly configMapName: string;

  constructor(options: {
    kek: KeyEncryptionKey;
    document: SecretDocument<UploadKeysDocument>;
    core: CoreV1Api;
    namespace: string;
    configMapName: string;
  }) {
    this.kek = options.kek;
    this.document = options.document;
    this.core = options.core;
    this.namespace = options.namespace;
    this.configMapName = options.configMapName;
  }

  /**
   * Makes sure a key younger than `maxAgeMs` exists (creating one, and
   * dropping all but the newest previous key, if not) and that the published
   * JWKS matches. Safe to call from every replica, any number of times.
   */
  async ensureCurrent(maxAgeMs: number, now = new Date()): Promise<Jwks> {
    const document = await this.document.update(async (current) => {
      const newest = current?.keys.at(-1);
      if (newest && now.getTime() - Date.parse(newest.createdAt) < maxAgeMs) return undefined;
      const { publicKey, privateKey } = await generateKeyPair(UPLOAD_ALGORITHM, { crv: 'P-256', extractable: true });
      const kid = `upload-${now.toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
      const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: UPLOAD_ALGORITHM, use: 'enc' };
      const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: UPLOAD_ALGORITHM, use: 'enc' };
      const wrapped = await this.kek.wrap(Buffer.from(JSON.stringify({ privateJwk, publicJwk })), context(kid));
      const keys = [...(current?.keys ?? []), { kid, createdAt: now.toISOString(), ...wrapped }];
      return { keys: keys.slice(-KEYS_KEPT) };
    });
    const jwks = await this.publicKeys(document!);
    await this.publish(jwks);
    return jwks;
  }

  /** Re-wraps the private keys under the current KEK version. Returns how many. */
  async rewrap(): Promise<number> {
    let count = 0;
    await this.document.update(async (current) => {
      if (!current) return undefined;
      const { entries, rewrapped } = await rewrapAll(this.kek, current.keys, (entry) => context(entry.kid));
      count = rewrapped;
      return rewrapped > 0 ? { keys: entries } : undefined;
    });
    return count;
  }

  /** Opens an upload meant for `target`; fails clearly if it was encrypted to a key no longer held or for another ToolConnection. */
  async decrypt(jwe: string, target: UploadTarget): Promise<Credential> {
    const { kid } = decodeProtectedHeader(jwe);
    const entry = (await this.document.read())?.keys.find((k) => k.kid === kid);
    if (!entry) throw new UploadKeyUnknownError(kid);
    const { privateJwk } = await this.unwrap(entry);
    const { plaintext, protectedHeader } = await compactDecrypt(jwe, await importJWK(privateJwk, UPLOAD_ALGORITHM), {
      keyManagementAlgorithms: [UPLOAD_ALGORITHM],
      contentEncryptionAlgorithms: [UPLOAD_ENCRYPTION],
    });
    // Read only after decryption succeeded: only then is the header known to be the author's.
    const intended = protectedHeader[UPLOAD_TARGET_HEADER];
    if (intended !== targetName(target)) {
      throw new Error(
        typeof intended === 'string'
          ? `the upload was encrypted for ToolConnection ${intended}, not ${targetName(target)}; encrypt it for this one (kubectl courier connect)`
          : `the upload does not name the ToolConnection it is for; encrypt it again (kubectl courier connect)`,
      );
    }
    return parseCredential(plaintext);
  }

  private async publicKeys(document: UploadKeysDocument): Promise<Jwks> {
    const keys = [];
    // Newest first: clients encrypt to the first key.
    for (const entry of [...document.keys].reverse()) keys.push((await this.unwrap(entry)).publicJwk);
    return { keys };
  }

  private async unwrap(entry: UploadKeysDocument['keys'][number]): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
    return JSON.parse(Buffer.from(await this.kek.unwrap(entry, context(entry.kid))).toString());
  }

  private async publish(jwks: Jwks): Promise<void> {
    const data = { [JWKS_KEY]: JSON.stringify(jwks, null, 2) };
    const metadata = {
      name: this.configMapName,
      namespace: this.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'courier' },
    };
    try {
      const existing = await this.core.readNamespacedConfigMap({ name: this.configMapName, namespace: this.namespace });
      if (existing.data?.[JWKS_KEY] === data[JWKS_KEY]) return;
      await this.core.replaceNamespacedConfigMap({
        name: this.configMapName,
        namespace: this.namespace,
        body: { metadata: { ...metadata, resourceVersion: existing.metadata?.resourceVersion ?? '' }, data },
      });
    } catch (error) {
      if (!(error instanceof ApiException && error.code === 404)) throw error;
      await this.core.createNamespacedConfigMap({ namespace: this.namespace, body: { metadata, data } });
    }
  }
}

/** The client side: encrypts a credential for `target` to the newest key of a published JWKS. */
export async function encryptForUpload(credential: Credential, jwks: Jwks, target: UploadTarget): Promise<string> {
  const key = jwks.keys[0];
  if (!key?.kid) throw new Error('the published upload keys are empty; is the Courier manager running?');
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(credential)))
    .setProtectedHeader({
      alg: UPLOAD_ALGORITHM,
      enc: UPLOAD_ENCRYPTION,
      kid: key.kid,
      cty: UPLOAD_CONTENT_TYPE,
      [UPLOAD_TARGET_HEADER]: targetName(target),
    })
    .encrypt(await importJWK(key, UPLOAD_ALGORITHM));
}

function parseCredential(plaintext: Uint8Array): Credential {
  const value: unknown = JSON.parse(new TextDecoder().decode(plaintext));
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error('upload is not a JSON object');
  for (const [field, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new Error(`upload field "${field}" is not a string`);
  }
  return value as Credential;
}

const context = (kid: string) => `upload-key:${kid}`;
