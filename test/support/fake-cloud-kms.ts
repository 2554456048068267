// TEST-ONLY: an in-process fake of Google Cloud KMS (google.cloud.kms.v1
// KeyManagementService) for the gcp-kms KEK tests.
//
// Why a fake: no real Cloud KMS implementation can run here. Google ships no
// KMS emulator, and the community ones (github.com/blackwell-systems/
// gcp-kms-emulator, github.com/winor30/fake-cloud-kms) cannot be installed:
// the Go module proxy refuses both with 403. The project allows a hand-written
// fake only in that case, and only one that speaks the wire protocol: this is
// a real gRPC server, built from the service definition that ships with
// @google-cloud/kms (build/protos/protos.json), so the provider under test
// goes through the real KeyManagementServiceClient, gax and gRPC stack.
//
// What it implements, and where it follows Cloud KMS:
// - CreateKeyRing, CreateCryptoKey (ENCRYPT_DECRYPT only; version 1 becomes
//   primary unless skipInitialVersionCreation), GetCryptoKey,
//   CreateCryptoKeyVersion (ENABLED at once, not made primary),
//   GetCryptoKeyVersion, ListCryptoKeyVersions (pageSize/pageToken honoured;
//   filter and orderBy ignored), UpdateCryptoKeyPrimaryVersion,
//   UpdateCryptoKeyVersion (the `state` field only: ENABLED <-> DISABLED),
//   Encrypt and Decrypt. Everything else answers UNIMPLEMENTED.
// - Each version has its own random AES-256-GCM key. Encrypt on a CryptoKey
//   uses its primary version (on a CryptoKeyVersion name, that version) and
//   answers `name` = the version used. Decrypt takes a CryptoKey name and
//   finds the version from the ciphertext, whose format (ours; Cloud KMS's is
//   opaque) is:
//     0x01 | version id (uint32 BE) | IV (12) | AES-GCM ciphertext | tag (16)
//   with the first 5 bytes and the request's additionalAuthenticatedData as
//   the GCM AAD. A different AAD, a tampered ciphertext or another key's
//   ciphertext fails with INVALID_ARGUMENT, like Cloud KMS.
// - NOT_FOUND for unknown key rings, keys and versions; ALREADY_EXISTS for
//   duplicate ids; FAILED_PRECONDITION for using a version that is not
//   ENABLED (or a key without a primary).
// - CRC32C is honoured: request checksums that do not match the data fail
//   with INVALID_ARGUMENT, the `verified_*_crc32c` flags report which ones
//   were checked, and responses carry ciphertext_crc32c / plaintext_crc32c.
// Not modelled: IAM, quotas, locations, rotation schedules, destruction,
// asymmetric or HSM/EKM keys, raw encryption.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface FakeCloudKms {
  /** host:port for KeyManagementServiceClient's apiEndpoint/port (plain-text gRPC). */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  /** How many calls each RPC (by its proto name, e.g. "CreateCryptoKeyVersion") has served. */
  calls(method: string): number;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';
const FORMAT = 0x01;
const HEADER = 5;
const IV = 12;
const TAG = 16;
const MAX_DATA = 64 * 1024;
const ID = /^[a-zA-Z0-9_-]{1,63}$/;
const LOCATION = /^projects\/[^/]+\/locations\/[^/]+$/;
const KEY = /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)$/;
const VERSION = /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/(\d+)$/;

type VersionState = 'ENABLED' | 'DISABLED';

interface Version {
  id: number;
  state: VersionState;
  material: Buffer;
  createTime: Date;
}

interface CryptoKey {
  name: string;
  createTime: Date;
  labels: Record<string, string>;
  primary: number | undefined;
  versions: Map<number, Version>;
}

/** A gRPC status to answer with. */
class KmsStatus extends Error {
  readonly code: grpc.status;
  constructor(code: grpc.status, details: string) {
    super(details);
    this.code = code;
  }
}

const fail = (code: grpc.status, details: string): never => {
  throw new KmsStatus(code, details);
};

// Requests as @grpc/proto-loader decodes them (camelCase, longs and enums as
// strings, bytes as Buffers, unset messages as null).
interface Int64Value {
  value: string;
}
interface CreateKeyRingRequest {
  parent: string;
  keyRingId: string;
}
interface CreateCryptoKeyRequest {
  parent: string;
  cryptoKeyId: string;
  cryptoKey: { purpose: string; labels: Record<string, string> } | null;
  skipInitialVersionCreation: boolean;
}
interface NameRequest {
  name: string;
}
interface ParentRequest {
  parent: string;
}
interface ListCryptoKeyVersionsRequest {
  parent: string;
  pageSize: number;
  pageToken: string;
}
interface UpdateCryptoKeyPrimaryVersionRequest {
  name: string;
  cryptoKeyVersionId: string;
}
interface UpdateCryptoKeyVersionRequest {
  cryptoKeyVersion: { name: string; state: string } | null;
  updateMask: { paths: string[] } | null;
}
interface EncryptRequest {
  name: string;
  plaintext: Buffer;
  additionalAuthenticatedData: Buffer;
  plaintextCrc32c: Int64Value | null;
  additionalAuthenticatedDataCrc32c: Int64Value | null;
}
interface DecryptRequest {
  name: string;
  ciphertext: Buffer;
  additionalAuthenticatedData: Buffer;
  ciphertextCrc32c: Int64Value | null;
  additionalAuthenticatedDataCrc32c: Int64Value | null;
}

export async function startFakeCloudKms(): Promise<FakeCloudKms> {
  const kms = new FakeKms();
  const counts = new Map<string, number>();
  const service = loadService();
  const implementation: grpc.UntypedServiceImplementation = {};
  const handlers: Record<string, (request: never) => unknown> = {
    CreateKeyRing: (r: CreateKeyRingRequest) => kms.createKeyRing(r),
    CreateCryptoKey: (r: CreateCryptoKeyRequest) => kms.createCryptoKey(r),
    GetCryptoKey: (r: NameRequest) => kms.getCryptoKey(r),
    CreateCryptoKeyVersion: (r: ParentRequest) => kms.createCryptoKeyVersion(r),
    GetCryptoKeyVersion: (r: NameRequest) => kms.getCryptoKeyVersion(r),
    ListCryptoKeyVersions: (r: ListCryptoKeyVersionsRequest) => kms.listCryptoKeyVersions(r),
    UpdateCryptoKeyPrimaryVersion: (r: UpdateCryptoKeyPrimaryVersionRequest) => kms.updateCryptoKeyPrimaryVersion(r),
    UpdateCryptoKeyVersion: (r: UpdateCryptoKeyVersionRequest) => kms.updateCryptoKeyVersion(r),
    Encrypt: (r: EncryptRequest) => kms.encrypt(r),
    Decrypt: (r: DecryptRequest) => kms.decrypt(r),
  };
  for (const [method, handle] of Object.entries(handlers)) {
    if (!(method in service)) throw new Error(`KeyManagementService has no method ${method}`);
    implementation[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      counts.set(method, (counts.get(method) ?? 0) + 1);
      try {
        callback(null, handle(call.request as never));
      } catch (error) {
        if (error instanceof KmsStatus) callback({ code: error.code, details: error.message });
        else callback({ code: grpc.status.INTERNAL, details: String(error) });
      }
    };
  }

  const server = new grpc.Server();
  server.addService(service, implementation);
  // Port 0: the kernel picks a free port at bind time, so nothing can take it
  // between choosing and binding (test/support/ports.ts has that race).
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${HOST}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  return {
    endpoint: `${HOST}:${port}`,
    host: HOST,
    port,
    calls: (method) => counts.get(method) ?? 0,
    stop: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

function loadService(): grpc.ServiceDefinition {
  const require = createRequire(import.meta.url);
  const json = JSON.parse(readFileSync(require.resolve('@google-cloud/kms/build/protos/protos.json'), 'utf8'));
  const definition = protoLoader.fromJSON(json, {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const service = definition['google.cloud.kms.v1.KeyManagementService'];
  if (!service || !('Encrypt' in service)) {
    throw new Error('protos.json has no google.cloud.kms.v1.KeyManagementService');
  }
  return service as grpc.ServiceDefinition;
}

class FakeKms {
  private readonly keyRings = new Map<string, Date>();
  private readonly keys = new Map<string, CryptoKey>();

  createKeyRing({ parent, keyRingId }: CreateKeyRingRequest) {
    if (!LOCATION.test(parent)) fail(grpc.status.INVALID_ARGUMENT, `invalid parent: ${parent}`);
    if (!ID.test(keyRingId)) fail(grpc.status.INVALID_ARGUMENT, `invalid key_ring_id: ${keyRingId}`);
    const name = `${parent}/keyRings/${keyRingId}`;
    if (this.keyRings.has(name)) fail(grpc.status.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
    const createTime = new Date();
    this.keyRings.set(name, createTime);
    return { name, createTime: timestamp(createTime) };
  }

  createCryptoKey({ parent, cryptoKeyId, cryptoKey, skipInitialVersionCreation }: CreateCryptoKeyRequest) {
    if (!this.keyRings.has(parent)) fail(grpc.status.NOT_FOUND, `KeyRing ${parent} not found.`);
    if (!ID.test(cryptoKeyId)) fail(grpc.status.INVALID_ARGUMENT, `invalid crypto_key_id: ${cryptoKeyId}`);
    if (cryptoKey?.purpose !== 'ENCRYPT_DECRYPT') {
      fail(grpc.status.UNIMPLEMENTED, `the fake supports only ENCRYPT_DECRYPT keys, not ${cryptoKey?.purpose}`);
    }
    const name = `${parent}/cryptoKeys/${cryptoKeyId}`;
    if (this.keys.has(name)) fail(grpc.status.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
    const key: CryptoKey = {
      name,
      createTime: new Date(),
      labels: { ...cryptoKey?.labels },
      primary: undefined,
      versions: new Map(),
    };
    this.keys.set(name, key);
    if (!skipInitialVersionCreation) key.primary = this.addVersion(key).id;
    return this.keyMessage(key);
  }

  getCryptoKey({ name }: NameRequest) {
    return this.keyMessage(this.key(name));
  }

  createCryptoKeyVersion({ parent }: ParentRequest) {
    const key = this.key(parent);
    return versionMessage(key, this.addVersion(key));
  }

  getCryptoKeyVersion({ name }: NameRequest) {
    const { key, version } = this.version(name);
    return versionMessage(key, version);
  }

  listCryptoKeyVersions({ parent, pageSize, pageToken }: ListCryptoKeyVersionsRequest) {
    const key = this.key(parent);
    const all = [...key.versions.values()].sort((a, b) => a.id - b.id);
    const start = pageToken ? Number(pageToken) : 0;
    if (!Number.isInteger(start) || start < 0) fail(grpc.status.INVALID_ARGUMENT, `invalid page_token: ${pageToken}`);
    const end = pageSize > 0 ? start + pageSize : all.length;
    return {
      cryptoKeyVersions: all.slice(start, end).map((v) => versionMessage(key, v)),
      nextPageToken: end < all.length ? String(end) : '',
      totalSize: all.length,
    };
  }

  updateCryptoKeyPrimaryVersion({ name, cryptoKeyVersionId }: UpdateCryptoKeyPrimaryVersionRequest) {
    const key = this.key(name);
    const version = key.versions.get(Number(cryptoKeyVersionId));
    if (!/^\d+$/.test(cryptoKeyVersionId) || !version) {
      return fail(grpc.status.NOT_FOUND, `CryptoKeyVersion ${name}/cryptoKeyVersions/${cryptoKeyVersionId} not found.`);
    }
    if (version.state !== 'ENABLED') {
      fail(grpc.status.FAILED_PRECONDITION, `CryptoKeyVersion ${versionName(key, version)} is not enabled.`);
    }
    key.primary = version.id;
    return this.keyMessage(key);
  }

  updateCryptoKeyVersion({ cryptoKeyVersion, updateMask }: UpdateCryptoKeyVersionRequest) {
    const paths = updateMask?.paths ?? [];
    if (paths.length !== 1 || paths[0] !== 'state') {
      fail(grpc.status.UNIMPLEMENTED, 'the fake updates only the `state` of a CryptoKeyVersion');
    }
    const { key, version } = this.version(cryptoKeyVersion?.name ?? '');
    const state = cryptoKeyVersion?.state;
    if (state !== 'ENABLED' && state !== 'DISABLED') {
      return fail(grpc.status.INVALID_ARGUMENT, `state must be ENABLED or DISABLED, not ${state}`);
    }
    version.state = state;
    return versionMessage(key, version);
  }

  encrypt(request: EncryptRequest) {
    const { plaintext, additionalAuthenticatedData: aad } = request;
    if (plaintext.length === 0) fail(grpc.status.INVALID_ARGUMENT, 'plaintext is required.');
    if (plaintext.length > MAX_DATA) fail(grpc.status.INVALID_ARGUMENT, 'plaintext is larger than 64 KiB.');
    if (aad.length > MAX_DATA)
      fail(grpc.status.INVALID_ARGUMENT, 'additional_authenticated_data is larger than 64 KiB.');
    const verifiedPlaintextCrc32c = checkCrc(plaintext, request.plaintextCrc32c, 'plaintext');
    const verifiedAadCrc32c = checkCrc(aad, request.additionalAuthenticatedDataCrc32c, 'additional_authenticated_data');

    const asVersion = VERSION.exec(request.name);
    let key: CryptoKey;
    let version: Version;
    if (asVersion) {
      ({ key, version } = this.version(request.name));
    } else {
      key = this.key(request.name);
      if (key.primary === undefined)
        fail(grpc.status.FAILED_PRECONDITION, `CryptoKey ${key.name} has no primary version.`);
      version = key.versions.get(key.primary!)!;
    }
    if (version.state !== 'ENABLED') {
      fail(grpc.status.FAILED_PRECONDITION, `CryptoKeyVersion ${versionName(key, version)} is not enabled.`);
    }

    const header = Buffer.alloc(HEADER);
    header.writeUInt8(FORMAT, 0);
    header.writeUInt32BE(version.id, 1);
    const iv = randomBytes(IV);
    const cipher = createCipheriv('aes-256-gcm', version.material, iv);
    cipher.setAAD(Buffer.concat([header, aad]));
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const ciphertext = Buffer.concat([header, iv, sealed, cipher.getAuthTag()]);
    return {
      name: versionName(key, version),
      ciphertext,
      ciphertextCrc32c: { value: String(crc32c(ciphertext)) },
      verifiedPlaintextCrc32c,
      verifiedAdditionalAuthenticatedDataCrc32c: verifiedAadCrc32c,
      protectionLevel: 'SOFTWARE',
    };
  }

  decrypt(request: DecryptRequest) {
    const { ciphertext, additionalAuthenticatedData: aad } = request;
    if (!KEY.test(request.name)) fail(grpc.status.INVALID_ARGUMENT, `name must be a CryptoKey: ${request.name}`);
    const key = this.key(request.name);
    checkCrc(ciphertext, request.ciphertextCrc32c, 'ciphertext');
    checkCrc(aad, request.additionalAuthenticatedDataCrc32c, 'additional_authenticated_data');

    const invalid = () => fail(grpc.status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
    if (ciphertext.length < HEADER + IV + TAG || ciphertext.readUInt8(0) !== FORMAT) invalid();
    const version = key.versions.get(ciphertext.readUInt32BE(1)) ?? invalid();
    if (version.state !== 'ENABLED') {
      fail(grpc.status.FAILED_PRECONDITION, `CryptoKeyVersion ${versionName(key, version)} is not enabled.`);
    }
    const decipher = createDecipheriv('aes-256-gcm', version.material, ciphertext.subarray(HEADER, HEADER + IV));
    decipher.setAAD(Buffer.concat([ciphertext.subarray(0, HEADER), aad]));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - TAG));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([
        decipher.update(ciphertext.subarray(HEADER + IV, ciphertext.length - TAG)),
        decipher.final(),
      ]);
    } catch {
      return fail(
        grpc.status.INVALID_ARGUMENT,
        "Decryption failed: verify that 'name' refers to the correct CryptoKey and that the additional authenticated data matches.",
      );
    }
    return {
      plaintext,
      plaintextCrc32c: { value: String(crc32c(plaintext)) },
      usedPrimary: version.id === key.primary,
      protectionLevel: 'SOFTWARE',
    };
  }

  private key(name: string): CryptoKey {
    return this.keys.get(name) ?? fail(grpc.status.NOT_FOUND, `CryptoKey ${name} not found.`);
  }

  private version(name: string): { key: CryptoKey; version: Version } {
    const match = VERSION.exec(name) ?? fail(grpc.status.INVALID_ARGUMENT, `not a CryptoKeyVersion name: ${name}`);
    const key = this.keys.get(match[1]!);
    const version = key?.versions.get(Number(match[2]));
    if (!key || !version) return fail(grpc.status.NOT_FOUND, `CryptoKeyVersion ${name} not found.`);
    return { key, version };
  }

  private addVersion(key: CryptoKey): Version {
    const version: Version = {
      id: Math.max(0, ...key.versions.keys()) + 1,
      state: 'ENABLED',
      material: randomBytes(32),
      createTime: new Date(),
    };
    key.versions.set(version.id, version);
    return version;
  }

  private keyMessage(key: CryptoKey) {
    const primary = key.primary === undefined ? undefined : key.versions.get(key.primary);
    return {
      name: key.name,
      purpose: 'ENCRYPT_DECRYPT',
      createTime: timestamp(key.createTime),
      labels: key.labels,
      versionTemplate: { protectionLevel: 'SOFTWARE', algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION' },
      ...(primary ? { primary: versionMessage(key, primary) } : {}),
    };
  }
}

function versionMessage(key: CryptoKey, version: Version) {
  return {
    name: versionName(key, version),
    state: version.state,
    protectionLevel: 'SOFTWARE',
    algorithm: 'GOOGLE_SYMMETRIC_ENCRYPTION',
    createTime: timestamp(version.createTime),
    generateTime: timestamp(version.createTime),
  };
}

const versionName = (key: CryptoKey, version: Version) => `${key.name}/cryptoKeyVersions/${version.id}`;

function timestamp(date: Date) {
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

/** Whether a checksum was sent; throws INVALID_ARGUMENT if it does not match. */
function checkCrc(data: Buffer, checksum: Int64Value | null, field: string): boolean {
  if (!checksum) return false;
  if (BigInt(checksum.value) !== BigInt(crc32c(data))) {
    fail(
      grpc.status.INVALID_ARGUMENT,
      `The checksum in field ${field}_crc32c did not match the data in field ${field}.`,
    );
  }
  return true;
}

/** CRC32C (Castagnoli), bit by bit: the fake keeps its own copy, independent of the provider's. */
function crc32c(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
