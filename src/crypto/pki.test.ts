import { X509Certificate, createPrivateKey } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { createCertificateAuthority, issueCertificate } from './pki.ts';

describe('pki', () => {
  it('issues a server certificate that chains to the CA and carries the requested names', async () => {
    const ca = await createCertificateAuthority('courier-test-ca', 1);
    const issued = await issueCertificate(ca, {
      commonName: 'courier-webhook',
      dnsNames: ['courier-webhook.courier-system.svc'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
      validityDays: 1,
    });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(issued.certPem);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkHost('courier-webhook.courier-system.svc')).toBe('courier-webhook.courier-system.svc');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('other.example')).toBeUndefined();
    expect(cert.checkPrivateKey(createPrivateKey(issued.keyPem))).toBe(true);
  });

  it('puts organizations in the subject of client certificates (Kubernetes groups)', async () => {
    const ca = await createCertificateAuthority('ca', 1);
    const issued = await issueCertificate(ca, {
      commonName: 'admin',
      organizations: ['system:masters'],
      usage: 'client',
      validityDays: 1,
    });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.subject).toContain('CN=admin');
    expect(cert.subject).toContain('O=system:masters');
    expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
    expect(cert.keyUsage).not.toContain('1.3.6.1.5.5.7.3.1');
  });

  it('refuses a certificate signed by another CA', async () => {
    const ca = await createCertificateAuthority('ca', 1);
    const other = await createCertificateAuthority('other', 1);
    const issued = await issueCertificate(other, { commonName: 'x', usage: 'server', validityDays: 1 });
    expect(new X509Certificate(issued.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(false);
  });
});
