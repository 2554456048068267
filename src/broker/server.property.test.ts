// The broker's HTTPS endpoint fed generated requests: the decision's
// requests (broker-requests.ts) plus what only HTTP can get wrong — other
// methods and paths, content types, bodies that do not parse or exceed the
// limit, headers too large for Node to read. Each gets a JSON BrokerError
// with a 4xx (or the answer the broker's rule gives), never a 5xx other than
// the designed 503 with Retry-After, and the connection stays usable. Fewer
// cases than the decision's property: each one is a TLS request.
import { validateHeaderValue } from 'node:http';
import { Agent, request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  authorization,
  authorizationHeader,
  expectedAnswer,
  requestBody,
  type Authorization,
} from '../../test/support/arbitraries/broker-requests.ts';
import { anyJson, hugeString } from '../../test/support/arbitraries/json.ts';
import { fuzzParameters, fuzzTimeout, scaledRuns } from '../../test/support/arbitraries/runs.ts';
import { startBrokerWorld, type BrokerWorld } from '../../test/support/broker-world.ts';
import { CREDENTIALS_PATH } from '../api/v1alpha1/delivery.ts';
import { createCertificateAuthority, issueCertificate } from '../crypto/pki.ts';
import { createLogger } from '../log/logger.ts';
import { BrokerServer } from './server.ts';

const RUNS = scaledRuns(2_000);
let world: BrokerWorld;
let server: BrokerServer;
let port: number;
let agent: Agent;
let ca: string;
const serverErrors: string[] = [];

beforeAll(async () => {
  world = await startBrokerWorld();
  const authority = await createCertificateAuthority('courier-broker-fuzz-ca', 1);
  ca = authority.certPem;
  const serving = await issueCertificate(authority, {
    commonName: 'courier-broker',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    validityDays: 1,
  });
  server = new BrokerServer(
    world.broker,
    createLogger({
      level: 'error',
      component: 'broker',
      destination: { write: (line: string) => void serverErrors.push(line) },
    }),
  );
  ({ port } = await server.listen({ host: '127.0.0.1', port: 0 }, serving));
  agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
});

afterAll(async () => {
  agent?.destroy();
  await server?.close();
  await world?.close();
});

interface HttpCase {
  method: string;
  path: string;
  contentType: string | undefined;
  auth: Authorization;
  /** The body as sent: JSON of a generated body, or raw bytes. */
  body: { json: unknown } | { raw: Buffer };
  extraHeaders: Record<string, string>;
}

const httpCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.oneof(
    { arbitrary: fc.constant('POST'), weight: 16 },
    { arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'), weight: 1 },
  ),
  path: fc.oneof(
    { arbitrary: fc.constant(CREDENTIALS_PATH), weight: 16 },
    {
      arbitrary: fc.constantFrom('/', '/v1/credentials/', '/v1/credentials?x=1', '/v2/credentials', '/%2e%2e/'),
      weight: 1,
    },
  ),
  contentType: fc.oneof(
    { arbitrary: fc.constant('application/json'), weight: 16 },
    {
      arbitrary: fc.constantFrom(
        undefined,
        'application/json; charset=utf-8',
        'application/json; charset=utf-16',
        'application/json; charset=nope',
        'text/plain',
        'application/x-www-form-urlencoded',
      ),
      weight: 2,
    },
  ),
  auth: authorization,
  body: fc.oneof(
    { arbitrary: requestBody.map((json) => ({ json })), weight: 16 },
    { arbitrary: fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ raw: Buffer.from(bytes) })), weight: 1 },
    { arbitrary: fc.constantFrom('', '{"connection":', 'nul').map((text) => ({ raw: Buffer.from(text) })), weight: 1 },
    // Over the 16 kB limit.
    { arbitrary: hugeString(17 * 1024, 64 * 1024).map((pad) => ({ json: { connection: 'github', pad } })), weight: 1 },
  ),
  extraHeaders: fc.dictionary(
    fc.stringMatching(/^x-[a-z0-9-]{1,20}$/),
    anyJson(0).map((value) => String(value).replace(/[^\x20-\x7e]/g, '')),
    { maxKeys: 2 },
  ),
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * Node reads at most 16 KiB of request headers (its maxHeaderSize); past
 * that it answers 431 and closes the connection, often while the client is
 * still sending, which the client sees as a reset. Near the limit either
 * outcome is Node's, not the broker's.
 */
const NODE_HEADER_LIMIT_NEAR = 15 * 1024;

function headersFor(sent: HttpCase): Record<string, string> {
  const authorizationValue = authorizationHeader(sent.auth, world);
  const headers: Record<string, string> = { ...sent.extraHeaders };
  if (sent.contentType !== undefined) headers['content-type'] = sent.contentType;
  if (authorizationValue !== undefined) headers.authorization = authorizationValue;
  return headers;
}

/** Whether an HTTP client can send these headers at all (no control characters, nothing beyond Latin-1). */
function sendable(headers: Record<string, string>): boolean {
  try {
    for (const [name, value] of Object.entries(headers)) validateHeaderValue(name, value);
    return true;
  } catch {
    return false;
  }
}

const headerBytes = (headers: Record<string, string>) =>
  Object.entries(headers).reduce((sum, [name, value]) => sum + name.length + Buffer.byteLength(value) + 4, 0);

function send(sent: HttpCase, headers: Record<string, string>): Promise<Answer> {
  const body = 'json' in sent.body ? Buffer.from(JSON.stringify(sent.body.json) ?? '') : sent.body.raw;
  // Said explicitly: for GET, DELETE and OPTIONS Node's client would send a body with no length at all.
  headers = { ...headers, 'content-length': String(body.length) };
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: sent.path, method: sent.method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Whether the request reaches Broker.handle with this body, so the broker's rule decides the answer. */
function reachesBroker(sent: HttpCase): boolean {
  return (
    sent.method === 'POST' &&
    sent.path === CREDENTIALS_PATH &&
    sent.contentType?.startsWith('application/json') === true &&
    !sent.contentType.includes('charset=utf-16') &&
    !sent.contentType.includes('charset=nope') &&
    'json' in sent.body &&
    JSON.stringify(sent.body.json) !== undefined &&
    Buffer.byteLength(JSON.stringify(sent.body.json)) <= 16 * 1024
  );
}

describe('BrokerServer, on generated requests', () => {
  it(
    'answers each with JSON and a 4xx (or what the rule gives), never an unplanned 5xx, on a connection that stays usable',
    async () => {
      await fc.assert(
        fc.asyncProperty(httpCase, async (sent) => {
          const headers = headersFor(sent);
          fc.pre(sendable(headers));
          if (headerBytes(headers) > NODE_HEADER_LIMIT_NEAR) {
            const outcome = await send(sent, headers).then(
              (answer) => answer.status,
              (error: NodeJS.ErrnoException) => error.code,
            );
            if (outcome === 431 || outcome === 'ECONNRESET' || outcome === 'EPIPE') {
              // Refused by Node; the server must still take the next connection.
              agent.destroy();
              agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
              return;
            }
          }
          const answer = await send(sent, headers);
          const body = JSON.parse(answer.text) as Record<string, unknown>;
          expect(answer.headers['content-type']).toMatch(/^application\/json/);
          if (reachesBroker(sent)) {
            const want = expectedAnswer(sent.auth, (sent.body as { json: unknown }).json);
            expect(answer.status).toBe(want.status);
            if (want.status !== 200) expect(want.reasons).toContain(body.reason);
          }
          if (answer.status === 200) return;
          expect(body).toEqual({ code: answer.status, reason: expect.any(String), message: expect.any(String) });
          if (answer.status >= 500) {
            expect(body.reason).toBe('ConnectionNotReady');
            expect(Number(answer.headers['retry-after'])).toBeGreaterThan(0);
          }
        }),
        fuzzParameters(RUNS),
      );
      expect(serverErrors).toEqual([]);
      expect(world.errors).toEqual([]);
    },
    fuzzTimeout(RUNS, 25),
  );
});
