// The admission server on a loopback port with a real certificate, driven by
// a TLS client as the apiserver would drive it.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { Agent, request, type RequestOptions } from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { connect, type PeerCertificate } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../crypto/pki.ts';
import { createLogger } from '../log/logger.ts';
import { writeServingPair } from '../../test/support/courier-setup.ts';
import { until } from '../../test/support/wait.ts';
import { AdmissionServer, MUTATE_PATH } from './server.ts';
import { CONNECTIONS, NAMESPACE, SETTINGS } from './testing/fixtures.ts';

let ca: CertificateAuthority;
let dir: string;
let server: AdmissionServer | undefined;
/** The running server's log lines. */
let logs: Array<{ level: string; msg: string }> = [];

beforeAll(async () => {
  ca = await createCertificateAuthority('courier-webhook-test-ca', 1);
  dir = await mkdtemp(path.join(os.tmpdir(), 'courier-webhook-'));
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

async function startServer(registry = new Registry()): Promise<{ port: number; registry: Registry }> {
  await writeServingPair(ca, dir);
  logs = [];
  server = new AdmissionServer({
    address: { host: '127.0.0.1', port: 0 },
    certFile: path.join(dir, 'tls.crt'),
    keyFile: path.join(dir, 'tls.key'),
    review: { settings: SETTINGS, lookup: async (_, name) => CONNECTIONS.get(name) },
    registry,
    logger: createLogger({
      level: 'info',
      component: 'webhook',
      destination: { write: (line: string) => void logs.push(JSON.parse(line)) },
    }),
  });
  const { port } = await server.start();
  return { port, registry };
}

interface Answer {
  status: number;
  body: unknown;
}

function post(port: number, body: string, headers: Record<string, string> = {}, options: RequestOptions = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: MUTATE_PATH,
        method: 'POST',
        ca: ca.certPem,
        headers: { 'content-type': 'application/json', ...headers },
        ...options,
      },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const REVIEW = JSON.stringify({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'e911857d-c318-11e8-bbad-025000000001',
    kind: { group: '', version: 'v1', kind: 'Pod' },
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: NAMESPACE,
    operation: 'CREATE',
    dryRun: true,
    object: {
      metadata: { labels: { 'courier.dev/inject': 'true' }, annotations: { 'courier.dev/connections': 'github' } },
      spec: { containers: [{ name: 'scanner', image: 'scanner:1' }] },
    },
  },
});

function servedCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('AdmissionServer', () => {
  it('answers an AdmissionReview and counts it', async () => {
    const { port, registry } = await startServer();
    const answer = await post(port, REVIEW);
    expect(answer).toMatchObject({
      status: 200,
      body: { response: { uid: 'e911857d-c318-11e8-bbad-025000000001', allowed: true, patchType: 'JSONPatch' } },
    });
    const metrics = await registry.metrics();
    expect(metrics).toContain('courier_admission_requests_total{outcome="mutated",dry_run="true"} 1');
    expect(metrics).toContain('courier_admission_duration_seconds_count 1');
  });

  it('answers at the URL the apiserver calls, which carries its timeout', async () => {
    const { port } = await startServer();
    const answer = await post(port, REVIEW, {}, { path: `${MUTATE_PATH}?timeout=10s` });
    expect(answer).toMatchObject({ status: 200, body: { response: { allowed: true, patchType: 'JSONPatch' } } });
  });

  it.each([
    ['GET', MUTATE_PATH],
    ['POST', '/mutate-v1-pods'],
    ['POST', '/'],
  ])('answers %s %s with 404 and does not count it as an admission', async (method, where) => {
    const { port, registry } = await startServer();
    const answer = await post(port, REVIEW, {}, { method, path: where });
    expect(answer).toEqual({ status: 404, body: { message: `only POST ${MUTATE_PATH} is served here` } });
    expect(await registry.metrics()).not.toContain('courier_admission_requests_total{');
  });

  it.each([
    ['another content type', REVIEW, { 'content-type': 'text/plain' }, 415, /^expected Content-Type application\/json/],
    ['a body over 2 MiB', JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }), {}, 413, /too large/],
    ['a body that is not JSON', '{"apiVersion":', {}, 400, /JSON/],
    ['JSON that is not an AdmissionReview', '{"kind":"Pod"}', {}, 400, /^expected an admission.k8s.io\/v1/],
  ])('refuses %s with a message', async (_, body, headers, status, message) => {
    const { port, registry } = await startServer();
    const answer = await post(port, body, headers);
    expect(answer.status).toBe(status);
    expect((answer.body as { message: string }).message).toMatch(message);
    expect(await registry.metrics()).toContain('courier_admission_requests_total{outcome="invalid",dry_run="false"} 1');
  });

  it('serves a rewritten certificate to new connections, keeping the ones open', async () => {
    const { port } = await startServer();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await post(port, REVIEW, {}, { agent })).status).toBe(200);
    const before = await servedCertificate(port);

    await writeServingPair(ca, dir);
    await until(() => logs.some((line) => line.msg === 'TLS certificate reloaded'), 10_000);
    expect((await servedCertificate(port)).serialNumber).not.toBe(before.serialNumber);
    // The kept-alive connection still works.
    expect((await post(port, REVIEW, {}, { agent })).status).toBe(200);
    agent.destroy();
  });

  it('keeps the old certificate while the new files do not make a pair', async () => {
    const { port } = await startServer();
    const before = await servedCertificate(port);
    const other = await issueCertificate(ca, {
      commonName: 'x',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      validityDays: 1,
    });
    await writeFile(path.join(dir, 'tls.crt'), other.certPem);
    await until(
      () => logs.some((line) => line.msg.startsWith('TLS certificate files changed but cannot be used')),
      10_000,
    );
    expect((await servedCertificate(port)).serialNumber).toBe(before.serialNumber);
    expect((await post(port, REVIEW)).status).toBe(200);
  });
});
