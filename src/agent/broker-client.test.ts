import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createCertificateAuthority, type CertificateAuthority } from '../crypto/pki.ts';
import { BrokerClient, CredentialFetchError, parseRetryAfter } from './broker-client.ts';
import { FakeBroker, writeCaFile } from './testing/fake-broker.ts';
import { secretValue, tmpfsDir } from './testing/support.ts';

let broker: FakeBroker;
let ca: CertificateAuthority;
beforeAll(async () => {
  ({ broker, ca } = await FakeBroker.start());
});
afterAll(() => broker.stop());

let dir: string;
let remove: () => Promise<void>;
let tokenFile: string;
let caFile: string;
beforeEach(async () => {
  ({ dir, remove } = await tmpfsDir());
  tokenFile = path.join(dir, 'token');
  await writeFile(tokenFile, 'first-token-value\n');
  caFile = await writeCaFile(dir, ca);
  broker.requests.length = 0;
});
afterEach(() => remove());

function client(overrides: Partial<ConstructorParameters<typeof BrokerClient>[0]> = {}): BrokerClient {
  return new BrokerClient({ brokerUrl: broker.url, tokenFile, caFile, requestTimeoutMs: 5_000, ...overrides });
}

const never = new AbortController().signal;

async function fetchError(promise: Promise<unknown>): Promise<CredentialFetchError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CredentialFetchError);
  return error as CredentialFetchError;
}

const genericAnswer = (connection: string, password: string) => ({
  status: 200,
  body: { connection, kind: 'generic', generic: { purpose: 'ssh', fields: { password } } },
});

describe('BrokerClient', () => {
  it('POSTs the connection as JSON with the token as bearer, and returns the response', async () => {
    const password = secretValue('password');
    broker.handler = (request) => genericAnswer(request.body.connection, password);
    const response = await client().fetch('github', never);
    expect(response).toEqual({
      connection: 'github',
      kind: 'generic',
      generic: { purpose: 'ssh', fields: { password } },
    });
    expect(broker.requests).toEqual([
      expect.objectContaining({
        method: 'POST',
        path: '/v1/credentials',
        authorization: 'Bearer first-token-value',
        contentType: 'application/json',
        body: { connection: 'github' },
      }),
    ]);
  });

  it('keeps a path prefix of the broker URL', async () => {
    broker.handler = (request) => genericAnswer(request.body.connection, 'x');
    await client({ brokerUrl: `${broker.url}/courier/` }).fetch('github', never);
    expect(broker.requests[0]?.path).toBe('/courier/v1/credentials');
  });

  it('re-reads the token file before every request', async () => {
    broker.handler = (request) => genericAnswer(request.body.connection, 'x');
    await client().fetch('github', never);
    await writeFile(tokenFile, 'rotated-token-value\n');
    await client().fetch('github', never);
    expect(broker.requests.map((request) => request.authorization)).toEqual([
      'Bearer first-token-value',
      'Bearer rotated-token-value',
    ]);
  });

  it('refuses a server whose certificate is not signed by the CA file, and trusts it once the CA file is right', async () => {
    const otherCa = await createCertificateAuthority('someone-else', 1);
    await writeCaFile(dir, otherCa);
    broker.handler = (request) => genericAnswer(request.body.connection, 'x');
    const sameClient = client();
    const error = await fetchError(sameClient.fetch('github', never));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^cannot reach the broker: .*(certificate|UNABLE_TO_VERIFY|SELF_SIGNED)/i);
    expect(broker.requests).toHaveLength(0);

    // The CA file is read on each attempt: a rotated bundle is picked up.
    await writeCaFile(dir, ca);
    await expect(sameClient.fetch('github', never)).resolves.toMatchObject({ connection: 'github' });
  });

  it('does not fall back to the system roots when the CA file is empty', async () => {
    await writeFile(caFile, '');
    const error = await fetchError(client().fetch('github', never));
    expect(error.message).toBe(`the CA file ${caFile} is empty`);
    expect(broker.requests).toHaveLength(0);
  });

  it.each([400, 401, 403, 404])('treats %i as a refusal, with the broker reason and message', async (status) => {
    broker.handler = () => ({
      status,
      body: { code: status, reason: 'ServiceAccountNotAllowed', message: 'service account default may not use github' },
    });
    const error = await fetchError(client().fetch('github', never));
    expect(error).toMatchObject({ retryable: false, status, reason: 'ServiceAccountNotAllowed' });
    expect(error.message).toBe(`HTTP ${status} ServiceAccountNotAllowed: service account default may not use github`);
  });

  it.each([429, 500, 502, 503, 504])('treats %i as retryable and reads Retry-After', async (status) => {
    broker.handler = () => ({
      status,
      headers: { 'retry-after': '7' },
      body: { code: status, reason: 'Busy', message: 'later' },
    });
    const error = await fetchError(client().fetch('github', never));
    expect(error).toMatchObject({ retryable: true, status, reason: 'Busy', retryAfterMs: 7_000 });
  });

  it('describes a non-JSON error page from a proxy by its status and first characters', async () => {
    broker.handler = () => ({ status: 502, body: `<html><body>Bad   gateway\n${'x'.repeat(500)}</body></html>` });
    const error = await fetchError(client().fetch('github', never));
    expect(error.retryable).toBe(true);
    expect(error.reason).toBeUndefined();
    expect(error.message).toMatch(/^HTTP 502: <html><body>Bad gateway x+…$/);
    expect(error.message.length).toBeLessThan(230);
  });

  it('refuses a response larger than the limit', async () => {
    broker.handler = (request) => genericAnswer(request.body.connection, 'y'.repeat(4096));
    const error = await fetchError(client({ maxResponseBytes: 1024 }).fetch('github', never));
    expect(error).toMatchObject({
      retryable: false,
      status: 200,
      message: 'broker answered with more than 1024 bytes',
    });
  });

  it('stops reading a streamed response at the limit', async () => {
    broker.handler = (request) => ({ ...genericAnswer(request.body.connection, 'y'.repeat(8192)), chunks: 16 });
    const error = await fetchError(client({ maxResponseBytes: 2048 }).fetch('github', never));
    expect(error.message).toBe('broker answered with more than 2048 bytes');
  });

  it('refuses a response over 1 MiB by default', async () => {
    broker.handler = (request) => genericAnswer(request.body.connection, 'z'.repeat(1024 * 1024));
    const error = await fetchError(client().fetch('github', never));
    expect(error.message).toBe('broker answered with more than 1048576 bytes');
  });

  it('refuses a 200 that is not a usable response, without quoting it', async () => {
    const secret = secretValue('leaked');
    broker.handler = () => ({
      status: 200,
      body: { connection: 'other', kind: 'generic', generic: { fields: { secret } } },
    });
    const error = await fetchError(client().fetch('github', never));
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      'broker answered 200 with an unusable response: it is for another connection than "github"',
    );

    broker.handler = () => ({ status: 200, body: `{"connection":"github","kind":"generic" ${secret}` });
    const notJson = await fetchError(client().fetch('github', never));
    expect(notJson.message).toBe('broker answered 200 with a body that is not JSON');
  });

  it('refuses AWS values that would break the INI files', async () => {
    broker.handler = () => ({
      status: 200,
      body: {
        connection: 'aws',
        kind: 'aws/assumeRole',
        aws: { accessKeyId: 'ASIA1', secretAccessKey: 'abc\n[evil]', sessionToken: 'tok', region: 'eu-west-1' },
      },
    });
    const error = await fetchError(client().fetch('aws', never));
    expect(error.message).toMatch(/aws\.secretAccessKey is missing or not a single line$/);
  });

  it('gives up on a request after the request timeout, as a retryable failure', async () => {
    broker.handler = () => ({ status: 200, hang: true });
    const started = performance.now();
    const error = await fetchError(client({ requestTimeoutMs: 300 }).fetch('github', never));
    expect(error).toMatchObject({ retryable: true, message: 'no answer from the broker within 300ms' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('stops at once when its signal aborts, with the signal reason', async () => {
    broker.handler = () => ({ status: 200, hang: true });
    const controller = new AbortController();
    const pending = client().fetch('github', controller.signal);
    while (broker.requests.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const reason = new Error('shutting down');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });

  it('reports a missing token file as retryable', async () => {
    const error = await fetchError(client({ tokenFile: path.join(dir, 'missing') }).fetch('github', never));
    expect(error).toMatchObject({ retryable: true, message: `cannot read the token file ${dir}/missing: ENOENT` });
  });

  it('reports a refused connection as retryable', async () => {
    const error = await fetchError(client({ brokerUrl: 'https://127.0.0.1:1' }).fetch('github', never));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/^cannot reach the broker: .*ECONNREFUSED/);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, and ignores garbage', () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3_000);
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfter('Mon, 31 Dec 2029 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('86400', now)).toBe(300_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
