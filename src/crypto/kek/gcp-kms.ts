// The `gcp-kms` KEK: wrapping is Cloud KMS Encrypt/Decrypt under a symmetric
// (ENCRYPT_DECRYPT) CryptoKey, with the binding context as the additional
// authenticated data, so a wrapped key only opens under the context it was
// wrapped for. The key material never leaves KMS.
//
// Key ids name the CryptoKeyVersion, not the CryptoKey:
//   gcp-kms:projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3
// Cloud KMS rotates by adding a version and making it primary; old versions
// keep decrypting, but they can only be disabled or destroyed once nothing is
// wrapped under them any more. With a version-level id, `currentId()` (the
// primary version) moves on every rotation, ours or KMS's own scheduled one,
// so `rotateKek` sees the keys still wrapped under older versions and
// re-wraps them, and afterwards nothing needs the old versions. A key-level id
// would never change on rotation: re-wrapping would be skipped and the old
// versions would have to stay enabled for ever. The version named in a key id
// is what Encrypt reports having used, so it is exact even if the primary
// moves during a wrap.
//
// Moving to another CryptoKey is a configuration change, as with aws-kms:
// unwrap decrypts with the CryptoKey named in the key id, and the next
// `rotate-keys` run re-wraps everything under the new key.
//
// Every Encrypt/Decrypt carries CRC32C checksums of its inputs and checks the
// ones KMS returns, as Google recommends, so corruption in transit fails the
// call instead of storing or returning damaged key material.
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';
import type { KeyEncryptionKey, WrappedKey } from './provider.ts';

export interface GcpKmsKekConfig {
  /** projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k> */
  keyName: string;
  /** host:port of another endpoint (a regional or private one, or an emulator). */
  endpoint?: string;
  /** Plain-text gRPC without credentials: for an emulator only. */
  insecure?: boolean;
}

const PREFIX = 'gcp-kms:';
const KEY_NAME = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;
const VERSION_NAME =
  /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/([^/]+)$/;
/**
 * How long a primary version read by GetCryptoKey is reused. Rotation asks
 * for the current id once per key it looks at, and KMS read quotas are far
 * lower than its crypto quotas. Our own rotate() updates it at once; a
 * rotation elsewhere shows up within this time (wraps are unaffected: their
 * id is the version KMS reports using).
 */
const PRIMARY_TTL_MS = 5_000;
const PENDING_POLL_MS = 500;
const PENDING_TIMEOUT_MS = 60_000;

type Bytes = Uint8Array | string | null | undefined;
type Checksum = { value?: number | string | { toString(): string } | null } | null | undefined;

export class GcpKmsKek implements KeyEncryptionKey {
  readonly provider = 'gcp-kms';
  private readonly client: KeyManagementServiceClient;
  private readonly keyName: string;
  private primary: { name: Promise<string>; until: number } | undefined;

  constructor(config: GcpKmsKekConfig) {
    if (!KEY_NAME.test(config.keyName)) {
      throw new Error(`not a Cloud KMS key name (projects/…/locations/…/keyRings/…/cryptoKeys/…): ${config.keyName}`);
    }
    this.keyName = config.keyName;
    const options: ConstructorParameters<typeof KeyManagementServiceClient>[0] = {};
    if (config.endpoint) {
      const match = /^(.*):(\d+)$/.exec(config.endpoint);
      Object.assign(
        options,
        match ? { apiEndpoint: match[1], port: Number(match[2]) } : { apiEndpoint: config.endpoint },
      );
    }
    if (config.insecure) {
      // No OAuth token for an emulator; naming the universe keeps the client
      // from probing for Application Default Credentials.
      Object.assign(options, { sslCreds: grpc.credentials.createInsecure(), universeDomain: 'googleapis.com' });
    }
    this.client = new KeyManagementServiceClient(options);
  }

  /** The key's primary CryptoKeyVersion: what new wraps use. */
  async currentId(): Promise<string> {
    if (!this.primary || Date.now() >= this.primary.until) {
      const name = this.readPrimary();
      const entry = { name, until: Date.now() + PRIMARY_TTL_MS };
      this.primary = entry;
      name.catch(() => {
        if (this.primary === entry) this.primary = undefined;
      });
    }
    return PREFIX + (await this.primary.name);
  }

  async wrap(key: Uint8Array, context: string): Promise<WrappedKey> {
    const aad = Buffer.from(context, 'utf8');
    const [response] = await this.client.encrypt({
      name: this.keyName,
      plaintext: key,
      additionalAuthenticatedData: aad,
      plaintextCrc32c: { value: crc32c(key) },
      additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
    });
    const ciphertext = bytes(response.ciphertext);
    if (!response.name || !VERSION_NAME.test(response.name) || ciphertext.length === 0) {
      throw new Error('Cloud KMS Encrypt returned no ciphertext or key version');
    }
    if (
      !response.verifiedPlaintextCrc32c ||
      !response.verifiedAdditionalAuthenticatedDataCrc32c ||
      !checksumMatches(ciphertext, response.ciphertextCrc32c)
    ) {
      throw new Error('Cloud KMS Encrypt failed its CRC32C integrity checks: the request or response was corrupted');
    }
    return { kekId: PREFIX + response.name, wrapped: ciphertext.toString('base64') };
  }

  async unwrap(wrapped: WrappedKey, context: string): Promise<Uint8Array> {
    if (!wrapped.kekId.startsWith(PREFIX)) throw new Error(`not a gcp-kms key id: ${wrapped.kekId}`);
    const version = VERSION_NAME.exec(wrapped.kekId.slice(PREFIX.length));
    if (!version) throw new Error(`not a Cloud KMS key version: ${wrapped.kekId}`);
    const ciphertext = Buffer.from(wrapped.wrapped, 'base64');
    const aad = Buffer.from(context, 'utf8');
    // Decrypt takes the CryptoKey; KMS finds the version from the ciphertext.
    const [response] = await this.client.decrypt({
      name: version[1],
      ciphertext,
      additionalAuthenticatedData: aad,
      ciphertextCrc32c: { value: crc32c(ciphertext) },
      additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
    });
    const plaintext = bytes(response.plaintext);
    if (plaintext.length === 0) throw new Error('Cloud KMS Decrypt returned no plaintext');
    if (!checksumMatches(plaintext, response.plaintextCrc32c)) {
      throw new Error('Cloud KMS Decrypt failed its CRC32C integrity check: the response was corrupted');
    }
    return plaintext;
  }

  /** Adds a CryptoKeyVersion and makes it primary; older versions keep decrypting. */
  async rotate(): Promise<string> {
    const [created] = await this.client.createCryptoKeyVersion({ parent: this.keyName, cryptoKeyVersion: {} });
    const name = created.name;
    const id = name ? VERSION_NAME.exec(name)?.[2] : undefined;
    if (!name || !id) throw new Error('Cloud KMS CreateCryptoKeyVersion returned no version name');
    await this.untilGenerated(name, created.state);
    await this.client.updateCryptoKeyPrimaryVersion({ name: this.keyName, cryptoKeyVersionId: id });
    this.primary = { name: Promise.resolve(name), until: Date.now() + PRIMARY_TTL_MS };
    return PREFIX + name;
  }

  /** Closes the gRPC channel. */
  close(): Promise<void> {
    return this.client.close();
  }

  private async readPrimary(): Promise<string> {
    const [key] = await this.client.getCryptoKey({ name: this.keyName });
    const name = key.primary?.name;
    if (!name) throw new Error(`Cloud KMS key ${this.keyName} has no primary version (is it an ENCRYPT_DECRYPT key?)`);
    return name;
  }

  /** Some protection levels generate new versions asynchronously; only an ENABLED one can become primary. */
  private async untilGenerated(name: string, state: unknown): Promise<void> {
    const deadline = Date.now() + PENDING_TIMEOUT_MS;
    while (state === 'PENDING_GENERATION') {
      if (Date.now() >= deadline) throw new Error(`Cloud KMS key version ${name} is still being generated`);
      await new Promise((resolve) => setTimeout(resolve, PENDING_POLL_MS));
      [{ state }] = await this.client.getCryptoKeyVersion({ name });
    }
  }
}

function bytes(value: Bytes): Buffer {
  if (value === null || value === undefined) return Buffer.alloc(0);
  return typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value);
}

function checksumMatches(data: Uint8Array, checksum: Checksum): boolean {
  const value = checksum?.value;
  return value !== null && value !== undefined && BigInt(value.toString()) === BigInt(crc32c(data));
}

const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let bit = 0; bit < 8; bit++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

/** CRC32C (Castagnoli), the checksum Cloud KMS uses. */
export function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
