// The agent's run against a real HTTPS broker stand-in, writing to tmpfs.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CredentialResponse } from '../api/v1alpha1/delivery.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../crypto/pki.ts';
import { runAgent, type AgentSettings } from './agent.ts';
import { BrokerClient } from './broker-client.ts';
import { FakeBroker, writeCaFile, type Answer } from './testing/fake-broker.ts';
import { captureLogger, secretValue, tmpfsDir, waitFor, type CapturedLogger } from './testing/support.ts';

let broker: FakeBroker;
let ca: CertificateAuthority;
beforeAll(async () => {
  ({ broker, ca } = await FakeBroker.start());
});
afterAll(() => broker.stop());

let dir: string;
let outputDir: string;
let remove: () => Promise<void>;
let tokenFile: string;
let caFile: string;
/** Every secret the broker handed out in the current test: none may reach a log line. */
let secrets: string[];
/** The AWS answers handed out in the current test, in order. */
let awsIssued: { secretAccessKey: string; sessionToken: string }[];
/** The generic fields handed out in the current test, by connection. */
let genericIssued: Record<string, Record<string, string>>;
let log: CapturedLogger;
beforeEach(async () => {
  ({ dir, remove } = await tmpfsDir());
  outputDir = path.join(dir, 'out');
  tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, secretValue('token'));
  caFile = await writeCaFile(dir, ca);
  broker.requests.length = 0;
  secrets = [];
  awsIssued = [];
  genericIssued = {};
  log = captureLogger();
});
afterEach(async () => {
  for (const line of log.lines) {
    for (const secret of secrets) expect(line).not.toContain(secret);
    // Stronger than the above: nothing even tried to log one and relied on redaction.
    expect(line).not.toContain('[REDACTED]');
  }
  await remove();
});

function awsAnswer(connection: string, lifetimeMs?: number): Answer {
  const secretAccessKey = secretValue('secret-access-key');
  const sessionToken = secretValue('session-token');
  secrets.push(secretAccessKey, sessionToken);
  awsIssued.push({ secretAccessKey, sessionToken });
  const body: CredentialResponse = {
    connection,
    kind: 'aws/assumeRole',
    ...(lifetimeMs === undefined ? {} : { expiration: new Date(Date.now() + lifetimeMs).toISOString() }),
    aws: { accessKeyId: `ASIA${awsIssued.length}EXAMPLE`, secretAccessKey, sessionToken, region: 'eu-west-1' },
  };
  return { status: 200, body };
}

function genericAnswer(connection: string, fields: Record<string, string>): Answer {
  secrets.push(...Object.values(fields));
  genericIssued[connection] = fields;
  return { status: 200, body: { connection, kind: 'generic', generic: { purpose: 'ssh', host: 'h', fields } } };
}

function unavailable(retryAfter?: string): Answer {
  return {
    status: 503,
    ...(retryAfter === undefined ? {} : { headers: { 'retry-after': retryAfter } }),
    body: { code: 503, reason: 'StoreUnavailable', message: 'the store did not answer' },
  };
}

function start(settings: Partial<AgentSettings> & Pick<AgentSettings, 'connections'>, random?: () => number) {
  const shutdown = new AbortController();
  const source = new BrokerClient({ brokerUrl: broker.url, tokenFile, caFile, requestTimeoutMs: 2_000 });
  const started = performance.now();
  const exit = runAgent(
    { mode: 'init', outputDir, fileMode: 0o400, retryTimeoutMs: 5_000, ...settings },
    { source, logger: log.logger, signal: shutdown.signal, ...(random ? { random } : {}) },
  );
  return { exit, shutdown, started };
}

const messages = () => log.records().map((record) => record.msg);
const errors = () => log.records().filter((record) => record.level === 'error');
const read = (...parts: string[]) => readFile(path.join(outputDir, ...parts), 'utf8');

describe('init mode', () => {
  it('writes every connection, then the ready marker, and exits 0', async () => {
    broker.handler = (request) =>
      request.body.connection === 'aws-prod'
        ? awsAnswer('aws-prod', 3_600_000)
        : genericAnswer('ssh-host', { username: secretValue('user'), privateKey: secretValue('key') });
    const { exit } = start({ connections: ['aws-prod', 'ssh-host'], fileMode: 0o440 });
    expect(await exit).toBe(0);

    expect((await readdir(outputDir)).sort()).toEqual(['.courier-ready', 'aws-prod', 'ssh-host']);
    expect((await readdir(path.join(outputDir, 'aws-prod'))).sort()).toEqual([
      'config',
      'credentials',
      'credentials.json',
    ]);
    expect((await readdir(path.join(outputDir, 'ssh-host'))).sort()).toEqual([
      'credentials.json',
      'privateKey',
      'username',
    ]);
    const { secretAccessKey, sessionToken } = awsIssued[0]!;
    expect(await read('aws-prod', 'credentials')).toBe(
      `[default]\naws_access_key_id = ASIA1EXAMPLE\naws_secret_access_key = ${secretAccessKey}\naws_session_token = ${sessionToken}\n`,
    );
    expect(await read('aws-prod', 'config')).toBe('[default]\nregion = eu-west-1\n');
    expect(await read('ssh-host', 'username')).toBe(genericIssued['ssh-host']?.username);
    expect(await read('ssh-host', 'privateKey')).toBe(genericIssued['ssh-host']?.privateKey);
    for (const file of ['aws-prod/credentials', 'ssh-host/privateKey', '.courier-ready']) {
      expect((await stat(path.join(outputDir, file))).mode & 0o777).toBe(0o440);
    }

    const wrote = log.records().filter((record) => record.msg === 'wrote credentials');
    expect(wrote).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          connection: 'aws-prod',
          kind: 'aws/assumeRole',
          accessKeyId: 'ASIA1EXAMPLE',
          expiration: expect.any(String),
          files: ['credentials', 'config', 'credentials.json'].map((name) => path.join(outputDir, 'aws-prod', name)),
        }),
        expect.objectContaining({ connection: 'ssh-host', kind: 'generic' }),
      ]),
    );
    expect(messages().at(-1)).toBe('credentials ready');
    expect(errors()).toEqual([]);
  });

  it('retries 503 with backoff and honours Retry-After, then succeeds', async () => {
    broker.handler = (request, index) =>
      index < 2 ? unavailable('1') : genericAnswer('db', { pw: secretValue('pw') });
    const { exit } = start({ connections: ['db'] }, () => 0);
    expect(await exit).toBe(0);
    expect(broker.requests).toHaveLength(3);
    const [first, second, third] = broker.requests.map((request) => request.at) as [number, number, number];
    // With the jitter fixed at 0, only Retry-After can have made the agent wait.
    expect(second - first).toBeGreaterThanOrEqual(950);
    expect(third - second).toBeGreaterThanOrEqual(950);
    const retries = log.records().filter((record) => record.level === 'warn');
    expect(retries).toEqual([
      expect.objectContaining({
        connection: 'db',
        attempt: 1,
        status: 503,
        reason: 'StoreUnavailable',
        retryInMs: 1000,
      }),
      expect.objectContaining({
        connection: 'db',
        attempt: 2,
        status: 503,
        reason: 'StoreUnavailable',
        retryInMs: 1000,
      }),
    ]);
    expect(await read('db', 'pw')).toBe(genericIssued.db?.pw);
  });

  it('backs off exponentially without Retry-After', async () => {
    broker.handler = (_request, index) => (index < 3 ? unavailable() : genericAnswer('db', { pw: secretValue('pw') }));
    const { exit } = start({ connections: ['db'] }, () => 1);
    expect(await exit).toBe(0);
    const delays = log.records().flatMap((record) => (record.level === 'warn' ? [record.retryInMs] : []));
    expect(delays).toEqual([500, 1000, 2000]);
    const at = broker.requests.map((request) => request.at);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(1950);
  });

  it('re-reads a token that changed between requests', async () => {
    const rotated = secretValue('rotated-token');
    broker.handler = async (_request, index) => {
      if (index > 0) return genericAnswer('db', { pw: secretValue('pw') });
      await writeFile(tokenFile, rotated);
      return unavailable('0');
    };
    const { exit } = start({ connections: ['db'] });
    expect(await exit).toBe(0);
    expect(broker.requests[0]?.authorization).not.toBe(`Bearer ${rotated}`);
    expect(broker.requests[1]?.authorization).toBe(`Bearer ${rotated}`);
    secrets.push(rotated);
  });

  it('fails fast on 403 with one error line naming the connection, status, reason and message', async () => {
    broker.handler = (request) =>
      request.body.connection === 'github'
        ? {
            status: 403,
            body: {
              code: 403,
              reason: 'ServiceAccountNotAllowed',
              message: 'service account scanner is not allowed to use ToolConnection "github"',
            },
          }
        : { status: 200, hang: true };
    const { exit, started } = start({ connections: ['github', 'slow'] });
    expect(await exit).toBe(1);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(errors()).toEqual([
      expect.objectContaining({
        connection: 'github',
        status: 403,
        reason: 'ServiceAccountNotAllowed',
        msg:
          'cannot get credentials for connection github: HTTP 403 ServiceAccountNotAllowed: service account scanner ' +
          'is not allowed to use ToolConnection "github" (see status.accessRequests of ToolConnection github)',
      }),
    ]);
    expect(broker.requests.filter((request) => request.body.connection === 'github')).toHaveLength(1);
    await expect(readdir(outputDir)).rejects.toThrow('ENOENT');
  });

  it('gives up after the retry timeout, saying what kept failing', async () => {
    broker.handler = () => unavailable();
    const { exit, started } = start({ connections: ['db'], retryTimeoutMs: 1_500 });
    expect(await exit).toBe(1);
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(1_450);
    expect(elapsed).toBeLessThan(4_000);
    expect(errors()).toHaveLength(1);
    expect(errors()[0]?.msg).toMatch(
      /^gave up on connection db: \d+ attempts failed, the last with: HTTP 503 StoreUnavailable: the store did not answer$/,
    );
    expect(broker.requests.length).toBeGreaterThanOrEqual(2);
  });

  it('refuses a broker whose certificate the CA file does not vouch for', async () => {
    await writeCaFile(dir, await createCertificateAuthority('not-the-broker-ca', 1));
    broker.handler = () => genericAnswer('db', { pw: secretValue('pw') });
    const { exit } = start({ connections: ['db'], retryTimeoutMs: 800 });
    expect(await exit).toBe(1);
    expect(broker.requests).toHaveLength(0);
    expect(errors()[0]?.msg).toMatch(/^gave up on connection db: .*cannot reach the broker: .*certificate/i);
  });

  it('fails the connection, without a crash, on a field that cannot be a file name', async () => {
    broker.handler = () => genericAnswer('db', { '../../etc/passwd': secretValue('pw'), ok: 'fine' });
    const { exit } = start({ connections: ['db'] });
    expect(await exit).toBe(1);
    expect(errors()).toEqual([
      expect.objectContaining({
        connection: 'db',
        msg: expect.stringMatching(
          /^cannot get credentials for connection db: field "\.\.\/\.\.\/etc\/passwd" cannot be/,
        ),
      }),
    ]);
    await expect(readdir(outputDir)).rejects.toThrow('ENOENT');
  });

  it('exits 1 when stopped before the credentials were written', async () => {
    broker.handler = () => ({ status: 200, hang: true });
    const { exit, shutdown } = start({ connections: ['db'] });
    await waitFor('the request', () => broker.requests.length === 1);
    shutdown.abort(new Error('SIGTERM'));
    expect(await exit).toBe(1);
    expect(messages()).toContain('stopped before the credentials were written');
  });
});

describe('sidecar mode', () => {
  it('refreshes at about 80% of the lifetime, replacing the files, and stops promptly when told', async () => {
    broker.handler = (request) => awsAnswer(request.body.connection, 3_000);
    const { exit, shutdown } = start({ connections: ['aws-prod'], mode: 'sidecar' });
    await waitFor('the marker', () => messages().includes('credentials ready'));
    const firstFile = await read('aws-prod', 'credentials.json');
    await waitFor('a refresh', () => messages().includes('refreshed credentials'), 6_000);

    const [first, second] = broker.requests.map((request) => request.at) as [number, number];
    expect(second - first).toBeGreaterThan(2_200);
    expect(second - first).toBeLessThan(3_000);
    const refreshed = JSON.parse(await read('aws-prod', 'credentials.json')) as Record<string, string>;
    expect((JSON.parse(firstFile) as Record<string, string>).SecretAccessKey).toBe(awsIssued[0]?.secretAccessKey);
    expect(refreshed.SecretAccessKey).toBe(awsIssued[1]?.secretAccessKey);
    expect(refreshed.SecretAccessKey).not.toBe(awsIssued[0]?.secretAccessKey);
    expect(await read('aws-prod', 'credentials')).toContain(`aws_session_token = ${awsIssued[1]?.sessionToken}\n`);
    expect((await readdir(path.join(outputDir, 'aws-prod'))).sort()).toEqual([
      'config',
      'credentials',
      'credentials.json',
    ]);

    const stopping = performance.now();
    shutdown.abort(new Error('SIGTERM'));
    expect(await exit).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(200);
  });

  it('keeps the old files through failed refreshes, then exits 1 once they have expired', async () => {
    broker.handler = (request, index) => (index === 0 ? awsAnswer(request.body.connection, 3_000) : unavailable());
    const { exit, started } = start({ connections: ['aws-prod'], mode: 'sidecar' }, () => 0.5);
    await waitFor('a failed refresh', () => log.records().some((record) => record.level === 'warn'), 6_000);
    expect(await read('aws-prod', 'credentials')).toContain(awsIssued[0]!.secretAccessKey);
    expect(await exit).toBe(1);
    expect(performance.now() - started).toBeGreaterThan(2_900);
    expect(errors()).toEqual([
      expect.objectContaining({
        connection: 'aws-prod',
        msg: expect.stringMatching(
          /^the credentials of connection aws-prod expired before a refresh succeeded: \d+ attempts failed, the last with: HTTP 503/,
        ),
      }),
    ]);
    expect(log.records().filter((record) => record.level === 'warn')[0]).toMatchObject({ phase: 'refresh' });
    expect(await read('aws-prod', 'credentials')).toContain(awsIssued[0]!.secretAccessKey);
  });

  it('does not refresh credentials without an expiration, and waits for shutdown', async () => {
    broker.handler = () => genericAnswer('db', { pw: secretValue('pw') });
    const { exit, shutdown } = start({ connections: ['db'], mode: 'sidecar' });
    await waitFor('the marker', () => messages().includes('credentials ready'));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(broker.requests).toHaveLength(1);
    shutdown.abort(new Error('SIGTERM'));
    expect(await exit).toBe(0);
  });

  it('exits 0 when stopped during the first fetch', async () => {
    broker.handler = () => unavailable('30');
    const { exit, shutdown } = start({ connections: ['db'], mode: 'sidecar' });
    await waitFor('a retry', () => log.records().some((record) => record.level === 'warn'));
    const stopping = performance.now();
    shutdown.abort(new Error('SIGTERM'));
    expect(await exit).toBe(0);
    expect(performance.now() - stopping).toBeLessThan(200);
  });
});
