// The broker's certificate when another issuer keeps it (the chart's
// cert-manager mode, `--manage-certificates=false`): read from its
// kubernetes.io/tls Secret, whose `ca.crt` names the CA agents must trust.
// Nothing is issued or written here, so the manager never races that issuer
// for the Secret; a renewal is picked up at the keeper's next pass.
import { ApiException, CoreV1Api, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import type { ServingCertificate, ServingCertificateTarget } from './serving-certificates.ts';

export interface ProvidedCertificatesOptions {
  namespace: string;
  /** The Secret whose `ca.crt` is the bundle clients trust: the broker's. */
  caSecretName: string;
}

export class ProvidedCertificates {
  private readonly core: CoreV1Api;
  private readonly namespace: string;
  private readonly caSecretName: string;

  constructor(kubeConfig: KubeConfig, options: ProvidedCertificatesOptions) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = options.namespace;
    this.caSecretName = options.caSecretName;
  }

  /** The target's certificate as its issuer left it; throws while the Secret is missing or incomplete. */
  async ensure(target: ServingCertificateTarget): Promise<ServingCertificate> {
    const secret = await this.read(target.secretName);
    return {
      certPem: this.field(target.secretName, secret, 'tls.crt'),
      keyPem: this.field(target.secretName, secret, 'tls.key'),
      caPem: this.field(target.secretName, secret, 'ca.crt'),
    };
  }

  async caBundle(): Promise<string> {
    return this.field(this.caSecretName, await this.read(this.caSecretName), 'ca.crt');
  }

  private async read(name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ name, namespace: this.namespace });
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }

  private field(name: string, secret: V1Secret | undefined, key: string): string {
    const value = secret?.data?.[key];
    if (!value) {
      throw new Error(
        `Secret ${this.namespace}/${name} ${secret ? `has no ${key}` : 'does not exist'} yet: with ` +
          '--manage-certificates=false another issuer (cert-manager) must write its tls.crt, tls.key and ca.crt',
      );
    }
    return Buffer.from(value, 'base64').toString();
  }
}
