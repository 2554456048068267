// A small X.509 PKI on WebCrypto via @peculiar/x509: a CA and the serving and
// client certificates it signs. Used for the test control plane and, later,
// for the webhook and broker certificates the manager issues and rotates.
// @peculiar/x509 resolves its algorithms through tsyringe, which needs this polyfill.
import 'reflect-metadata';
import type { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 24 * 60 * 60 * 1000;
// Certificates start a little in the past so a clock skew between the issuer
// and a verifier does not make a fresh certificate "not yet valid".
const BACKDATE_MS = 5 * 60 * 1000;

x509.cryptoProvider.set(globalThis.crypto);

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPairPem {
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}

export interface CertificateRequest {
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses the certificate is valid for (servers). */
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'server-and-client';
  validityDays: number;
}

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

function subject(commonName: string, organizations: string[] = []): string {
  const escape = (v: string) => v.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${escape(commonName)}`, ...organizations.map((o) => `O=${escape(o)}`)].join(', ');
}

async function keyPem(keys: webcrypto.CryptoKeyPair): Promise<string> {
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

function validity(days: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: new Date(now + days * DAY_MS) };
}

export async function createCertificateAuthority(
  commonName: string,
  validityDays: number,
): Promise<CertificateAuthority> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: subject(commonName),
    ...validity(validityDays),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString('pem'), keyPem: await keyPem(keys) };
}

export async function issueCertificate(ca: CertificateAuthority, request: CertificateRequest): Promise<KeyPairPem> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const extendedUsages: string[] = [];
  if (request.usage !== 'client') extendedUsages.push(x509.ExtendedKeyUsage.serverAuth);
  if (request.usage !== 'server') extendedUsages.push(x509.ExtendedKeyUsage.clientAuth);
  const altNames = [
    ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: subject(request.commonName, request.organizations),
    issuer: ca.cert.subject,
    ...validity(request.validityDays),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(extendedUsages),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ...(altNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(altNames)] : []),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys) };
}

/** A CA kept as PEM (in a Secret), ready to sign again. */
export async function loadCertificateAuthority(pair: KeyPairPem): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(pair.certPem);
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decode(pair.keyPem)[0]!,
    ALGORITHM,
    true,
    ['sign'],
  );
  const publicKey = await cert.publicKey.export(ALGORITHM, ['verify']);
  return { ...pair, cert, keys: { privateKey, publicKey } };
}

export interface CertificateFacts {
  notBefore: Date;
  notAfter: Date;
  dnsNames: string[];
  ipAddresses: string[];
  /** The issuer's subject key identifier, hex, to tell which CA signed it. */
  authorityKeyId?: string;
}

export function describeCertificate(certPem: string): CertificateFacts {
  const cert = new x509.X509Certificate(certPem);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension);
  return {
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    dnsNames: names.filter((n) => n.type === 'dns').map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === 'ip').map((n) => n.value),
    ...(aki?.keyId ? { authorityKeyId: aki.keyId } : {}),
  };
}

/** The subject key identifier of a CA certificate, hex. */
export async function subjectKeyId(ca: CertificateAuthority): Promise<string> {
  const ski = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return ski.keyId;
  return (await x509.SubjectKeyIdentifierExtension.create(ca.keys.publicKey)).keyId;
}
