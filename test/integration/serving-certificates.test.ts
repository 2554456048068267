// Courier's self-managed TLS on the real apiserver: the CA and serving
// certificates land in Secrets, a second keeper (another replica) adopts
// them instead of issuing its own, and a broker whose certificate is renewed
// every few seconds keeps answering every new TLS connection meanwhile.
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import type { Broker } from '../../src/broker/broker.ts';
import { BrokerServer } from '../../src/broker/server.ts';
import { brokerCaInformer, CaDistribution } from '../../src/certificates/ca-distribution.ts';
import { CertificateKeeper } from '../../src/certificates/keeper.ts';
import { ServingCertificates, type ServingCertificateTarget } from '../../src/certificates/serving-certificates.ts';
import type { ResilientInformer } from '../../src/controllers/runtime/informer.ts';
import { describeCertificate } from '../../src/crypto/pki.ts';
import { createLogger } from '../../src/log/logger.ts';
import { createTestNamespace, testKubeConfig } from '../support/cluster.ts';

const kc = testKubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const logger = createLogger({ level: 'error', component: 'test' });
const DAY_MS = 86_400_000;
/** Six seconds: renewed with two left, so several renewals happen within a test. */
const SHORT_VALIDITY_DAYS = 6_000 / DAY_MS;

let namespace: string;
const target = (secretName: string): ServingCertificateTarget => ({
  secretName,
  commonName: `${secretName}.svc`,
  dnsNames: ['localhost'],
  ipAddresses: ['127.0.0.1'],
});

beforeAll(async () => {
  namespace = await createTestNamespace('certs');
});

describe('self-managed serving certificates', () => {
  it('issues once and is adopted by a second replica', async () => {
    const first = new ServingCertificates(kc, { namespace });
    const second = new ServingCertificates(kc, { namespace });
    const [a, b] = await Promise.all([first.ensure(target('adopted-tls')), second.ensure(target('adopted-tls'))]);
    const again = await second.ensure(target('adopted-tls'));
    // Racing replicas may both issue, but one write wins and both end on it.
    expect(again.certPem).toBe((await first.ensure(target('adopted-tls'))).certPem);
    expect([a.certPem, b.certPem]).toContain(again.certPem);
    expect(await first.caBundle()).toBe(await second.caBundle());
    const facts = describeCertificate(again.certPem);
    expect(facts.dnsNames).toEqual(['localhost']);
    expect(facts.ipAddresses).toEqual(['127.0.0.1']);
    const secret = await core.readNamespacedSecret({ name: 'adopted-tls', namespace });
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Buffer.from(secret.data!['ca.crt']!, 'base64').toString()).toBe(await first.caBundle());
  });

  it('reissues for new names', async () => {
    const certificates = new ServingCertificates(kc, { namespace });
    const before = await certificates.ensure(target('renamed-tls'));
    const after = await certificates.ensure({ ...target('renamed-tls'), dnsNames: ['localhost', 'courier.local'] });
    expect(after.certPem).not.toBe(before.certPem);
    expect(describeCertificate(after.certPem).dnsNames.sort()).toEqual(['courier.local', 'localhost']);
  });

  describe('rotation under load', () => {
    let server: BrokerServer;
    let keeper: CertificateKeeper;
    let port: number;
    let ca: string;
    let brokerCaMaps: ResilientInformer<V1ConfigMap>;

    beforeAll(async () => {
      brokerCaMaps = brokerCaInformer(kc, logger, namespace);
      await brokerCaMaps.start();
      const certificates = new ServingCertificates(kc, { namespace, validityDays: SHORT_VALIDITY_DAYS });
      // Answers every request with 401: this test is about TLS, not decisions.
      const broker = {
        handle: async () => ({ status: 401, body: { code: 401, reason: 'TokenMissing', message: 'no token' } }),
      } as unknown as Broker;
      server = new BrokerServer(broker, logger);
      keeper = new CertificateKeeper({
        certificates,
        distribution: new CaDistribution(kc, brokerCaMaps),
        broker: target('rotating-broker-tls'),
        webhook: target('rotating-webhook-tls'),
        webhookConfigurationName: 'courier-absent-configuration',
        tenantNamespaces: () => [],
        onBrokerCertificate: (certificate) => server.updateCertificate(certificate),
        intervalMs: 500,
        logger,
      });
      const initial = await keeper.start();
      ca = initial.caPem;
      port = (await server.listen({ host: '127.0.0.1', port: 0 }, initial)).port;
    });

    afterAll(async () => {
      await keeper?.stop();
      await server?.close();
      await brokerCaMaps?.stop();
    });

    it('renews the certificate while every new connection succeeds', async () => {
      const serials = new Set<string>();
      let answered = 0;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const { status, serial } = await post(port, ca);
        expect(status).toBe(401);
        serials.add(serial);
        answered++;
      }
      expect(answered).toBeGreaterThan(50);
      expect(serials.size).toBeGreaterThanOrEqual(3);
    });
  });
});

/** One request on a fresh TLS connection that trusts only `ca`; resolves with the status and the served certificate's serial. */
function post(port: number, ca: string): Promise<{ status: number; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/credentials',
        method: 'POST',
        ca,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const serial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, serial }));
      },
    );
    req.on('error', reject);
    req.end('{"connection":"x"}');
  });
}
