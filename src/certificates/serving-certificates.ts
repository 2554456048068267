// Courier's own TLS: one CA (Secret courier-ca) signs the serving
// certificates of the webhook and the broker (kubernetes.io/tls Secrets the
// webhook mounts and the broker reads). A certificate is reissued when it is
// missing, in the last third of its life, for other names, or from another
// CA. The CA outlives many serving certificates, so a reissue never changes
// the bundle clients trust: rotation drops no request.
//
// Every manager replica may run this; writes carry the resourceVersion, so
// replicas racing to issue end with one certificate that all of them use.
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import {
  createCertificateAuthority,
  describeCertificate,
  issueCertificate,
  loadCertificateAuthority,
  subjectKeyId,
  type CertificateAuthority,
  type KeyPairPem,
} from '../crypto/pki.ts';
import { KEY_SECRET_TYPE } from '../crypto/key-hierarchy.ts';
import { SecretDocument } from '../kube/secret-document.ts';

export const CA_SECRET = 'courier-ca';
const MANAGED = { 'app.kubernetes.io/managed-by': 'courier' };
const MAX_ATTEMPTS = 5;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface ServingCertificateTarget {
  /** The kubernetes.io/tls Secret to keep current. */
  secretName: string;
  commonName: string;
  dnsNames: string[];
  ipAddresses?: string[];
}

export interface ServingCertificate extends KeyPairPem {
  caPem: string;
}

export interface ServingCertificatesOptions {
  namespace: string;
  validityDays?: number;
  caValidityDays?: number;
  now?: () => Date;
}

export class ServingCertificates {
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly validityDays: number;
  private readonly caValidityDays: number;
  private readonly now: () => Date;
  private readonly caDocument: SecretDocument<KeyPairPem>;
  private ca: Promise<CertificateAuthority> | undefined;

  constructor(kubeConfig: KubeConfig, options: ServingCertificatesOptions) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = options.namespace;
    this.validityDays = options.validityDays ?? 90;
    this.caValidityDays = options.caValidityDays ?? 3650;
    this.now = options.now ?? (() => new Date());
    this.caDocument = new SecretDocument<KeyPairPem>(this.core, {
      namespace: options.namespace,
      name: CA_SECRET,
      labels: { ...MANAGED, 'courier.dev/role': 'ca' },
      type: KEY_SECRET_TYPE,
    });
  }

  /** The CA certificate clients must trust (PEM). */
  async caBundle(): Promise<string> {
    return (await this.authority()).certPem;
  }

  /** Returns the target's current certificate, issuing or renewing it first if needed. */
  async ensure(target: ServingCertificateTarget): Promise<ServingCertificate> {
    const ca = await this.authority();
    const caKeyId = await subjectKeyId(ca);
    for (let attempt = 1; ; attempt++) {
      const secret = await this.read(target.secretName);
      const current = certificateIn(secret);
      if (current && this.stillGood(current, target, caKeyId)) return { ...current, caPem: ca.certPem };
      const issued = await issueCertificate(ca, {
        commonName: target.commonName,
        dnsNames: target.dnsNames,
        ipAddresses: target.ipAddresses ?? [],
        usage: 'server',
        validityDays: this.validityDays,
      });
      try {
        await this.write(target.secretName, secret, { ...issued, caPem: ca.certPem });
        return { ...issued, caPem: ca.certPem };
      } catch (error) {
        const lostRace = error instanceof ApiException && (error.code === 409 || error.code === 404);
        if (!lostRace || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  private stillGood(current: KeyPairPem, target: ServingCertificateTarget, caKeyId: string): boolean {
    const facts = describeCertificate(current.certPem);
    // From the configured validity, not notBefore: certificates are backdated for clock skew.
    const renewAt = facts.notAfter.getTime() - (this.validityDays * DAY_MS) / 3;
    return (
      this.now().getTime() < renewAt &&
      facts.authorityKeyId === caKeyId &&
      sameSet(facts.dnsNames, target.dnsNames) &&
      sameSet(facts.ipAddresses, target.ipAddresses ?? [])
    );
  }

  private authority(): Promise<CertificateAuthority> {
    if (!this.ca) {
      const loading = this.loadOrCreateAuthority();
      this.ca = loading;
      loading.catch(() => {
        if (this.ca === loading) this.ca = undefined;
      });
    }
    return this.ca;
  }

  private async loadOrCreateAuthority(): Promise<CertificateAuthority> {
    const stored = await this.caDocument.update(async (current) => {
      if (current) return undefined;
      const ca = await createCertificateAuthority('courier-ca', this.caValidityDays);
      return { certPem: ca.certPem, keyPem: ca.keyPem };
    });
    return loadCertificateAuthority(stored!);
  }

  private async read(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  private async write(name: string, previous: V1Secret | undefined, certificate: ServingCertificate): Promise<void> {
    const body: V1Secret = {
      metadata: {
        name,
        namespace: this.namespace,
        labels: { ...MANAGED, 'courier.dev/role': 'serving-certificate' },
        ...(previous?.metadata?.resourceVersion ? { resourceVersion: previous.metadata.resourceVersion } : {}),
      },
      type: 'kubernetes.io/tls',
      data: {
        'tls.crt': base64(certificate.certPem),
        'tls.key': base64(certificate.keyPem),
        'ca.crt': base64(certificate.caPem),
      },
    };
    if (previous) await this.core.replaceNamespacedSecret({ name, namespace: this.namespace, body });
    else await this.core.createNamespacedSecret({ namespace: this.namespace, body });
  }
}

function certificateIn(secret: V1Secret | undefined): KeyPairPem | undefined {
  const cert = secret?.data?.['tls.crt'];
  const key = secret?.data?.['tls.key'];
  if (!cert || !key) return undefined;
  return { certPem: Buffer.from(cert, 'base64').toString(), keyPem: Buffer.from(key, 'base64').toString() };
}

const base64 = (text: string) => Buffer.from(text).toString('base64');

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}
