// The ToolConnection controller on a real apiserver, with the kubernetes
// store and moto as AWS STS: the lifecycle of each provider and method,
// missing and malformed sources, a store outage during ingest, rotation
// advice, deletion through the finalizer, and no plaintext left in etcd.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { UnknownStoreError } from '../../src/stores/registry.ts';
import { Registry } from 'prom-client';
import { stringify } from 'yaml';
import type { ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { createToolConnectionController } from '../../src/controllers/toolconnection/controller.ts';
import { FINALIZER } from '../../src/controllers/toolconnection/reconciler.ts';
import { createKeyHierarchy, type KeyHierarchy } from '../../src/crypto/key-hierarchy.ts';
import { encryptForUpload } from '../../src/crypto/upload-keys.ts';
import { createLogger } from '../../src/log/logger.ts';
import { KubernetesStore } from '../../src/stores/kubernetes.ts';
import path from 'node:path';
import { REPO_ROOT } from '../support/binaries.ts';
import { createTestNamespace, kubectl, testKubeConfig } from '../support/cluster.ts';
import { etcdSource, findLeaks } from '../support/leak-scanner.ts';
import { withFailingWrites } from '../support/failing-store.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';

const DAY = 86_400_000;
let moto: MotoPeer;
let tenant: string;
let courierNamespace: string;
let keys: KeyHierarchy;
let store: KubernetesStore;
let storeDown = false;
let clockOffsetMs = 0;
const stop = new AbortController();
let running: Promise<void>;
const secretValues: string[] = [];

const core = () => testKubeConfig().makeApiClient(CoreV1Api);

beforeAll(async () => {
  moto = await startMoto();
  tenant = await createTestNamespace('team');
  courierNamespace = await createTestNamespace('courier');
  const kc = testKubeConfig();
  const logger = createLogger({ level: 'error', component: 'manager' });
  keys = createKeyHierarchy(kc, { namespace: courierNamespace });
  await keys.uploadKeys.ensureCurrent(30 * DAY);
  store = new KubernetesStore('kubernetes', kc, { namespace: courierNamespace });
  const flaky = withFailingWrites(store, () => storeDown);
  const controller = createToolConnectionController({
    kubeConfig: kc,
    keys,
    // As StoreRegistry answers: the one configured store by name or by default, else UnknownStoreError.
    stores: {
      get: (name?: string) => {
        if (name !== undefined && name !== 'kubernetes') throw new UnknownStoreError(name, ['kubernetes']);
        return flaky;
      },
    },
    sts: { endpoint: moto.endpoint, credentials: moto.credentials },
    logger,
    registry: new Registry(),
    identity: 'test',
    namespace: tenant,
    workers: 2,
    resyncMs: 1_000,
    now: () => new Date(Date.now() + clockOffsetMs),
  });
  running = controller.run(stop.signal);
});

afterAll(async () => {
  stop.abort();
  await running;
  await moto?.stop();
});

async function apply(...objects: object[]): Promise<void> {
  await kubectl(['apply', '-n', tenant, '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
}

async function get(name: string): Promise<ToolConnection | undefined> {
  const result = await kubectl(['get', 'tc', name, '-n', tenant, '-o', 'json'], { reject: false });
  return result.exitCode === 0 ? (JSON.parse(result.stdout) as ToolConnection) : undefined;
}

const condition = (tc: ToolConnection | undefined, type: string) =>
  tc?.status?.conditions?.find((c) => c.type === type);

async function until(
  name: string,
  check: (tc: ToolConnection | undefined) => boolean,
  timeoutMs = 20_000,
): Promise<ToolConnection | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const tc = await get(name);
    if (check(tc)) return tc;
    if (Date.now() > deadline) throw new Error(`${name} did not converge: ${JSON.stringify(tc?.status)}`);
    await sleep(200);
  }
}

const ready = (tc: ToolConnection | undefined) => condition(tc, 'Ready')?.status === 'True';

function secret(name: string, data: Record<string, string>) {
  for (const value of Object.values(data)) if (value.length >= 8) secretValues.push(value);
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: data };
}

function generic(name: string, extra: object = {}) {
  return {
    apiVersion: 'courier.dev/v1alpha1',
    kind: 'ToolConnection',
    metadata: { name },
    spec: {
      provider: 'generic',
      generic: { purpose: 'ssh', host: 'bastion.example', requiredFields: ['username', 'password'] },
      credentialsSecretRef: { name: `${name}-src` },
      ...extra,
    },
  };
}

async function sourceExists(name: string): Promise<boolean> {
  return core()
    .readNamespacedSecret({ name, namespace: tenant })
    .then(
      () => true,
      () => false,
    );
}

async function eventReasons(name: string): Promise<string[]> {
  const list = await testKubeConfig().makeApiClient(EventsV1Api).listNamespacedEvent({ namespace: tenant });
  return list.items.filter((e) => e.regarding?.name === name).map((e) => e.reason ?? '');
}

describe('ToolConnection controller', () => {
  it('ingests a generic credential: stores it, fingerprints it, deletes the source, becomes Ready', async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    await apply(secret('ssh-src', { username: 'scanner', password }), generic('ssh'));
    const tc = await until('ssh', (t) => ready(t) && !!t?.status?.fingerprint);
    expect(tc!.metadata.finalizers).toContain(FINALIZER);
    expect(tc!.status).toMatchObject({
      store: 'kubernetes',
      storeVersion: '1',
      observedGeneration: tc!.metadata.generation,
    });
    expect(tc!.status!.fingerprint).toBe(
      await keys.fingerprinter.fingerprint('generic', { username: 'scanner', password }),
    );
    expect(condition(tc, 'Validated')).toMatchObject({ status: 'True', reason: 'ShapeValid' });
    await until('ssh', () => true);
    for (let i = 0; i < 50 && (await sourceExists('ssh-src')); i++) await sleep(100);
    expect(await sourceExists('ssh-src')).toBe(false);
    const stored = await store.get({ tenant, name: 'ssh' });
    expect(await keys.sealer.open(stored.payload, { tenant, name: 'ssh' })).toEqual({ username: 'scanner', password });
    expect(await eventReasons('ssh')).toContain('SourceDeleted');

    const printed = await kubectl(['get', 'tc', 'ssh', '-n', tenant]);
    expect(printed.stdout).toMatch(new RegExp(`ssh\\s+generic\\s+True\\s+${tc!.status!.fingerprint}`));
  });

  it('makes a new version for a changed source and none for the same one', async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    await apply(secret('ssh-src', { username: 'scanner', password }));
    const changed = await until('ssh', (t) => t?.status?.storeVersion === '2' && !!t && ready(t));
    await until('ssh', () => true);
    for (let i = 0; i < 50 && (await sourceExists('ssh-src')); i++) await sleep(100);
    await apply(secret('ssh-src', { username: 'scanner', password }));
    for (let i = 0; i < 50 && (await sourceExists('ssh-src')); i++) await sleep(100);
    expect(await sourceExists('ssh-src')).toBe(false);
    const after = await get('ssh');
    expect(after!.status!.storeVersion).toBe('2');
    expect(after!.status!.fingerprint).toBe(changed!.status!.fingerprint);
    expect((await store.listVersions({ tenant, name: 'ssh' })).map((v) => v.version)).toEqual(['1', '2']);
  });

  it('accepts a source encrypted client-side to the upload key', async () => {
    const password = `pw-${randomBytes(12).toString('hex')}`;
    secretValues.push(password);
    const jwks = JSON.parse(
      (await core().readNamespacedConfigMap({ name: 'courier-upload-keys', namespace: courierNamespace })).data![
        'jwks.json'
      ]!,
    );
    const jwe = await encryptForUpload({ username: 'scanner', password }, jwks, { namespace: tenant, name: 'sealed' });
    await apply(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sealed-src' }, stringData: { 'credential.jwe': jwe } },
      generic('sealed'),
    );
    const tc = await until('sealed', ready);
    expect(tc!.status!.fingerprint).toBe(
      await keys.fingerprinter.fingerprint('generic', { username: 'scanner', password }),
    );

    // The same upload copied into another ToolConnection's source is refused: it names "sealed".
    await apply(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'copied-src' }, stringData: { 'credential.jwe': jwe } },
      generic('copied'),
    );
    const copied = await until('copied', (t) => condition(t, 'Stored')?.reason === 'UndecryptableSource');
    expect(condition(copied, 'Stored')!.message).toContain(
      `encrypted for ToolConnection ${tenant}/sealed, not ${tenant}/copied`,
    );
  });

  it('says so when spec.store names a store that is not configured, and keeps the source', async () => {
    await apply(
      secret('misnamed-src', { username: 'scanner', password: `pw-${randomBytes(10).toString('hex')}` }),
      generic('misnamed', { store: 'vault-prod' }),
    );
    const tc = await until('misnamed', (t) => condition(t, 'Stored')?.reason === 'UnknownStore');
    expect(condition(tc, 'Stored')!.message).toContain('store "vault-prod" is not configured');
    expect(condition(tc, 'Ready')!.status).toBe('False');
    expect(await eventReasons('misnamed')).toContain('UnknownStore');
    expect(await sourceExists('misnamed-src')).toBe(true);
    // Never stored, so the plaintext source is the user's to remove (the etcd search below runs later).
    await core().deleteNamespacedSecret({ name: 'misnamed-src', namespace: tenant });
  });

  it('keeps the source Secret when told to (deletionPolicy Retain)', async () => {
    const kept = generic('kept');
    (kept.spec.credentialsSecretRef as Record<string, string>).deletionPolicy = 'Retain';
    await apply(secret('kept-src', { username: 'scanner', password: `pw-${randomBytes(10).toString('hex')}` }), kept);
    await until('kept', ready);
    await sleep(500);
    expect(await sourceExists('kept-src')).toBe(true);
  });

  it('reports a missing source with a condition and an Event, and recovers when it appears', async () => {
    await apply(generic('late'));
    const waiting = await until('late', (t) => condition(t, 'Stored')?.reason === 'SourceSecretMissing');
    expect(condition(waiting, 'Ready')).toMatchObject({ status: 'False', reason: 'SourceSecretMissing' });
    expect(condition(waiting, 'Stored')!.message).toContain('Secret late-src not found');
    await until('late', () => true);
    expect(await eventReasons('late')).toContain('SourceSecretMissing');
    await apply(secret('late-src', { username: 'scanner', password: `pw-${randomBytes(8).toString('hex')}` }));
    await until('late', ready, 45_000);
  });

  it('names the missing fields of a malformed source, never the values', async () => {
    const token = `tok-${randomBytes(12).toString('hex')}`;
    await apply(secret('partial-src', { username: 'scanner', token }), generic('partial'));
    const tc = await until('partial', (t) => condition(t, 'Stored')?.reason === 'InvalidSource');
    expect(condition(tc, 'Stored')!.message).toBe('the Secret lacks password');
    expect(JSON.stringify(tc)).not.toContain(token);
    expect(await sourceExists('partial-src')).toBe(true);
  });

  it('validates an access key with STS and records the account', async () => {
    await apply(
      secret('key-src', { accessKeyId: 'AKIAEXAMPLECOURIER01', secretAccessKey: randomBytes(30).toString('base64') }),
      {
        apiVersion: 'courier.dev/v1alpha1',
        kind: 'ToolConnection',
        metadata: { name: 'key' },
        spec: {
          provider: 'aws',
          aws: { authMethod: 'accessKey', accountId: '123456789012' },
          credentialsSecretRef: { name: 'key-src' },
        },
      },
    );
    const tc = await until('key', ready);
    expect(tc!.status).toMatchObject({ accountId: '123456789012', arn: expect.stringContaining('arn:aws:') });
    expect(condition(tc, 'Validated')).toMatchObject({ status: 'True', reason: 'CallerIdentityConfirmed' });
    expect(condition(tc, 'RotationDue')).toMatchObject({ status: 'False' });
    expect(tc!.status!.keyCreatedTime).toBeDefined();
  });

  it('validates assumeRole by assuming the role with the ExternalId', async () => {
    await apply({
      apiVersion: 'courier.dev/v1alpha1',
      kind: 'ToolConnection',
      metadata: { name: 'role' },
      spec: {
        provider: 'aws',
        aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/CourierScan', externalId: 'ext-123' },
      },
    });
    const tc = await until('role', ready);
    expect(tc!.status!.arn).toContain('assumed-role/CourierScan/courier-validate-');
    expect(tc!.metadata.finalizers ?? []).not.toContain(FINALIZER);
  });

  it('fails validation with the reason when the key reaches another account', async () => {
    await apply(
      secret('wrong-account-src', {
        accessKeyId: 'AKIAEXAMPLECOURIER02',
        secretAccessKey: randomBytes(30).toString('base64'),
      }),
      {
        apiVersion: 'courier.dev/v1alpha1',
        kind: 'ToolConnection',
        metadata: { name: 'wrong-account' },
        spec: {
          provider: 'aws',
          aws: { authMethod: 'accessKey', accountId: '210987654321' },
          credentialsSecretRef: { name: 'wrong-account-src' },
        },
      },
    );
    const tc = await until('wrong-account', (t) => condition(t, 'Validated')?.status === 'False');
    expect(condition(tc, 'Validated')).toMatchObject({ reason: 'AccountMismatch' });
    expect(condition(tc, 'Ready')).toMatchObject({ status: 'False', reason: 'AccountMismatch' });
  });

  it('retries a store outage and writes exactly one version, deleting the source only after', async () => {
    storeDown = true;
    await apply(
      secret('outage-src', { username: 'scanner', password: `pw-${randomBytes(10).toString('hex')}` }),
      generic('outage'),
    );
    await sleep(1_500);
    expect(await sourceExists('outage-src')).toBe(true);
    expect(condition(await get('outage'), 'Ready')?.status).not.toBe('True');
    await expect(store.listVersions({ tenant, name: 'outage' })).rejects.toMatchObject({ kind: 'NotFound' });
    storeDown = false;
    await until('outage', ready, 30_000);
    for (let i = 0; i < 50 && (await sourceExists('outage-src')); i++) await sleep(100);
    expect(await sourceExists('outage-src')).toBe(false);
    expect((await store.listVersions({ tenant, name: 'outage' })).map((v) => v.version)).toEqual(['1']);
  });

  it('adopts a version a crashed manager wrote before recording it, instead of writing another', async () => {
    const credential = { username: 'scanner', password: `pw-${randomBytes(10).toString('hex')}` };
    secretValues.push(credential.password);
    // As if a manager stored the credential and died before writing status.
    const ref = { tenant, name: 'adopt' };
    await store.putVersion(ref, await keys.sealer.seal(credential, ref));
    await apply(
      { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'adopt-src' }, stringData: credential },
      generic('adopt'),
    );
    const tc = await until('adopt', ready);
    expect(tc!.status!.storeVersion).toBe('1');
    expect((await store.listVersions(ref)).map((v) => v.version)).toEqual(['1']);
  });

  it('raises RotationDue once the key is older than maxKeyAge', async () => {
    clockOffsetMs = 91 * DAY;
    await kubectl(['annotate', 'tc', 'key', '-n', tenant, 'courier.dev/poke=1']);
    const tc = await until('key', (t) => condition(t, 'RotationDue')?.status === 'True');
    expect(condition(tc, 'RotationDue')!.reason).toBe('KeyTooOld');
    clockOffsetMs = 0;
    expect(await eventReasons('key')).toContain('KeyTooOld');
  });

  it('deletes the upstream secret before letting the ToolConnection go', async () => {
    await kubectl(['delete', 'tc', 'ssh', '-n', tenant, '--wait=true', '--timeout=30s']);
    expect(await get('ssh')).toBeUndefined();
    await expect(store.get({ tenant, name: 'ssh' })).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('brings every sample to Ready with fingerprint and account, and ingests their Secrets', async () => {
    await kubectl(['apply', '-n', tenant, '-f', path.join(REPO_ROOT, 'config/samples')]);
    for (const name of ['prod-account', 'legacy-account', 'bastion-ssh']) await until(name, ready);
    const table = (await kubectl(['get', 'tc', 'prod-account', 'legacy-account', 'bastion-ssh', '-n', tenant])).stdout;
    expect(table).toMatch(/prod-account\s+aws\s+assumeRole\s+True\s+123456789012\s+\S+/);
    expect(table).toMatch(/legacy-account\s+aws\s+accessKey\s+True\s+123456789012\s+hs256:\S+/);
    expect(table).toMatch(/bastion-ssh\s+generic\s+True\s+hs256:\S+/);
    for (const source of ['legacy-account-key', 'bastion-ssh-credentials']) {
      for (let i = 0; i < 50 && (await sourceExists(source)); i++) await sleep(100);
      expect(await sourceExists(source)).toBe(false);
    }
    // The samples' own secret values, nowhere in this namespace's objects.
    const leaks = await findLeaks(
      ['wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'example-only-not-a-real-password'],
      [etcdSource(process.env.COURIER_TEST_ETCD_URL!)],
    );
    expect(leaks.filter((l) => l.where.includes(`/${tenant}/`) || l.where.includes(courierNamespace))).toEqual([]);
  });

  it('keeps the finalizer through a store outage at deletion, and finishes once the store is back', async () => {
    await apply(
      secret('doomed-src', { username: 'scanner', password: `pw-${randomBytes(10).toString('hex')}` }),
      generic('doomed'),
    );
    await until('doomed', ready);
    storeDown = true;
    await kubectl(['delete', 'tc', 'doomed', '-n', tenant, '--wait=false']);
    await sleep(1_500);
    const pending = await get('doomed');
    expect(pending?.metadata.deletionTimestamp).toBeDefined();
    expect(pending?.metadata.finalizers).toContain(FINALIZER);
    expect((await store.get({ tenant, name: 'doomed' })).version).toBe('1');
    expect(await eventReasons('doomed')).toContain('DeleteFailed');
    storeDown = false;
    await until('doomed', (t) => t === undefined, 30_000);
    await expect(store.get({ tenant, name: 'doomed' })).rejects.toMatchObject({ kind: 'NotFound' });
  });

  it('prunes access requests older than a week', async () => {
    const recent = new Date().toISOString();
    const old = new Date(Date.now() - 8 * DAY).toISOString();
    const request = (serviceAccount: string, time: string) => ({
      serviceAccount,
      firstTime: time,
      lastTime: time,
      count: 1,
      reason: 'not allowed',
    });
    await kubectl([
      'patch',
      'tc',
      'bastion-ssh',
      '-n',
      tenant,
      '--subresource=status',
      '--type=merge',
      '-p',
      JSON.stringify({ status: { accessRequests: [request('recent-sa', recent), request('old-sa', old)] } }),
    ]);
    await kubectl(['annotate', 'tc', 'bastion-ssh', '-n', tenant, 'courier.dev/poke=prune', '--overwrite']);
    const tc = await until('bastion-ssh', (t) => t?.status?.accessRequests?.length === 1);
    expect(tc!.status!.accessRequests!.map((r) => r.serviceAccount)).toEqual(['recent-sa']);
  });

  it('leaves none of the credentials in etcd in plaintext', async () => {
    expect(secretValues.length).toBeGreaterThan(5);
    // Sources that are still there on purpose (malformed, retained) are excluded.
    const leaks = await findLeaks(secretValues, [etcdSource(process.env.COURIER_TEST_ETCD_URL!)]);
    const intended = [`/secrets/${tenant}/partial-src`, `/secrets/${tenant}/kept-src`];
    expect(leaks.filter((l) => !intended.some((where) => l.where.endsWith(where)))).toEqual([]);
  });
});
