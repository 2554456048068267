// The credential broker inside a real `courier manager` process, on the real
// test apiserver, with moto as AWS STS. Pods are created through the
// apiserver (no kubelet runs here, so they stay Pending, which the broker
// accepts) and their tokens are minted by the TokenRequest API, bound to the
// pod, exactly as the kubelet would project them. Then: the happy paths for
// each kind, the attack matrix, the records on status, the audit log, and a
// search for every issued and stored secret everywhere afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type CoreV1Event,
  type V1Pod,
} from '@kubernetes/client-node';
import { importPKCS8, SignJWT, generateKeyPair, decodeJwt } from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  BROKER_CA_CONFIGMAP,
  BROKER_CA_KEY,
  CREDENTIALS_PATH,
  TOKEN_AUDIENCE,
  type CredentialResponse,
} from '../../src/api/v1alpha1/delivery.ts';
import { CONNECTIONS_ANNOTATION, INJECT_LABEL, type ToolConnection } from '../../src/api/v1alpha1/index.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';
import { MAIN, MANAGER_EPHEMERAL, RunningComponent, runToEnd } from '../support/component.ts';
import { SERVICE_ACCOUNT_ISSUER } from '../support/control-plane.ts';
import { etcdSource, findLeaks, valuesSource } from '../support/leak-scanner.ts';
import { motoIdentityEnv, writeMotoStsConfig } from '../support/courier-setup.ts';
import { startMoto, type MotoPeer } from '../support/peers.ts';
import { eventually } from '../support/wait.ts';

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const objects = kc.makeApiClient(CustomObjectsApi);
const TC = { group: 'courier.dev', version: 'v1alpha1', plural: 'toolconnections' };

const ACCESS_KEY_ID = `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
const SECRET_ACCESS_KEY = `stored-secret-${randomBytes(12).toString('hex')}`;
const SSH_PASSWORD = `ssh-password-${randomBytes(12).toString('hex')}`;
const SSH_KEY = `-----BEGIN OPENSSH PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----\n`;

let moto: MotoPeer;
let courierNamespace: string;
let tenant: string;
let elsewhere: string;
let manager: RunningComponent;
let brokerUrl: string;
let dispatcher: Agent;
let webhookConfiguration: string;
/** Every secret value handed out during the suite, for the leak search. */
const issuedSecrets: string[] = [];
/** The agent's log lines, searched for leaks too. */
const agentLogs: string[] = [];
let ca: string;

beforeAll(async () => {
  moto = await startMoto();
  courierNamespace = await createTestNamespace('courier');
  tenant = await createTestNamespace('team');
  elsewhere = await createTestNamespace('other');
  for (const name of ['scanner', 'intruder'])
    await core.createNamespacedServiceAccount({ namespace: tenant, body: { metadata: { name } } });

  // A webhook configuration for the manager to keep the caBundle of. It
  // matches no namespace, so it never affects another suite's pods.
  webhookConfiguration = `courier-broker-test-${randomBytes(3).toString('hex')}`;
  await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
    body: {
      metadata: { name: webhookConfiguration },
      webhooks: [
        {
          name: 'pods.courier.dev',
          admissionReviewVersions: ['v1'],
          sideEffects: 'None',
          failurePolicy: 'Ignore',
          clientConfig: { url: 'https://127.0.0.1:1/mutate-v1-pod' },
          namespaceSelector: { matchLabels: { 'courier.dev/broker-test': 'never' } },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
        },
      ],
    },
  });

  await createConnections();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'courier-broker-'));
  const configFile = await writeMotoStsConfig(dir, moto);
  // Lives for the whole suite (start() would kill it after the first test).
  manager = new RunningComponent(
    [
      'manager',
      ...MANAGER_EPHEMERAL,
      '--kubeconfig',
      process.env.COURIER_TEST_KUBECONFIG!,
      '--namespace',
      courierNamespace,
      '--config',
      configFile,
      '--webhook-configuration-name',
      webhookConfiguration,
    ],
    motoIdentityEnv(moto),
  );
  const { brokerAddress } = await manager.waitForLog('serving the credential broker');
  brokerUrl = `https://${brokerAddress as string}`;
  for (const name of ['aws-role', 'aws-key', 'ssh-host']) await waitReady(name);

  // The agent's trust: the CA the manager published into the tenant namespace.
  ca = await eventually(
    async () =>
      (await core.readNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace: tenant }).catch(() => undefined))
        ?.data?.[BROKER_CA_KEY],
    (value) => value !== undefined,
    20_000,
    'the broker CA ConfigMap in the tenant namespace',
  ).then((found) => found!);
  dispatcher = new Agent({ connect: { ca } });
}, 120_000);

afterAll(async () => {
  manager?.child.kill('SIGKILL');
  await dispatcher?.close();
  await kc
    .makeApiClient(AdmissionregistrationV1Api)
    .deleteMutatingWebhookConfiguration({ name: webhookConfiguration })
    .catch(() => undefined);
  await moto?.stop();
});

async function createConnections(): Promise<void> {
  const secret = (name: string, stringData: Record<string, string>) =>
    core.createNamespacedSecret({ namespace: tenant, body: { metadata: { name }, stringData } });
  const tc = (namespace: string, name: string, spec: object) =>
    objects.createNamespacedCustomObject({
      ...TC,
      namespace,
      body: { apiVersion: 'courier.dev/v1alpha1', kind: 'ToolConnection', metadata: { name }, spec },
    });
  await secret('aws-key-source', { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY });
  await secret('ssh-source', { username: 'scanner', password: SSH_PASSWORD, privateKey: SSH_KEY });
  const access = { serviceAccounts: ['scanner'] };
  await tc(tenant, 'aws-role', {
    provider: 'aws',
    aws: {
      authMethod: 'assumeRole',
      roleArn: 'arn:aws:iam::123456789012:role/ScanRole',
      externalId: 'courier-broker-test',
      sessionDurationSeconds: 1800,
      sessionTags: { team: 'security' },
    },
    access,
  });
  await tc(tenant, 'aws-key', {
    provider: 'aws',
    aws: { authMethod: 'accessKey' },
    credentialsSecretRef: { name: 'aws-key-source' },
    access,
  });
  await tc(tenant, 'ssh-host', {
    provider: 'generic',
    generic: { purpose: 'ssh', host: 'bastion.example.com', port: 22 },
    credentialsSecretRef: { name: 'ssh-source' },
    access,
  });
  // Same name as nothing in the tenant namespace: a pod there must not reach it.
  await tc(elsewhere, 'elsewhere-role', {
    provider: 'aws',
    aws: { authMethod: 'assumeRole', roleArn: 'arn:aws:iam::123456789012:role/Other' },
    access: { serviceAccounts: ['scanner'] },
  });
}

const readConnection = async (name: string, namespace = tenant) =>
  (await objects.getNamespacedCustomObject({ ...TC, namespace, name })) as ToolConnection;

function waitReady(name: string): Promise<ToolConnection> {
  return eventually(
    () => readConnection(name),
    (tc) => tc.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    60_000,
    `ToolConnection ${name} Ready`,
  );
}

interface PodOptions {
  serviceAccount?: string;
  connections?: string[];
  optedIn?: boolean;
}

async function createPod(options: PodOptions = {}): Promise<V1Pod> {
  const { serviceAccount = 'scanner', connections = ['aws-role', 'aws-key', 'ssh-host'], optedIn = true } = options;
  return core.createNamespacedPod({
    namespace: tenant,
    body: {
      metadata: {
        generateName: 'scan-',
        labels: optedIn ? { [INJECT_LABEL]: 'true', 'courier.dev/scan-schedule': 'nightly' } : {},
        annotations: { [CONNECTIONS_ANNOTATION]: connections.join(',') },
      },
      spec: {
        serviceAccountName: serviceAccount,
        restartPolicy: 'Never',
        containers: [{ name: 'scan', image: 'courier.local/busybox:1.35' }],
      },
    },
  });
}

/** A token the TokenRequest API binds to the pod, as the kubelet projects it. */
async function tokenFor(pod: V1Pod, audience = TOKEN_AUDIENCE): Promise<string> {
  const request = await core.createNamespacedServiceAccountToken({
    namespace: tenant,
    name: pod.spec!.serviceAccountName!,
    body: {
      spec: {
        audiences: [audience],
        expirationSeconds: 600,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, uid: pod.metadata!.uid! },
      },
    },
  });
  return request.status!.token!;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
  text: string;
  retryAfter: string | null;
}

async function ask(
  token: string | undefined,
  body: unknown,
  init: { contentType?: string; method?: string; raw?: string } = {},
): Promise<Answer> {
  const method = init.method ?? 'POST';
  const response = await undiciFetch(`${brokerUrl}${CREDENTIALS_PATH}`, {
    method,
    dispatcher,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      'content-type': init.contentType ?? 'application/json',
    },
    ...(method === 'POST' ? { body: init.raw ?? JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Non-JSON answers fail the assertions on body below.
  }
  return { status: response.status, body: parsed, text, retryAfter: response.headers.get('retry-after') };
}

function remember(response: CredentialResponse): void {
  if (response.aws) {
    issuedSecrets.push(response.aws.secretAccessKey);
    if (response.aws.sessionToken) issuedSecrets.push(response.aws.sessionToken);
  }
}

describe('the credential broker', () => {
  it('keeps the webhook configuration caBundle current with its CA', async () => {
    const ca = (await core.readNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace: tenant })).data![
      BROKER_CA_KEY
    ]!;
    await eventually(
      async () =>
        (
          await kc
            .makeApiClient(AdmissionregistrationV1Api)
            .readMutatingWebhookConfiguration({ name: webhookConfiguration })
        ).webhooks?.[0]?.clientConfig.caBundle,
      (bundle) => bundle === Buffer.from(ca).toString('base64'),
      20_000,
      'caBundle set',
    );
    const tls = await core.readNamespacedSecret({ name: 'courier-webhook-tls', namespace: courierNamespace });
    expect(Object.keys(tls.data ?? {}).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
  });

  it('publishes the broker CA again when its ConfigMap is deleted from a namespace with ToolConnections', async () => {
    const before = await core.readNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace: tenant });
    await core.deleteNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace: tenant });
    const after = await eventually(
      () => core.readNamespacedConfigMap({ name: BROKER_CA_CONFIGMAP, namespace: tenant }).catch(() => undefined),
      (found) => found !== undefined && found.metadata!.uid !== before.metadata!.uid,
      20_000,
      'the broker CA ConfigMap written again',
    );
    expect(after!.data).toEqual(before.data);
  });

  it('issues AssumeRole session credentials with the ExternalId and session tags, usable against STS', async () => {
    const pod = await createPod();
    const answer = await ask(await tokenFor(pod), { connection: 'aws-role', durationSeconds: 900 });
    expect(answer.status).toBe(200);
    const response = answer.body as unknown as CredentialResponse;
    remember(response);
    expect(response).toMatchObject({
      connection: 'aws-role',
      kind: 'aws/assumeRole',
      aws: { accessKeyId: expect.stringMatching(/^ASIA/), region: 'us-east-1' },
    });
    const lifetime = new Date(response.expiration!).getTime() - Date.now();
    expect(lifetime).toBeGreaterThan(800_000);
    expect(lifetime).toBeLessThanOrEqual(900_000 + 5_000);
    const sts = new STSClient({
      region: 'us-east-1',
      endpoint: moto.endpoint,
      credentials: {
        accessKeyId: response.aws!.accessKeyId,
        secretAccessKey: response.aws!.secretAccessKey,
        sessionToken: response.aws!.sessionToken!,
      },
    });
    const identity = await sts.send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toBe(`arn:aws:sts::123456789012:assumed-role/ScanRole/courier-${pod.metadata!.name}`);
    sts.destroy();

    const audit = await manager.waitForLog('credentials issued');
    expect(audit).toMatchObject({
      audit: true,
      outcome: 'issued',
      connection: 'aws-role',
      namespace: tenant,
      pod: pod.metadata!.name,
      serviceAccount: 'scanner',
      kind: 'aws/assumeRole',
      accessKeyId: response.aws!.accessKeyId,
      expiration: response.expiration,
    });
  });

  it('turns a stored access key into GetSessionToken credentials, never the key itself', async () => {
    const pod = await createPod();
    const answer = await ask(await tokenFor(pod), { connection: 'aws-key' });
    expect(answer.status).toBe(200);
    const response = answer.body as unknown as CredentialResponse;
    remember(response);
    expect(response.kind).toBe('aws/accessKey');
    expect(response.aws!.accessKeyId).not.toBe(ACCESS_KEY_ID);
    expect(response.aws!.sessionToken).toBeTruthy();
    expect(answer.text).not.toContain(SECRET_ACCESS_KEY);
  });

  it('hands out generic fields with purpose, host and port', async () => {
    const pod = await createPod();
    const answer = await ask(await tokenFor(pod), { connection: 'ssh-host' });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      connection: 'ssh-host',
      kind: 'generic',
      generic: {
        purpose: 'ssh',
        host: 'bastion.example.com',
        port: 22,
        fields: { username: 'scanner', password: SSH_PASSWORD, privateKey: SSH_KEY },
      },
    });
  });

  it('serves the real agent process, which writes every connection as files into tmpfs', async () => {
    const pod = await createPod();
    // What the kubelet projects into the agent's container.
    const secretsDir = await mkdtemp(path.join(os.tmpdir(), 'courier-projected-'));
    await writeFile(path.join(secretsDir, 'token'), await tokenFor(pod), { mode: 0o400 });
    await writeFile(path.join(secretsDir, 'ca.crt'), ca);
    // The credentials volume is an emptyDir with medium Memory: tmpfs.
    const output = await mkdtemp('/dev/shm/courier-agent-');
    const mounts = await readFile('/proc/mounts', 'utf8');
    expect(mounts).toMatch(/ \/dev\/shm tmpfs /);

    const run = await runToEnd(MAIN, [
      'agent',
      '--mode=init',
      `--broker-url=${brokerUrl}`,
      '--connections=aws-role,aws-key,ssh-host',
      `--token-file=${path.join(secretsDir, 'token')}`,
      `--ca-file=${path.join(secretsDir, 'ca.crt')}`,
      `--output-dir=${output}`,
      '--file-mode=0400',
    ]);
    agentLogs.push(run.stdout, run.stderr);
    expect(run.code).toBe(0);

    const modeOf = async (file: string) => ((await stat(path.join(output, file))).mode & 0o777).toString(8);
    expect((await readdir(output)).sort()).toEqual(['.courier-ready', 'aws-key', 'aws-role', 'ssh-host']);
    for (const name of ['aws-role', 'aws-key']) {
      expect((await readdir(path.join(output, name))).sort()).toEqual(['config', 'credentials', 'credentials.json']);
      for (const file of ['config', 'credentials', 'credentials.json'])
        expect(await modeOf(`${name}/${file}`)).toBe('400');
      const json = JSON.parse(await readFile(path.join(output, name, 'credentials.json'), 'utf8')) as {
        Version: number;
        AccessKeyId: string;
        SecretAccessKey: string;
        SessionToken: string;
        Expiration: string;
      };
      expect(json.Version).toBe(1);
      expect(json.AccessKeyId).not.toBe(ACCESS_KEY_ID);
      expect(json.SessionToken).toBeTruthy();
      issuedSecrets.push(json.SecretAccessKey, json.SessionToken);
      const ini = await readFile(path.join(output, name, 'credentials'), 'utf8');
      expect(ini).toContain(`aws_secret_access_key = ${json.SecretAccessKey}`);
      expect(await readFile(path.join(output, name, 'config'), 'utf8')).toContain('region = us-east-1');
      // The files work: STS answers to them.
      const sts = new STSClient({
        region: 'us-east-1',
        endpoint: moto.endpoint,
        credentials: {
          accessKeyId: json.AccessKeyId,
          secretAccessKey: json.SecretAccessKey,
          sessionToken: json.SessionToken,
        },
      });
      expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toBe('123456789012');
      sts.destroy();
    }
    expect(await readFile(path.join(output, 'ssh-host', 'password'), 'utf8')).toBe(SSH_PASSWORD);
    expect(await readFile(path.join(output, 'ssh-host', 'privateKey'), 'utf8')).toBe(SSH_KEY);
    expect(await modeOf('ssh-host/password')).toBe('400');
    expect(run.stdout).not.toContain(SSH_PASSWORD);
  });

  it('counts issuances on the ToolConnection status', async () => {
    const tc = await eventually(
      () => readConnection('ssh-host'),
      (found) => (found.status?.issuedCount ?? 0) >= 1,
      15_000,
      'issuedCount recorded',
    );
    expect(Date.now() - new Date(tc.status!.lastIssuedTime!).getTime()).toBeLessThan(60_000);
  });

  describe('refuses, every time, with a 4xx and the reason', () => {
    let pod: V1Pod;
    let token: string;

    beforeAll(async () => {
      pod = await createPod();
      token = await tokenFor(pod);
    });

    it('no token', async () => {
      const answer = await ask(undefined, { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([401, 'TokenMissing']);
    });

    it('a token for another audience', async () => {
      const answer = await ask(await tokenFor(pod, SERVICE_ACCOUNT_ISSUER), { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([401, 'WrongAudience']);
    });

    it('an expired token, signed by the cluster key', async () => {
      const claims = decodeJwt(token);
      const key = await importPKCS8(
        await readFile(path.join(path.dirname(process.env.COURIER_TEST_KUBECONFIG!), 'sa.key'), 'utf8'),
        'RS256',
      );
      const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string };
      const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 3600 })
        .setProtectedHeader({ alg: 'RS256', kid: header.kid })
        .sign(key);
      const answer = await ask(expired, { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([401, 'TokenExpired']);
    });

    it('a forged signature', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string };
      const forged = await new SignJWT(decodeJwt(token))
        .setProtectedHeader({ alg: 'RS256', kid: header.kid })
        .sign(privateKey);
      const answer = await ask(forged, { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([401, 'TokenInvalid']);
      const tampered = `${token.split('.')[0]}.${Buffer.from(JSON.stringify({ ...decodeJwt(token), sub: 'x' })).toString('base64url')}.${token.split('.')[2]}`;
      expect((await ask(tampered, { connection: 'aws-role' })).body.reason).toBe('TokenInvalid');
    });

    it("another pod's token, for a connection that pod did not ask for", async () => {
      const other = await createPod({ connections: ['ssh-host'] });
      const answer = await ask(await tokenFor(other), { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([403, 'NotOptedIn']);
    });

    it('a deleted pod', async () => {
      const doomed = await createPod();
      const doomedToken = await tokenFor(doomed);
      await core.deleteNamespacedPod({ namespace: tenant, name: doomed.metadata!.name!, gracePeriodSeconds: 0 });
      await eventually(
        () => core.readNamespacedPod({ namespace: tenant, name: doomed.metadata!.name! }).catch(() => undefined),
        (found) => found === undefined,
        10_000,
        'pod deleted',
      );
      // The JWT itself still verifies; the broker's live-pod check refuses it.
      const answer = await ask(doomedToken, { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([403, 'PodNotFound']);
    });

    it('a service account the connection does not allow, recorded as an access request', async () => {
      const intruder = await createPod({ serviceAccount: 'intruder' });
      const answer = await ask(await tokenFor(intruder), { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([403, 'ServiceAccountNotAllowed']);
      expect(answer.body.message).toContain('spec.access.serviceAccounts');
      const tc = await eventually(
        () => readConnection('aws-role'),
        (found) => (found.status?.accessRequests ?? []).some((r) => r.serviceAccount === 'intruder'),
        15_000,
        'access request recorded',
      );
      expect(tc.status!.accessRequests!.find((r) => r.serviceAccount === 'intruder')).toMatchObject({
        lastPod: intruder.metadata!.name,
        reason: 'ServiceAccountNotAllowed',
        count: 1,
      });
    });

    it('a connection that exists only in another namespace', async () => {
      const stray = await createPod({ connections: ['elsewhere-role'] });
      const answer = await ask(await tokenFor(stray), { connection: 'elsewhere-role' });
      expect([answer.status, answer.body.reason]).toEqual([404, 'ConnectionNotFound']);
      const qualified = await ask(token, { connection: `${elsewhere}/elsewhere-role` });
      expect([qualified.status, qualified.body.reason]).toEqual([400, 'BadRequest']);
    });

    it('a pod that did not opt in', async () => {
      const plain = await createPod({ optedIn: false });
      const answer = await ask(await tokenFor(plain), { connection: 'aws-role' });
      expect([answer.status, answer.body.reason]).toEqual([403, 'NotOptedIn']);
    });

    it('oversized, malformed and misaddressed requests', async () => {
      const big = await ask(token, undefined, { raw: JSON.stringify({ connection: 'x'.repeat(20_000) }) });
      expect([big.status, big.body.reason]).toEqual([413, 'RequestTooLarge']);
      const broken = await ask(token, undefined, { raw: '{"connection":' });
      expect([broken.status, broken.body.reason]).toEqual([400, 'BadRequest']);
      const notJson = await ask(token, undefined, { raw: 'connection=aws-role', contentType: 'text/plain' });
      expect([notJson.status, notJson.body.reason]).toEqual([415, 'UnsupportedMediaType']);
      const extra = await ask(token, { connection: 'aws-role', role: 'admin' });
      expect([extra.status, extra.body.reason]).toEqual([400, 'BadRequest']);
      const array = await ask(token, ['aws-role']);
      expect([array.status, array.body.reason]).toEqual([400, 'BadRequest']);
      const tooLong = await ask(token, { connection: 'aws-role', durationSeconds: 100_000 });
      expect([tooLong.status, tooLong.body.reason]).toEqual([400, 'BadRequest']);
      const get = await ask(token, undefined, { method: 'GET' });
      expect([get.status, get.body.reason]).toEqual([405, 'MethodNotAllowed']);
    });

    it('a pod that asks too often', async () => {
      const chatty = await createPod({ connections: ['ssh-host'] });
      const chattyToken = await tokenFor(chatty);
      const answers = await Promise.all(Array.from({ length: 45 }, () => ask(chattyToken, { connection: 'ssh-host' })));
      const limited = answers.filter((a) => a.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      expect(limited[0]!.body.reason).toBe('RateLimited');
      expect(Number(limited[0]!.retryAfter)).toBeGreaterThan(0);
    });
  });

  it('leaves no stored or issued secret in etcd, logs, Events, statuses or pod specs', async () => {
    const events: CoreV1Event[] = [];
    for (const namespace of [tenant, courierNamespace, elsewhere])
      events.push(...(await core.listNamespacedEvent({ namespace })).items);
    const statuses = (await objects.listNamespacedCustomObject({ ...TC, namespace: tenant })) as { items: unknown[] };
    const pods = (await core.listNamespacedPod({ namespace: tenant })).items;
    expect(issuedSecrets.length).toBeGreaterThanOrEqual(4);
    const leaks = await findLeaks(
      [SECRET_ACCESS_KEY, SSH_PASSWORD, SSH_KEY, ...issuedSecrets],
      [
        etcdSource(process.env.COURIER_TEST_ETCD_URL!),
        valuesSource('manager log', manager.records),
        valuesSource('agent log', agentLogs),
        valuesSource('event', events),
        valuesSource('toolconnection', statuses.items),
        valuesSource('pod', pods),
      ],
    );
    expect(leaks).toEqual([]);
    // The log is not empty: the search looked at something.
    expect(manager.records.filter((r) => r.audit === true).length).toBeGreaterThan(10);
  });
});
