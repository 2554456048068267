// `kubectl courier connect` against the shared apiserver with a real
// `courier manager` (STS at moto): credentials typed on a real terminal, piped
// as JSON or read from files are encrypted on the workstation, the controller
// ingests them, and --wait reports Ready. The proof that the plaintext never
// reached the apiserver: every version of every upload Secret, as a watch saw
// it, and raw etcd at the revision each one was written and at the end, hold
// none of the secret values; nor do the manager's log and the CLI's output.
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, CustomObjectsApi, Watch, type V1Secret } from '@kubernetes/client-node';
import { decodeProtectedHeader } from 'jose';
import type { ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { UPLOADED_AT_ANNOTATION } from '../../src/cli/people/connection-spec.ts';
import { UPLOAD_SECRET_TYPE } from '../../src/cli/people/connect.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { runPlugin, runPluginOnTerminal } from '../support/cli.ts';
import { MANAGER_EPHEMERAL, RunningComponent } from '../support/component.ts';
import { motoIdentityEnv, writeMotoStsConfig } from '../support/courier-setup.ts';
import { etcdSource, findLeaks, valuesSource, type LeakSource } from '../support/leak-scanner.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';
import { eventually } from '../support/wait.ts';

const distinctive = (label: string) => `${label}-${randomBytes(18).toString('base64url')}`;
/** Every secret value this suite uploads; none may show up where the leak scan looks. */
const SECRETS = {
  password: distinctive('ssh-password'),
  privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${distinctive('keymaterial')}\n-----END OPENSSH PRIVATE KEY-----\n`,
  newPassword: distinctive('rotated-password'),
  typedSecretKey: distinctive('typed-secret-access-key'),
  strictToken: distinctive('strict-token'),
};
const TYPED_KEY_ID = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;

let moto: MotoPeer;
let manager: RunningComponent;
let courierNamespace: string;
let tenant: string;
let workDir: string;
let base: string[];
let stopWatch: () => void;
/** Every upload Secret as the apiserver handed it to a watch: what reached it. */
const uploads: V1Secret[] = [];
/** Everything the CLI printed, for the leak scan. */
const printed: string[] = [];

const objects = () => testKubeConfig().makeApiClient(CustomObjectsApi);
const core = () => testKubeConfig().makeApiClient(CoreV1Api);
const readConnection = async (name: string) =>
  (await objects().getNamespacedCustomObject({
    group: 'courier.dev',
    version: 'v1alpha1',
    plural: 'toolconnections',
    namespace: tenant,
    name,
  })) as ToolConnection;
const connectionExists = (name: string) =>
  readConnection(name).then(
    () => true,
    () => false,
  );

async function plugin(args: string[], input = '') {
  const result = await runPlugin([...args, ...base], input);
  printed.push(result.stdout, result.stderr);
  return result;
}

beforeAll(async () => {
  moto = await startMoto();
  courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('team');
  workDir = await mkdtemp(path.join(os.tmpdir(), 'courier-cli-connect-'));
  const kubeconfig = process.env.COURIER_TEST_KUBECONFIG!;
  base = ['--kubeconfig', kubeconfig, '-n', tenant, '--courier-namespace', courierNamespace];
  manager = new RunningComponent(
    [
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      kubeconfig,
      '--namespace',
      courierNamespace,
      '--watch-namespace',
      tenant,
      '--config',
      await writeMotoStsConfig(workDir, moto),
    ],
    motoIdentityEnv(moto),
  );
  // connect needs the published upload key.
  await eventually(
    () =>
      core()
        .readNamespacedConfigMap({ name: 'courier-upload-keys', namespace: courierNamespace })
        .catch(() => undefined),
    (map) => map !== undefined,
    30_000,
    'the upload keys ConfigMap',
  );
  const watch = await new Watch(testKubeConfig()).watch(
    `/api/v1/namespaces/${tenant}/secrets`,
    {},
    (phase: string, secret: V1Secret) => {
      if (phase !== 'DELETED') uploads.push(secret);
    },
    () => undefined,
  );
  stopWatch = () => watch.abort();
}, 90_000);

afterAll(async () => {
  stopWatch?.();
  manager?.child.kill('SIGKILL');
  await moto?.stop();
});

describe('kubectl courier connect', () => {
  it('uploads a generic credential from stdin and a file, encrypted, and waits until it is Ready', async () => {
    const keyFile = path.join(workDir, 'id_ed25519');
    await writeFile(keyFile, SECRETS.privateKey, { mode: 0o600 });
    const result = await plugin(
      [
        'connect',
        'generic',
        'bastion',
        '--purpose',
        'ssh',
        '--host',
        'bastion.example.internal',
        '--port',
        '22',
        '--set',
        'username=scanner',
        '--from-file',
        `privateKey=${keyFile}`,
        '--service-account',
        'host-scanner',
        '--from-stdin',
        '--wait',
      ],
      JSON.stringify({ password: SECRETS.password }),
    );
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toBe(
      'toolconnection.courier.dev/bastion created\ntoolconnection.courier.dev/bastion is Ready: stored and validated\n',
    );
    expect(result.stderr).toMatch(/^waiting up to 120s for toolconnection\/bastion to be Ready…\n$/);

    const tc = await readConnection('bastion');
    expect(tc.spec).toMatchObject({
      provider: 'generic',
      generic: { purpose: 'ssh', host: 'bastion.example.internal', port: 22 },
      credentialsSecretRef: { name: 'bastion-credentials', deletionPolicy: 'Delete' },
      access: { serviceAccounts: ['host-scanner'] },
    });
    expect(tc.metadata.annotations?.[UPLOADED_AT_ANNOTATION]).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(tc.status).toMatchObject({ store: 'kubernetes', fingerprint: expect.stringMatching(/^hs256:/) });
    // Ingested, so deleted: --wait returned only after that.
    await expect(core().readNamespacedSecret({ name: 'bastion-credentials', namespace: tenant })).rejects.toThrow();

    // What reached the apiserver: one JWE, to the newest published key, of Courier's content type.
    const sent = uploads.filter((s) => s.metadata?.name === 'bastion-credentials');
    expect(sent.length).toBeGreaterThan(0);
    const jwks = JSON.parse(
      (await core().readNamespacedConfigMap({ name: 'courier-upload-keys', namespace: courierNamespace })).data![
        'jwks.json'
      ]!,
    ) as { keys: Array<{ kid: string }> };
    for (const secret of sent) {
      expect(secret.type).toBe(UPLOAD_SECRET_TYPE);
      expect(Object.keys(secret.data ?? {})).toEqual(['credential.jwe']);
      const jwe = Buffer.from(secret.data!['credential.jwe']!, 'base64').toString();
      expect(decodeProtectedHeader(jwe)).toEqual({
        alg: 'ECDH-ES+A256KW',
        enc: 'A256GCM',
        cty: 'courier.dev/credential+json',
        kid: jwks.keys[0]!.kid,
        epk: expect.any(Object),
        'courier.dev/for': `${tenant}/bastion`,
      });
    }
  });

  it('asks for an access key on a terminal without echoing it, and validates it with STS', async () => {
    const { code, screen } = await runPluginOnTerminal(
      ['connect', 'aws', 'legacy', '--region', 'us-east-1', '--max-key-age', '30d', '--wait', ...base],
      [
        { prompt: 'AWS access key ID: ', text: TYPED_KEY_ID },
        { prompt: 'AWS secret access key: ', text: SECRETS.typedSecretKey },
      ],
    );
    printed.push(screen);
    expect(code).toBe(0);
    expect(screen).toContain('toolconnection.courier.dev/legacy is Ready');
    // Nothing typed was echoed by the terminal or printed by the CLI.
    expect(screen).not.toContain(SECRETS.typedSecretKey);
    expect(screen).not.toContain(TYPED_KEY_ID);
    const tc = await readConnection('legacy');
    expect(tc.spec.aws).toMatchObject({ authMethod: 'accessKey' });
    expect(tc.spec.rotation).toEqual({ maxKeyAge: '30d' });
    expect(tc.status).toMatchObject({ accountId: '123456789012', keyCreatedTime: expect.any(String) });
  });

  it('creates an assumeRole connection without any Secret', async () => {
    const result = await plugin([
      'connect',
      'aws',
      'prod',
      '--role-arn',
      'arn:aws:iam::123456789012:role/CourierScan',
      '--external-id',
      'courier-cli-test',
      '--session-tag',
      'team=security',
      '--session-duration',
      '2h',
      '--wait',
    ]);
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('toolconnection.courier.dev/prod is Ready');
    const tc = await readConnection('prod');
    expect(tc.spec.aws).toEqual({
      authMethod: 'assumeRole',
      roleArn: 'arn:aws:iam::123456789012:role/CourierScan',
      externalId: 'courier-cli-test',
      sessionTags: { team: 'security' },
      sessionDurationSeconds: 7200,
      region: 'us-east-1',
      allowLongLivedKey: false,
    });
    expect(tc.spec.credentialsSecretRef).toBeUndefined();
    expect(uploads.some((s) => s.metadata?.name === 'prod-credentials')).toBe(false);
  });

  it('uploads a new credential for an existing connection, keeping the rest of its spec', async () => {
    const before = await readConnection('bastion');
    const result = await plugin(
      ['connect', 'generic', 'bastion', '--from-stdin', '--wait'],
      JSON.stringify({ username: 'scanner', password: SECRETS.newPassword }),
    );
    expect(result).toMatchObject({ code: 0 });
    expect(result.stdout).toContain('toolconnection.courier.dev/bastion configured');
    const after = await readConnection('bastion');
    expect(after.spec.generic).toEqual(before.spec.generic);
    expect(after.status?.fingerprint).not.toBe(before.status?.fingerprint);
    expect(after.status?.storeVersion).not.toBe(before.status?.storeVersion);
  });

  it('fails --wait at once, with the reason, when the controller refuses the upload', async () => {
    const started = Date.now();
    const result = await plugin(
      [
        'connect',
        'generic',
        'strict',
        '--purpose',
        'http',
        '--required-fields',
        'username,password',
        '--from-stdin',
        '--wait',
        '--timeout',
        '60s',
      ],
      JSON.stringify({ token: SECRETS.strictToken }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'kubectl courier: toolconnection/strict is not Ready: InvalidSource: Stored: the Secret lacks username, password',
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('refuses flags the API refuses before asking for or writing anything (exit 2)', async () => {
    const result = await plugin(['connect', 'aws', 'bad-arn', '--role-arn', 'arn:aws:iam::1:role/x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('roleArn must be an IAM role ARN');
    expect(await connectionExists('bad-arn')).toBe(false);
  });

  it('writes nothing when no upload key is published in the Courier namespace given', async () => {
    const result = await runPlugin(
      ['connect', 'generic', 'orphan', '--purpose', 'ssh', '--from-stdin', ...base, '--courier-namespace', tenant],
      JSON.stringify({ password: SECRETS.password }),
    );
    printed.push(result.stdout, result.stderr);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `kubectl courier: no upload key published in ConfigMap courier-upload-keys in namespace ${tenant}; is the Courier manager running there (--courier-namespace)?\n`,
    );
    expect(await connectionExists('orphan')).toBe(false);
    expect(uploads.some((s) => s.metadata?.name === 'orphan-credentials')).toBe(false);
  });

  it('leaves no plaintext in etcd (then and now), in what the apiserver saw, in the manager log or in its own output', async () => {
    const etcdUrl = process.env.COURIER_TEST_ETCD_URL!;
    const revisions = [...new Set(uploads.map((s) => Number(s.metadata!.resourceVersion)))];
    expect(revisions.length).toBeGreaterThanOrEqual(4);
    const leaks = await findLeaks(Object.values(SECRETS), [
      etcdSource(etcdUrl),
      ...revisions.map((revision) => etcdAtRevision(etcdUrl, revision)),
      valuesSource('upload Secret as watched', uploads),
      valuesSource('manager log', manager.records),
      valuesSource('CLI output', printed),
    ]);
    expect(leaks).toEqual([]);
  });

  it('would notice a plaintext value in etcd history (the scan can fail)', async () => {
    const canary = distinctive('canary');
    const secret = await core().createNamespacedSecret({
      namespace: tenant,
      body: { metadata: { name: 'plain-canary' }, stringData: { password: canary } },
    });
    await core().deleteNamespacedSecret({ name: 'plain-canary', namespace: tenant });
    const etcdUrl = process.env.COURIER_TEST_ETCD_URL!;
    expect(await findLeaks([canary], [etcdSource(etcdUrl)])).toEqual([]);
    expect(await findLeaks([canary], [etcdAtRevision(etcdUrl, Number(secret.metadata!.resourceVersion))])).toEqual([
      {
        where: `etcd@${secret.metadata!.resourceVersion} /registry/secrets/${tenant}/plain-canary`,
        secretIndex: 0,
        encoding: 'raw',
      },
    ]);
  });
});

/** Every key and value in etcd as they were at `revision` (a resourceVersion is one). */
function etcdAtRevision(etcdUrl: string, revision: number): LeakSource {
  return async () => {
    const all = Buffer.from([0]).toString('base64');
    const response = await fetch(`${etcdUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: all, range_end: all, revision }),
    });
    if (!response.ok) throw new Error(`etcd range at ${revision}: HTTP ${response.status} ${await response.text()}`);
    const { kvs = [] } = (await response.json()) as { kvs?: Array<{ key: string; value?: string }> };
    if (kvs.length === 0)
      throw new Error(`etcd returned no keys at revision ${revision}: the scan would prove nothing`);
    return kvs.map((kv) => ({
      where: `etcd@${revision} ${Buffer.from(kv.key, 'base64').toString()}`,
      text: Buffer.from(kv.value ?? '', 'base64'),
    }));
  };
}
