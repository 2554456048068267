// The `local` KEK: 256-bit keys kept in a Secret in Courier's namespace,
// generated on first use. Wrapping is a JWE (dir, A256GCM) whose protected
// header carries the KEK version and the binding context, both authenticated.
import { randomBytes } from 'node:crypto';
import { CompactEncrypt, compactDecrypt } from 'jose';
import type { SecretDocument } from '../../kube/secret-document.ts';
import type { KeyEncryptionKey, WrappedKey } from './provider.ts';

export interface LocalKekDocument {
  current: number;
  versions: Array<{ version: number; key: string; createdAt: string }>;
}

const CONTEXT_HEADER = 'courier.dev/context';
const CACHE_MS = 60_000;

export class LocalKek implements KeyEncryptionKey {
  readonly provider = 'local';
  private readonly document: SecretDocument<LocalKekDocument>;
  private cached: { document: LocalKekDocument; until: number } | undefined;

  constructor(document: SecretDocument<LocalKekDocument>) {
    this.document = document;
  }

  async currentId(): Promise<string> {
    return kekId((await this.load()).current);
  }

  async wrap(key: Uint8Array, context: string): Promise<WrappedKey> {
    const document = await this.load();
    const id = kekId(document.current);
    const wrapped = await new CompactEncrypt(key)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: id, [CONTEXT_HEADER]: context })
      .encrypt(keyOf(document, document.current));
    return { kekId: id, wrapped };
  }

  async unwrap(wrapped: WrappedKey, context: string): Promise<Uint8Array> {
    const version = parseKekId(wrapped.kekId);
    let document = await this.load();
    if (!document.versions.some((v) => v.version === version)) document = await this.load(true);
    const { plaintext, protectedHeader } = await compactDecrypt(wrapped.wrapped, keyOf(document, version));
    if (protectedHeader.kid !== wrapped.kekId || protectedHeader[CONTEXT_HEADER] !== context) {
      throw new Error(`wrapped key does not belong to ${context}`);
    }
    return plaintext;
  }

  async rotate(): Promise<string> {
    const document = await this.document.update((current) => addVersion(current));
    this.cached = undefined;
    return kekId(document!.current);
  }

  private async load(refresh = false): Promise<LocalKekDocument> {
    if (!refresh && this.cached && this.cached.until > Date.now()) return this.cached.document;
    // Created on first use; a replica that loses the race reads the winner's key.
    const document = await this.document.update((current) => (current ? undefined : addVersion(undefined)));
    this.cached = { document: document!, until: Date.now() + CACHE_MS };
    return document!;
  }
}

function addVersion(current: LocalKekDocument | undefined): LocalKekDocument {
  const version = (current?.current ?? 0) + 1;
  const versions = [
    ...(current?.versions ?? []),
    { version, key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() },
  ];
  return { current: version, versions };
}

function keyOf(document: LocalKekDocument, version: number): Uint8Array {
  const entry = document.versions.find((v) => v.version === version);
  if (!entry) throw new Error(`local KEK version ${version} is missing from Secret; was it deleted?`);
  return Buffer.from(entry.key, 'base64');
}

const kekId = (version: number) => `local:v${version}`;

function parseKekId(id: string): number {
  const match = /^local:v(\d+)$/.exec(id);
  if (!match) throw new Error(`not a local KEK id: ${id}`);
  return Number(match[1]);
}
