// The admission endpoint over real TLS, fed generated requests: reviews good
// and bad, bytes that are not JSON, bodies over the limit, odd content types,
// charsets and encodings. Every request is answered — 2xx with an
// AdmissionReview, or 4xx with a message — never a 5xx, never a dropped
// connection. Fewer cases than the handler's properties: each is a request.
import { mkdtemp } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { anyReviewBody } from '../../test/support/arbitraries/pods.ts';
import { hugeString } from '../../test/support/arbitraries/json.ts';
import { fuzzParameters, fuzzTimeout, scaledRuns } from '../../test/support/arbitraries/runs.ts';
import { writeServingPair } from '../../test/support/courier-setup.ts';
import { createCertificateAuthority, type CertificateAuthority } from '../crypto/pki.ts';
import { createLogger } from '../log/logger.ts';
import { AdmissionServer, MUTATE_PATH } from './server.ts';
import { CONNECTIONS, NAMESPACE, SETTINGS } from './testing/fixtures.ts';

const RUNS = scaledRuns(2_000);

let ca: CertificateAuthority;
let server: AdmissionServer;
let port: number;
let agent: Agent;
/** Error lines the server logged: a failure it did not expect. */
const errors: string[] = [];

beforeAll(async () => {
  ca = await createCertificateAuthority('courier-webhook-fuzz-ca', 1);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'courier-webhook-fuzz-'));
  await writeServingPair(ca, dir);
  server = new AdmissionServer({
    address: { host: '127.0.0.1', port: 0 },
    certFile: path.join(dir, 'tls.crt'),
    keyFile: path.join(dir, 'tls.key'),
    review: { settings: SETTINGS, lookup: async (namespace, name) => CONNECTIONS.get(name) },
    registry: new Registry(),
    logger: createLogger({
      level: 'error',
      component: 'webhook',
      destination: { write: (line: string) => void errors.push(line) },
    }),
  });
  ({ port } = await server.start());
  // Kept alive, as the apiserver keeps its connections: a request that breaks one shows.
  agent = new Agent({ keepAlive: true, maxSockets: 1, ca: ca.certPem });
});

afterAll(async () => {
  agent?.destroy();
  await server?.stop();
});

interface Sent {
  body: Buffer;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

function post({ body, headers }: Sent): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: MUTATE_PATH, method: 'POST', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          contentType: res.headers['content-type'] ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const options = { namespace: NAMESPACE, connections: [...CONNECTIONS.keys()] };

const bodies: fc.Arbitrary<Buffer> = fc.oneof(
  { arbitrary: anyReviewBody(options).map((value) => Buffer.from(JSON.stringify(value) ?? '')), weight: 12 },
  // Cut short, as by a proxy or a client that gave up.
  {
    arbitrary: fc.tuple(anyReviewBody(options), fc.nat()).map(([value, cut]) => {
      const text = JSON.stringify(value) ?? '';
      return Buffer.from(text.slice(0, cut % (text.length + 1)));
    }),
    weight: 2,
  },
  { arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes) => Buffer.from(bytes)), weight: 2 },
  { arbitrary: fc.constantFrom('', 'null', '[]', '"x"', '1e999', '{"__proto__":{"x":1}}').map(Buffer.from), weight: 1 },
  // Over the 2 MiB limit now and then: each costs a 2 MiB upload.
  {
    arbitrary: hugeString(2 * 1024 * 1024 + 1, 2 * 1024 * 1024 + 4096).map((text) =>
      Buffer.from(JSON.stringify({ pad: text })),
    ),
    weight: 1,
  },
);

const headers: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    'content-type': fc.oneof(
      { arbitrary: fc.constant('application/json'), weight: 12 },
      {
        arbitrary: fc.constantFrom(
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'application/json; charset=iso-8859-1',
          'application/json; charset=utf-16',
          'application/json; charset=koi8-bogus',
          'application/merge-patch+json',
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          '',
          ';;;',
        ),
        weight: 3,
      },
    ),
    'content-encoding': fc.constantFrom('identity', 'gzip', 'deflate', 'br', 'x-bogus'),
    accept: fc.constantFrom('application/json', 'text/html', '*/*'),
  },
  { requiredKeys: ['content-type'] },
);

function checkAnswer(answer: Answer): void {
  expect(answer.status).toBeGreaterThanOrEqual(200);
  expect(answer.status).toBeLessThan(500);
  expect(answer.contentType).toMatch(/^application\/json/);
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  if (answer.status < 300) {
    expect(body).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: expect.objectContaining({ uid: expect.any(String), allowed: expect.any(Boolean) }),
    });
  } else {
    expect(body).toEqual({ message: expect.any(String) });
    expect(body.message).not.toBe('');
  }
}

describe('AdmissionServer, on generated requests', () => {
  it(
    'answers every request with 2xx and an AdmissionReview or 4xx and a message, on a connection that stays usable',
    async () => {
      await fc.assert(
        fc.asyncProperty(bodies, headers, async (body, sentHeaders) => {
          checkAnswer(await post({ body, headers: sentHeaders }));
        }),
        fuzzParameters(RUNS),
      );
      expect(errors).toEqual([]);
    },
    fuzzTimeout(RUNS, 20),
  );
});
