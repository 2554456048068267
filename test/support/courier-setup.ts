// Set-up shared by suites that run Courier's processes: the configuration file
// a manager reads with moto standing in for AWS STS, the AWS identity it
// assumes roles with, and the TLS files a webhook serves (as the kubelet
// writes a Secret volume).
import { rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { issueCertificate, type CertificateAuthority } from '../../src/crypto/pki.ts';
import type { MotoPeer } from './peers.ts';

/** Writes `dir/courier.yaml`: the embedded kubernetes store, STS at moto. Returns its path. */
export async function writeMotoStsConfig(dir: string, moto: MotoPeer): Promise<string> {
  const file = path.join(dir, 'courier.yaml');
  await writeFile(
    file,
    stringify({
      stores: [{ name: 'kubernetes', type: 'kubernetes' }],
      defaultStore: 'kubernetes',
      aws: { stsEndpoint: moto.endpoint },
    }),
  );
  return file;
}

/** The manager's own AWS identity (for AssumeRole): moto's test credentials. */
export function motoIdentityEnv(moto: MotoPeer): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: moto.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: moto.credentials.secretAccessKey };
}

/** Writes a fresh serving pair for 127.0.0.1 into `dir` (tls.crt, tls.key), each file replaced in one step. */
export async function writeServingPair(ca: CertificateAuthority, dir: string): Promise<void> {
  const pair = await issueCertificate(ca, {
    commonName: 'courier-webhook',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
    validityDays: 1,
  });
  for (const [name, content] of [
    ['tls.key', pair.keyPem],
    ['tls.crt', pair.certPem],
  ] as const) {
    await writeFile(path.join(dir, `${name}.new`), content);
    await rename(path.join(dir, `${name}.new`), path.join(dir, name));
  }
}
