// Smoke tests of the secret-store test peers (test/support/peers.ts): each is
// driven with the real SDK client that Courier's stores use, and real values
// must round-trip, so that the store tests can trust the wiring. A peer that
// cannot be installed or started fails its tests; nothing here skips.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
// A dependency of @google-cloud/secret-manager (one copy in node_modules), so
// its insecure credentials are the very class google-gax checks for.
import * as grpc from '@grpc/grpc-js';
import {
  pinnedVersion,
  startGcpSecretManagerEmulator,
  startMoto,
  startOpenBao,
  type GcpSecretManagerEmulatorPeer,
  type MotoPeer,
  type OpenBaoPeer,
} from '../support/peers.ts';

// The first run installs the peers into the cache (a venv, a wheel, a Go build).
const INSTALL_TIMEOUT_MS = 15 * 60_000;

describe('moto (AWS STS, Secrets Manager, KMS)', () => {
  let moto: MotoPeer;
  const clients: { destroy(): void }[] = [];
  const config = () => ({ endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials });
  const client = <T extends { destroy(): void }>(created: T): T => (clients.push(created), created);

  beforeAll(async () => {
    moto = await startMoto();
  }, INSTALL_TIMEOUT_MS);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await moto?.stop();
  });

  it('answers GetCallerIdentity for dummy credentials', async () => {
    const sts = client(new STSClient(config()));
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Account).toBe('123456789012');
    expect(identity.Arn).toMatch(/^arn:aws:(iam|sts)::123456789012:/);
  });

  it('assumes a role with an external ID, and the session credentials work', async () => {
    const sts = client(new STSClient(config()));
    const roleArn = 'arn:aws:iam::123456789012:role/courier-scan';
    const assumed = await sts.send(
      new AssumeRoleCommand({
        RoleArn: roleArn,
        RoleSessionName: 'courier-smoke',
        ExternalId: 'courier-ext-1',
        DurationSeconds: 900,
      }),
    );
    const creds = assumed.Credentials;
    expect(creds?.AccessKeyId).toMatch(/^ASIA/);
    expect(creds?.SecretAccessKey).toBeTruthy();
    expect(creds?.SessionToken).toBeTruthy();
    expect(creds?.Expiration?.getTime()).toBeGreaterThan(Date.now());
    expect(assumed.AssumedRoleUser?.Arn).toBe('arn:aws:sts::123456789012:assumed-role/courier-scan/courier-smoke');

    const asRole = client(
      new STSClient({
        ...config(),
        credentials: {
          accessKeyId: creds!.AccessKeyId!,
          secretAccessKey: creds!.SecretAccessKey!,
          sessionToken: creds!.SessionToken!,
        },
      }),
    );
    const identity = await asRole.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe('arn:aws:sts::123456789012:assumed-role/courier-scan/courier-smoke');
  });

  it('round-trips a secret through Secrets Manager', async () => {
    const sm = client(new SecretsManagerClient(config()));
    const name = `courier/smoke/${randomUUID()}`;
    const value = JSON.stringify({ username: 'scanner', password: randomUUID() });
    const created = await sm.send(new CreateSecretCommand({ Name: name, SecretString: value }));
    expect(created.ARN).toContain(`:secret:${name}`);
    const read = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(read.SecretString).toBe(value);
    expect(read.VersionId).toBe(created.VersionId);
    expect(read.VersionStages).toContain('AWSCURRENT');
  });

  it('encrypts and decrypts with a KMS key', async () => {
    const kms = client(new KMSClient(config()));
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'courier smoke' }));
    expect(KeyMetadata?.KeyId).toBeTruthy();
    const plaintext = Buffer.from(`courier-${randomUUID()}`);
    const { CiphertextBlob } = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: plaintext }));
    expect(CiphertextBlob).toBeDefined();
    expect(Buffer.from(CiphertextBlob!).includes(plaintext)).toBe(false);
    const decrypted = await kms.send(new DecryptCommand({ CiphertextBlob }));
    expect(Buffer.from(decrypted.Plaintext!).toString()).toBe(plaintext.toString());
    expect(decrypted.KeyId).toBe(KeyMetadata!.Arn);
  });
});

describe('OpenBao dev server (KV v2)', () => {
  let bao: OpenBaoPeer;
  const api = async (method: string, pathname: string, body?: unknown) => {
    const response = await fetch(`${bao.endpoint}/v1/${pathname}`, {
      method,
      headers: { 'X-Vault-Token': bao.rootToken, 'Content-Type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /v1/${pathname}: ${response.status} ${text}`);
    return JSON.parse(text) as Record<string, any>;
  };

  beforeAll(async () => {
    bao = await startOpenBao();
  }, INSTALL_TIMEOUT_MS);
  afterAll(async () => {
    await bao?.stop();
  });

  it('is the pinned version, unsealed, and rejects a wrong token', async () => {
    const health = (await (await fetch(`${bao.endpoint}/v1/sys/health`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ initialized: true, sealed: false, version: await pinnedVersion('OPENBAO_VERSION') });
    const denied = await fetch(`${bao.endpoint}/v1/secret/data/anything`, { headers: { 'X-Vault-Token': 'wrong' } });
    expect(denied.status).toBe(403);
  });

  it('mounts secret/ as KV v2 in dev mode', async () => {
    const mount = await api('GET', 'sys/mounts/secret');
    expect(mount.type).toBe('kv');
    expect(mount.options).toEqual({ version: '2' });
  });

  it('writes and reads versions of a secret', async () => {
    const path = `courier/smoke/${randomUUID()}`;
    const first = { username: 'scanner', password: randomUUID() };
    const second = { ...first, password: randomUUID() };
    expect((await api('POST', `secret/data/${path}`, { data: first })).data.version).toBe(1);
    expect((await api('POST', `secret/data/${path}`, { data: second })).data.version).toBe(2);

    const latest = await api('GET', `secret/data/${path}`);
    expect(latest.data.data).toEqual(second);
    expect(latest.data.metadata.version).toBe(2);
    expect((await api('GET', `secret/data/${path}?version=1`)).data.data).toEqual(first);
  });
});

describe('GCP Secret Manager emulator', () => {
  let emulator: GcpSecretManagerEmulatorPeer;
  let client: SecretManagerServiceClient;
  // Stands in for the GCE metadata server, to prove the client never asks it.
  const metadataRequests: string[] = [];
  const metadataServer = http.createServer((request, response) => {
    metadataRequests.push(`${request.method} ${request.url}`);
    response.writeHead(404).end();
  });
  const savedMetadataHost = process.env.GCE_METADATA_HOST;

  beforeAll(async () => {
    await new Promise<void>((resolve) => metadataServer.listen(0, '127.0.0.1', resolve));
    process.env.GCE_METADATA_HOST = `127.0.0.1:${(metadataServer.address() as AddressInfo).port}`;
    emulator = await startGcpSecretManagerEmulator();
    client = new SecretManagerServiceClient({
      apiEndpoint: emulator.host,
      port: emulator.port,
      // Plain-text gRPC, and no per-call auth: google-gax uses sslCreds as the
      // whole channel credentials, so no OAuth token is ever fetched.
      sslCreds: grpc.credentials.createInsecure(),
      // Without this, creating the stub still asks google-auth-library for
      // the credentials' universe domain, which runs Application Default
      // Credentials discovery: with no key file that probes the GCE metadata
      // server (169.254.169.254), off this machine. Naming the universe
      // skips the discovery; no fake authClient is needed.
      universeDomain: 'googleapis.com',
    });
  }, INSTALL_TIMEOUT_MS);
  afterAll(async () => {
    await client?.close();
    await emulator?.stop();
    if (savedMetadataHost === undefined) delete process.env.GCE_METADATA_HOST;
    else process.env.GCE_METADATA_HOST = savedMetadataHost;
    await new Promise((resolve) => metadataServer.close(resolve));
  });

  it('round-trips a secret version through the official client', async () => {
    const project = `projects/courier-smoke-${randomUUID().slice(0, 8)}`;
    const secretId = `courier-smoke-${randomUUID()}`;
    const value = JSON.stringify({ token: randomUUID() });

    const [secret] = await client.createSecret({
      parent: project,
      secretId,
      secret: { replication: { automatic: {} }, labels: { owner: 'courier' } },
    });
    expect(secret.name).toBe(`${project}/secrets/${secretId}`);
    expect(secret.labels).toEqual({ owner: 'courier' });

    const [version] = await client.addSecretVersion({ parent: secret.name!, payload: { data: Buffer.from(value) } });
    expect(version.name).toBe(`${secret.name}/versions/1`);

    const [accessed] = await client.accessSecretVersion({ name: `${secret.name}/versions/latest` });
    expect(accessed.name).toBe(version.name);
    expect(Buffer.from(accessed.payload!.data as Uint8Array).toString()).toBe(value);

    await expect(
      client.accessSecretVersion({ name: `${project}/secrets/missing/versions/latest` }),
    ).rejects.toMatchObject({
      code: grpc.status.NOT_FOUND,
    });
    expect(metadataRequests).toEqual([]);
  });
});
